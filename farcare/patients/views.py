from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, decide, facilities_for_registration
from farcare.access.services import authorise
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.selectors import patient_consultations
from farcare.consults.vital_history import vital_history
from farcare.core.ports import station_pages

from . import services
from .forms import ConsentForm, PatientForm, RevokeForm, SearchForm
from .models import Consent, Patient
from .search_text import initial_from_search
from .selectors import patient_search


def _apply_errors(form: BaseForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            for item in errors:
                form.add_error(field if field in form.fields else None, item)
    else:
        for message in error.messages:
            form.add_error(None, message)


@login_required
def search(request: HttpRequest) -> HttpResponse:
    form = SearchForm(request.GET or None)
    results: list[Patient] = []
    query = ""
    if form.is_valid():
        query = form.cleaned_data["q"]
        results = patient_search(user=request.user, query=query)  # type: ignore[arg-type]
        if query:
            audit_record(
                accessor=Accessor.from_request(request),
                action=AuditAction.SEARCH,
                details={"query": query},
                patients=[patient.uuid for patient in results],
            )
    template = (
        "patients/_results.html" if request.headers.get("HX-Request") else "patients/search.html"
    )
    return render(
        request,
        template,
        {
            "form": form,
            "results": results,
            "query": query,
            "may_register": facilities_for_registration(request.user).exists(),  # type: ignore[arg-type]
        },
    )


def _save_patient_form(
    request: HttpRequest, form: PatientForm, save: Callable[[dict[str, Any], bool], Patient]
) -> tuple[Patient | None, bool]:
    """Run a write service on a valid submitted form and put its refusals on the form.
    Returns the saved patient (or None) and whether a likely duplicate awaits confirmation."""
    if request.method != "POST" or not form.is_valid():
        return None, False
    try:
        return save(form.cleaned_data, form.cleaned_data["confirm_duplicate"]), False
    except services.LikelyDuplicate as warning:
        form.add_error(None, warning.messages[0])
        return None, True
    except ValidationError as error:
        _apply_errors(form, error)
        return None, False


@login_required
def register(request: HttpRequest) -> HttpResponse:
    facilities = facilities_for_registration(request.user)  # type: ignore[arg-type]
    if not facilities.exists():
        raise PermissionDenied(_("Your role cannot register patients."))
    facility = getattr(request.user, "facility", None)
    form = PatientForm(
        request.POST or None,
        facilities=facilities,
        initial={
            # The post's own facility and settlement: most of its patients live there.
            "home_facility": facility,
            "home_settlement": facility.settlement if facility is not None else None,
            # What was searched for, when nobody matched: typed once, not twice.
            **initial_from_search(request.GET.get("q", "")),
        },
    )
    patient, likely_duplicate = _save_patient_form(
        request,
        form,
        lambda data, confirmed: services.patient_register(
            accessor=Accessor.from_request(request), data=data, confirm_duplicate=confirmed
        ),
    )
    if patient is not None:
        messages.success(request, _("The patient is registered."))
        return redirect("patients:detail", patient_uuid=patient.uuid)
    return render(
        request,
        "patients/register.html",
        {"form": form, "likely_duplicate": likely_duplicate},
    )


def _patient(patient_uuid: str) -> Patient:
    return get_object_or_404(
        Patient.objects.select_related("home_facility", "home_settlement"), uuid=patient_uuid
    )


@login_required
def detail(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    patient = _patient(patient_uuid)
    decision = authorise(
        accessor=Accessor.from_request(request), patient=patient, action=Action.VIEW
    )
    user: User = request.user  # type: ignore[assignment]
    return render(
        request,
        "patients/detail.html",
        {
            "patient": patient,
            "decision": decision,
            "consents": patient.consents.select_related("recorded_by", "revoked_by"),
            "may_update": bool(decide(user, Action.UPDATE, patient)),
            "may_manage_consent": bool(decide(user, Action.MANAGE_CONSENT, patient)),
            "may_revoke": bool(decide(user, Action.REVOKE_CONSENT, patient)),
            "may_see_access_log": bool(decide(user, Action.VIEW_ACCESS_LOG, patient)),
            "consent_form": ConsentForm(),
            "consultations": patient_consultations(patient.pk),
            "conflicts": station_pages().patient_conflicts(patient),
            "history": vital_history(
                patient_id=patient.pk,
                language=get_language() or "ru",
                zone=timezone.get_current_timezone(),
            ),
        },
    )


@login_required
def edit(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    patient = _patient(patient_uuid)
    accessor = Accessor.from_request(request)
    # The edit page shows the record, so opening or re-showing it is an audited read.
    authorise(accessor=accessor, patient=patient, action=Action.UPDATE)
    form = PatientForm(
        request.POST or None,
        instance=Patient.objects.get(pk=patient.pk),  # a copy: the form may not touch `patient`
        facilities=facilities_for_registration(request.user),  # type: ignore[arg-type]
        initial={
            "home_facility": patient.home_facility.uuid,
            "home_settlement": patient.home_settlement.uuid,
        },
    )
    saved, likely_duplicate = _save_patient_form(
        request,
        form,
        lambda data, confirmed: services.patient_update(
            accessor=accessor, patient=patient, data=data, confirm_duplicate=confirmed
        ),
    )
    if saved is not None:
        messages.success(request, _("The record is saved."))
        return redirect("patients:detail", patient_uuid=patient.uuid)
    return render(
        request,
        "patients/edit.html",
        {"form": form, "patient": patient, "likely_duplicate": likely_duplicate},
    )


@login_required
@require_POST
def consent_add(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    patient = _patient(patient_uuid)
    form = ConsentForm(request.POST)
    if form.is_valid():
        try:
            services.consent_record(
                accessor=Accessor.from_request(request),
                patient=patient,
                kind=form.cleaned_data["kind"],
                scope=form.cleaned_data["scope"],
            )
        except ValidationError as error:
            for message in error.messages:
                messages.error(request, message)
        else:
            messages.success(request, _("The consent is recorded."))
    else:
        for field_errors in form.errors.values():
            for field_error in field_errors:
                messages.error(request, str(field_error))
    return redirect("patients:detail", patient_uuid=patient.uuid)


@login_required
@require_POST
def consent_revoke(request: HttpRequest, consent_uuid: str) -> HttpResponse:
    consent = get_object_or_404(Consent.objects.select_related("patient"), uuid=consent_uuid)
    form = RevokeForm(request.POST)
    form.is_valid()
    try:
        services.consent_revoke(
            accessor=Accessor.from_request(request),
            consent=consent,
            reason=form.cleaned_data.get("reason", ""),
        )
    except ValidationError as error:
        for message in error.messages:
            messages.error(request, message)
    else:
        messages.success(request, _("The consent is revoked."))
    return redirect("patients:detail", patient_uuid=consent.patient.uuid)
