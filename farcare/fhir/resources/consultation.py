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

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile, UploadedFile
from django.db.models import Model, Prefetch, Q, QuerySet

from farcare.access.policy import Action, visible_patients
from farcare.access.services import authorise, require
from farcare.accounts.models import Role, User
from farcare.clinical.vitals import VITALS, VitalValue, parse_vitals
from farcare.consults import services
from farcare.consults.attachments import ALLOWED
from farcare.consults.models import (
    Assignment,
    AssignmentRole,
    Attachment,
    Consultation,
    ConsultForm,
    ConsultMode,
    Message,
    Status,
    VitalObservation,
)
from farcare.consults.workflow import IllegalTransition, StaleVersion, find_move
from farcare.network.models import (
    Facility,
    Practitioner,
    PractitionerRoleKind,
    Specialty,
)
from farcare.patients.models import Patient

from .. import systems
from ..auth import Principal
from ..errors import FhirError, business_rule, conflict, forbidden, not_allowed
from ..registry import Handler, Include, SearchParam, register
from ..validation import validated

CLIENT_TOKEN = "urn:farcare:client-token"  # noqa: S105  (an identifier system)
SPECIALTY = "urn:farcare:specialty"
CONSULT_MODE = "urn:farcare:consult-mode"
COMMUNICATION_CATEGORY = "urn:farcare:communication-category"
# Vital signs without a LOINC code (air or oxygen, the SpO2 scale) by their FarCare key.
VITAL = "urn:farcare:vital"
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
PARTICIPATION_TYPE = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ACT_PRIORITY_OF_FORM = {
    ConsultForm.EMERGENCY: "EM",
    ConsultForm.URGENT: "UR",
    ConsultForm.PLANNED: "R",
}
CONSULTATION = {"system": systems.SNOMED, "code": "11429006", "display": "Consultation"}
CONSULT_NOTE = {"system": systems.LOINC, "code": "11488-4", "display": "Consult note"}
QUESTION = "question"
CANCELLED_THROUGH_FHIR = "cancelled through FHIR"

SERVICE_REQUEST_STATUS = {
    Status.DRAFT: "draft",
    Status.REQUESTED: "active",
    Status.ACCEPTED: "active",
    Status.IN_PROGRESS: "active",
    Status.ON_HOLD: "active",
    Status.COMPLETED: "completed",
    Status.CANCELLED: "revoked",
    Status.REJECTED: "revoked",
    Status.FAILED: "revoked",
    Status.ENTERED_IN_ERROR: "entered-in-error",
}
ENCOUNTER_STATUS = {
    Status.DRAFT: "planned",
    Status.REQUESTED: "planned",
    Status.ACCEPTED: "planned",
    Status.IN_PROGRESS: "in-progress",
    Status.ON_HOLD: "in-progress",
    Status.COMPLETED: "finished",
    Status.CANCELLED: "cancelled",
    Status.REJECTED: "cancelled",
    Status.FAILED: "cancelled",
    Status.ENTERED_IN_ERROR: "entered-in-error",
}
FORM_OF_PRIORITY = {
    "stat": ConsultForm.EMERGENCY,
    "urgent": ConsultForm.URGENT,
    "routine": ConsultForm.PLANNED,
}
LANGUAGES = ("ru", "en", "ko")
VITAL_OF_LOINC = {spec.loinc: key for key, spec in VITALS.items() if spec.loinc}

# Where a service's complaint about a field points in each resource.
REQUEST_PATHS = {
    "question": "ServiceRequest.note",
    "summary": "ServiceRequest.note",
    "reason": "ServiceRequest.note",
    "form": "ServiceRequest.priority",
    "mode": "ServiceRequest.extension",
    "specialty": "ServiceRequest.code",
    "files": "ServiceRequest.supportingInfo",
}
MESSAGE_PATHS = {"body": "Communication.payload", "files": "Communication.payload"}


def news2_observation_id(consultation: Consultation) -> uuid.UUID:
    """The id of the Observation carrying the consultation's NEWS2 total (agreed with the
    Observation handler)."""
    return uuid.uuid5(consultation.uuid, "news2")


# --- rendering helpers -------------------------------------------------------------------------


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _practitioner_of(user: User) -> Practitioner | None:
    try:
        return user.practitioner
    except ObjectDoesNotExist:
        return None


def _person(user: User, facility: Facility | None, preferred: Iterable[str] = ()) -> dict[str, Any]:
    """A reference to a person: their role at `facility` (of a preferred kind first), else their
    Practitioner, else their name only (a user the care network does not list)."""
    practitioner = _practitioner_of(user)
    if practitioner is None:
        return {"type": "Practitioner", "display": user.get_full_name() or user.username}
    display = str(practitioner)
    kinds = list(preferred)
    roles = [
        role
        for role in practitioner.roles.all()
        if facility is not None and role.facility_id == facility.pk
    ]
    roles.sort(key=lambda role: kinds.index(role.kind) if role.kind in kinds else len(kinds))
    if roles:
        return {"reference": f"PractitionerRole/{roles[0].uuid}", "display": display}
    return {"reference": f"Practitioner/{practitioner.uuid}", "display": display}


REQUESTER_KINDS = (PractitionerRoleKind.FELDSHER, PractitionerRoleKind.DOCTOR)
CONSULTANT_KINDS = (PractitionerRoleKind.CONSULTANT,)


def _requester(obj: Consultation) -> dict[str, Any]:
    return _person(obj.requester, obj.requesting_facility, REQUESTER_KINDS)


