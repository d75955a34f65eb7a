"""The one state machine of a monitoring alert, as data like `evacuation.workflow`: a table of
moves, who may make each, and one `apply()` (issue 17, point 3).

open → acknowledged (a clinician); open → escalated (the watch, past the deadline); escalated →
escalated again (the watch, a second time, to the coordinators); escalated → acknowledged;
open or escalated → closed (the enrolment ended before anyone acknowledged it); open or escalated
→ the same, reassigned (a responsible clinician was replaced, the alert goes to the new one).
Acknowledged and closed are final: an acknowledged alert is not acknowledged twice.

Every move bumps the alert's version. An acknowledgement from a page opened before a move of
the system's alone (an escalation, a reassignment) is not a conflicting edit and is accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from farcare.accounts.models import User

from .models import AlertEvent, AlertStatus, MonitoringAlert

StrOrPromise = str | Promise
S = AlertStatus


class Side(StrEnum):
    CLINICIAN = "clinician"  # the recipient, or a clinician who reaches the patient
    SYSTEM = "system"  # the watch, the services


@dataclass(frozen=True)
class Move:
    source: AlertStatus
    target: AlertStatus
    sides: frozenset[Side]
    event: str
    label: StrOrPromise


CLIN, SYS = Side.CLINICIAN, Side.SYSTEM
OPEN_STATUSES = (S.OPEN, S.ESCALATED)
FINAL_STATUSES = (S.ACKNOWLEDGED, S.CLOSED)

MOVES: tuple[Move, ...] = (
    Move(S.OPEN, S.ACKNOWLEDGED, frozenset({CLIN}), "acknowledge", gettext_lazy("Acknowledge")),
    Move(
        S.ESCALATED, S.ACKNOWLEDGED, frozenset({CLIN}), "acknowledge", gettext_lazy("Acknowledge")
    ),
    Move(S.OPEN, S.ESCALATED, frozenset({SYS}), "escalate", gettext_lazy("Escalate")),
    Move(
        S.ESCALATED, S.ESCALATED, frozenset({SYS}), "escalate_again", gettext_lazy("Escalate again")
    ),
    *(Move(s, S.CLOSED, frozenset({SYS}), "close", gettext_lazy("Close")) for s in OPEN_STATUSES),
    *(Move(s, s, frozenset({SYS}), "reassign", gettext_lazy("Reassign")) for s in OPEN_STATUSES),
)
_BY_EVENT = {(move.source, move.event): move for move in MOVES}

EVENT_LABELS: dict[str, StrOrPromise] = {
    "raise": gettext_lazy("alert raised"),
    "acknowledge": gettext_lazy("acknowledged"),
    "escalate": gettext_lazy("escalated: nobody acknowledged it in time"),
    "escalate_again": gettext_lazy("escalated again"),
    "close": gettext_lazy("closed: the monitoring ended"),
    "consultation": gettext_lazy("teleconsultation request opened"),
    "reassign": gettext_lazy("passed to the new responsible clinician"),
}

# The timestamp each move sets on the alert.
STAMPS: dict[str, str] = {
    "acknowledge": "acknowledged_at",
    "escalate": "escalated_at",
    "escalate_again": "escalated_again_at",
}


class IllegalMove(ValidationError):
    pass


class StaleVersion(ValidationError):
    pass


def find_move(source: str, event: str) -> Move | None:
    return _BY_EVENT.get((AlertStatus(source), event))


def allowed_moves(alert: MonitoringAlert, sides: set[Side]) -> list[Move]:
    return [move for move in MOVES if move.source == alert.status and move.sides & sides]


def check(
    alert: MonitoringAlert, event: str, *, sides: set[Side], expected_version: int | None = None
) -> Move:
    """The move `event` from the alert's state for one of `sides`, or the refusal."""
    if event == "acknowledge" and alert.status == S.ACKNOWLEDGED:
        # Said first: "already acknowledged" tells more than "reload" would.
        raise IllegalMove(_("This alert was already acknowledged."), code="acknowledged")
    if (
        expected_version is not None
        and expected_version != alert.version
        and not (event == "acknowledge" and _only_system_moves_since(alert, expected_version))
    ):
        raise StaleVersion(
            _("Someone changed this alert while you were looking at it. Reload and try again."),
            code="stale",
        )
    move = find_move(alert.status, event)
    if move is None:
        raise IllegalMove(
            _("An alert that is “%(current)s” cannot be changed that way.")
            % {"current": AlertStatus(alert.status).label},
            code="illegal",
        )
    if not move.sides & sides:
        raise IllegalMove(_("This step of the alert is not yours to take."), code="forbidden")
    return move


_SYSTEM_ONLY_EVENTS = frozenset(move.event for move in MOVES if move.sides == {SYS})


def _only_system_moves_since(alert: MonitoringAlert, version: int) -> bool:
    """Whether every move after `version` was the system's. Each move of `apply` is one event
    and one version (the alert starts at 1); the other timeline lines bump nothing."""
    if not 1 <= version < alert.version:
        return False
    moves = list(
        AlertEvent.objects.filter(alert=alert, event__in={m.event for m in MOVES})
        .order_by("id")
        .values_list("event", flat=True)
    )
    since = moves[version - 1 :]
    return len(since) == alert.version - version and all(
        event in _SYSTEM_ONLY_EVENTS for event in since
    )


def record_raised(alert: MonitoringAlert, *, at: datetime, data: dict[str, Any]) -> AlertEvent:
    """The first line of the alert's timeline."""
    return AlertEvent.objects.create(
        alert=alert, from_status="", to_status=alert.status, event="raise", at=at, data=data
    )


def apply(
    alert: MonitoringAlert,
    event: str,
    *,
    sides: set[Side],
    actor: User | None,
    note: str = "",
    at: datetime | None = None,
    expected_version: int | None = None,
    data: dict[str, Any] | None = None,
) -> AlertEvent:
    """Move the (row-locked) alert by `event`, or refuse with a message the user reads. The
    caller holds the transaction and the lock."""
    move = check(alert, event, sides=sides, expected_version=expected_version)
    now = at or timezone.now()
    source = AlertStatus(alert.status)
    record = AlertEvent.objects.create(
        alert=alert,
        from_status=source,
        to_status=move.target,
        event=move.event,
        at=now,
        actor=actor,
        note=note,
        data=data or {},
    )
    if move.event in STAMPS:
        setattr(alert, STAMPS[move.event], now)
    if move.event == "acknowledge":
        alert.acknowledged_by = actor
        alert.ack_note = note
    alert.status = move.target
    alert.version += 1
    alert.save()
    return record
