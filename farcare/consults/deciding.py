"""The consultant's decisions on a case page: let go of a request ("Cannot take it": one choice
of the outcomes this viewer may take, one reason), the diagnoses looked up as they are typed,
and the conclusion reviewed as the document that will be signed, then signed once the consultant
has proved again who they are (the password, or the authenticator code where there is one).

What is signed is what was shown: the review carries the digest of the document, and signing
refuses a draft whose digest is not that one any more (an edit, or a colleague's conclusion
signed in between)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from farcare.accounts.services import (
    AuthenticationFailed,
    reauthenticate,
    reauthentication_asks,
)
from farcare.audit.services import Accessor
from farcare.clinical import icd10
from farcare.core.page_forms import errors_to_form

from . import selectors, services
from .conclusions import draft_digest
from .diagnosis_lookup import lookup, with_pick
from .forms import ConclusionForm, RefusalForm, SignForm
from .models import Conclusion, Consultation, ConsultForm, Status
from .refusal import Outcome, refusal_for
from .views import _case, _detail_context, _user, _version

SIGNING_PURPOSE = "sign conclusion"


def _language() -> str:
    return (get_language() or "ru")[:2]


def _case_again(
    request: HttpRequest, consultation: Consultation, view: Any, **forms: Any
) -> HttpResponse:
    """The case page with a refused form: its errors beside the fields and summed up on top."""
    consultation.refresh_from_db()
    context = _detail_context(request, consultation, view, **forms)
    return render(request, "consults/detail.html", context, status=422)


# --- "Cannot take it" ----------------------------------------------------------------------


def _done(outcome: Outcome) -> str:
    return {
        Outcome.DECLINE: _("You passed the request on: it went to the next consultant."),
        Outcome.REJECT: _("You refused the request; the requester reads your reason."),
        Outcome.FAIL: _("The request is closed unanswered; the requester reads your reason."),
        Outcome.CANCEL: _("The request is cancelled."),
    }[outcome]


@login_required
@require_POST
def cannot_take(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    consultation, view = _case(request, consultation_uuid)
    refusal = refusal_for(consultation, view.sides)
    if refusal is None:
        messages.error(request, _("This request can no longer be passed on or cancelled."))
        return redirect("consults:detail", consultation_uuid=consultation.uuid)
    form = RefusalForm(request.POST, refusal=refusal)
    if form.is_valid():
        outcome = Outcome(form.cleaned_data["outcome"])
        try:
            _let_go(request, consultation, outcome, form.cleaned_data)
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, _done(outcome))
            if outcome == Outcome.DECLINE:
                # Passed on: the case may no longer be this consultant's to open.
                return redirect("consults:worklist")
            return redirect("consults:detail", consultation_uuid=consultation.uuid)
    return _case_again(request, consultation, view, refusal_form=form)


def _let_go(
    request: HttpRequest, consultation: Consultation, outcome: Outcome, data: dict[str, Any]
) -> None:
    accessor = Accessor.from_request(request)
    reason = data["reason"]
    if outcome == Outcome.DECLINE:
        services.consult_decline(accessor=accessor, consultation=consultation, reason=reason)
    elif outcome == Outcome.CANCEL:
        services.consult_cancel(accessor=accessor, consultation=consultation, reason=reason)
    else:
        services.consult_transition(
            accessor=accessor,
            consultation=consultation,
            target=Status.REJECTED if outcome == Outcome.REJECT else Status.FAILED,
            note=reason,
            expected_version=_version(data),
        )


# --- diagnoses as they are typed -------------------------------------------------------------


@login_required
@require_GET
def icd10_lookup(request: HttpRequest) -> HttpResponse:
    """The panel under the diagnoses field (HTMX): what was typed, read, and suggestions; with
    `pick`, the field again with the picked code in place of the words being typed. The WHO list
    only: no patient data, so nothing to audit."""
    text = request.GET.get("diagnoses", "")[:500]
    pick = icd10.normalise_code(request.GET.get("pick", ""))
    if pick and icd10.is_valid(pick):
        text = with_pick(text, pick)
        form = ConclusionForm(initial={"diagnoses": text})
        form.fields["diagnoses"].widget.attrs["autofocus"] = True
        return render(
            request,
            "consults/_diagnoses_field.html",
            {"conclusion_form": form, "icd": lookup(text, _language())},
        )
    return render(request, "consults/_icd10.html", {"icd": lookup(text, _language())})


# --- review, then sign ---------------------------------------------------------------------


def conclusion_form(consultation: Consultation, data: Any = None, **kwargs: Any) -> ConclusionForm:
    return ConclusionForm(data, emergency=consultation.form == ConsultForm.EMERGENCY, **kwargs)


def _data(form: ConclusionForm) -> services.ConclusionData:
    data = form.cleaned_data
    return services.ConclusionData(
        findings=data["findings"],
        diagnoses=form.diagnosis_codes(),
        recommendations=data["recommendations"],
        evacuation=data["evacuation"],
        evacuation_destination=data.get("evacuation_destination"),
        follow_up=data.get("follow_up", ""),
    )


@login_required
@require_POST
def conclusion_review(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    """The conclusion as the document that will be signed, with the password (or code) to
    sign it; or, with `edit`, the case page with the form as it was, to change it."""
    consultation, view = _case(request, consultation_uuid)
    form = conclusion_form(consultation, request.POST)
    if request.POST.get("edit"):
        form.fields["findings"].widget.attrs["autofocus"] = True
        context = _detail_context(request, consultation, view, conclusion_form=form)
        return render(request, "consults/detail.html", context)
    if form.is_valid():
        try:
            draft = services.conclusion_draft(
                accessor=Accessor.from_request(request),
                consultation=consultation,
                data=_data(form),
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            user = _user(request)
            sign_form = SignForm(
                initial={"digest": draft_digest(draft)}, asks=reauthentication_asks(user)
            )
            sign_form.fields["secret"].widget.attrs["autofocus"] = True
            return _sign_page(request, consultation, view, form, draft, sign_form)
    return _case_again(request, consultation, view, conclusion_form=form)


def _sign_page(
    request: HttpRequest,
    consultation: Consultation,
    view: Any,
    form: ConclusionForm,
    draft: Conclusion,
    sign_form: SignForm,
    status: int = 200,
) -> HttpResponse:
    context = {
        "c": consultation,
        "rows": to_be_signed(draft, view),
        "conclusion_form": form,
        "sign_form": sign_form,
    }
    return render(request, "consults/sign.html", context, status=status)


def to_be_signed(draft: Conclusion, view: Any) -> list[tuple[str, str, str]]:
    """(key, label, text) of every field the signature will cover, in the reader's language."""
    consultation = draft.consultation
    language = _language()
    patient = selectors.case_patient(consultation, view, timezone.localdate())
    destination = draft.evacuation_destination
    evacuation = str(draft.get_evacuation_display()) + (
        f": {destination.name}" if destination else ""
    )
    version = str(draft.version)
    if draft.version > 1:
        version = _("%(version)s, replaces version %(previous)s") % {
            "version": draft.version,
            "previous": draft.version - 1,
        }
    author = draft.author
    return [
        ("patient", _("Patient"), patient.label),
        (
            "from",
            _("From"),
            f"{consultation.requesting_facility.name} — {consultation.requester}",
        ),
        ("question", _("Question"), consultation.question),
        ("consultant", _("Consultant"), author.get_full_name() or str(author)),
        ("version", _("Version"), version),
        ("findings", _("Findings"), draft.findings),
        (
            "diagnoses",
            _("Diagnosis (ICD-10)"),
            "\n".join(
                f"{entry['code']} — {icd10.label(entry['code'], language)}"
                for entry in draft.diagnoses
            ),
        ),
        ("recommendations", _("Recommendations"), draft.recommendations),
        ("evacuation", _("Transfer or evacuation"), evacuation),
        ("follow_up", _("Follow-up"), draft.follow_up or "—"),
        ("number", _("Document number"), _("given as you sign")),
        ("signed_at", _("Time of signing"), _("the moment you sign")),
    ]