def _consultant(assignment: Assignment) -> dict[str, Any]:
    return _person(assignment.consultant, assignment.facility, CONSULTANT_KINDS)


def _active_assignments(obj: Consultation) -> list[Assignment]:
    """Current assignments, the primary consultant first."""
    active = [assignment for assignment in obj.assignments.all() if assignment.ended_at is None]
    active.sort(key=lambda a: (a.role != AssignmentRole.PRIMARY, a.assigned_at, a.pk))
    return active


def _primary(obj: Consultation) -> Assignment | None:
    active = _active_assignments(obj)
    return active[0] if active and active[0].role == AssignmentRole.PRIMARY else None


def _organisation(facility: Facility) -> dict[str, Any]:
    organisation = facility.organisation
    return {
        "reference": f"Organization/{organisation.uuid}",
        "display": organisation.name_en or organisation.name_ru,
    }


def _patient(obj: Consultation) -> dict[str, Any]:
    return {"reference": f"Patient/{obj.patient.uuid}"}


def _specialty(specialty: Specialty) -> dict[str, Any]:
    display = specialty.name_en or specialty.name_ru
    return {"coding": [{"system": SPECIALTY, "code": specialty.code, "display": display}]}


def _conclusion_documents(obj: Consultation) -> list[Attachment]:
    """The PDFs of the signed conclusion, latest version first."""
    documents = [a for a in obj.attachments.all() if a.conclusion_id is not None]
    documents.sort(key=lambda a: a.conclusion.version if a.conclusion else 0, reverse=True)
    return documents


def _is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def _referenced(reference: str, resource_type: str) -> str:
    """The id in `Type/<id>` (relative or absolute), or "" for a reference to another type."""
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type and _is_uuid(parts[-1]):
        return parts[-1]
    return ""


# --- search helpers ----------------------------------------------------------------------------


Condition = Callable[[str, str, str], Q]


def _negated(condition: Q, modifier: str) -> Q:
    return ~condition if modifier == "not" else condition


def _mapped_status(mapping: dict[Status, str]) -> Condition:
    """A token over a FHIR status that several consultation statuses share."""

    def to_q(modifier: str, system: str, code: str) -> Q:
        statuses = [status for status, mapped in mapping.items() if mapped == code]
        return _negated(Q(status__in=statuses) if statuses else Q(pk__in=[]), modifier)

    return to_q


def _priority_q(modifier: str, system: str, code: str) -> Q:
    form = FORM_OF_PRIORITY.get(code)
    return _negated(Q(form=form) if form else Q(pk__in=[]), modifier)


def _fixed_code(code_system: str, code: str) -> Condition:
    """A token every resource of the type carries (the category, the class)."""

    def to_q(modifier: str, system: str, value: str) -> Q:
        matches = (not system or system == code_system) and value == code
        return _negated(Q() if matches else Q(pk__in=[]), modifier)

    return to_q


def _client_token_q(modifier: str, system: str, value: str) -> Q:
    if (system and system != CLIENT_TOKEN) or not _is_uuid(value):
        return _negated(Q(pk__in=[]), modifier)
    return _negated(Q(client_token=uuid.UUID(value)), modifier)


def _users(kind: str, ident: str) -> QuerySet[User] | None:
    """The users a Practitioner or PractitionerRole reference (or a bare id) stands for."""
    if not _is_uuid(ident):
        return None
    if kind == "Practitioner":
        return User.objects.filter(practitioner__uuid=ident)
    if kind == "PractitionerRole":
        return User.objects.filter(practitioner__roles__uuid=ident)
    if not kind:
        return User.objects.filter(Q(practitioner__uuid=ident) | Q(practitioner__roles__uuid=ident))
    return None


def _reference_parts(value: str) -> tuple[str, str]:
    """(type, id) of a reference search value: `Type/<id>`, an absolute URL, or a bare id."""
    parts = value.rstrip("/").split("/")
    return (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])


# Reference parameters with a `to_q` get (modifier, "", the value as the client wrote it).


def _person_q(user_field: str) -> Condition:
    """A reference to a Practitioner or a PractitionerRole: the user behind either matches."""

    def to_q(modifier: str, _system: str, value: str) -> Q:
        users = _users(*_reference_parts(value))
        if users is None:
            return Q(pk__in=[])
        return Q(**{f"{user_field}__in": users.values("pk")})

    return to_q


def _owner_q(modifier: str, _system: str, value: str) -> Q:
    users = _users(*_reference_parts(value))
    if users is None:
        return Q(pk__in=[])
    owned = Assignment.objects.filter(
        consultant__in=users.values("pk"), role=AssignmentRole.PRIMARY, ended_at__isnull=True
    )
    return Q(pk__in=owned.values("consultation_id"))


def _performer_q(modifier: str, _system: str, value: str) -> Q:
    """The routed facility's Organization, or a consultant assigned now."""
    kind, ident = _reference_parts(value)
    condition = Q(pk__in=[])
    if kind in ("", "Organization") and _is_uuid(ident):
        condition |= Q(routed_facility__organisation__uuid=ident)
    users = _users(kind, ident) if kind != "Organization" else None
    if users is not None:
        assigned = Assignment.objects.filter(
            consultant__in=users.values("pk"), ended_at__isnull=True
        )
        condition |= Q(pk__in=assigned.values("consultation_id"))
    return condition


