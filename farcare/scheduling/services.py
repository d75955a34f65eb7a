"""Writes of scheduling: consultants' slots published and removed, calls booked, moved,
cancelled, started, ended and no-shows recorded. Each checks the access policy before its
transaction (so a refusal's audit record is kept), writes the appointment's history and the
audit trail, and tells the other side after commit."""

from __future__ import annotations

import zoneinfo
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, NoReturn

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.consults.models import Consultation
from farcare.consults.services import identity_problem
from farcare.consults.workflow import Side
from farcare.core.timezones import local_to_utc, skipped_time_message, wall_clock_exists

from . import notices
from .access import appointment_sides, booking_refusal, may_publish_for
from .models import Appointment, Party, Schedule, Slot, SlotStatus
from .selectors import bookable_consultants
from .workflow import IllegalMove, apply, record_booking

SLOT_MINUTES = (15, 20, 30, 45, 60, 90)
MAX_WEEKS = 12
# A call may be opened this long before it starts.
EARLY_START = timedelta(minutes=15)


# --- slots -------------------------------------------------------------------------------------


def _require_publisher(accessor: Accessor, consultant: User) -> None:
    if not may_publish_for(accessor.user, consultant):
        raise PermissionDenied(_("You may not publish times for this consultant."))


def _schedule(consultant: User) -> Schedule:
    schedule, _created = Schedule.objects.get_or_create(consultant=consultant)
    return schedule


def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
        raise ValidationError({"zone": _("Unknown time zone.")}) from error


@dataclass(frozen=True)
class Weekly:
    """Weekdays (0 Monday … 6 Sunday) from `start` to `end` local time in `zone`, cut into
    slots of `minutes`, for `weeks` weeks from `first_day`."""

    weekdays: frozenset[int]
    start: time
    end: time
    minutes: int
    first_day: date
    weeks: int
    zone: str


def _check_weekly(pattern: Weekly) -> None:
    errors: dict[str, str] = {}
    if not pattern.weekdays:
        errors["weekdays"] = _("Choose at least one day of the week.")
    if pattern.minutes not in SLOT_MINUTES:
        errors["minutes"] = _("Choose a slot length from the list.")
    if not 1 <= pattern.weeks <= MAX_WEEKS:
        errors["weeks"] = _("From 1 to %(n)s weeks.") % {"n": MAX_WEEKS}
    if pattern.end <= pattern.start:
        errors["end"] = _("The end must be after the start.")
    if errors:
        raise ValidationError(errors)


def _first_shown(day: date, at: time, zone: zoneinfo.ZoneInfo) -> datetime:
    """The UTC moment a clock in `zone` first shows `at` on `day`. A time the clock skips
    (clocks moved forward) is read as the moment they jump: the first that exists after it."""
    naive = datetime.combine(day, at)
    while not wall_clock_exists(naive, zone):
        naive += timedelta(minutes=1)
    return local_to_utc(naive, zone)


def _moments(pattern: Weekly) -> list[tuple[datetime, datetime]]:
    """Every slot of the pattern as (start, end) in UTC. Each day's start and end are read on
    the zone's clock once and the slots are cut in UTC, so each lasts exactly its minutes
    across a change of the clocks: the skipped hour yields no slot, and the hour shown twice
    when clocks move back yields slots twice (the consultant is at work through both)."""
    zone = _zone(pattern.zone)
    step = timedelta(minutes=pattern.minutes)
    found = []
    for offset in range(pattern.weeks * 7):
        day = pattern.first_day + timedelta(days=offset)
        if day.weekday() not in pattern.weekdays:
            continue
        start = _first_shown(day, pattern.start, zone)
        end = _first_shown(day, pattern.end, zone)
        while start + step <= end:
            found.append((start, start + step))
            start += step
    return found


def _publish(
    accessor: Accessor, consultant: User, moments: list[tuple[datetime, datetime]], zone: str
) -> list[Slot]:
    now = timezone.now()
    made: list[Slot] = []
    assert accessor.user is not None  # may_publish_for admits only active users
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=_schedule(consultant).pk)
        for starts_at, ends_at in moments:
            if starts_at <= now:
                continue
            taken = (
                schedule.slots.filter(starts_at__lt=ends_at, ends_at__gt=starts_at)
                .exclude(status=SlotStatus.BLOCKED)
                .exists()
            )
            if taken:
                continue
            same = schedule.slots.filter(starts_at=starts_at).first()
            if same is not None:  # a removed slot published again
                same.ends_at, same.status, same.zone = ends_at, SlotStatus.FREE, zone
                same.save(update_fields=["ends_at", "status", "zone", "updated_at"])
                made.append(same)
                continue
            made.append(
                Slot.objects.create(
                    schedule=schedule,
                    starts_at=starts_at,
                    ends_at=ends_at,
                    zone=zone,
                    created_by=accessor.user,
                )
            )
        schedule.save(update_fields=["updated_at"])
    return made


