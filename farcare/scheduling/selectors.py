"""Reads of scheduling: whose slots a consultation may book, the free slots, the calls a person
has coming, and how a call names its patient to a viewer."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import decide_consult
from farcare.accounts.models import Role, User
from farcare.consults.models import Consultation
from farcare.consults.routing import candidates, consulting_facilities
from farcare.consults.selectors import case_patient, may_go_abroad

from .models import UPCOMING, Appointment, Schedule, Slot, SlotStatus

# How far ahead the booking page offers times.
BOOKING_HORIZON = timedelta(days=28)


def bookable_consultants(consultation: Consultation) -> list[User]:
    """The consultants assigned to the consultation; when nobody is yet, those who could take
    it by the routing table (its specialty, facilities in order, abroad only where allowed)."""
    assigned = [
        a.consultant
        for a in consultation.assignments.filter(ended_at__isnull=True).select_related("consultant")
    ]
    if assigned:
        return assigned
    facilities = consulting_facilities(
        requesting=consultation.requesting_facility,
        specialty=consultation.specialty,
        abroad_allowed=may_go_abroad(consultation),
    )
    found: list[User] = []
    for facility in facilities:
        for candidate in candidates(
            facility=facility,
            specialty=consultation.specialty,
            language=consultation.language,
            at=timezone.now(),
        ):
            if candidate.user not in found:
                found.append(candidate.user)
    return found


def free_slots(consultants: list[User], *, now: datetime | None = None) -> QuerySet[Slot]:
    now = now or timezone.now()
    return (
        Slot.objects.filter(
            schedule__consultant__in=consultants,
            status=SlotStatus.FREE,
            starts_at__gt=now,
            starts_at__lt=now + BOOKING_HORIZON,
        )
        .select_related("schedule__consultant__facility")
        .order_by("starts_at", "pk")
    )


def schedule_slots(consultant: User, *, now: datetime | None = None) -> QuerySet[Slot]:
    """A consultant's slots from now on, removed ones left out."""
    now = now or timezone.now()
    return (
        Slot.objects.filter(schedule__consultant=consultant, ends_at__gt=now)
        .exclude(status=SlotStatus.BLOCKED)
        .order_by("starts_at", "pk")
    )


def schedule_of(consultant: User) -> Schedule | None:
    return Schedule.objects.filter(consultant=consultant).first()


def _with_case() -> QuerySet[Appointment]:
    return Appointment.objects.select_related(
        "consultation__patient",
        "consultation__specialty",
        "consultation__requester__facility",
        "consultation__requesting_facility",
        "consultant__facility",
        "slot",
    )


def upcoming_for(user: User, *, now: datetime | None = None) -> QuerySet[Appointment]:
    """Calls still to come (or under way) where the user is the consultant, or on the
    requesting side (their own requests and their facility's)."""
    now = now or timezone.now()
    mine = Q(consultant=user)
    if user.role == Role.CLINICIAN:
        mine |= Q(consultation__requester=user)
        if user.facility_id is not None:
            mine |= Q(consultation__requesting_facility_id=user.facility_id)
    return _with_case().filter(mine, status__in=UPCOMING, ends_at__gt=now).order_by("starts_at")


def case_appointments(consultation: Consultation) -> QuerySet[Appointment]:
    return _with_case().filter(consultation=consultation).order_by("-starts_at", "-pk")


@dataclass(frozen=True)
class CallCase:
    """The case a call is about, as this viewer may see it."""

    label: str
    pseudonymised: bool
    patient_uuid: str | None


def call_case(appointment: Appointment, viewer: User) -> CallCase:
    """The patient's name only for those the policy lets open the case without a pseudonym;
    a consultant abroad, or one not (yet) assigned, reads the case code."""
    consultation = appointment.consultation
    view = decide_consult(viewer, consultation)
    if view.allowed and not view.pseudonymised:
        patient = case_patient(consultation, view, timezone.localdate())
        return CallCase(patient.label, False, patient.uuid)
    return CallCase(_("Case %(code)s") % {"code": consultation.uuid.hex[:8].upper()}, True, None)
