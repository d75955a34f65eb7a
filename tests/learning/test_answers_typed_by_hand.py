"""A learner's browser sends an answer that is not one of the page's: a superscript two, an
Arabic-Indic three. str.isdigit() calls them digits; the test and the survey refuse them with a
clear message, and nothing is stored."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.learning import services
from farcare.learning.models import Attempt, SurveyResponse
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, enrol
from .test_quizzes import make_quiz

pytestmark = pytest.mark.django_db

NOT_OUR_DIGITS = ["\u00b2", "\u0663", "1" * 5000]


@pytest.mark.parametrize("answer", NOT_OUR_DIGITS)
def test_a_test_answer_that_is_not_a_choice_is_refused(course: Course, chain: Chain, answer):
    learner = enrol(course, make_user(Role.CLINICIAN, chain.post, language="en"))
    client = logged_in(learner)
    page = client.post(reverse("learning:attempt_start", args=[make_quiz(course).uuid]))
    response = client.post(page["Location"], {"q1": answer, "q2": ["0"]})
    assert response.status_code == 400
    assert "The test has no such answer." in response.text
    assert Attempt.objects.get(learner=learner).submitted_at is None


@pytest.mark.parametrize("answer", NOT_OUR_DIGITS)
def test_a_survey_answer_that_is_not_a_choice_is_refused(course: Course, chain: Chain, answer):
    learner = enrol(course, make_user(Role.CLINICIAN, chain.post, language="en"))
    question = services.survey_question_add(
        accessor=Accessor(course.trainer),
        programme=course.programme,
        phase="pre",
        kind="likert",
        text="I can read an ECG for STEMI",
    )
    response = logged_in(learner).post(
        reverse("learning:survey", args=[question.survey.uuid]), {"q1": answer}
    )
    assert response.status_code == 400
    assert "Choose an answer." in response.text
    assert not SurveyResponse.objects.exists()