def slots_publish_weekly(*, accessor: Accessor, consultant: User, pattern: Weekly) -> list[Slot]:
    """Publish a weekly pattern; times that overlap slots already there are left out."""
    _require_publisher(accessor, consultant)
    _check_weekly(pattern)
    try:
        moments = _moments(pattern)
    except OverflowError as error:  # a date near year 1 or 9999: UTC falls off the calendar
        raise ValidationError({"first_day": _("Choose a date within the next year.")}) from error
    return _publish(accessor, consultant, moments, pattern.zone)


def slot_publish(
    *, accessor: Accessor, consultant: User, day: date, start: time, minutes: int, zone: str
) -> Slot:
    """Publish one slot at a local time of `zone`."""
    _require_publisher(accessor, consultant)
    if minutes not in SLOT_MINUTES:
        raise ValidationError({"minutes": _("Choose a slot length from the list.")})
    clock = _zone(zone)
    try:
        starts_at = local_to_utc(datetime.combine(day, start), clock)
        ends_at = starts_at + timedelta(minutes=minutes)
    except OverflowError as error:  # a date near year 1 or 9999: UTC falls off the calendar
        raise ValidationError({"day": _("Choose a date within the next year.")}) from error
    except ValueError as error:
        raise ValidationError({"start": skipped_time_message(zone)}) from error
    if starts_at <= timezone.now():
        raise ValidationError({"start": _("This time has passed.")})
    made = _publish(accessor, consultant, [(starts_at, ends_at)], zone)
    if not made:
        raise ValidationError({"start": _("This time overlaps a slot you have already.")})
    return made[0]


def slot_remove(*, accessor: Accessor, slot: Slot) -> Slot:
    """Take a free slot back. A booked one is cancelled as a call first (with a reason the
    requester reads)."""
    _require_publisher(accessor, slot.schedule.consultant)
    with transaction.atomic():
        locked = Slot.objects.select_for_update().get(pk=slot.pk)
        if locked.status == SlotStatus.BOOKED:
            raise ValidationError(_("This time is booked: cancel the call first, with a reason."))
        locked.status = SlotStatus.BLOCKED
        locked.save(update_fields=["status", "updated_at"])
    return locked


# --- appointments ------------------------------------------------------------------------------


def _audit(
    accessor: Accessor, appointment: Appointment, action: str, details: dict[str, Any]
) -> None:
    audit_record(
        accessor=accessor,
        action=action,
        patient_uuid=appointment.consultation.patient.uuid,
        record=appointment,
        details=details,
    )


def _denied(accessor: Accessor, consultation: Consultation, record: Any, message: str) -> NoReturn:
    audit_refusal(
        accessor=accessor,
        message=message,
        patient_uuid=consultation.patient.uuid,
        record=record,
        details={"app": "scheduling"},
    )


TAKEN = "taken"


def _book(
    accessor: Accessor,
    consultation: Consultation,
    slot: Slot,
    replaces: Appointment | None = None,
) -> Appointment:
    """Inside the caller's transaction: take the slot (row-locked) for the consultation."""
    locked = Slot.objects.select_for_update().select_related("schedule__consultant").get(pk=slot.pk)
    if locked.status != SlotStatus.FREE:
        raise ValidationError(_("This time was just taken. Choose another one."), code=TAKEN)
    if locked.starts_at <= timezone.now():
        raise ValidationError(_("This time has passed. Choose another one."))
    consultant = locked.schedule.consultant
    assert accessor.user is not None  # booking_refusal admits only the requesting side
    if consultant not in bookable_consultants(consultation):
        raise ValidationError(_("This consultant does not take this consultation."))
    appointment = Appointment.objects.create(
        consultation=consultation,
        slot=locked,
        consultant=consultant,
        booked_by=accessor.user,
        starts_at=locked.starts_at,
        ends_at=locked.ends_at,
        replaces=replaces,
    )
    locked.status = SlotStatus.BOOKED
    locked.save(update_fields=["status", "updated_at"])
    record_booking(appointment, actor=accessor.user)
    return appointment


def _taken_instead(error: IntegrityError) -> ValidationError:
    # The unique constraints: the slot was booked by someone else in the same instant, or this
    # consultation already has a call with this consultant.
    return ValidationError(
        _(
            "This time was just taken, or this consultation already has a call with this "
            "consultant. Reload and choose again."
        ),
        code=TAKEN,
    )


def appointment_book(*, accessor: Accessor, consultation: Consultation, slot: Slot) -> Appointment:
    """The requesting side books a free slot of a consultant who takes the consultation. Of two
    bookings of one slot at once, one wins; the other is told it was just taken."""
    refusal = booking_refusal(accessor.user, consultation)
    if refusal:
        _denied(accessor, consultation, consultation, refusal)
    try:
        with transaction.atomic():
            appointment = _book(accessor, consultation, slot)
            _audit(accessor, appointment, AuditAction.CREATE, {"event": "book"})
            notices.booked(appointment, actor=accessor.user)
    except IntegrityError as error:
        raise _taken_instead(error) from error
    return appointment