def _category_q(modifier: str, system: str, code: str) -> Q:
    if (system and system != COMMUNICATION_CATEGORY) or code != QUESTION:
        return _negated(Q(pk__in=[]), modifier)
    return _negated(Q(asks_requester=True), modifier)


# --- errors ------------------------------------------------------------------------------------


def _as_fhir(error: ValidationError, paths: dict[str, str], status_path: str) -> FhirError:
    """A domain refusal as an OperationOutcome pointing at the element concerned."""
    if isinstance(error, StaleVersion):
        return conflict(" ".join(error.messages))
    if isinstance(error, IllegalTransition):
        if getattr(error, "code", "") == "taken":
            return conflict(" ".join(error.messages))
        return business_rule(" ".join(error.messages), [status_path])
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        message = " ".join(message for item in errors for message in item.messages)
        return business_rule(message, [paths.get(field, status_path.rsplit(".", 1)[0])])
    return business_rule(" ".join(error.messages), [status_path.rsplit(".", 1)[0]])


# --- the consultation handlers -----------------------------------------------------------------


def consultations() -> QuerySet[Consultation]:
    """Consultations with everything their resources show, in a fixed number of queries."""
    return Consultation.objects.select_related(
        "patient",
        "specialty",
        "requesting_facility",
        "routed_facility__organisation",
        "requester__practitioner",
    ).prefetch_related(
        "requester__practitioner__roles",
        Prefetch(
            "assignments",
            queryset=Assignment.objects.select_related(
                "consultant__practitioner", "facility"
            ).prefetch_related("consultant__practitioner__roles"),
        ),
        "vitals",
        Prefetch("attachments", queryset=Attachment.objects.select_related("conclusion")),
    )


class ConsultationHandler(Handler):
    """What ServiceRequest, Task and Encounter share: the same consultation, the same scope."""

    model = Consultation
    updated_field = "updated_at"

    def all_objects(self) -> QuerySet[Consultation]:
        return consultations()

    def queryset(self, principal: Principal) -> QuerySet[Consultation]:
        patients = visible_patients(principal.user).values("pk")
        return self.all_objects().filter(patient__in=patients)

    def patient_of(self, obj: Consultation) -> Patient:
        return obj.patient

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Consultation):
            return [instance]
        # Who is assigned, what was measured and what was filed show in these resources too.
        if isinstance(instance, Assignment | Attachment):
            return [instance.consultation]
        if isinstance(instance, VitalObservation) and instance.consultation is not None:
            return [instance.consultation]
        return []

    def visible(self, principal: Principal, consultation: Consultation) -> bool:
        return self.queryset(principal).filter(pk=consultation.pk).exists()


def _consultation_of(
    principal: Principal, reference: str, resource_type: str, *, shown: bool = False
) -> Consultation:
    """The consultation a `ServiceRequest/<id>` or `Task/<id>` reference names, once the access
    policy allowed the principal to see its patient (a refusal is audited: 403; so is the read
    when the consultation is `shown` in the response)."""
    ident = _referenced(reference, resource_type)
    consultation = consultations().filter(uuid=ident).first() if ident else None
    if consultation is None:
        raise business_rule(
            f"{reference or 'The reference'} does not name a {resource_type} in FarCare.",
            [],
        )
    if shown:
        authorise(
            accessor=principal.accessor,
            patient=consultation.patient,
            action=Action.VIEW,
            record=consultation,
        )
    else:
        require(accessor=principal.accessor, patient=consultation.patient, action=Action.VIEW)
    if not ConsultationHandler().visible(principal, consultation):
        raise forbidden(f"{resource_type}/{ident} is outside your access.")
    return consultation


# --- ServiceRequest ----------------------------------------------------------------------------


@dataclass
class _Request:
    """What a ServiceRequest asks for, in the terms of the consults services."""

    status: str
    patient: Patient
    client_token: uuid.UUID | None
    data: services.RequestData
    notes: list[str]
    # Readings posted before the request and named in supportingInfo.
    readings: list[VitalObservation]


def _request_of(resource: dict[str, Any]) -> _Request:
    validated("ServiceRequest", resource)
    status = resource.get("status", "")
    intent = resource.get("intent", "")
    if intent not in ("order", "original-order"):
        raise business_rule(
            "A consultation request is an order: set intent to 'order'.",
            ["ServiceRequest.intent"],
        )
    patient = _subject(resource)
    specialty = _specialty_of(resource)
    priority = resource.get("priority", "")
    if priority and priority not in FORM_OF_PRIORITY:
        raise business_rule(
            "The priority gives the form: stat (emergency), urgent, or routine (planned).",
            ["ServiceRequest.priority"],
        )
    notes = [str(note.get("text") or "") for note in resource.get("note") or []]
    language = str(resource.get("language") or "ru").split("-")[0].lower()
    if language not in LANGUAGES:
        raise business_rule(
            f"FarCare consultations are in {', '.join(LANGUAGES)}.", ["ServiceRequest.language"]
        )
    vitals, readings = _vitals_of(resource, patient, language)
    data = services.RequestData(
        specialty=specialty,
        form=str(FORM_OF_PRIORITY.get(priority, "")),
        question=notes[0] if notes else "",
        summary=notes[1] if len(notes) > 1 else "",
        mode=_mode_of(resource),
        language=language,
        vitals=vitals,
    )
    return _Request(
        status=status,
        patient=patient,
        client_token=_client_token_of(resource),
        data=data,
        notes=notes,
        readings=readings,
    )


