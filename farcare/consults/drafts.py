"""Drafts of the request form kept on the server as the clinician types (HTMX posts what is on
the form two seconds after the last keystroke), and given back when the form is opened again:
a link that drops in web mode loses at most those two seconds, not the request.

A draft is a Consultation in status "draft" keyed by the form's client token
(services.consult_save_draft), so the draft the autosave keeps is the one "Save as draft"
keeps, and the one the requester's list shows. Files are not autosaved: they travel only with
the request itself."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.accounts.models import Role, User
from farcare.audit.services import Accessor
from farcare.clinical.vitals import (
    VITALS,
    VitalKind,
    format_number,
    parse_boolean,
    parse_vitals,
)
from farcare.patients.models import Patient

from . import services
from .forms import RequestForm
from .models import Consultation, Status


def draft_to_restore(user: User, patient: Patient, query: dict[str, str]) -> Consultation | None:
    """The draft the form opens with: the one named (?draft=<uuid>), else this clinician's
    latest draft for this patient; none when a new request is asked for (?new=1)."""
    if query.get("new"):
        return None
    drafts = Consultation.objects.select_related("specialty").filter(
        patient=patient, requester=user, status=Status.DRAFT
    )
    named = query.get("draft")
    if named:
        try:
            return drafts.filter(uuid=named).first()
        except ValidationError:
            return None
    return drafts.order_by("-updated_at").first()


def _typed(key: str, value: str, language: str) -> str:
    """A stored vital as the form's field holds it."""
    spec = VITALS.get(key)
    if spec is None:
        return value
    if spec.kind is VitalKind.BOOLEAN:
        on_oxygen = parse_boolean(value)
        return "" if on_oxygen is None else ("oxygen" if on_oxygen else "air")
    if spec.kind is VitalKind.QUANTITY:
        try:
            return format_number(Decimal(value), language)
        except InvalidOperation:
            return value
    return value


def initial_of(draft: Consultation, language: str) -> dict[str, Any]:
    """The request form's initial values from a draft."""
    initial: dict[str, Any] = {
        "client_token": draft.client_token,
        "specialty": draft.specialty,
        "form": draft.form,
        "mode": draft.mode,
        "request_language": draft.language,
        "question": draft.question,
        "summary": draft.summary,
        "vitals_missing": draft.vitals_missing,
        "vitals_missing_note": draft.vitals_missing_note,
    }
    for vital in draft.vitals.all():
        initial[f"vital_{vital.key}"] = _typed(vital.key, vital.value, language)
    return initial


def stored_vitals(draft: Consultation) -> dict[str, str]:
    return {vital.key: vital.value for vital in draft.vitals.all()}


def _status(request: HttpRequest, message: str, *, saved: bool, status: int = 200) -> HttpResponse:
    return render(
        request,
        "consults/_autosave.html",
        {"message": message, "saved": saved, "at": timezone.now()},
        status=status,
    )


@login_required
@require_POST
def autosave(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    """Keep what is on the request form as its draft. Whatever can be read is kept (a field
    still being typed wrong is left as last saved); nothing is checked as for sending."""
    patient = get_object_or_404(Patient, uuid=patient_uuid)
    user: User = request.user  # type: ignore[assignment]
    if user.role != Role.CLINICIAN:
        raise PermissionDenied(_("Only a requesting clinician asks for a consultation."))
    language = (get_language() or "ru")[:2]
    form = RequestForm(request.POST, language=language, submitting=False)
    form.is_valid()  # fills cleaned_data with every field that could be read
    cleaned = form.cleaned_data
    token = cleaned.get("client_token")
    if token is None:
        return _status(request, _("This form cannot be saved: open it again."), saved=False)
    specialty = cleaned.get("specialty")
    if specialty is None:
        return _status(
            request,
            _("Choose the specialty: from then on what you type is saved as you go."),
            saved=False,
        )
    data = services.RequestData(
        specialty=specialty,
        form=cleaned.get("form") or "",
        mode=cleaned.get("mode") or "deferred",
        language=cleaned.get("request_language") or language,
        question=cleaned.get("question") or "",
        summary=cleaned.get("summary") or "",
        vitals=form.vitals,
        vitals_missing=cleaned.get("vitals_missing") or "",
        vitals_missing_note=cleaned.get("vitals_missing_note") or "",
    )
    consultation = services.consult_save_draft(
        accessor=Accessor.from_request(request), patient=patient, client_token=token, data=data
    )
    if consultation.status != Status.DRAFT:
        return _status(request, _("This request has been sent already."), saved=False)
    return _status(request, _("Draft saved"), saved=True)


def form_url(draft: Consultation) -> str:
    """The request form with this draft on it."""
    return f"{reverse('consults:new', args=[draft.patient.uuid])}?draft={draft.uuid}"


def parsed_vitals(draft: Consultation) -> dict[str, Any]:
    """The draft's vital signs as parse_vitals gives them (for its NEWS2 box)."""
    values, _errors = parse_vitals(stored_vitals(draft), "en")
    return dict(values)
