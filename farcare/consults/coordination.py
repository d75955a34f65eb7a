"""The coordinator's pages of a request: handing it to another consultant, chosen from a list of
those who may take it (no username to know or type)."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import consult_sides, decide_consult
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.network.models import LANGUAGE_CHOICES, Specialty

from . import selectors, services
from .forms import ReassignForm
from .models import Consultation
from .reassignment import ChoiceFilters, reassign_choices
from .workflow import Side

ANY = "any"


def _coordinated_case(request: HttpRequest, consultation_uuid: str) -> Consultation:
    """The request, if the user coordinates its region; otherwise a 403, audited."""
    consultation = get_object_or_404(
        Consultation.objects.select_related(
            "patient", "specialty", "requesting_facility", "routed_facility"
        ),
        uuid=consultation_uuid,
    )
    accessor = Accessor.from_request(request)
    if Side.COORDINATOR not in consult_sides(accessor.user, consultation):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            outcome="denied",
            details={"wanted": "reassign"},
        )
        raise PermissionDenied(_("Only the coordinator of the request's region reassigns it."))
    return consultation


def _filters(
    request: HttpRequest, consultation: Consultation
) -> tuple[ChoiceFilters, dict[str, str]]:
    """The list's filters from the query: by default the request's own specialty and language,
    and everyone whether at work or not."""
    wanted_specialty = request.GET.get("specialty", consultation.specialty.code)
    specialty = (
        None
        if wanted_specialty == ANY
        else Specialty.objects.filter(code=wanted_specialty).first() or consultation.specialty
    )
    language = request.GET.get("language", consultation.language)
    if language not in {code for code, _name in LANGUAGE_CHOICES}:
        language = ""
    on_duty = request.GET.get("on_duty") == "1"
    shown = {
        "specialty": specialty.code if specialty else ANY,
        "language": language or ANY,
        "on_duty": "1" if on_duty else "",
    }
    return ChoiceFilters(specialty=specialty, language=language, on_duty_only=on_duty), shown


def _page(
    request: HttpRequest, consultation: Consultation, form: ReassignForm, status: int = 200
) -> HttpResponse:
    filters, shown = _filters(request, consultation)
    view = decide_consult(request.user, consultation)  # type: ignore[arg-type]
    choices = reassign_choices(consultation, filters, timezone.now())
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"page": "reassign", "candidates": len(choices)},
    )
    context: dict[str, Any] = {
        "c": consultation,
        "patient": selectors.case_patient(consultation, view, timezone.localdate()),
        "facts": selectors.case_facts(consultation),
        "choices": choices,
        "form": form,
        "filters": shown,
        "specialties": Specialty.objects.all(),
        "languages": LANGUAGE_CHOICES,
        "any": ANY,
    }
    return render(request, "consults/reassign.html", context, status=status)


@login_required
def reassign(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    """GET: the consultants who may take the request, filtered; POST: hand it to the one picked
    (the service checks again that they may)."""
    consultation = _coordinated_case(request, consultation_uuid)
    if request.method != "POST":
        return _page(request, consultation, ReassignForm())
    form = ReassignForm(request.POST)
    if form.is_valid():
        consultant = User.objects.filter(uuid=form.cleaned_data["consultant"]).first()
        if consultant is None:
            form.add_error("consultant", _("Choose a consultant from the list."))
        else:
            try:
                services.consult_reassign(
                    accessor=Accessor.from_request(request),
                    consultation=consultation,
                    consultant=consultant,
                    reason=form.cleaned_data["reason"],
                )
            except ValidationError as error:
                # A refusal names the field it is about: the pick, or the reason's text.
                found = error.message_dict if hasattr(error, "error_dict") else {}
                for field, problems in (found or {"consultant": error.messages}).items():
                    for problem in problems:
                        form.add_error(field if field in form.fields else "consultant", problem)
            else:
                messages.success(
                    request, _("%(name)s now holds the request.") % {"name": consultant}
                )
                return redirect("consults:detail", consultation_uuid=consultation.uuid)
    consultation.refresh_from_db()
    return _page(request, consultation, form, status=422)
