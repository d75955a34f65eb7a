"""The one state machine of a consultation, following FHIR Task.status (domain.md §6).

Every change of status goes through `apply()`; pages, the API and background jobs ask
`allowed_moves()` what a side may do. The requester sets draft/requested/entered-in-error, the
consultant accepted/rejected/in-progress/on-hold/failed/completed, either may cancel; the system
fails a request whose deadline passed with nobody left to route it to.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.accounts.models import User

from .models import Consultation, Status, Transition

StrOrPromise = str | Promise


class Side(StrEnum):
    REQUESTER = "requester"
    CONSULTANT = "consultant"
    COORDINATOR = "coordinator"
    SYSTEM = "system"


@dataclass(frozen=True)
class Move:
    source: Status
    target: Status
    sides: frozenset[Side]
    event: str
    label: StrOrPromise


def _move(
    source: Status, target: Status, sides: set[Side], event: str, label: StrOrPromise
) -> Move:
    return Move(source, target, frozenset(sides), event, label)


R, C, K, S = Side.REQUESTER, Side.CONSULTANT, Side.COORDINATOR, Side.SYSTEM
MOVES: tuple[Move, ...] = (
    _move(Status.DRAFT, Status.REQUESTED, {R}, "submit", gettext_lazy("Submit")),
    _move(Status.DRAFT, Status.CANCELLED, {R}, "discard", gettext_lazy("Discard the draft")),
    _move(Status.REQUESTED, Status.ACCEPTED, {C}, "accept", gettext_lazy("Accept")),
    _move(Status.REQUESTED, Status.REJECTED, {C}, "reject", gettext_lazy("Reject")),
    _move(Status.REQUESTED, Status.CANCELLED, {R, C, K}, "cancel", gettext_lazy("Cancel")),
    _move(Status.REQUESTED, Status.FAILED, {S}, "fail", gettext_lazy("Fail")),
    _move(
        Status.REQUESTED, Status.ENTERED_IN_ERROR, {R}, "error", gettext_lazy("Entered in error")
    ),
    _move(Status.ACCEPTED, Status.IN_PROGRESS, {C}, "start", gettext_lazy("Start work")),
    _move(Status.ACCEPTED, Status.ON_HOLD, {C}, "hold", gettext_lazy("Ask the requester")),
    _move(Status.ACCEPTED, Status.COMPLETED, {C}, "complete", gettext_lazy("Sign the conclusion")),
    _move(Status.ACCEPTED, Status.CANCELLED, {R, C, K}, "cancel", gettext_lazy("Cancel")),
    _move(Status.ACCEPTED, Status.FAILED, {C}, "fail", gettext_lazy("Cannot answer")),
    _move(Status.IN_PROGRESS, Status.ON_HOLD, {C}, "hold", gettext_lazy("Ask the requester")),
    _move(
        Status.IN_PROGRESS, Status.COMPLETED, {C}, "complete", gettext_lazy("Sign the conclusion")
    ),
    _move(Status.IN_PROGRESS, Status.CANCELLED, {R, C, K}, "cancel", gettext_lazy("Cancel")),
    _move(Status.IN_PROGRESS, Status.FAILED, {C}, "fail", gettext_lazy("Cannot answer")),
    _move(Status.ON_HOLD, Status.IN_PROGRESS, {R, C}, "resume", gettext_lazy("Resume")),
    _move(Status.ON_HOLD, Status.CANCELLED, {R, C, K}, "cancel", gettext_lazy("Cancel")),
    # An amended conclusion keeps the case completed; recorded as an event on the timeline.
    _move(Status.COMPLETED, Status.COMPLETED, {C}, "amend", gettext_lazy("Amend the conclusion")),
)
_BY_PAIR = {(move.source, move.target): move for move in MOVES}


class IllegalTransition(ValidationError):
    pass


class StaleVersion(ValidationError):
    pass


def find_move(source: str, target: str) -> Move | None:
    return _BY_PAIR.get((Status(source), Status(target)))


def allowed_moves(consultation: Consultation, sides: set[Side]) -> list[Move]:
    return [
        move
        for move in MOVES
        if move.source == consultation.status and move.sides & sides and move.event != "amend"
    ]


def apply(
    consultation: Consultation,
    target: Status,
    *,
    side: Side,
    actor: User | None,
    note: str = "",
    expected_version: int | None = None,
    event: str = "",
) -> Transition:
    """Move the (row-locked) consultation to `target`, or refuse with a message the user reads.
    The caller holds the transaction and the row lock."""
    if expected_version is not None and expected_version != consultation.version:
        raise StaleVersion(
            _("Someone changed this request while you were looking at it. Reload and try again."),
            code="stale",
        )
    move = find_move(consultation.status, target)
    if move is None:
        raise IllegalTransition(
            _("A request that is %(current)s cannot become %(target)s.")
            % {
                "current": Status(consultation.status).label,
                "target": Status(target).label,
            },
            code="illegal",
        )
    if side not in move.sides:
        raise IllegalTransition(
            _("The %(side)s cannot make a request %(target)s.")
            % {"side": _side_label(side), "target": Status(target).label},
            code="forbidden",
        )
    now = timezone.now()
    transition = Transition.objects.create(
        consultation=consultation,
        from_status=consultation.status,
        to_status=target,
        event=event or move.event,
        at=now,
        actor=actor,
        note=note,
    )
    consultation.status = target
    consultation.version += 1
    consultation.save(update_fields=["status", "version", "updated_at"])
    return transition


def mirror(consultation: Consultation, *, status: str) -> None:
    """At a remote station the hub decides a request's state; the station's copy follows it.
    Not a move of its own: the hub checked the move and keeps its timeline."""
    if consultation.status != status and status in Status.values:
        Transition.objects.create(
            consultation=consultation,
            from_status=consultation.status,
            to_status=status,
            event="synced",
            at=timezone.now(),
            actor=None,
        )
        consultation.status = status
        consultation.version += 1
        consultation.save(update_fields=["status", "version", "updated_at"])


def record_event(
    consultation: Consultation, *, event: str, actor: User | None, note: str = ""
) -> Transition:
    """A step on the timeline that does not change the status (an alert, a re-route)."""
    consultation.version += 1
    consultation.save(update_fields=["version", "updated_at"])
    return Transition.objects.create(
        consultation=consultation,
        from_status=consultation.status,
        to_status=consultation.status,
        event=event,
        at=timezone.now(),
        actor=actor,
        note=note,
    )


def _side_label(side: Side) -> str:
    return {
        Side.REQUESTER: _("requester"),
        Side.CONSULTANT: _("consultant"),
        Side.COORDINATOR: _("coordinator"),
        Side.SYSTEM: _("system"),
    }[side]
