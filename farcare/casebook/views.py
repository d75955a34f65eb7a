"""Pages of casebook (thin: services write, selectors read)."""

from __future__ import annotations

import uuid as uuid_lib

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_POST

from farcare.access import policy
from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation
from farcare.training.models import Session, SessionStatus
from farcare.training.selectors import programmes_taught_by

from . import selectors, services
from .models import Answer, CaseFile, CaseStatus, ClinicianAsk, TeachingCase
from .workflow import Part, allowed_moves


class CaseTextForm(forms.Form):
    title = forms.CharField(label=gettext_lazy("Title"), max_length=200)
    question = forms.CharField(
        label=gettext_lazy("Question"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    summary = forms.CharField(
        label=gettext_lazy("Clinical summary"),
        widget=forms.Textarea(attrs={"rows": 6}),
        required=False,
    )
    findings = forms.CharField(
        label=gettext_lazy("Findings"), widget=forms.Textarea(attrs={"rows": 4}), required=False
    )
    recommendations = forms.CharField(
        label=gettext_lazy("Recommendations"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    follow_up = forms.CharField(
        label=gettext_lazy("Follow-up"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    teaching_notes = forms.CharField(
        label=gettext_lazy("Teaching notes"),
        widget=forms.Textarea(attrs={"rows": 4}),
        required=False,
    )
    version = forms.IntegerField(widget=forms.HiddenInput)


class AnswerForm(forms.Form):
    answer = forms.ChoiceField(
        label=gettext_lazy("Your answer"),
        choices=[
            ("agree", gettext_lazy("I agree that it is used in teaching")),
            ("object", gettext_lazy("I object")),
        ],
        widget=forms.RadioSelect,
    )
    reason = forms.CharField(
        label=gettext_lazy("Why you object"),
        widget=forms.Textarea(attrs={"rows": 3}),
        required=False,
        max_length=1000,
    )


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _case(request: HttpRequest, case_uuid: str) -> TeachingCase:
    case = get_object_or_404(
        TeachingCase.objects.select_related("specialty", "source__patient"), uuid=case_uuid
    )
    if not selectors.may_view(_user(request), case):
        raise Http404
    return case


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    may_make = policy.teaching_sources(user).exists() or policy.may_review_teaching_cases(user)
    if not (may_make or policy.may_read_teaching_cases(user)):
        raise PermissionDenied(_("Teaching cases are for trainers and clinicians."))
    mine = selectors.cases_for(user)
    return render(
        request,
        "casebook/list.html",
        {
            "drafts": mine.filter(status=CaseStatus.DRAFT),
            "in_review": mine.filter(
                status__in=[CaseStatus.IN_REVIEW, CaseStatus.AWAITING_CLINICIANS]
            ),
            "published": selectors.published_cases(user)[:50],
            "withdrawn": mine.filter(status=CaseStatus.WITHDRAWN)[:20],
            "asks": selectors.asks_for(user).filter(case__status=CaseStatus.AWAITING_CLINICIANS),
            "may_make": may_make,
            "is_trainer": policy.may_review_teaching_cases(user),
        },
    )


@login_required
def sources(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if not (policy.may_review_teaching_cases(user) or policy.teaching_sources(user).exists()):
        raise PermissionDenied(_("You have no closed consultations to make a case of."))
    previews = selectors.teaching_previews(accessor=Accessor.from_request(request))
    return render(request, "casebook/sources.html", {"previews": previews})


@login_required
@require_POST
def make(request: HttpRequest) -> HttpResponse:
    try:
        chosen = uuid_lib.UUID(request.POST.get("consultation", ""))
    except ValueError:
        chosen = None
    consultation = Consultation.objects.filter(uuid=chosen).first() if chosen else None
    if consultation is None:
        messages.error(request, _("Choose a closed consultation from the list."))
        return redirect("casebook:sources")
    try:
        case = services.case_make(
            accessor=Accessor.from_request(request), consultation=consultation
        )
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
        return redirect("casebook:sources")
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
        return redirect("casebook:sources")
    messages.success(request, _("The case is made. Review it before it is published."))
    return redirect("casebook:review", case_uuid=case.uuid)


def _asks_summary(case: TeachingCase) -> str:
    answers = list(case.asks.values_list("answer", flat=True))
    if not answers:
        return ""
    return ngettext(
        "%(asked)d clinician asked, %(agreed)d agreed",
        "%(asked)d clinicians asked, %(agreed)d agreed",
        len(answers),
    ) % {"asked": len(answers), "agreed": answers.count(Answer.AGREED)}


def _review_context(request: HttpRequest, case: TeachingCase, form: CaseTextForm | None) -> dict:
    user = _user(request)
    parts = services.parts_of(user, case)
    return {
        "case": case,
        "view": selectors.case_display(case),
        "replaced": selectors.replaced_rows(case),
        "files": list(case.files.all()),
        # Who was asked points back to the post the case came from: never named; each answer
        # (with an objection's reason) to the case's reviewer only, counted for anyone else.
        "asks": list(case.asks.all())
        if case.reviewer_id is not None and case.reviewer_id == user.pk
        else [],
        "asks_summary": _asks_summary(case),
        "moves": allowed_moves(case, parts),
        "form": form,
        "sessions": list(
            Session.objects.filter(
                status=SessionStatus.SCHEDULED, programme__in=programmes_taught_by(user)
            )
            .select_related("programme")
            .order_by("starts_at")[:50]
        )
        if Part.TRAINER in parts
        else [],
        "editable": case.status in (CaseStatus.DRAFT, CaseStatus.IN_REVIEW) and bool(parts),
    }


@login_required
def review(request: HttpRequest, case_uuid: str) -> HttpResponse:
    case = _case(request, case_uuid)
    user = _user(request)
    if not services.parts_of(user, case):
        raise PermissionDenied(_("Only the author or a trainer reviews a case."))
    services.case_read(accessor=Accessor.from_request(request), case=case)
    initial = {name: getattr(case, name) for name in services.EDITABLE_FIELDS}
    form = CaseTextForm(initial={**initial, "version": case.version})
    return render(request, "casebook/review.html", _review_context(request, case, form))


@login_required
@require_POST
def edit(request: HttpRequest, case_uuid: str) -> HttpResponse:
    case = _case(request, case_uuid)
    form = CaseTextForm(request.POST)
    if form.is_valid():
        data = dict(form.cleaned_data)
        version = data.pop("version")
        try:
            services.case_edit(
                accessor=Accessor.from_request(request),
                case=case,
                fields=data,
                expected_version=version,
            )
        except ValidationError as error:
            for message in error.messages:
                form.add_error(None, message)
        else:
            messages.success(request, _("Saved. The text was checked for names and numbers again."))
            return redirect("casebook:review", case_uuid=case.uuid)
    return render(request, "casebook/review.html", _review_context(request, case, form), status=400)


@login_required
@require_POST
def move(request: HttpRequest, case_uuid: str) -> HttpResponse:
    case = _case(request, case_uuid)
    try:
        case = services.case_move(
            accessor=Accessor.from_request(request), case=case, event=request.POST.get("event", "")
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(
            request, _("Done: the case is %(status)s.") % {"status": case.get_status_display()}
        )
    return redirect("casebook:review", case_uuid=case.uuid)


@login_required
@require_POST
def present(request: HttpRequest, case_uuid: str) -> HttpResponse:
    case = _case(request, case_uuid)
    chosen = request.POST.get("session", "")
    session = None
    if chosen:
        try:
            session = Session.objects.filter(uuid=uuid_lib.UUID(chosen)).first()
        except ValueError:
            session = None
        if session is None:
            messages.error(request, _("Choose a session from the list."))
            return redirect("casebook:review", case_uuid=case.uuid)
    try:
        services.case_present(accessor=Accessor.from_request(request), case=case, session=session)
    except PermissionDenied as refusal:
        messages.error(request, str(refusal))
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    return redirect("casebook:review", case_uuid=case.uuid)


@login_required
def asked(request: HttpRequest, ask_uuid: str) -> HttpResponse:
    ask = get_object_or_404(
        ClinicianAsk.objects.select_related("case__source__patient"), uuid=ask_uuid
    )
    if ask.clinician_id != _user(request).pk or selectors.is_gone(ask.case):
        raise Http404
    form = AnswerForm(request.POST or None)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.clinician_answer(
                    accessor=Accessor.from_request(request),
                    ask=ask,
                    agree=form.cleaned_data["answer"] == "agree",
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                for field, problems in (
                    error.message_dict.items()
                    if hasattr(error, "error_dict")
                    else [(None, error.messages)]
                ):
                    for problem in problems:
                        form.add_error(field if field in form.fields else None, problem)
            else:
                messages.success(request, _("Thank you: your answer is recorded."))
                return redirect("casebook:asked", ask_uuid=ask.uuid)
        status = 400
    else:
        services.case_read(accessor=Accessor.from_request(request), case=ask.case)
    return render(
        request,
        "casebook/asked.html",
        {
            "ask": ask,
            "case": ask.case,
            "view": selectors.case_display(ask.case),
            "files": list(ask.case.files.all()),
            "form": form,
        },
        status=status,
    )


@login_required
def read(request: HttpRequest, case_uuid: str) -> HttpResponse:
    case = _case(request, case_uuid)
    services.case_read(accessor=Accessor.from_request(request), case=case)
    return render(
        request,
        "casebook/read.html",
        {"case": case, "view": selectors.case_display(case), "files": list(case.files.all())},
    )


@login_required
def case_file(request: HttpRequest, file_uuid: str, part: str = "file") -> FileResponse:
    item = get_object_or_404(
        CaseFile.objects.select_related("case__source__patient"), uuid=file_uuid
    )
    if not selectors.may_view(_user(request), item.case):
        raise Http404
    if part == "preview":
        if not item.preview:
            raise Http404
        return FileResponse(item.preview.open("rb"), content_type=item.preview_content_type)
    return FileResponse(
        item.file.open("rb"), content_type=item.content_type, as_attachment=True, filename=item.name
    )
