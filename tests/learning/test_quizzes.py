"""A learner takes a short test: marked at once, the wrong questions shown only after
submitting, answers fixed once submitted, attempts limited."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.learning import services
from farcare.learning.models import Attempt, Quiz
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, enrol


def make_quiz(course: Course, *, max_attempts: int = 3) -> Quiz:
    trainer = Accessor(course.trainer)
    quiz = services.quiz_create(
        accessor=trainer,
        programme=course.programme,
        session=course.sessions[0],
        title="ECG basics",
        max_attempts=max_attempts,
    )
    services.quiz_question_add(
        accessor=trainer,
        quiz=quiz,
        text="ST elevation in II, III, aVF suggests",
        choices=["inferior infarction", "anterior infarction", "pericarditis"],
        correct=[0],
        multiple=False,
    )
    services.quiz_question_add(
        accessor=trainer,
        quiz=quiz,
        text="Give before transfer in suspected STEMI",
        choices=["aspirin", "heparin", "furosemide"],
        correct=[0, 1],
        multiple=True,
    )
    return quiz


@pytest.fixture
def learner(course: Course, chain: Chain):
    return enrol(course, make_user(Role.CLINICIAN, chain.post, language="en"))


def test_the_learner_sees_which_answers_were_wrong_only_after_submitting(course, learner) -> None:
    quiz = make_quiz(course)
    client = logged_in(learner)
    started = client.post(reverse("learning:attempt_start", args=[quiz.uuid]))
    form_page = client.get(started["Location"])
    assert 'data-testid="quiz-form"' in form_page.text
    assert 'data-testid="wrong"' not in form_page.text
    # The editor's ticks of the right answers are not on the learner's page.
    assert "✓" not in form_page.text

    done = client.post(started["Location"], {"q1": "0", "q2": ["0"]})
    result = client.get(done["Location"])
    assert "Score: 50.0%" in result.text
    assert "not passed" in result.text
    assert result.text.count('data-testid="wrong"') == 1
    assert 'data-wrong="yes"' in result.text and 'data-wrong="no"' in result.text


def test_answers_cannot_be_changed_after_submitting(course, learner) -> None:
    quiz = make_quiz(course)
    client = logged_in(learner)
    page = client.post(reverse("learning:attempt_start", args=[quiz.uuid]))["Location"]
    client.post(page, {"q1": "1", "q2": ["2"]})

    again = client.post(page, {"q1": "0", "q2": ["0", "1"]})

    assert again.status_code == 400
    assert "cannot be changed" in again.text
    attempt = Attempt.objects.get(quiz=quiz, learner=learner)
    assert attempt.answers == {"1": [1], "2": [2]}
    assert not attempt.passed


def test_attempts_are_limited(course, learner) -> None:
    quiz = make_quiz(course, max_attempts=2)
    accessor = Accessor(learner)
    for _ in range(2):
        attempt = services.attempt_start(accessor=accessor, quiz=quiz)
        services.attempt_submit(accessor=accessor, attempt=attempt, answers={1: [2]})

    with pytest.raises(ValidationError, match="No attempts left"):
        services.attempt_start(accessor=accessor, quiz=quiz)
    page = logged_in(learner).get(reverse("learning:quiz", args=[quiz.uuid]))
    assert "No attempts left at this test." in page.text
    assert 'data-testid="start-quiz"' not in page.text


def test_an_open_attempt_is_resumed_not_counted_twice(course, learner) -> None:
    quiz = make_quiz(course, max_attempts=1)
    first = services.attempt_start(accessor=Accessor(learner), quiz=quiz)
    assert services.attempt_start(accessor=Accessor(learner), quiz=quiz) == first


def test_a_passed_test_is_not_taken_again(course, learner) -> None:
    quiz = make_quiz(course)
    attempt = services.attempt_start(accessor=Accessor(learner), quiz=quiz)
    marked = services.attempt_submit(
        accessor=Accessor(learner), attempt=attempt, answers={1: [0], 2: [0, 1]}
    )
    assert marked.passed and marked.score_percent == 100
    with pytest.raises(ValidationError, match="passed"):
        services.attempt_start(accessor=Accessor(learner), quiz=quiz)


def test_the_pass_mark_defaults_to_seventy_and_three_attempts(course) -> None:
    quiz = make_quiz(course)
    assert (quiz.pass_percent, quiz.max_attempts) == (70, 3)


def test_an_answer_the_question_does_not_have_is_refused(course, learner) -> None:
    quiz = make_quiz(course)
    attempt = services.attempt_start(accessor=Accessor(learner), quiz=quiz)
    with pytest.raises(ValidationError):
        services.attempt_submit(accessor=Accessor(learner), attempt=attempt, answers={1: [7]})
    with pytest.raises(ValidationError):
        services.attempt_submit(accessor=Accessor(learner), attempt=attempt, answers={9: [0]})
    with pytest.raises(ValidationError, match="one answer"):
        services.attempt_submit(accessor=Accessor(learner), attempt=attempt, answers={1: [0, 1]})
    attempt.refresh_from_db()
    assert attempt.submitted_at is None


def test_only_enrolled_learners_take_a_test_and_only_trainers_write_one(course, chain) -> None:
    quiz = make_quiz(course)
    stranger = make_user(Role.CLINICIAN, chain.sibling_post)
    with pytest.raises(PermissionDenied):
        services.attempt_start(accessor=Accessor(stranger), quiz=quiz)
    assert logged_in(stranger).get(reverse("learning:quiz", args=[quiz.uuid])).status_code == 403
    with pytest.raises(PermissionDenied):
        services.quiz_create(accessor=Accessor(stranger), programme=course.programme, title="x")


def test_the_trainer_writes_a_test_on_the_page(course) -> None:
    client = logged_in(course.trainer)
    created = client.post(
        reverse("learning:quiz_create", args=[course.programme.uuid]),
        {"title": "Final test", "session": "", "pass_percent": "80", "max_attempts": "2"},
    )
    quiz = Quiz.objects.get(title="Final test")
    assert created["Location"] == reverse("learning:quiz_edit", args=[quiz.uuid])
    assert quiz.session is None and quiz.pass_percent == 80
    added = client.post(
        created["Location"],
        {"text": "Aspirin dose", "choices": "75 mg\n*150–300 mg chewed\n1 g", "multiple": ""},
    )
    assert added.status_code == 302
    question = quiz.questions.get()
    assert question.choices == ["75 mg", "150–300 mg chewed", "1 g"]
    assert question.correct == [1]
    unmarked = client.post(created["Location"], {"text": "No right one", "choices": "a\nb"})
    assert unmarked.status_code == 400
    assert "Mark the right answers" in unmarked.text
