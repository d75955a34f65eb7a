"""Schedule, Slot and Appointment ↔ a consultant's published times and the calls booked in them
(domain.md §6).

- Schedule (id = the schedule's UUID): one per consultant; `actor` = their PractitionerRole at
  their facility (else Practitioner); `specialty` their specialties; read and search by actor.
- Slot (id = the slot's UUID): `schedule`, `start`, `end`, `status` free; busy (booked);
  busy-unavailable (removed by the consultant). Read and search by schedule, start, status.
- Appointment (id = the appointment's UUID): `status` booked, arrived, fulfilled, cancelled,
  noshow (a call moved to another time is `cancelled` with cancelationReason "rescheduled", and
  the new one names it in the extension urn:farcare:extension:appointment-replaces); `slot`;
  `basedOn` the consultation's ServiceRequest; `start`/`end` the slot's; `participant` the
  patient, the requesting clinician and the consultant. Search by patient, actor, date, status.
  POST books a free slot (`status` booked, `slot` and `basedOn` required) as the requesting side
  does on the pages; PUT with `status` cancelled (cancelationReason.text the reason) or noshow
  (the other side did not come) changes it through the same services. An Appointment names its
  patient, so like the consultation's resources it is scoped by `visible_patients`: a consultant
  abroad sees their Schedule and Slots, and no Appointment here.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.network.models import Specialty
from farcare.patients.models import Patient
from farcare.scheduling import services
from farcare.scheduling.access import appointment_sides
from farcare.scheduling.models import (
    Appointment,
    AppointmentStatus,
    Party,
    Schedule,
    Slot,
    SlotStatus,
)

from ..auth import Principal
from ..errors import FhirError, business_rule, conflict, forbidden
from ..registry import Handler, SearchParam, register
from ..remainder import rendered
from ..validation import validated
from .consultation.common import (
    CONSULTANT_KINDS,
    REQUESTER_KINDS,
    _person,
    _reference_parts,
    _users,
    _when,
    consultation_of,
    is_uuid,
    referenced,
)
from .diagnostics.service_request import _same as same_as_served

REPLACES = "urn:farcare:extension:appointment-replaces"
SLOT_STATUS = {
    SlotStatus.FREE: "free",
    SlotStatus.BOOKED: "busy",
    SlotStatus.BLOCKED: "busy-unavailable",
}
APPOINTMENT_STATUS = {
    AppointmentStatus.BOOKED: "booked",
    AppointmentStatus.ARRIVED: "arrived",
    AppointmentStatus.FULFILLED: "fulfilled",
    AppointmentStatus.CANCELLED: "cancelled",
    AppointmentStatus.NOSHOW: "noshow",
    AppointmentStatus.RESCHEDULED: "cancelled",
}
PARTICIPATION = "http://terminology.hl7.org/CodeSystem/v3-ParticipationType"
SPECIALTY = "urn:farcare:specialty"


def _status_q(mapping: dict[Any, str]) -> Any:
    def to_q(modifier: str, system: str, code: str) -> Q:
        statuses = [status for status, mapped in mapping.items() if mapped == code]
        condition = Q(status__in=statuses) if statuses else Q(pk__in=[])
        return ~condition if modifier == "not" else condition

    return to_q


def _specialty(specialty: Specialty) -> dict[str, Any]:
    display = specialty.name_en or specialty.name_ru
    return {"coding": [{"system": SPECIALTY, "code": specialty.code, "display": display}]}


@register
class ScheduleHandler(Handler):
    resource_type = "Schedule"
    model = Schedule
    updated_field = "updated_at"
    search_params = {
        "actor": SearchParam("reference", to_q=lambda m, s, v: _person_q("consultant", v)),
    }

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        # Published times name no patient: any user of the API may read them.
        return Schedule.objects.select_related("consultant__facility")

    def to_fhir(self, obj: Schedule) -> dict[str, Any]:
        consultant = obj.consultant
        resource: dict[str, Any] = {
            "resourceType": "Schedule",
            "id": str(obj.uuid),
            "active": consultant.is_active,
            "actor": [_person(consultant, consultant.facility, CONSULTANT_KINDS)],
        }
        practitioner = getattr(consultant, "practitioner", None)
        if practitioner is not None:
            specialties = [_specialty(s) for s in practitioner.specialties.all()]
            if specialties:
                resource["specialty"] = specialties
        return resource


def _person_q(user_field: str, value: str) -> Q:
    users = _users(*_reference_parts(value))
    if users is None:
        return Q(pk__in=[])
    return Q(**{f"{user_field}__in": users.values("pk")})


@register
class SlotHandler(Handler):
    resource_type = "Slot"
    model = Slot
    updated_field = "updated_at"
    search_params = {
        "schedule": SearchParam("reference", "schedule__uuid", target="Schedule"),
        "start": SearchParam("date", "starts_at", sortable=True),
        "status": SearchParam("token", to_q=_status_q(SLOT_STATUS)),
    }
    default_sort = "starts_at"

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        return Slot.objects.select_related("schedule")

    def to_fhir(self, obj: Slot) -> dict[str, Any]:
        return {
            "resourceType": "Slot",
            "id": str(obj.uuid),
            "schedule": {"reference": f"Schedule/{obj.schedule.uuid}"},
            "status": SLOT_STATUS[SlotStatus(obj.status)],
            "start": _when(obj.starts_at),
            "end": _when(obj.ends_at),
        }


def _actor_q(modifier: str, _system: str, value: str) -> Q:
    kind, ident = _reference_parts(value)
    if kind == "Patient":
        return Q(consultation__patient__uuid=ident) if is_uuid(ident) else Q(pk__in=[])
    users = _users(kind, ident)
    if users is None:
        return Q(pk__in=[])
    pks = users.values("pk")
    return Q(consultant__in=pks) | Q(consultation__requester__in=pks)


APPOINTMENT_PATHS = {"reason": "Appointment.cancelationReason", "party": "Appointment.status"}


def _as_fhir(error: ValidationError) -> FhirError:
    if getattr(error, "code", "") == services.TAKEN:
        return conflict(" ".join(error.messages))
    if hasattr(error, "error_dict"):
        field = next(iter(error.error_dict))
        return business_rule(
            " ".join(error.messages), [APPOINTMENT_PATHS.get(field, "Appointment")]
        )
    return business_rule(" ".join(error.messages), ["Appointment"])


@register
class AppointmentHandler(Handler):
    resource_type = "Appointment"
    model = Appointment
    updated_field = "updated_at"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update"}
    )
    search_params = {
        "patient": SearchParam("reference", "consultation__patient__uuid", target="Patient"),
        "actor": SearchParam("reference", to_q=_actor_q),
        "date": SearchParam("date", "starts_at", sortable=True),
        "status": SearchParam("token", to_q=_status_q(APPOINTMENT_STATUS)),
        "slot": SearchParam("reference", "slot__uuid", target="Slot"),
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
    }
    refused_elements = frozenset({"Appointment.start", "Appointment.end"})
    default_sort = "starts_at"

    def all_objects(self) -> QuerySet[Any]:
        return Appointment.objects.select_related(
            "consultation__patient",
            "consultation__requester",
            "consultation__requesting_facility",
            "consultant__facility",
            "slot",
            "replaces",
        )

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        return self.all_objects().filter(consultation__patient__in=visible_patients(principal.user))

    def patient_of(self, obj: Appointment) -> Patient | None:
        return obj.consultation.patient

    def to_fhir(self, obj: Appointment) -> dict[str, Any]:
        consultation = obj.consultation
        requester = _person(
            consultation.requester, consultation.requesting_facility, REQUESTER_KINDS
        )
        consultant = _person(obj.consultant, obj.consultant.facility, CONSULTANT_KINDS)
        resource: dict[str, Any] = {
            "resourceType": "Appointment",
            "id": str(obj.uuid),
            "status": APPOINTMENT_STATUS[AppointmentStatus(obj.status)],
            "start": _when(obj.starts_at),
            "end": _when(obj.ends_at),
            "created": obj.created_at.date().isoformat(),
            "slot": [{"reference": f"Slot/{obj.slot.uuid}"}],
            "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
            "participant": [
                {
                    "actor": {"reference": f"Patient/{consultation.patient.uuid}"},
                    "status": "accepted",
                },
                {
                    "type": [{"coding": [{"system": PARTICIPATION, "code": "REF"}]}],
                    "actor": requester,
                    "status": "accepted",
                },
                {
                    "type": [{"coding": [{"system": PARTICIPATION, "code": "CON"}]}],
                    "actor": consultant,
                    "status": "accepted",
                },
            ],
        }
        if obj.status == AppointmentStatus.RESCHEDULED:
            resource["cancelationReason"] = {"text": "rescheduled"}
        elif obj.reason:
            resource["cancelationReason"] = {"text": obj.reason}
        if obj.replaces is not None:
            earlier = {"reference": f"Appointment/{obj.replaces.uuid}"}
            resource["extension"] = [{"url": REPLACES, "valueReference": earlier}]
        return resource

    def create(self, principal: Principal, resource: dict[str, Any]) -> Appointment:
        validated("Appointment", resource)
        if resource.get("status") != "booked":
            raise business_rule(
                "An Appointment is created booked in a free Slot: status must be 'booked'.",
                ["Appointment.status"],
            )
        slots = [referenced(s.get("reference", ""), "Slot") for s in resource.get("slot", [])]
        named = len(slots) == 1 and bool(slots[0])
        slot = Slot.objects.filter(uuid=slots[0]).first() if named else None
        if slot is None:
            raise business_rule("slot must name one Slot of FarCare.", ["Appointment.slot"])
        based_on = [b.get("reference", "") for b in resource.get("basedOn", [])]
        if len(based_on) != 1:
            raise business_rule(
                "basedOn must name the consultation's ServiceRequest.", ["Appointment.basedOn"]
            )
        consultation = consultation_of(principal, based_on[0], "ServiceRequest")
        try:
            return services.appointment_book(
                accessor=principal.accessor, consultation=consultation, slot=slot
            )
        except ValidationError as error:
            raise _as_fhir(error) from error

    def update(self, principal: Principal, obj: Appointment, resource: dict[str, Any]) -> Any:
        validated("Appointment", resource)
        served = rendered(self, obj)
        wanted = str(resource.get("status", ""))
        moving = wanted != served["status"]
        if moving and wanted not in ("cancelled", "noshow"):
            raise business_rule(_ONLY_MOVES, ["Appointment.status"])
        # Nothing else is changed here, so nothing else sent may differ: a new slot, time or
        # reason would otherwise be answered 200 and dropped (or kept as a second slot).
        free = {"resourceType", "id", "meta", "text", "status"}
        if moving and wanted == "cancelled":
            free.add("cancelationReason")
        changed = [
            key
            for key in resource
            if key not in free and not same_as_served(resource[key], served.get(key))
        ]
        if changed:
            raise business_rule(_ONLY_MOVES, [f"Appointment.{key}" for key in changed])
        if not moving:
            return obj
        accessor = principal.accessor
        try:
            if wanted == "cancelled":
                reason = str((resource.get("cancelationReason") or {}).get("text", ""))
                return services.appointment_cancel(
                    accessor=accessor, appointment=obj, reason=reason
                )
            sides = appointment_sides(principal.user, obj)
            party = Party.REQUESTER if "consultant" in sides else Party.CONSULTANT
            if not sides:
                raise forbidden(f"Appointment/{obj.uuid} is not yours to change.")
            return services.appointment_noshow(accessor=accessor, appointment=obj, party=party)
        except ValidationError as error:
            raise _as_fhir(error) from error


_ONLY_MOVES = (
    "Through this API an Appointment is only cancelled (status 'cancelled' with "
    "cancelationReason.text) or marked noshow, sent back otherwise unchanged; the call itself "
    "starts and ends in FarCare. To move it, cancel it and book another slot."
)
