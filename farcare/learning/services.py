"""Writes of learning: surveys and their answers, quizzes, attempts and their marking,
certificates issued and revoked. Not patient data, but every change is audited (with no
patient), after the permission check and inside the change's transaction; a refusal is written
before any transaction so it is kept."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.training.models import Programme, Session
from farcare.training.selectors import enrolled_learners, is_enrolled, is_trainer_of

from . import codes
from .credits import programme_credits
from .marking import Key, mark
from .models import (
    Attempt,
    Certificate,
    QuestionKind,
    Quiz,
    QuizQuestion,
    Survey,
    SurveyAnswer,
    SurveyPhase,
    SurveyQuestion,
    SurveyResponse,
)

LANGUAGES = ("ru", "ko", "en")
MAX_TEXT_ANSWER = 2000


def _audit(accessor: Accessor, record: Any, action: str, **details: Any) -> None:
    audit_record(
        accessor=accessor, action=action, record=record, details={"app": "learning", **details}
    )


def _refuse(accessor: Accessor, record: Any, message: str) -> NoReturn:
    audit_refusal(accessor=accessor, message=message, record=record, details={"app": "learning"})


def _require_trainer(accessor: Accessor, programme: Programme) -> User:
    if not is_trainer_of(accessor.user, programme):
        _refuse(accessor, programme, _("Only the trainers of this programme may do this."))
    assert accessor.user is not None
    return accessor.user


def _require_learner(accessor: Accessor, programme: Programme) -> User:
    if not is_enrolled(accessor.user, programme):
        _refuse(accessor, programme, _("Only the learners enrolled in this programme may do this."))
    assert accessor.user is not None
    return accessor.user


def _clean_choices(choices: Sequence[str]) -> list[str]:
    return [choice.strip() for choice in choices if choice.strip()]


# --- surveys -----------------------------------------------------------------------------------


def survey_question_add(
    *,
    accessor: Accessor,
    programme: Programme,
    phase: str,
    kind: str,
    text: str,
    choices: Sequence[str] = (),
) -> SurveyQuestion:
    """Add a question to the programme's survey before or after the series (made on first use).
    Once anyone has answered, the questions are fixed: answers must mean what they meant."""
    user = _require_trainer(accessor, programme)
    if phase not in SurveyPhase.values:
        raise ValidationError({"phase": _("Before or after the series.")})
    if kind not in QuestionKind.values:
        raise ValidationError({"kind": _("Choose the kind of question.")})
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the question.")})
    cleaned = _clean_choices(choices)
    if kind == QuestionKind.CHOICE and len(cleaned) < 2:
        raise ValidationError({"choices": _("Give at least two choices, one per line.")})
    if kind != QuestionKind.CHOICE and cleaned:
        raise ValidationError({"choices": _("Only a question with one choice has choices.")})
    with transaction.atomic():
        survey, _created = Survey.objects.get_or_create(
            programme=programme, phase=phase, defaults={"created_by": user}
        )
        survey = Survey.objects.select_for_update().get(pk=survey.pk)
        if survey.responses.exists():
            raise ValidationError(_("Learners have answered this survey: its questions are fixed."))
        number = survey.questions.count() + 1
        question = SurveyQuestion.objects.create(
            survey=survey, number=number, kind=kind, text=text, choices=cleaned
        )
        _audit(accessor, survey, AuditAction.UPDATE, question=number)
    return question


def survey_answer(
    *, accessor: Accessor, survey: Survey, answers: Mapping[int, str]
) -> SurveyResponse:
    """A learner's answers, once. `answers` maps question numbers to what was sent: a scale
    1–5, a choice's number from 1, or text. Scale and choice questions must all be answered;
    free text may stay empty. Anything for a question the survey does not have is refused."""
    learner = _require_learner(accessor, survey.programme)
    questions = {question.number: question for question in survey.questions.all()}
    if not questions:
        raise ValidationError(_("This survey has no questions yet."))
    unknown = set(answers) - set(questions)
    if unknown:
        raise ValidationError(_("The survey has no such question."))
    errors: dict[str, list[str]] = {}
    rows = []
    for number, question in questions.items():
        raw = (answers.get(number) or "").strip()
        field = f"q{number}"
        if question.kind == QuestionKind.TEXT:
            if len(raw) > MAX_TEXT_ANSWER:
                errors[field] = [_("Keep the answer under 2000 characters.")]
            rows.append(SurveyAnswer(question=question, text=raw))
            continue
        limit = 5 if question.kind == QuestionKind.LIKERT else len(question.choices)
        # ASCII digits only: "²" passes str.isdigit() and then breaks int().
        if not re.fullmatch(r"[0-9]{1,4}", raw) or not 1 <= int(raw) <= limit:
            errors[field] = [_("Choose an answer.")]
            continue
        if question.kind == QuestionKind.LIKERT:
            rows.append(SurveyAnswer(question=question, scale=int(raw)))
        else:
            rows.append(SurveyAnswer(question=question, choice=int(raw) - 1))
    if errors:
        raise ValidationError(errors)
    try:
        with transaction.atomic():
            response = SurveyResponse.objects.create(
                survey=survey, learner=learner, submitted_at=timezone.now()
            )
            for row in rows:
                row.response = response
            SurveyAnswer.objects.bulk_create(rows)
            _audit(accessor, survey, AuditAction.CREATE, answered=True)
    except IntegrityError as error:
        raise ValidationError(_("You have answered this survey already.")) from error
    return response


# --- quizzes -----------------------------------------------------------------------------------


def quiz_create(
    *,
    accessor: Accessor,
    programme: Programme,
    title: str,
    session: Session | None = None,
    pass_percent: int = 70,
    max_attempts: int = 3,
) -> Quiz:
    user = _require_trainer(accessor, programme)
    title = title.strip()
    if not title:
        raise ValidationError({"title": _("A test needs a title.")})
    if session is not None and session.programme_id != programme.pk:
        raise ValidationError({"session": _("The session is not of this programme.")})
    if not 1 <= pass_percent <= 100:
        raise ValidationError({"pass_percent": _("The pass mark is between 1 and 100 per cent.")})
    if not 1 <= max_attempts <= 20:
        raise ValidationError({"max_attempts": _("Allow between 1 and 20 attempts.")})
    with transaction.atomic():
        quiz = Quiz.objects.create(
            programme=programme,
            session=session,
            title=title,
            pass_percent=pass_percent,
            max_attempts=max_attempts,
            created_by=user,
        )
        _audit(accessor, quiz, AuditAction.CREATE, title=title)
    return quiz


def quiz_question_add(
    *,
    accessor: Accessor,
    quiz: Quiz,
    text: str,
    choices: Sequence[str],
    correct: Sequence[int],
    multiple: bool,
) -> QuizQuestion:
    """`correct` are indices into `choices`. Fixed once a learner has started the test."""
    _require_trainer(accessor, quiz.programme)
    text = text.strip()
    if not text:
        raise ValidationError({"text": _("Write the question.")})
    cleaned = _clean_choices(choices)
    if len(cleaned) < 2:
        raise ValidationError({"choices": _("Give at least two choices, one per line.")})
    right = sorted(set(correct))
    if not right or any(not 0 <= index < len(cleaned) for index in right):
        raise ValidationError({"choices": _("Mark the right answers with * at the line's start.")})
    if not multiple and len(right) != 1:
        raise ValidationError(
            {"choices": _("A question with one answer has exactly one right answer.")}
        )
    with transaction.atomic():
        locked = Quiz.objects.select_for_update().get(pk=quiz.pk)
        if locked.attempts.exists():
            raise ValidationError(_("Learners have taken this test: its questions are fixed."))
        number = locked.questions.count() + 1
        question = QuizQuestion.objects.create(
            quiz=locked,
            number=number,
            text=text,
            choices=cleaned,
            correct=right,
            multiple=multiple,
        )
        _audit(accessor, quiz, AuditAction.UPDATE, question=number)
    return question


def attempt_start(*, accessor: Accessor, quiz: Quiz) -> Attempt:
    """The learner's open attempt, or a new one while attempts remain."""
    learner = _require_learner(accessor, quiz.programme)
    if not quiz.questions.exists():
        raise ValidationError(_("This test has no questions yet."))
    with transaction.atomic():
        # Serialise two tabs starting at once (one lock row: the quiz).
        Quiz.objects.select_for_update().get(pk=quiz.pk)
        mine = Attempt.objects.filter(quiz=quiz, learner=learner)
        open_attempt = mine.filter(submitted_at__isnull=True).first()
        if open_attempt is not None:
            return open_attempt
        if mine.filter(passed=True).exists():
            raise ValidationError(_("You have passed this test."))
        used = mine.count()
        if used >= quiz.max_attempts:
            raise ValidationError(_("No attempts left at this test."))
        attempt = Attempt.objects.create(
            quiz=quiz, learner=learner, number=used + 1, started_at=timezone.now()
        )
        _audit(accessor, attempt, AuditAction.CREATE, quiz=str(quiz.uuid), number=used + 1)
    return attempt


