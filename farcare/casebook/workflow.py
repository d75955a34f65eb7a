"""The one state machine of a teaching case: one table of moves, one `apply()`.

draft → in_review (the author submits; a trainer's own case starts here)
in_review → draft (the reviewer sends it back to its author)
in_review → awaiting_clinicians (the trainer asks the requesting and consulting clinicians)
awaiting_clinicians → in_review (the trainer revises it after an objection)
awaiting_clinicians → published (the trainer publishes: every clinician agreed)
any but withdrawn → withdrawn (the trainer or author; the system on a patient's refusal)
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from .models import CaseStatus, TeachingCase


class Part(StrEnum):
    AUTHOR = "author"
    TRAINER = "trainer"
    SYSTEM = "system"


@dataclass(frozen=True)
class Move:
    source: CaseStatus
    target: CaseStatus
    parts: frozenset[Part]
    event: str
    label: str | Promise


A, T, S = Part.AUTHOR, Part.TRAINER, Part.SYSTEM
D, R, W, P, X = (
    CaseStatus.DRAFT,
    CaseStatus.IN_REVIEW,
    CaseStatus.AWAITING_CLINICIANS,
    CaseStatus.PUBLISHED,
    CaseStatus.WITHDRAWN,
)
MOVES: tuple[Move, ...] = (
    Move(D, R, frozenset({A, T}), "submit", gettext_lazy("Send for review")),
    Move(R, D, frozenset({T}), "return", gettext_lazy("Send back to the author")),
    Move(R, W, frozenset({T}), "ask", gettext_lazy("Ask the clinicians")),
    Move(W, R, frozenset({T}), "revise", gettext_lazy("Revise the case")),
    Move(W, P, frozenset({T}), "publish", gettext_lazy("Publish")),
    Move(D, X, frozenset({A, T, S}), "withdraw", gettext_lazy("Withdraw")),
    Move(R, X, frozenset({A, T, S}), "withdraw", gettext_lazy("Withdraw")),
    Move(W, X, frozenset({A, T, S}), "withdraw", gettext_lazy("Withdraw")),
    Move(P, X, frozenset({T, S}), "withdraw", gettext_lazy("Withdraw")),
)
EDITABLE = frozenset({CaseStatus.DRAFT, CaseStatus.IN_REVIEW})


class IllegalMove(ValidationError):
    pass


def find_move(source: str, event: str) -> Move | None:
    return next((m for m in MOVES if m.source == source and m.event == event), None)


def allowed_moves(case: TeachingCase, parts: set[Part]) -> list[Move]:
    return [m for m in MOVES if m.source == case.status and m.parts & parts]


def apply(case: TeachingCase, *, event: str, parts: set[Part]) -> Move:
    """Move the case (locked by the caller) by `event` if one of `parts` may; stamps the
    times of publishing and withdrawal."""
    move = find_move(case.status, event)
    if move is None or not move.parts & parts:
        raise IllegalMove(
            _("This cannot be done to a case that is %(status)s.")
            % {"status": CaseStatus(case.status).label}
        )
    case.status = move.target
    now = timezone.now()
    if move.target == CaseStatus.PUBLISHED:
        case.published_at = now
    if move.target == CaseStatus.WITHDRAWN:
        case.withdrawn_at = now
    case.version += 1
    return move
