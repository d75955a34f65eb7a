"""Surveys before and after the series: each learner answers once; the trainer sees only
aggregates (a count under 5 hidden) and the change of each scale question's mean."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.learning import services
from farcare.learning.models import Survey
from farcare.learning.selectors import survey_comparison, survey_summary
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, enrol


def write_surveys(course: Course) -> tuple[Survey, Survey]:
    trainer = Accessor(course.trainer)
    for phase in ("pre", "post"):
        services.survey_question_add(
            accessor=trainer,
            programme=course.programme,
            phase=phase,
            kind="likert",
            text="I can read an ECG for STEMI",
        )
        services.survey_question_add(
            accessor=trainer,
            programme=course.programme,
            phase=phase,
            kind="choice",
            text="Where do you work?",
            choices=["post", "district hospital"],
        )
        services.survey_question_add(
            accessor=trainer,
            programme=course.programme,
            phase=phase,
            kind="text",
            text="What should change?",
        )
    surveys = {s.phase: s for s in Survey.objects.filter(programme=course.programme)}
    return surveys["pre"], surveys["post"]


@pytest.fixture
def learners(course: Course, chain: Chain):
    return [enrol(course, make_user(Role.CLINICIAN, chain.post)) for _ in range(6)]


def test_before_and_after_compared_per_question(course, learners) -> None:
    pre, post = write_surveys(course)
    for index, learner in enumerate(learners):
        services.survey_answer(
            accessor=Accessor(learner), survey=pre, answers={1: "2", 2: "1", 3: ""}
        )
        services.survey_answer(
            accessor=Accessor(learner),
            survey=post,
            answers={1: "4", 2: "1", 3: f"more cases {index}"},
        )

    [row] = survey_comparison(course.programme)
    assert (row.before_mean, row.after_mean, row.change) == (
        Decimal("2.00"),
        Decimal("4.00"),
        Decimal("2.00"),
    )
    page = logged_in(course.trainer).get(
        reverse("learning:programme", args=[course.programme.uuid])
    )
    assert '<td data-testid="change">+2.00</td>' in page.text
    # Free text is listed without names, in alphabetical order, once five or more wrote.
    assert "more cases 0" in page.text
    for learner in learners:
        assert learner.last_name not in page.text.split("Surveys")[-1]


def test_counts_under_five_are_hidden_with_their_mean_and_texts(course, learners) -> None:
    pre, _post = write_surveys(course)
    for learner in learners[:4]:
        services.survey_answer(
            accessor=Accessor(learner), survey=pre, answers={1: "3", 2: "2", 3: "secret words"}
        )
    likert, choice, text = survey_summary(pre)
    assert likert.answered_shown == "×" and likert.mean is None
    assert dict(likert.counts)["3"] == "×" and dict(likert.counts)["1"] == "0"
    assert dict(choice.counts)["district hospital"] == "×"
    assert text.texts == []
    page = logged_in(course.trainer).get(
        reverse("learning:programme", args=[course.programme.uuid])
    )
    assert "secret words" not in page.text
    assert "× — hidden: fewer than 5; a question with fewer than 5 answers shows no mean" in (
        page.text
    )
    assert survey_comparison(course.programme)[0].change is None


def test_a_learner_answers_once(course, learners) -> None:
    pre, _post = write_surveys(course)
    client = logged_in(learners[0])
    url = reverse("learning:survey", args=[pre.uuid])
    first = client.post(url, {"q1": "4", "q2": "2", "q3": "Good"})
    assert first.status_code == 302
    with pytest.raises(ValidationError, match="already"):
        services.survey_answer(accessor=Accessor(learners[0]), survey=pre, answers={1: "1", 2: "1"})
    assert "You have answered this survey already." in client.get(url).text


def test_every_scale_and_choice_question_must_be_answered(course, learners) -> None:
    pre, _post = write_surveys(course)
    answer = logged_in(learners[0]).post(
        reverse("learning:survey", args=[pre.uuid]), {"q1": "9", "q3": "x"}
    )
    assert answer.status_code == 400
    assert "Choose an answer." in answer.text
    assert not pre.responses.exists()


def test_questions_are_fixed_once_anyone_answered(course, learners) -> None:
    pre, _post = write_surveys(course)
    services.survey_answer(accessor=Accessor(learners[0]), survey=pre, answers={1: "3", 2: "1"})
    with pytest.raises(ValidationError, match="fixed"):
        services.survey_question_add(
            accessor=Accessor(course.trainer),
            programme=course.programme,
            phase="pre",
            kind="text",
            text="Late question",
        )


def test_a_mean_that_would_give_hidden_counts_back_is_not_shown(course, learners) -> None:
    """Three answered 4 and three answered 5: both counts are hidden, and the mean 4.50 of six
    answers would solve them (4a + 5b = 27, a + b = 6), so it is hidden too."""
    _pre, post = write_surveys(course)
    for index, learner in enumerate(learners):
        services.survey_answer(
            accessor=Accessor(learner),
            survey=post,
            answers={1: "4" if index % 2 else "5", 2: "1", 3: ""},
        )
    likert, choice, _text = survey_summary(post)
    assert dict(likert.counts)["4"] == dict(likert.counts)["5"] == "×"
    assert likert.answered_shown == "6" and likert.mean is None
    assert dict(choice.counts)["post"] == "6"
