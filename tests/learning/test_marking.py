"""Marking is pure: exact sets, all-or-nothing per question, the pass mark on the exact share."""

from __future__ import annotations

from decimal import Decimal

from farcare.learning.marking import Key, mark

KEYS = [Key(1, frozenset({0})), Key(2, frozenset({1, 2})), Key(3, frozenset({3}))]


def test_all_right_scores_a_hundred_and_passes() -> None:
    result = mark(KEYS, {1: frozenset({0}), 2: frozenset({1, 2}), 3: frozenset({3})}, 70)
    assert result.score_percent == Decimal("100.0")
    assert result.passed
    assert result.wrong == ()


def test_a_multiple_choice_question_needs_exactly_the_right_boxes() -> None:
    too_few = mark(KEYS, {1: frozenset({0}), 2: frozenset({1}), 3: frozenset({3})}, 70)
    every_box = mark(KEYS, {1: frozenset({0}), 2: frozenset({0, 1, 2, 3}), 3: frozenset({3})}, 70)
    assert too_few.wrong == (2,)
    assert every_box.wrong == (2,)
    assert too_few.score_percent == Decimal("66.7")


def test_a_question_left_out_is_wrong() -> None:
    result = mark(KEYS, {1: frozenset({0})}, 30)
    assert result.wrong == (2, 3)
    assert result.score_percent == Decimal("33.3")
    assert result.passed


def test_the_pass_mark_is_compared_on_the_exact_share_not_the_rounded_one() -> None:
    two_of_three = {1: frozenset({0}), 2: frozenset({1, 2})}
    assert not mark(KEYS, two_of_three, 67).passed
    assert mark(KEYS, two_of_three, 66).passed
    assert not mark(KEYS, two_of_three, 70).passed


def test_a_quiz_with_no_questions_never_passes() -> None:
    assert not mark([], {}, 1).passed
