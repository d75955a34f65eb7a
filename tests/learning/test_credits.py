"""Credit hours come from attendance (at least 75% of the session by default) and, where a
session has a test, from passing it; the programme's total is their sum."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.learning import services
from farcare.learning.credits import programme_credits
from farcare.training.models import SessionStatus
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, attend, enrol


@pytest.fixture
def learner(course: Course, chain: Chain):
    return enrol(course, make_user(Role.CLINICIAN, chain.post, language="en"))


def test_a_session_counts_from_three_quarters_of_its_duration(course, learner) -> None:
    first, second = course.sessions
    attend(course, first, learner, minutes=68)  # 75% of 90 is 67.5: 68 minutes are enough
    attend(course, second, learner, minutes=67)

    credits = programme_credits(course.programme, learner)

    assert [row.credited for row in credits.sessions] == [True, False]
    assert credits.hours == Decimal("1.5")
    assert not credits.eligible


def test_the_threshold_is_a_setting(course, learner, settings) -> None:
    settings.FARCARE_TRAINING_ATTENDANCE_SHARE = 0.5
    attend(course, course.sessions[0], learner, minutes=45)
    assert programme_credits(course.programme, learner).sessions[0].credited


def test_a_session_with_a_test_counts_only_once_it_is_passed(course, learner) -> None:
    first, second = course.sessions
    attend(course, first, learner, minutes=90)
    attend(course, second, learner, minutes=90)
    quiz = services.quiz_create(
        accessor=Accessor(course.trainer), programme=course.programme, title="T", session=second
    )
    services.quiz_question_add(
        accessor=Accessor(course.trainer),
        quiz=quiz,
        text="Q",
        choices=["yes", "no"],
        correct=[0],
        multiple=False,
    )
    assert programme_credits(course.programme, learner).hours == Decimal("1.5")

    attempt = services.attempt_start(accessor=Accessor(learner), quiz=quiz)
    services.attempt_submit(accessor=Accessor(learner), attempt=attempt, answers={1: [1]})
    assert programme_credits(course.programme, learner).hours == Decimal("1.5")

    attempt = services.attempt_start(accessor=Accessor(learner), quiz=quiz)
    services.attempt_submit(accessor=Accessor(learner), attempt=attempt, answers={1: [0]})
    credits = programme_credits(course.programme, learner)
    assert credits.hours == Decimal("3.0")
    assert credits.eligible


def test_a_cancelled_session_does_not_stand_between_a_learner_and_completion(
    course, learner
) -> None:
    first, second = course.sessions
    second.status = SessionStatus.CANCELLED
    second.save()
    attend(course, first, learner, minutes=90)
    credits = programme_credits(course.programme, learner)
    assert credits.eligible
    assert credits.hours == Decimal("1.5")


def test_the_learner_sees_hours_per_programme(course, learner) -> None:
    attend(course, course.sessions[0], learner, minutes=80)
    page = logged_in(learner).get(reverse("learning:credits"))
    assert page.status_code == 200
    assert course.programme.title in page.text
    assert '<strong data-testid="hours">1.5</strong>' in page.text
    assert "80 / 68" in page.text