@login_required
@require_POST
def conclude(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    """Sign the reviewed conclusion: the draft must be the one reviewed (same digest) and the
    consultant must prove again who they are; a wrong password counts towards the lockout."""
    consultation, view = _case(request, consultation_uuid)
    user = _user(request)
    accessor = Accessor.from_request(request)
    form = conclusion_form(consultation, request.POST)
    sign_form = SignForm(request.POST, asks=reauthentication_asks(user))
    if not form.is_valid():
        return _case_again(request, consultation, view, conclusion_form=form)
    digest = str(sign_form["digest"].value() or "")
    try:
        draft = services.conclusion_draft(
            accessor=accessor, consultation=consultation, data=_data(form)
        )
    except ValidationError as error:
        errors_to_form(form, error)
        return _case_again(request, consultation, view, conclusion_form=form)
    if not digest or draft_digest(draft) != digest:
        form.add_error(None, _changed(bool(digest)))
        return _case_again(request, consultation, view, conclusion_form=form)
    if sign_form.is_valid():
        try:
            reauthenticate(
                request=request,
                user=user,
                secret=sign_form.cleaned_data["secret"],
                purpose=SIGNING_PURPOSE,
            )
        except AuthenticationFailed as failure:
            sign_form.add_error("secret", failure.message())
        else:
            return _sign(request, consultation, view, form, digest)
    return _sign_page(request, consultation, view, form, draft, sign_form, status=422)


def _changed(reviewed: bool) -> str:
    if not reviewed:
        return _("Review the conclusion before you sign it.")
    return _(
        "The conclusion changed since you reviewed it (an edit, or a colleague's conclusion "
        "signed meanwhile). Review it again before you sign."
    )


def _sign(
    request: HttpRequest, consultation: Consultation, view: Any, form: ConclusionForm, digest: str
) -> HttpResponse:
    try:
        services.conclusion_sign(
            accessor=Accessor.from_request(request),
            consultation=consultation,
            data=_data(form),
            expected_version=_version(form.cleaned_data),
            expected_digest=digest,
        )
    except ValidationError as error:
        if getattr(error, "code", None) == "changed":
            form.add_error(None, _changed(True))
        else:
            errors_to_form(form, error)
        return _case_again(request, consultation, view, conclusion_form=form)
    messages.success(request, _("The conclusion is signed."))
    return redirect("consults:detail", consultation_uuid=consultation.uuid)