def attempt_submit(
    *, accessor: Accessor, attempt: Attempt, answers: Mapping[int, Sequence[int]]
) -> Attempt:
    """Mark the attempt. `answers` maps question numbers to chosen indices; a question left out
    is wrong. Once submitted the attempt is closed: a second submission is refused."""
    if accessor.user is None or attempt.learner_id != accessor.user.pk:
        _refuse(accessor, attempt, _("This is not your attempt."))
    questions = list(attempt.quiz.questions.all())
    by_number = {question.number: question for question in questions}
    chosen: dict[int, frozenset[int]] = {}
    for number, picked in answers.items():
        question = by_number.get(number)
        if question is None:
            raise ValidationError(_("The test has no such question."))
        unique = frozenset(picked)
        if any(not 0 <= index < len(question.choices) for index in unique):
            raise ValidationError(_("The test has no such answer."))
        if not question.multiple and len(unique) > 1:
            raise ValidationError(_("Choose one answer to question %(n)s.") % {"n": number})
        chosen[number] = unique
    keys = [Key(question.number, frozenset(question.correct)) for question in questions]
    marking = mark(keys, chosen, attempt.quiz.pass_percent)
    with transaction.atomic():
        locked = Attempt.objects.select_for_update().get(pk=attempt.pk)
        if locked.submitted_at is not None:
            raise ValidationError(_("This attempt was submitted: its answers cannot be changed."))
        locked.answers = {str(number): sorted(picked) for number, picked in chosen.items()}
        locked.score_percent = marking.score_percent
        locked.passed = marking.passed
        locked.submitted_at = timezone.now()
        locked.save()
        _audit(
            accessor,
            locked,
            AuditAction.UPDATE,
            submitted=True,
            score=str(marking.score_percent),
            passed=marking.passed,
        )
    return locked