def _sides_or_refuse(accessor: Accessor, appointment: Appointment) -> set[Side]:
    sides = appointment_sides(accessor.user, appointment)
    if not sides:
        _denied(
            accessor,
            appointment.consultation,
            appointment,
            _("This call is not yours to change."),
        )
    return sides


def _lock(appointment: Appointment) -> Appointment:
    return (
        Appointment.objects.select_for_update(of=("self",))
        .select_related("consultation__patient", "consultation__specialty", "consultant", "slot")
        .get(pk=appointment.pk)
    )


def _check_reason(reason: str, appointment: Appointment) -> str:
    reason = reason.strip()
    if len(reason) < 3:
        raise ValidationError({"reason": _("Say why.")})
    if len(reason) > 300:
        raise ValidationError({"reason": _("At most 300 characters.")})
    # The consultant reads it, perhaps abroad: no name or number of the patient.
    problem = identity_problem(reason, appointment.consultation.patient)
    if problem:
        raise ValidationError({"reason": problem})
    return reason


def _free_slot(appointment: Appointment) -> None:
    slot = Slot.objects.select_for_update().get(pk=appointment.slot_id)
    if slot.status == SlotStatus.BOOKED:
        slot.status = SlotStatus.FREE
        slot.save(update_fields=["status", "updated_at"])


def appointment_cancel(*, accessor: Accessor, appointment: Appointment, reason: str) -> Appointment:
    sides = _sides_or_refuse(accessor, appointment)
    reason = _check_reason(reason, appointment)
    with transaction.atomic():
        locked = _lock(appointment)
        apply(locked, "cancel", sides=sides, actor=accessor.user, note=reason)
        locked.reason = reason
        locked.save(update_fields=["reason", "updated_at"])
        _free_slot(locked)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "cancel"})
        notices.cancelled(locked, actor=accessor.user)
    return locked


def appointment_reschedule(
    *, accessor: Accessor, appointment: Appointment, slot: Slot, reason: str = ""
) -> Appointment:
    """Move the call to another free slot: the old appointment becomes `rescheduled` and a
    new one replaces it (both kept)."""
    sides = _sides_or_refuse(accessor, appointment)
    reason = _check_reason(reason, appointment) if reason.strip() else ""
    try:
        with transaction.atomic():
            locked = _lock(appointment)
            apply(locked, "reschedule", sides=sides, actor=accessor.user, note=reason)
            if reason:
                locked.reason = reason
                locked.save(update_fields=["reason", "updated_at"])
            _free_slot(locked)
            new = _book(accessor, locked.consultation, slot, replaces=locked)
            _audit(
                accessor, new, AuditAction.UPDATE, {"event": "reschedule", "from": str(locked.uuid)}
            )
            notices.rescheduled(locked, new, actor=accessor.user)
    except IntegrityError as error:
        raise _taken_instead(error) from error
    return new


def appointment_noshow(*, accessor: Accessor, appointment: Appointment, party: str) -> Appointment:
    """One side records that the other did not come, once the call's time has begun."""
    sides = _sides_or_refuse(accessor, appointment)
    if party not in Party.values:
        raise ValidationError({"party": _("Say who did not come.")})
    own = {Party.REQUESTER: Side.REQUESTER, Party.CONSULTANT: Side.CONSULTANT}[Party(party)]
    if sides & {Side.REQUESTER, Side.CONSULTANT} == {own}:
        raise ValidationError({"party": _("You cannot record your own absence.")})
    with transaction.atomic():
        locked = _lock(appointment)
        if timezone.now() < locked.starts_at:
            raise IllegalMove(_("A no-show is recorded once the call's time has begun."))
        apply(locked, "noshow", sides=sides, actor=accessor.user, note=party)
        locked.noshow_party = party
        locked.save(update_fields=["noshow_party", "updated_at"])
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "noshow", "party": party})
    return locked


def appointment_start(*, accessor: Accessor, appointment: Appointment) -> Appointment:
    sides = _sides_or_refuse(accessor, appointment)
    with transaction.atomic():
        locked = _lock(appointment)
        if timezone.now() < locked.starts_at - EARLY_START:
            raise IllegalMove(_("The call can start 15 minutes before its time at the earliest."))
        apply(locked, "start", sides=sides, actor=accessor.user)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "start"})
    return locked


def appointment_finish(*, accessor: Accessor, appointment: Appointment) -> Appointment:
    sides = _sides_or_refuse(accessor, appointment)
    with transaction.atomic():
        locked = _lock(appointment)
        apply(locked, "finish", sides=sides, actor=accessor.user)
        _audit(accessor, locked, AuditAction.UPDATE, {"event": "finish"})
    return locked
