"""Pages of learning (thin: services write, selectors read): the learner's credits, surveys and
quizzes; the trainer's survey and quiz editor, results and certificates; the public check of a
certificate; training coverage per facility for analysts."""

from __future__ import annotations

import re
from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from farcare.access import policy
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.training.models import Programme
from farcare.training.selectors import (
    enrolled_learners,
    is_enrolled,
    is_trainer_of,
    programme_for_learner,
    programmes_taught_by,
)

from . import selectors, services, throttle
from .codes import grouped
from .credits import programme_credits
from .forms import QuizForm, QuizQuestionForm, SurveyQuestionForm, VerifyForm
from .models import Attempt, Certificate, Quiz, Survey
from .pdf import certificate_pdf

QUESTION_FIELD = re.compile(r"^q([0-9]{1,4})$")
# An answer is a choice's number in ASCII digits: "²" and "٣" pass str.isdigit() but are not ours.
ANSWER = re.compile(r"[0-9]{1,4}")


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _errors(request: HttpRequest, error: ValidationError) -> None:
    for message in error.messages:
        messages.error(request, message)


def _to_form(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            for item in errors:
                form.add_error(name if name in form.fields else None, item.messages)
    else:
        form.add_error(None, error.messages)


# --- the learner -------------------------------------------------------------------------------


@login_required
def credits(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    answered = selectors.answered_survey_ids(user)
    programmes = []
    for programme in programme_for_learner(user):
        programmes.append(
            {
                "credits": programme_credits(programme, user),
                "surveys": [
                    (survey, survey.pk in answered) for survey in selectors.surveys_of(programme)
                ],
                "quizzes": list(selectors.quizzes_of(programme)),
            }
        )
    return render(request, "learning/credits.html", {"programmes": programmes})


def _programme(uuid: UUID) -> Programme:
    return get_object_or_404(Programme.objects.select_related("owner"), uuid=uuid)


@login_required
def survey(request: HttpRequest, survey_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(Survey.objects.select_related("programme"), uuid=survey_uuid)
    user = _user(request)
    if not is_enrolled(user, item.programme):
        raise PermissionDenied(_("Only the learners enrolled in this programme may do this."))
    done = item.responses.filter(learner=user).exists()
    status = 200
    if request.method == "POST" and not done:
        answers = {}
        for name in request.POST:
            match = QUESTION_FIELD.match(name)
            if match:
                answers[int(match.group(1))] = request.POST.get(name, "")
        try:
            services.survey_answer(
                accessor=Accessor.from_request(request), survey=item, answers=answers
            )
        except ValidationError as error:
            _errors(request, error)
            status = 400
        else:
            messages.success(request, _("Thank you: your answers are saved."))
            return redirect("learning:credits")
    context = {
        "survey": item,
        "questions": item.questions.all(),
        "done": done,
        "sent": request.POST,
    }
    return render(request, "learning/survey.html", context, status=status)


@login_required
def quiz(request: HttpRequest, quiz_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(Quiz.objects.select_related("programme", "session"), uuid=quiz_uuid)
    user = _user(request)
    if not is_enrolled(user, item.programme):
        raise PermissionDenied(_("Only the learners enrolled in this programme may do this."))
    attempts = list(selectors.attempts_of(item, user))
    context = {
        "quiz": item,
        "attempts": attempts,
        "left": max(0, item.max_attempts - len(attempts)),
        "passed": any(attempt.passed for attempt in attempts),
        "open": any(attempt.submitted_at is None for attempt in attempts),
    }
    return render(request, "learning/quiz.html", context)


@login_required
@require_POST
def attempt_start(request: HttpRequest, quiz_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(Quiz.objects.select_related("programme"), uuid=quiz_uuid)
    try:
        attempt = services.attempt_start(accessor=Accessor.from_request(request), quiz=item)
    except ValidationError as error:
        _errors(request, error)
        return redirect("learning:quiz", quiz_uuid=item.uuid)
    return redirect("learning:attempt", attempt_uuid=attempt.uuid)


@login_required
def attempt(request: HttpRequest, attempt_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(
        Attempt.objects.select_related("quiz", "quiz__programme"), uuid=attempt_uuid
    )
    if item.learner_id != _user(request).pk:
        raise Http404
    status = 200
    if request.method == "POST":
        answers: dict[int, list[int]] = {}
        for name in request.POST:
            match = QUESTION_FIELD.match(name)
            if match:
                values = request.POST.getlist(name)
                if not all(ANSWER.fullmatch(value) for value in values):
                    messages.error(request, _("The test has no such answer."))
                    status = 400
                    break
                answers[int(match.group(1))] = [int(value) for value in values]
        else:
            try:
                item = services.attempt_submit(
                    accessor=Accessor.from_request(request), attempt=item, answers=answers
                )
            except ValidationError as error:
                _errors(request, error)
                status = 400
            else:
                return redirect("learning:attempt", attempt_uuid=item.uuid)
    questions = list(item.quiz.questions.all())
    wrong: set[int] = set()
    if item.submitted_at is not None:
        # Shown only after submission: which questions were wrong (not the right answers).
        for question in questions:
            chosen = sorted(item.answers.get(str(question.number), []))
            if chosen != sorted(question.correct):
                wrong.add(question.number)
    rows = [
        {
            "question": question,
            "chosen": item.answers.get(str(question.number), []),
            "wrong": question.number in wrong,
        }
        for question in questions
    ]
    context = {"attempt": item, "quiz": item.quiz, "rows": rows}
    return render(request, "learning/attempt.html", context, status=status)


def _verify_url(request: HttpRequest, code: str) -> str:
    path = reverse("learning:verify_code", kwargs={"code": code})
    site = str(getattr(settings, "FARCARE_SITE_URL", "") or "").rstrip("/")
    return f"{site}{path}" if site else request.build_absolute_uri(path)


@login_required
def certificate_download(
    request: HttpRequest, certificate_uuid: UUID, language: str
) -> HttpResponse:
    item = get_object_or_404(
        Certificate.objects.select_related("learner", "programme"), uuid=certificate_uuid
    )
    user = _user(request)
    if item.learner_id != user.pk and not is_trainer_of(user, item.programme):
        raise Http404
    if language not in services.LANGUAGES:
        raise Http404
    content = certificate_pdf(item, language=language, verify_url=_verify_url(request, item.code))
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.EXPORT,
        record=item,
        details={"app": "learning", "language": language},
    )
    response = HttpResponse(content, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="certificate-{language}.pdf"'
    return response


# --- the trainer -------------------------------------------------------------------------------


def _trainer_programme(request: HttpRequest, programme_uuid: UUID) -> Programme:
    programme = _programme(programme_uuid)
    if not is_trainer_of(_user(request), programme):
        raise PermissionDenied(_("Only the trainers of this programme may do this."))
    return programme


@login_required
def teaching(request: HttpRequest) -> HttpResponse:
    programmes = programmes_taught_by(_user(request))
    return render(request, "learning/teaching.html", {"programmes": programmes})


def _programme_page(
    request: HttpRequest, programme: Programme, status: int = 200, **forms: Form
) -> HttpResponse:
    learners = [
        (learner, programme_credits(programme, learner)) for learner in enrolled_learners(programme)
    ]
    surveys = {survey.phase: survey for survey in selectors.surveys_of(programme)}
    context: dict[str, Any] = {
        "programme": programme,
        "surveys": [
            (survey, selectors.survey_summary(survey), survey.responses.count())
            for survey in surveys.values()
        ],
        "comparison": selectors.survey_comparison(programme),
        "quizzes": selectors.quiz_results(programme),
        "learners": learners,
        "certificates": selectors.certificates_for(programme),
        "survey_form": forms.get("survey_form") or SurveyQuestionForm(),
        "quiz_form": forms.get("quiz_form")
        or QuizForm(programme=programme, initial={"pass_percent": 70, "max_attempts": 3}),
    }
    return render(request, "learning/programme.html", context, status=status)


@login_required
def programme(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    return _programme_page(request, _trainer_programme(request, programme_uuid))


@login_required
@require_POST
def survey_question_add(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    item = _trainer_programme(request, programme_uuid)
    form = SurveyQuestionForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.survey_question_add(
                accessor=Accessor.from_request(request),
                programme=item,
                phase=data["phase"],
                kind=data["kind"],
                text=data["text"],
                choices=data["choices"].splitlines(),
            )
        except ValidationError as error:
            _to_form(form, error)
        else:
            messages.success(request, _("The question is added."))
            return redirect("learning:programme", programme_uuid=item.uuid)
    return _programme_page(request, item, status=400, survey_form=form)


@login_required
@require_POST
def quiz_create(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    item = _trainer_programme(request, programme_uuid)
    form = QuizForm(request.POST, programme=item)
    if form.is_valid():
        data = form.cleaned_data
        try:
            created = services.quiz_create(
                accessor=Accessor.from_request(request),
                programme=item,
                title=data["title"],
                session=data["session"],
                pass_percent=data["pass_percent"],
                max_attempts=data["max_attempts"],
            )
        except ValidationError as error:
            _to_form(form, error)
        else:
            return redirect("learning:quiz_edit", quiz_uuid=created.uuid)
    return _programme_page(request, item, status=400, quiz_form=form)


def _quiz_edit_page(
    request: HttpRequest, item: Quiz, form: QuizQuestionForm | None = None, status: int = 200
) -> HttpResponse:
    context = {
        "quiz": item,
        "questions": item.questions.all(),
        "form": form or QuizQuestionForm(),
        "locked": item.attempts.exists(),
    }
    return render(request, "learning/quiz_edit.html", context, status=status)


@login_required
def quiz_edit(request: HttpRequest, quiz_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(Quiz.objects.select_related("programme"), uuid=quiz_uuid)
    if not is_trainer_of(_user(request), item.programme):
        raise PermissionDenied(_("Only the trainers of this programme may do this."))
    if request.method != "POST":
        return _quiz_edit_page(request, item)
    form = QuizQuestionForm(request.POST)
    if form.is_valid():
        choices, correct = form.parsed()
        try:
            services.quiz_question_add(
                accessor=Accessor.from_request(request),
                quiz=item,
                text=form.cleaned_data["text"],
                choices=choices,
                correct=correct,
                multiple=form.cleaned_data["multiple"],
            )
        except ValidationError as error:
            _to_form(form, error)
        else:
            return redirect("learning:quiz_edit", quiz_uuid=item.uuid)
    return _quiz_edit_page(request, item, form, status=400)


@login_required
@require_POST
def certificates_issue(request: HttpRequest, programme_uuid: UUID) -> HttpResponse:
    item = _programme(programme_uuid)
    issued = services.certificates_issue(accessor=Accessor.from_request(request), programme=item)
    messages.success(request, _("Certificates issued: %(n)s.") % {"n": len(issued)})
    return redirect("learning:programme", programme_uuid=item.uuid)


@login_required
@require_POST
def certificate_revoke(request: HttpRequest, certificate_uuid: UUID) -> HttpResponse:
    item = get_object_or_404(Certificate.objects.select_related("programme"), uuid=certificate_uuid)
    services.certificate_revoke(accessor=Accessor.from_request(request), certificate=item)
    messages.success(request, _("The certificate is revoked."))
    return redirect("learning:programme", programme_uuid=item.programme.uuid)


# --- the public check --------------------------------------------------------------------------


def _verification(request: HttpRequest, typed: str) -> HttpResponse:
    accessor = Accessor.from_request(request)
    if not throttle.allow(accessor.ip_address):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            outcome="denied",
            details={"app": "learning", "verify": "too many lookups"},
        )
        context = {"form": VerifyForm(), "throttled": True}
        response = render(request, "learning/verify.html", context, status=429)
        response["Retry-After"] = str(throttle.WINDOW_SECONDS)
        return response
    result = selectors.verify(typed)
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW if result.certificate else AuditAction.SEARCH,
        record=result.certificate,
        outcome="success" if result.certificate else "failure",
        details={"app": "learning", "verify": str(result.verdict), "code": result.code[:20]},
    )
    context = {
        "form": VerifyForm(initial={"code": typed}),
        "result": result,
        "grouped": grouped(result.code),
    }
    return render(request, "learning/verify.html", context)


@require_GET
def verify(request: HttpRequest) -> HttpResponse:
    """A GET form (no session, no cookie needed); its answer is the code's own address."""
    form = VerifyForm(request.GET or None)
    if form.is_bound and form.is_valid():
        return _verification(request, form.cleaned_data["code"])
    return render(request, "learning/verify.html", {"form": form})


@require_GET
def verify_code(request: HttpRequest, code: str) -> HttpResponse:
    return _verification(request, code)


# --- analysts ----------------------------------------------------------------------------------


@login_required
def coverage(request: HttpRequest) -> HttpResponse:
    if not policy.may_see_aggregates(_user(request)):
        raise PermissionDenied(_("Only analysts see training coverage."))
    regions = selectors.coverage_by_region()
    return render(request, "learning/coverage.html", {"regions": regions})