# --- certificates ------------------------------------------------------------------------------


def code_message(certificate: Certificate) -> str:
    """What the verification code covers."""
    return "|".join(
        [
            str(certificate.uuid),
            str(certificate.learner.uuid),
            str(certificate.programme.uuid),
            f"{certificate.hours:.1f}",
            certificate.issued_at.date().isoformat(),
        ]
    )


def certificate_code(certificate: Certificate) -> str:
    # A key of its own: certificates outlive sessions, so rotating SECRET_KEY (which a leak
    # demands) must not turn every certificate ever issued into "unknown code".
    key = settings.FARCARE_CERTIFICATE_KEY or settings.SECRET_KEY
    return codes.make_code(key, code_message(certificate))


def _language_for(learner: User, programme: Programme) -> str:
    for language in (learner.language, programme.language):
        if language in LANGUAGES:
            return language
    return "ru"


def certificates_issue(*, accessor: Accessor, programme: Programme) -> list[Certificate]:
    """Certificates for every enrolled learner who completed the programme and has none."""
    user = _require_trainer(accessor, programme)
    issued = []
    with transaction.atomic():
        Programme.objects.select_for_update().get(pk=programme.pk)
        for learner in enrolled_learners(programme):
            credits = programme_credits(programme, learner)
            if credits.certificate is not None or not credits.eligible:
                continue
            certificate = Certificate(
                learner=learner,
                programme=programme,
                learner_name=learner.get_full_name() or learner.username,
                programme_title=programme.title,
                hours=credits.hours,
                issued_at=timezone.now(),
                issued_by=user,
                language=_language_for(learner, programme),
            )
            certificate.code = certificate_code(certificate)
            certificate.save()
            _audit(
                accessor,
                certificate,
                AuditAction.CREATE,
                learner=str(learner.uuid),
                hours=f"{certificate.hours:.1f}",
            )
            issued.append(certificate)
    return issued


def certificate_revoke(*, accessor: Accessor, certificate: Certificate) -> Certificate:
    _require_trainer(accessor, certificate.programme)
    with transaction.atomic():
        locked = Certificate.objects.select_for_update().get(pk=certificate.pk)
        if locked.revoked_at is None:
            locked.revoked_at = timezone.now()
            locked.revoked_by = accessor.user
            locked.save(update_fields=["revoked_at", "revoked_by"])
            _audit(accessor, locked, AuditAction.UPDATE, revoked=True)
    return locked
