"""What the consultation's FHIR faces share: coding systems, renderings of people and
organisations, search conditions, errors, and the handler every one of them is based on."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db.models import Model, Prefetch, Q, QuerySet

from farcare.access.policy import Action, visible_patients
from farcare.access.services import authorise, require
from farcare.accounts.models import User
from farcare.clinical.vitals import VITALS
from farcare.consults.models import (
    Assignment,
    AssignmentRole,
    Attachment,
    Consultation,
    ConsultForm,
    Status,
    VitalObservation,
)
from farcare.consults.workflow import IllegalTransition, StaleVersion
from farcare.network.models import (
    Facility,
    Practitioner,
    PractitionerRoleKind,
    Specialty,
)
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import FhirError, business_rule, conflict, forbidden
from ...registry import Handler

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


def active_assignments(obj: Consultation) -> list[Assignment]:
    """Current assignments, the primary consultant first."""
    active = [assignment for assignment in obj.assignments.all() if assignment.ended_at is None]
    active.sort(key=lambda a: (a.role != AssignmentRole.PRIMARY, a.assigned_at, a.pk))
    return active


def _primary(obj: Consultation) -> Assignment | None:
    active = active_assignments(obj)
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


def conclusion_documents(obj: Consultation) -> list[Attachment]:
    """The PDFs of the signed conclusion, latest version first."""
    documents = [a for a in obj.attachments.all() if a.conclusion_id is not None]
    documents.sort(key=lambda a: a.conclusion.version if a.conclusion else 0, reverse=True)
    return documents


def is_uuid(text: str) -> bool:
    try:
        uuid.UUID(text)
    except (ValueError, AttributeError, TypeError):
        return False
    return True


def referenced(reference: str, resource_type: str) -> str:
    """The id in `Type/<id>` (relative or absolute), or "" for a reference to another type."""
    parts = reference.rstrip("/").split("/")
    if len(parts) >= 2 and parts[-2] == resource_type and is_uuid(parts[-1]):
        return parts[-1]
    return ""


# --- search helpers ----------------------------------------------------------------------------


Condition = Callable[[str, str, str], Q]


def _negated(condition: Q, modifier: str) -> Q:
    return ~condition if modifier == "not" else condition


def mapped_status(mapping: dict[Status, str]) -> Condition:
    """A token over a FHIR status that several consultation statuses share."""

    def to_q(modifier: str, system: str, code: str) -> Q:
        statuses = [status for status, mapped in mapping.items() if mapped == code]
        return _negated(Q(status__in=statuses) if statuses else Q(pk__in=[]), modifier)

    return to_q


def priority_q(modifier: str, system: str, code: str) -> Q:
    form = FORM_OF_PRIORITY.get(code)
    return _negated(Q(form=form) if form else Q(pk__in=[]), modifier)


def fixed_code(code_system: str, code: str) -> Condition:
    """A token every resource of the type carries (the category, the class)."""

    def to_q(modifier: str, system: str, value: str) -> Q:
        matches = (not system or system == code_system) and value == code
        return _negated(Q() if matches else Q(pk__in=[]), modifier)

    return to_q


def client_token_q(modifier: str, system: str, value: str) -> Q:
    if (system and system != CLIENT_TOKEN) or not is_uuid(value):
        return _negated(Q(pk__in=[]), modifier)
    return _negated(Q(client_token=uuid.UUID(value)), modifier)


def _users(kind: str, ident: str) -> QuerySet[User] | None:
    """The users a Practitioner or PractitionerRole reference (or a bare id) stands for."""
    if not is_uuid(ident):
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


def person_q(user_field: str) -> Condition:
    """A reference to a Practitioner or a PractitionerRole: the user behind either matches."""

    def to_q(modifier: str, _system: str, value: str) -> Q:
        users = _users(*_reference_parts(value))
        if users is None:
            return Q(pk__in=[])
        return Q(**{f"{user_field}__in": users.values("pk")})

    return to_q


def owner_q(modifier: str, _system: str, value: str) -> Q:
    users = _users(*_reference_parts(value))
    if users is None:
        return Q(pk__in=[])
    owned = Assignment.objects.filter(
        consultant__in=users.values("pk"), role=AssignmentRole.PRIMARY, ended_at__isnull=True
    )
    return Q(pk__in=owned.values("consultation_id"))


def performer_q(modifier: str, _system: str, value: str) -> Q:
    """The routed facility's Organization, or a consultant assigned now."""
    kind, ident = _reference_parts(value)
    condition = Q(pk__in=[])
    if kind in ("", "Organization") and is_uuid(ident):
        condition |= Q(routed_facility__organisation__uuid=ident)
    users = _users(kind, ident) if kind != "Organization" else None
    if users is not None:
        assigned = Assignment.objects.filter(
            consultant__in=users.values("pk"), ended_at__isnull=True
        )
        condition |= Q(pk__in=assigned.values("consultation_id"))
    return condition


def category_q(modifier: str, system: str, code: str) -> Q:
    if (system and system != COMMUNICATION_CATEGORY) or code != QUESTION:
        return _negated(Q(pk__in=[]), modifier)
    return _negated(Q(asks_requester=True), modifier)


# --- errors ------------------------------------------------------------------------------------


def as_fhir(error: ValidationError, paths: dict[str, str], status_path: str) -> FhirError:
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


def consultation_of(
    principal: Principal, reference: str, resource_type: str, *, shown: bool = False
) -> Consultation:
    """The consultation a `ServiceRequest/<id>` or `Task/<id>` reference names, once the access
    policy allowed the principal to see its patient (a refusal is audited: 403; so is the read
    when the consultation is `shown` in the response)."""
    ident = referenced(reference, resource_type)
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