def _subject(resource: dict[str, Any]) -> Patient:
    reference = (resource.get("subject") or {}).get("reference", "")
    ident = _referenced(reference, "Patient")
    patient = Patient.objects.filter(uuid=ident).first() if ident else None
    if patient is None:
        raise business_rule(
            "subject must name a Patient of FarCare (Patient/<id>).", ["ServiceRequest.subject"]
        )
    return patient


def _specialty_of(resource: dict[str, Any]) -> Specialty:
    for coding in (resource.get("code") or {}).get("coding") or []:
        if coding.get("system") in (SPECIALTY, None) and coding.get("code"):
            specialty = Specialty.objects.filter(code=coding["code"]).first()
            if specialty is not None:
                return specialty
    raise business_rule(
        f"code must give the specialty asked, a code of {SPECIALTY}.", ["ServiceRequest.code"]
    )


def _mode_of(resource: dict[str, Any]) -> str:
    for index, extension in enumerate(resource.get("extension") or []):
        if extension.get("url") == CONSULT_MODE:
            mode = extension.get("valueCode") or extension.get("valueString") or ""
            if mode not in ConsultMode.values:
                raise business_rule(
                    f"The mode is one of {', '.join(ConsultMode.values)}.",
                    [f"ServiceRequest.extension[{index}]"],
                )
            return str(mode)
    return ConsultMode.DEFERRED


def _client_token_of(resource: dict[str, Any]) -> uuid.UUID | None:
    for index, identifier in enumerate(resource.get("identifier") or []):
        if identifier.get("system") == CLIENT_TOKEN:
            value = str(identifier.get("value") or "")
            if not _is_uuid(value):
                raise business_rule(
                    "The client token is a UUID chosen by the client for this request.",
                    [f"ServiceRequest.identifier[{index}].value"],
                )
            return uuid.UUID(value)
    return None


def _observation_value(observation: dict[str, Any]) -> str:
    if "valueQuantity" in observation:
        return str(observation["valueQuantity"].get("value", ""))
    if "valueCodeableConcept" in observation:
        concept = observation["valueCodeableConcept"]
        codings = concept.get("coding") or []
        return str(codings[0].get("code", "") if codings else concept.get("text", ""))
    if "valueBoolean" in observation:
        return "true" if observation["valueBoolean"] else "false"
    for key in ("valueString", "valueInteger"):
        if key in observation:
            return str(observation[key])
    return ""


def _vitals_of(
    resource: dict[str, Any], patient: Patient, language: str
) -> tuple[dict[str, VitalValue], list[VitalObservation]]:
    """The vital signs of a request, checked as the request form checks them: readings of the
    patient posted before (named in supportingInfo), then contained Observations (LOINC, or
    `urn:farcare:vital` for those without a LOINC code)."""
    raw: dict[str, str] = {}
    where: dict[str, str] = {}
    readings: list[VitalObservation] = []
    for index, info in enumerate(resource.get("supportingInfo") or []):
        ident = _referenced(str(info.get("reference") or ""), "Observation")
        reading = VitalObservation.objects.filter(uuid=ident).first() if ident else None
        if reading is None:  # not a reading FarCare keeps (the NEWS2 total is computed)
            continue
        path = f"ServiceRequest.supportingInfo[{index}]"
        if reading.patient_id != patient.pk:
            raise business_rule("This Observation is about another patient.", [path])
        raw[reading.key] = reading.value
        where[reading.key] = path
        readings.append(reading)
        flow = _flow_of(reading)
        if flow is not None and "oxygen_flow" not in raw:
            raw[flow.key] = flow.value
            where[flow.key] = path
            readings.append(flow)
    for index, contained in enumerate(resource.get("contained") or []):
        if contained.get("resourceType") != "Observation":
            continue
        for coding in (contained.get("code") or {}).get("coding") or []:
            system, code = coding.get("system"), coding.get("code", "")
            key = VITAL_OF_LOINC.get(code) if system == systems.LOINC else None
            if system == VITAL and code in VITALS:
                key = code
            if key is not None:
                raw[key] = _observation_value(contained)
                where[key] = f"ServiceRequest.contained[{index}]"
                readings = [reading for reading in readings if reading.key != key]
                break
    values, errors = parse_vitals(raw, language)
    if errors:
        key, message = next(iter(errors.items()))
        raise business_rule(message, [where.get(key, "ServiceRequest.contained")])
    return values, readings


def _flow_of(reading: VitalObservation) -> VitalObservation | None:
    """The oxygen flow sent as a component of a loose SpO2 reading (stored beside it with the
    same time): it joins the request with the reading it was part of."""
    if reading.key != "spo2" or reading.consultation_id is not None:
        return None
    return VitalObservation.objects.filter(
        patient_id=reading.patient_id,
        consultation__isnull=True,
        key="oxygen_flow",
        recorded_at=reading.recorded_at,
    ).first()


def _check_readings(request: _Request, token: uuid.UUID) -> None:
    """A reading belongs to one request: the one with this client token, or none yet."""
    for reading in request.readings:
        consultation = reading.consultation
        if consultation is not None and consultation.client_token != token:
            raise business_rule(
                f"Observation/{reading.uuid} is part of another request already.",
                ["ServiceRequest.supportingInfo"],
            )


def _adopt(consultation: Consultation, readings: list[VitalObservation]) -> None:
    """The readings posted before the request become its own: they replace the copies the
    service stored of their values (from which it scored NEWS2), so supportingInfo names the
    Observations the client sent."""
    loose = [reading for reading in readings if reading.consultation_id is None]
    if not loose:
        return
    consultation.vitals.filter(key__in=[reading.key for reading in loose]).delete()
    for reading in loose:
        reading.consultation = consultation
        reading.save(update_fields=["consultation"])


