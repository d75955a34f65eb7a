"""The "Cannot take it" box: how a side may let go of a request, one choice and one reason.

A consultant who has not accepted yet may pass the request to the next consultant of the
routing (decline), refuse it as not a question for a teleconsultation (reject) or cancel it;
once accepted, close it unanswered (fail) or cancel it. A requester or a coordinator may only
cancel. Only what the state machine allows this viewer now is offered."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import Consultation, Status
from .workflow import Side, allowed_moves


class Outcome(StrEnum):
    DECLINE = "decline"
    REJECT = "reject"
    FAIL = "fail"
    CANCEL = "cancel"


@dataclass(frozen=True)
class Choice:
    outcome: Outcome
    label: str | Promise
    hint: str | Promise


_CHOICES = {
    Outcome.DECLINE: Choice(
        Outcome.DECLINE,
        _("Pass it to the next consultant"),
        _("You cannot take it now; the request goes on down the routing list at once."),
    ),
    Outcome.REJECT: Choice(
        Outcome.REJECT,
        _("Refuse the request as inappropriate"),
        _("Not a question for a teleconsultation or for this specialty: the request is closed."),
    ),
    Outcome.FAIL: Choice(
        Outcome.FAIL,
        _("Close it unanswered"),
        _("You accepted it but cannot give a conclusion: the request is closed as failed."),
    ),
    Outcome.CANCEL: Choice(
        Outcome.CANCEL,
        _("Cancel the request"),
        _("Nobody needs to answer it any more (for example, the patient was evacuated)."),
    ),
}
# Each outcome is the move of the state machine with this event.
_EVENT = {Outcome.REJECT: "reject", Outcome.FAIL: "fail", Outcome.CANCEL: "cancel"}
REFUSAL_EVENTS = frozenset(_EVENT.values())


@dataclass(frozen=True)
class Refusal:
    title: str | Promise
    choices: tuple[Choice, ...]

    def allows(self, outcome: str) -> bool:
        return any(choice.outcome == outcome for choice in self.choices)


def refusal_for(consultation: Consultation, sides: Iterable[Side]) -> Refusal | None:
    """What this viewer may choose, or None when there is nothing to let go of."""
    sides = set(sides)
    events = {move.event for move in allowed_moves(consultation, sides)}
    outcomes = [outcome for outcome, event in _EVENT.items() if event in events]
    consultant = Side.CONSULTANT in sides
    if consultant and consultation.status == Status.REQUESTED:
        outcomes.insert(0, Outcome.DECLINE)
    if not outcomes:
        return None
    if consultant and consultation.status == Status.REQUESTED:
        title = _("Cannot take it…")
    elif consultant and Outcome.FAIL in outcomes:
        title = _("Cannot answer…")
    else:
        title = _("Cancel the request…")
    return Refusal(title, tuple(_CHOICES[outcome] for outcome in outcomes))
