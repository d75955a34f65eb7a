"""The one state machine of a transfer, as data like `consults.workflow`: a table of moves, which
side may make each, and one `apply()` (issue 16, point 1).

requested → accepted (the receiving hospital confirmed a bed) → transport assigned → dispatched →
on board → arrived → handed over; a hold (weather) from any state between accepted and on board
returns to the state it interrupted; cancelled, treated locally and died end the case from any
open state. The receiving hospital may decline a bed: the case stays requested, its destination
is cleared and the coordinator looks for another (an event on the timeline, not a state).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.accounts.models import User

from .models import FINAL_STATUSES, Transfer, TransferEvent, TransferStatus

StrOrPromise = str | Promise
T = TransferStatus


class Side(StrEnum):
    SENDER = "sender"  # clinicians of the sending facility
    RECEIVER = "receiver"  # clinicians of the receiving hospital
    COORDINATOR = "coordinator"  # the region's coordinators (dispatch)
    SYSTEM = "system"


@dataclass(frozen=True)
class Move:
    source: TransferStatus
    target: TransferStatus | None  # None: back to the state a hold interrupted
    sides: frozenset[Side]
    event: str
    label: StrOrPromise


SND, RCV, K, SYS = Side.SENDER, Side.RECEIVER, Side.COORDINATOR, Side.SYSTEM
OPEN = (T.REQUESTED, T.ACCEPTED, T.TRANSPORT_ASSIGNED, T.DISPATCHED, T.ON_BOARD, T.ARRIVED, T.HELD)
HOLDABLE = (T.ACCEPTED, T.TRANSPORT_ASSIGNED, T.DISPATCHED, T.ON_BOARD)
# Before the patient is on board the transfer can still be called off or replaced by local care.
BEFORE_BOARDING = (T.REQUESTED, T.ACCEPTED, T.TRANSPORT_ASSIGNED, T.DISPATCHED, T.HELD)


def _m(
    source: TransferStatus,
    target: TransferStatus | None,
    sides: set[Side],
    event: str,
    label: StrOrPromise,
) -> Move:
    return Move(source, target, frozenset(sides), event, label)


MOVES: tuple[Move, ...] = (
    _m(T.REQUESTED, T.ACCEPTED, {RCV, K}, "accept", gettext_lazy("Confirm the bed")),
    _m(T.ACCEPTED, T.TRANSPORT_ASSIGNED, {K}, "assign", gettext_lazy("Assign transport")),
    _m(T.TRANSPORT_ASSIGNED, T.ACCEPTED, {K}, "unassign", gettext_lazy("Release the transport")),
    _m(T.TRANSPORT_ASSIGNED, T.DISPATCHED, {K}, "dispatch", gettext_lazy("Dispatch")),
    _m(T.DISPATCHED, T.ON_BOARD, {K, SND}, "board", gettext_lazy("Patient on board")),
    _m(T.ON_BOARD, T.ARRIVED, {K, RCV}, "arrive", gettext_lazy("Arrived")),
    _m(T.ARRIVED, T.HANDED_OVER, {RCV}, "hand_over", gettext_lazy("Patient handed over")),
    *(_m(s, T.HELD, {K}, "hold", gettext_lazy("Hold (weather)")) for s in HOLDABLE),
    _m(T.HELD, None, {K}, "resume", gettext_lazy("Go on")),
    *(_m(s, T.CANCELLED, {SND, K}, "cancel", gettext_lazy("Cancel")) for s in BEFORE_BOARDING),
    *(
        _m(s, T.TREATED_LOCALLY, {SND, K}, "treat_locally", gettext_lazy("Treated locally"))
        for s in BEFORE_BOARDING
    ),
    *(_m(s, T.DIED, {SND, RCV, K}, "died", gettext_lazy("The patient died")) for s in OPEN),
)
_BY_EVENT = {(move.source, move.event): move for move in MOVES}

EVENT_LABELS: dict[str, StrOrPromise] = {
    "request": gettext_lazy("transfer requested"),
    "accept": gettext_lazy("bed confirmed"),
    "decline": gettext_lazy("bed declined"),
    "destination": gettext_lazy("destination chosen"),
    "assign": gettext_lazy("transport assigned"),
    "unassign": gettext_lazy("transport released"),
    "dispatch": gettext_lazy("dispatched"),
    "board": gettext_lazy("patient on board"),
    "arrive": gettext_lazy("arrived"),
    "hand_over": gettext_lazy("handed over"),
    "hold": gettext_lazy("held"),
    "resume": gettext_lazy("went on after the hold"),
    "cancel": gettext_lazy("cancelled"),
    "treat_locally": gettext_lazy("treated locally"),
    "died": gettext_lazy("the patient died"),
    "decision": gettext_lazy("decision recorded"),
    "stalled": gettext_lazy("no progress: coordinator alerted"),
}

# The timestamp each target state sets on the transfer (the clocks read them).
STAMPS: dict[TransferStatus, str] = {
    T.ACCEPTED: "accepted_at",
    T.DISPATCHED: "dispatched_at",
    T.ON_BOARD: "departed_at",
    T.ARRIVED: "arrived_at",
    T.HANDED_OVER: "handed_over_at",
}


class IllegalMove(ValidationError):
    pass


class StaleVersion(ValidationError):
    pass


def find_move(source: str, event: str) -> Move | None:
    return _BY_EVENT.get((TransferStatus(source), event))


def allowed_moves(transfer: Transfer, sides: set[Side]) -> list[Move]:
    return [move for move in MOVES if move.source == transfer.status and move.sides & sides]


def check(
    transfer: Transfer, event: str, *, sides: set[Side], expected_version: int | None = None
) -> Move:
    """The move `event` from the transfer's state for one of `sides`, or the refusal (the same
    that `apply` raises; services ask before they lock what the move needs, e.g. an aircraft)."""
    if expected_version is not None and expected_version != transfer.version:
        raise StaleVersion(
            _("Someone changed this transfer while you were looking at it. Reload and try again."),
            code="stale",
        )
    move = find_move(transfer.status, event)
    if move is None:
        raise IllegalMove(
            _("A transfer that is “%(current)s” cannot be changed that way.")
            % {"current": TransferStatus(transfer.status).label},
            code="illegal",
        )
    if not move.sides & sides:
        raise IllegalMove(_("This step of the transfer is not yours to take."), code="forbidden")
    return move


def apply(
    transfer: Transfer,
    event: str,
    *,
    sides: set[Side],
    actor: User | None,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
    data: dict[str, object] | None = None,
) -> TransferEvent:
    """Move the (row-locked) transfer by `event`, or refuse with a message the user reads.
    The caller holds the transaction and the lock, and sets what the move needs (the aircraft
    for "assign", the hold's reason for "hold") before calling."""
    move = check(transfer, event, sides=sides, expected_version=expected_version)
    now = at or timezone.now()
    source = TransferStatus(transfer.status)
    target = move.target
    if target is None:  # resume: back to what the hold interrupted, and close the hold's clock
        target = TransferStatus(transfer.held_from)
        if transfer.held_since is not None:
            transfer.held_seconds += max(0, int((now - transfer.held_since).total_seconds()))
        transfer.held_from = ""
        transfer.held_since = None
        transfer.hold_expected_until = None
    elif target == T.HELD:
        transfer.held_from = source
        transfer.held_since = now
    # A resume returns to a state already reached: its stamp (departure, dispatch) stays the
    # first one, or the clocks would count the hold as part of the next segment twice.
    if target in STAMPS and move.target is not None:
        setattr(transfer, STAMPS[target], now)
    if target in FINAL_STATUSES:
        transfer.ended_at = now
        if source == T.HELD and transfer.held_since is not None:
            transfer.held_seconds += max(0, int((now - transfer.held_since).total_seconds()))
            transfer.held_since = None
    record = TransferEvent.objects.create(
        transfer=transfer,
        from_status=source,
        to_status=target,
        event=move.event,
        at=now,
        actor=actor,
        note=note,
        data=data or {},
    )
    transfer.status = target
    transfer.stall_alerted_at = None  # progress: a new stall is counted from this move
    transfer.version += 1
    transfer.save()
    return record