def _stored_vitals(consultation: Consultation) -> dict[str, VitalValue]:
    raw = {vital.key: vital.value for vital in consultation.vitals.all()}
    values, _errors = parse_vitals(raw, "en")
    return values


@register
class ServiceRequestHandler(ConsultationHandler):
    resource_type = "ServiceRequest"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update", "delete"}
    )
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_mapped_status(SERVICE_REQUEST_STATUS)),
        "priority": SearchParam("token", to_q=_priority_q),
        "category": SearchParam("token", to_q=_fixed_code(systems.SNOMED, CONSULTATION["code"])),
        "authored": SearchParam("date", "created_at", sortable=True),
        # References to people match a Practitioner or any of their PractitionerRoles.
        "requester": SearchParam(
            "reference", "requester__practitioner__roles__uuid", to_q=_person_q("requester")
        ),
        "performer": SearchParam(
            "reference", "routed_facility__organisation__uuid", to_q=_performer_q
        ),
        "code": SearchParam("token", "specialty__code", system=SPECIALTY),
        "identifier": SearchParam("token", to_q=_client_token_q),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
    )

    def all_objects(self) -> QuerySet[Consultation]:
        # A draft discarded before it was sent was never a request: it is gone (410 after a
        # DELETE). Its Task and Encounter stay, cancelled.
        return super().all_objects().exclude(status=Status.CANCELLED, received_at__isnull=True)

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        performers = []
        if obj.routed_facility is not None:
            performers.append(_organisation(obj.routed_facility))
        performers += [_consultant(assignment) for assignment in _active_assignments(obj)]
        # As clinical.observation_references has it (from the prefetched rows): the coded vital
        # signs are Observations, air/oxygen and the SpO2 scale are parts of the NEWS2 one.
        coded = sorted((v for v in obj.vitals.all() if v.loinc), key=lambda vital: vital.pk)
        supporting = [
            {"reference": f"Observation/{vital.uuid}", "display": VITALS[vital.key].names["en"]}
            if vital.key in VITALS
            else {"reference": f"Observation/{vital.uuid}"}
            for vital in coded
        ]
        if obj.news2_total is not None and coded:
            supporting.append(
                {"reference": f"Observation/{news2_observation_id(obj)}", "display": "NEWS2 total"}
            )
        supporting += [
            {"reference": f"DocumentReference/{document.uuid}", "display": document.original_name}
            for document in obj.attachments.all()
            if document.message_id is None and document.conclusion_id is None
        ]
        notes = [{"text": text} for text in (obj.question, obj.summary) if text.strip()]
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "language": obj.language,
            "extension": [{"url": CONSULT_MODE, "valueCode": obj.mode}],
            "identifier": [{"system": CLIENT_TOKEN, "value": str(obj.client_token)}],
            "status": SERVICE_REQUEST_STATUS[Status(obj.status)],
            "intent": "order",
            "category": [{"coding": [CONSULTATION], "text": "Teleconsultation"}],
            "priority": obj.fhir_priority,
            "code": _specialty(obj.specialty),
            "subject": _patient(obj),
            "authoredOn": _when(obj.created_at),
            "requester": _requester(obj),
            "performer": performers,
            "supportingInfo": supporting,
            "note": notes,
        }
        return {key: value for key, value in resource.items() if value != []}

    # --- writes ------------------------------------------------------------------------------

    def create(self, principal: Principal, resource: dict[str, Any]) -> Consultation:
        request = _request_of(resource)
        if request.status not in ("draft", "active"):
            raise business_rule(
                "A new request is sent as 'active', or kept as a 'draft'.",
                ["ServiceRequest.status"],
            )
        token = request.client_token or uuid.uuid4()
        existing = Consultation.objects.filter(client_token=token).first()
        if existing is not None:
            if existing.patient_id != request.patient.pk or not self.visible(principal, existing):
                raise conflict("This client token belongs to another request; choose a new one.")
            if existing.status != Status.DRAFT:
                return existing  # a retried submission: the request it already made
        return self._save(principal, request, token)

    def _save(self, principal: Principal, request: _Request, token: uuid.UUID) -> Consultation:
        _check_readings(request, token)
        accessor = principal.accessor
        patient, data = request.patient, request.data
        try:
            if request.status == "draft":
                if principal.user.role != Role.CLINICIAN:
                    raise PermissionDenied("Only a requesting clinician asks for a consultation.")
                consultation = services.consult_save_draft(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
            else:
                consultation = services.consult_submit(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
        except ValidationError as error:
            raise _as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error
        _adopt(consultation, request.readings)
        return consultation

    def update(
        self, principal: Principal, obj: Consultation, resource: dict[str, Any]
    ) -> Consultation:
        request = _request_of(resource)
        if request.client_token is not None and request.client_token != obj.client_token:
            raise business_rule(
                "The client token of a request never changes.", ["ServiceRequest.identifier"]
            )
        if request.patient.pk != obj.patient_id:
            raise business_rule(
                "A request stays about the patient it was made for.", ["ServiceRequest.subject"]
            )
        if obj.status == Status.DRAFT:
            return self._update_draft(principal, obj, request)
        current = SERVICE_REQUEST_STATUS[Status(obj.status)]
        if request.status == current:
            if _content_changed(obj, request):
                raise business_rule(
                    "Only a draft can be edited; a sent request is changed through its thread "
                    "(Communication) or cancelled (status revoked).",
                    ["ServiceRequest"],
                )
            return obj
        try:
            if request.status == "revoked":
                return services.consult_cancel(
                    accessor=principal.accessor,
                    consultation=obj,
                    reason=_cancel_reason(obj, request.notes),
                )
            if request.status == "entered-in-error":
                return services.consult_transition(
                    accessor=principal.accessor,
                    consultation=obj,
                    target=Status.ENTERED_IN_ERROR,
                    note=_cancel_reason(obj, request.notes, ""),
                )
        except ValidationError as error:
            raise _as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error
        raise business_rule(
            f"A request that is {current} cannot become {request.status or 'that'} here: the "
            "consultant moves it through its Task, and signing the conclusion completes it.",
            ["ServiceRequest.status"],
        )

    def _update_draft(
        self, principal: Principal, obj: Consultation, request: _Request
    ) -> Consultation:
        # The draft's vitals stay: those sent are added or replace a reading of the same sign.
        request.data.vitals = {**_stored_vitals(obj), **request.data.vitals}
        if request.status in ("draft", "active"):
            return self._save(principal, request, obj.client_token)
        if request.status == "revoked":
            raise business_rule(
                f"A draft is discarded with DELETE ServiceRequest/{obj.uuid}.",
                ["ServiceRequest.status"],
            )
        raise business_rule(
            "A draft is edited as 'draft' or sent as 'active'.", ["ServiceRequest.status"]
        )

    def delete(self, principal: Principal, obj: Consultation) -> None:
        if obj.status != Status.DRAFT:
            raise not_allowed(
                "Only a draft can be deleted; a sent request is cancelled (status revoked) "
                "and kept."
            )
        try:
            services.consult_transition(
                accessor=principal.accessor,
                consultation=obj,
                target=Status.CANCELLED,
                note="discarded through FHIR",
            )
        except ValidationError as error:
            raise _as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error


def _content_changed(obj: Consultation, request: _Request) -> bool:
    data = request.data
    return (
        data.question.strip() != obj.question.strip()
        or data.summary.strip() != obj.summary.strip()
        or data.form != obj.form
        or data.specialty.pk != obj.specialty_id
        or data.mode != obj.mode
    )


def _cancel_reason(
    obj: Consultation, notes: list[str], default: str = CANCELLED_THROUGH_FHIR
) -> str:
    """A note that is neither the question nor the summary says why; else a default."""
    known = {obj.question.strip(), obj.summary.strip(), ""}
    reasons = [note.strip() for note in notes if note.strip() not in known]
    return reasons[-1] if reasons else default


# --- Task --------------------------------------------------------------------------------------


TASK_PATHS = {"reason": "Task.statusReason"}


@register
class TaskHandler(ConsultationHandler):
    resource_type = "Task"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update"}
    )
    search_params = {
        "status": SearchParam("token", "status"),
        "business-status": SearchParam("token", "business_status"),
        "owner": SearchParam(
            "reference", "assignments__consultant__practitioner__roles__uuid", to_q=_owner_q
        ),
        "requester": SearchParam(
            "reference", "requester__practitioner__roles__uuid", to_q=_person_q("requester")
        ),
        "focus": SearchParam("reference", "uuid", target="ServiceRequest"),
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "authored-on": SearchParam("date", "created_at", sortable=True),
        "period": SearchParam("date", "deadline_at", sortable=True),
    }
    # `focus` is the consultation itself: the empty attribute path names the object.
    includes = (
        Include("focus", "ServiceRequest", ""),
        Include("patient", "Patient", "patient"),
    )

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": str(obj.uuid),
            "status": obj.status,
            "intent": "order",
            "priority": obj.fhir_priority,
            "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{obj.uuid}"},
            "for": _patient(obj),
            "authoredOn": _when(obj.created_at),
            "lastModified": _when(obj.updated_at),
            "requester": _requester(obj),
        }
        if obj.business_status:
            resource["businessStatus"] = {"text": obj.business_status}
        if obj.received_at is not None:
            resource["executionPeriod"] = {"start": _when(obj.received_at)}
        primary = _primary(obj)
        if primary is not None:
            resource["owner"] = _consultant(primary)
        if obj.deadline_at is not None:
            resource["restriction"] = {"period": {"end": _when(obj.deadline_at)}}
        documents = _conclusion_documents(obj)
        if obj.status == Status.COMPLETED and documents:
            resource["output"] = [
                {
                    "type": {"coding": [CONSULT_NOTE], "text": "Signed medical conclusion"},
                    "valueReference": {"reference": f"DocumentReference/{documents[0].uuid}"},
                }
            ]
        return resource

    def create(self, principal: Principal, resource: dict[str, Any]) -> Consultation:
        """Every consultation has its Task already: posting one for a request gives it back."""
        validated("Task", resource)
        reference = (resource.get("focus") or {}).get("reference", "")
        if not reference:
            raise business_rule(
                "A Task is the workflow of a request: focus must name its ServiceRequest.",
                ["Task.focus"],
            )
        try:
            return _consultation_of(principal, reference, "ServiceRequest", shown=True)
        except FhirError as error:
            if error.status == 422:
                error.expression = ["Task.focus"]
            raise

    def update(
        self, principal: Principal, obj: Consultation, resource: dict[str, Any]
    ) -> Consultation:
        """A new status moves the state machine; nothing else of a Task is written here."""
        validated("Task", resource)
        wanted = str(resource.get("status", ""))
        if wanted == obj.status:
            return obj
        target = _task_target(obj, wanted)
        accessor = principal.accessor
        reason = _task_reason(resource)
        try:
            if target == Status.ACCEPTED:
                return services.consult_accept(accessor=accessor, consultation=obj)
            if target == Status.CANCELLED:
                return services.consult_cancel(
                    accessor=accessor, consultation=obj, reason=reason or CANCELLED_THROUGH_FHIR
                )
            return services.consult_transition(
                accessor=accessor, consultation=obj, target=target, note=reason
            )
        except ValidationError as error:
            raise _as_fhir(error, TASK_PATHS, "Task.status") from error


