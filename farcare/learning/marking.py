"""Marking a quiz: pure, no database. A question counts only when the learner chose exactly the
right answers (for a question with several right answers: all of them and no other), so
ticking every box never scores."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal


@dataclass(frozen=True)
class Key:
    """One question's right answers (indices of its choices)."""

    number: int
    correct: frozenset[int]


@dataclass(frozen=True)
class Marking:
    score_percent: Decimal
    passed: bool
    # The numbers of the questions answered wrong (or not at all), in question order.
    wrong: tuple[int, ...]


def mark(keys: Sequence[Key], answers: Mapping[int, frozenset[int]], pass_percent: int) -> Marking:
    if not keys:
        return Marking(Decimal("0.0"), False, ())
    wrong = tuple(key.number for key in keys if answers.get(key.number, frozenset()) != key.correct)
    right = len(keys) - len(wrong)
    score = (Decimal(right) * 100 / Decimal(len(keys))).quantize(
        Decimal("0.1"), rounding=ROUND_HALF_UP
    )
    # Compared on the exact fraction, so 2 of 3 (66.7 shown) does not pass a 67% mark by rounding.
    passed = right * 100 >= pass_percent * len(keys)
    return Marking(score, passed, wrong)
