"""The one state machine of an appointment (FHIR Appointment.status), as data like
`consults.workflow`: a table of moves, which side may make each, and one `apply()`.

Booking creates an appointment `booked` (the event "book"); a reschedule is the move to
`rescheduled` plus a new booked appointment that `replaces` it."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.accounts.models import User
from farcare.consults.workflow import Side

from .models import Appointment, AppointmentEvent, AppointmentStatus

StrOrPromise = str | Promise
S = AppointmentStatus


@dataclass(frozen=True)
class Move:
    source: AppointmentStatus
    target: AppointmentStatus
    sides: frozenset[Side]
    event: str
    label: StrOrPromise


R, C, K = Side.REQUESTER, Side.CONSULTANT, Side.COORDINATOR
MOVES: tuple[Move, ...] = (
    Move(S.BOOKED, S.ARRIVED, frozenset({R, C}), "start", gettext_lazy("The call started")),
    Move(S.BOOKED, S.CANCELLED, frozenset({R, C, K}), "cancel", gettext_lazy("Cancel the call")),
    Move(S.BOOKED, S.RESCHEDULED, frozenset({R, C, K}), "reschedule", gettext_lazy("Reschedule")),
    Move(S.BOOKED, S.NOSHOW, frozenset({R, C}), "noshow", gettext_lazy("Record a no-show")),
    Move(S.ARRIVED, S.FULFILLED, frozenset({R, C}), "finish", gettext_lazy("The call ended")),
    Move(S.ARRIVED, S.NOSHOW, frozenset({R, C}), "noshow", gettext_lazy("Record a no-show")),
)
_BY_EVENT = {(move.source, move.event): move for move in MOVES}

EVENT_LABELS = {
    "book": gettext_lazy("booked"),
    "start": gettext_lazy("call started"),
    "finish": gettext_lazy("call ended"),
    "cancel": gettext_lazy("cancelled"),
    "reschedule": gettext_lazy("moved to another time"),
    "noshow": gettext_lazy("no-show recorded"),
}


class IllegalMove(ValidationError):
    pass


def find_move(source: str, event: str) -> Move | None:
    return _BY_EVENT.get((AppointmentStatus(source), event))


def allowed_moves(appointment: Appointment, sides: set[Side]) -> list[Move]:
    return [move for move in MOVES if move.source == appointment.status and move.sides & sides]


def apply(
    appointment: Appointment,
    event: str,
    *,
    sides: set[Side],
    actor: User | None,
    note: str = "",
) -> AppointmentEvent:
    """Move the (row-locked) appointment by `event`, or refuse with a message the user reads.
    The caller holds the transaction and the lock."""
    move = find_move(appointment.status, event)
    if move is None:
        raise IllegalMove(
            _("A call that is %(current)s cannot be changed that way.")
            % {"current": AppointmentStatus(appointment.status).label},
            code="illegal",
        )
    if not move.sides & sides:
        raise IllegalMove(_("This call is not yours to change that way."), code="forbidden")
    record = AppointmentEvent.objects.create(
        appointment=appointment,
        from_status=appointment.status,
        to_status=move.target,
        event=move.event,
        at=timezone.now(),
        actor=actor,
        note=note,
    )
    appointment.status = move.target
    appointment.version += 1
    appointment.save(update_fields=["status", "version", "updated_at"])
    return record


def record_booking(appointment: Appointment, *, actor: User | None) -> AppointmentEvent:
    return AppointmentEvent.objects.create(
        appointment=appointment,
        from_status="",
        to_status=appointment.status,
        event="book",
        at=timezone.now(),
        actor=actor,
    )