def _task_target(obj: Consultation, wanted: str) -> Status:
    """The status a PUT asks for, if FarCare moves a Task there through this API."""
    if wanted not in Status.values:
        raise business_rule(f"FarCare does not use the Task status {wanted!r}.", ["Task.status"])
    target = Status(wanted)
    if target == Status.ON_HOLD:
        raise business_rule(
            "A consultant puts a request on hold by sending a Communication that asks the "
            "requester (category 'question').",
            ["Task.status"],
        )
    if target == Status.COMPLETED:
        raise business_rule(
            "A request is completed by signing the conclusion in FarCare.", ["Task.status"]
        )
    if find_move(obj.status, target) is None:
        raise business_rule(
            f"A request that is {obj.status} cannot become {target}.", ["Task.status"]
        )
    if target == Status.REQUESTED:
        raise business_rule(
            "A draft is sent by setting its ServiceRequest's status to 'active'.",
            ["Task.status"],
        )
    return target


def _task_reason(resource: dict[str, Any]) -> str:
    reason = (resource.get("statusReason") or {}).get("text", "")
    if not reason:
        notes = [str(note.get("text") or "") for note in resource.get("note") or []]
        reason = notes[-1] if notes else ""
    return str(reason).strip()


# --- Encounter ---------------------------------------------------------------------------------


