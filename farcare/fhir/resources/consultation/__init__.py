"""ServiceRequest, Task, Encounter, Communication ↔ a consultation and its thread (domain.md §6).

One consultation is three resources with the same id, the consultation's UUID:

- ServiceRequest, the request: `identifier` = the client token (`urn:farcare:client-token`, what
  makes a retried submission idempotent); `status` from the workflow status (draft; requested,
  accepted, in-progress, on-hold → active; completed; cancelled, rejected, failed → revoked;
  entered-in-error); `intent` order; `category` SNOMED 11429006 Consultation; `priority` from the
  form (emergency stat, urgent urgent, planned routine); `code` = the specialty
  (`urn:farcare:specialty`); `subject`; `requester`; `performer` = the routed facility's
  Organization and the assigned consultants; `note[0]` = the question, `note[1]` = the clinical
  summary; `supportingInfo` = the vitals (`Observation/<vital uuid>`), the NEWS2 total
  (`Observation/<uuid5(consultation uuid, "news2")>`) and the request's documents
  (`DocumentReference/<attachment uuid>`); `authoredOn` = created; `language`; the mode in the
  `urn:farcare:consult-mode` extension.
- Task, its workflow: `status` = the consultation's status (its values are Task's);
  `businessStatus`; `focus` → the ServiceRequest; `for`; `requester`; `owner` = the primary
  consultant; `restriction.period.end` = the answer deadline; `executionPeriod.start` = received;
  `lastModified`; `output` → the signed conclusion's DocumentReference once completed.
- Encounter, the virtual encounter (class VR): participants (referrer, consultants), the routed
  facility's Organization as `serviceProvider`, `period` from receipt to the signed conclusion.

Communication ↔ a message of the thread (id = the message's UUID): `basedOn` → the
ServiceRequest, `partOf` → the Task, `encounter`, `sender`, `recipient` (the other side when it
was sent), `sent`, the text and the files as `payload`, `category` `question`
(`urn:farcare:communication-category`) when the consultant asks the requester, which puts the
request on hold.

People are referred to by their PractitionerRole at the facility concerned when they have one,
else by their Practitioner, else by name only. Writes go through the consults services, like the
pages: POST/PUT ServiceRequest submits, saves a draft or cancels; PUT Task moves the state
machine; POST Communication posts to the thread. Every resource is scoped by the access policy:
consultations of the patients the principal may see (`visible_patients`). Consultants abroad see
cases pseudonymised, which these patient-bound resources cannot be: they see none of them here.
"""

from .common import (
    CLIENT_TOKEN,
    COMMUNICATION_CATEGORY,
    CONSULT_MODE,
    SPECIALTY,
    VITAL,
    news2_observation_id,
)
from .communication import CommunicationHandler
from .encounter import EncounterHandler
from .service_request import ServiceRequestHandler
from .task import TaskHandler

__all__ = [
    "CLIENT_TOKEN",
    "COMMUNICATION_CATEGORY",
    "CONSULT_MODE",
    "SPECIALTY",
    "VITAL",
    "CommunicationHandler",
    "EncounterHandler",
    "ServiceRequestHandler",
    "TaskHandler",
    "news2_observation_id",
]