def _completed_at(obj: Consultation) -> datetime | None:
    signed = [a.conclusion.signed_at for a in obj.attachments.all() if a.conclusion is not None]
    return min(signed) if signed else None


@register
class EncounterHandler(ConsultationHandler):
    resource_type = "Encounter"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_mapped_status(ENCOUNTER_STATUS)),
        "class": SearchParam("token", to_q=_fixed_code(systems.V3_ACT_CODE, "VR")),
        "date": SearchParam("date", "received_at", sortable=True),
    }

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        participants = [
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "REF"}]}],
                "individual": _requester(obj),
            }
        ] + [
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "CON"}]}],
                "individual": _consultant(assignment),
            }
            for assignment in _active_assignments(obj)
        ]
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": str(obj.uuid),
            "status": ENCOUNTER_STATUS[Status(obj.status)],
            "class": {"system": systems.V3_ACT_CODE, "code": "VR", "display": "virtual"},
            "priority": {
                "coding": [
                    {"system": ACT_PRIORITY, "code": ACT_PRIORITY_OF_FORM[ConsultForm(obj.form)]}
                ],
                "text": obj.form,
            },
            "subject": _patient(obj),
            "basedOn": [{"reference": f"ServiceRequest/{obj.uuid}"}],
            "participant": participants,
        }
        if obj.received_at is not None:
            period = {"start": _when(obj.received_at)}
            completed = _completed_at(obj) if obj.status == Status.COMPLETED else None
            if completed is not None:
                period["end"] = _when(completed)
            resource["period"] = period
        if obj.routed_facility is not None:
            resource["serviceProvider"] = _organisation(obj.routed_facility)
        return resource


# --- Communication -----------------------------------------------------------------------------


def _messages() -> QuerySet[Message]:
    return Message.objects.select_related(
        "author__practitioner",
        "author__facility",
        "consultation__patient",
        "consultation__requester__practitioner",
        "consultation__requesting_facility",
    ).prefetch_related(
        "author__practitioner__roles",
        "consultation__requester__practitioner__roles",
        Prefetch(
            "consultation__assignments",
            queryset=Assignment.objects.select_related(
                "consultant__practitioner", "facility"
            ).prefetch_related("consultant__practitioner__roles"),
        ),
        "attachments",
    )


def _sender(message: Message) -> dict[str, Any]:
    consultation = message.consultation
    author = message.author
    if author.pk == consultation.requester_id:
        return _requester(consultation)
    assignment = next(
        (a for a in consultation.assignments.all() if a.consultant_id == author.pk), None
    )
    if assignment is not None:
        return _consultant(assignment)
    return _person(author, author.facility, REQUESTER_KINDS + CONSULTANT_KINDS)


def _recipients(message: Message) -> list[dict[str, Any]]:
    """The other side, as it stood when the message was sent."""
    consultation = message.consultation
    author = message.author
    if author.role == Role.CONSULTANT:
        return [_requester(consultation)]
    at = message.created_at
    return [
        _consultant(assignment)
        for assignment in sorted(consultation.assignments.all(), key=lambda a: a.pk)
        if assignment.assigned_at <= at
        and (assignment.ended_at is None or assignment.ended_at > at)
    ]


def _extension_of(content_type: str) -> str:
    return next((ext for ext, (kind, _m, _o) in ALLOWED.items() if kind == content_type), "")


def _uploads(resource: dict[str, Any]) -> list[UploadedFile]:
    """Files sent inline as `payload[].contentAttachment` (base64 `data`)."""
    files: list[UploadedFile] = []
    for index, payload in enumerate(resource.get("payload") or []):
        attachment = payload.get("contentAttachment")
        if not attachment:
            continue
        path = [f"Communication.payload[{index}].contentAttachment"]
        try:
            content = base64.b64decode(attachment.get("data") or "", validate=True)
        except (binascii.Error, ValueError) as error:
            raise business_rule("The attachment's data is not base64.", path) from error
        if not content:
            raise business_rule(
                "Send the file's content as data; a link to elsewhere is not fetched.", path
            )
        content_type = str(attachment.get("contentType") or "")
        name = str(attachment.get("title") or "attachment")
        if "." not in name:
            name += _extension_of(content_type)
        files.append(SimpleUploadedFile(name, content, content_type=content_type))
    return files


@register
class CommunicationHandler(Handler):
    resource_type = "Communication"
    model = Message
    updated_field = "created_at"  # a message is never edited
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
        "part-of": SearchParam("reference", "consultation__uuid", target="Task"),
        "encounter": SearchParam("reference", "consultation__uuid", target="Encounter"),
        "patient": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "sender": SearchParam(
            "reference", "author__practitioner__roles__uuid", to_q=_person_q("author")
        ),
        "sent": SearchParam("date", "created_at", sortable=True),
        "category": SearchParam("token", to_q=_category_q),
    }
    includes = (
        Include("based-on", "ServiceRequest", "consultation"),
        Include("part-of", "Task", "consultation"),
        Include("patient", "Patient", "consultation.patient"),
        Include("subject", "Patient", "consultation.patient"),
    )

    def all_objects(self) -> QuerySet[Message]:
        return _messages()

    def queryset(self, principal: Principal) -> QuerySet[Message]:
        patients = visible_patients(principal.user).values("pk")
        return self.all_objects().filter(consultation__patient__in=patients)

    def patient_of(self, obj: Message) -> Patient:
        return obj.consultation.patient

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, Message):
            return [instance]
        if isinstance(instance, Attachment) and instance.message_id is not None:
            return [instance.message]
        return []

    def to_fhir(self, obj: Message) -> dict[str, Any]:
        consultation = obj.consultation
        payload: list[dict[str, Any]] = []
        if obj.body.strip():
            payload.append({"contentString": obj.body})
        payload += [
            {
                "contentReference": {
                    "reference": f"DocumentReference/{a.uuid}",
                    "display": a.original_name,
                }
            }
            for a in obj.attachments.all()
        ]
        resource: dict[str, Any] = {
            "resourceType": "Communication",
            "id": str(obj.uuid),
            "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
            "partOf": [{"reference": f"Task/{consultation.uuid}"}],
            "status": "completed",
            "subject": {"reference": f"Patient/{consultation.patient.uuid}"},
            "encounter": {"reference": f"Encounter/{consultation.uuid}"},
            "sent": _when(obj.created_at),
            "sender": _sender(obj),
        }
        if obj.asks_requester:
            resource["category"] = [
                {
                    "coding": [
                        {
                            "system": COMMUNICATION_CATEGORY,
                            "code": QUESTION,
                            "display": "Question to the requester",
                        }
                    ]
                }
            ]
        recipients = _recipients(obj)
        if recipients:
            resource["recipient"] = recipients
        if payload:
            resource["payload"] = payload
        return resource

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Files sent inline are DocumentReferences of the thread now (payload
        contentReference): their bytes are not kept twice."""
        payload = [
            part
            for part in resource.get("payload") or []
            if not (isinstance(part, dict) and "contentAttachment" in part)
        ]
        trimmed = {key: value for key, value in resource.items() if key != "payload"}
        if payload:
            trimmed["payload"] = payload
        return trimmed

    def create(self, principal: Principal, resource: dict[str, Any]) -> Message:
        """Post to the thread of the request named by basedOn (or the Task named by partOf)."""
        validated("Communication", resource)
        based_on = [str(r.get("reference", "")) for r in resource.get("basedOn") or []]
        part_of = [str(r.get("reference", "")) for r in resource.get("partOf") or []]
        reference, kind, path = next(
            (
                (ref, kind, path)
                for refs, kind, path in (
                    (based_on, "ServiceRequest", "Communication.basedOn"),
                    (part_of, "Task", "Communication.partOf"),
                )
                for ref in refs
                if _referenced(ref, kind)
            ),
            ("", "", "Communication.basedOn"),
        )
        if not reference:
            raise business_rule(
                "A message belongs to a request: basedOn must name its ServiceRequest.", [path]
            )
        try:
            consultation = _consultation_of(principal, reference, kind)
        except FhirError as error:
            if error.status == 422:
                error.expression = [path]
            raise
        body = "\n\n".join(
            str(payload["contentString"]).strip()
            for payload in resource.get("payload") or []
            if payload.get("contentString")
        )
        asks = any(
            coding.get("code") == QUESTION
            and coding.get("system") in (COMMUNICATION_CATEGORY, None)
            for category in resource.get("category") or []
            for coding in category.get("coding") or []
        )
        try:
            return services.message_post(
                accessor=principal.accessor,
                consultation=consultation,
                body=body,
                ask_requester=asks,
                files=_uploads(resource),
            )
        except ValidationError as error:
            raise _as_fhir(error, MESSAGE_PATHS, "Communication.basedOn") from error
