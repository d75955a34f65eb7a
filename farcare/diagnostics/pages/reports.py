"""A report as the orderer reads it: each value with its unit, the usual range, what it means
(L, H, LL, HH in words of the reader's language), and every earlier version of a corrected
value; "reviewed" for tests a clinician explains before the patient sees them. And a patient's
results and orders, from the patient's page."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.patients.models import Patient

from .. import catalogue, selectors
from ..models import (
    Category,
    DiagnosticOrder,
    DiagnosticReport,
    Interpretation,
    ResultObservation,
)
from ..services.results import report_review
from . import words
from .common import (
    PERFORMING_ROLES,
    errors_to_form,
    language,
    load_report,
    refuse,
    staff_only,
    user_of,
)
from .forms import ReviewForm
from .rows import CRITICAL, flag_of, order_rows, prefetched

INTERPRETATION_WORDS = dict(Interpretation.choices)


@dataclass(frozen=True)
class Value:
    obs: ResultObservation
    name: str
    unit: str
    value: str
    reference: str
    meaning: str
    flag: str
    history: list[ResultObservation]


def _number(obs: ResultObservation) -> str:
    from farcare.core.values import number

    if obs.value_number is not None:
        return number(obs.value_number)
    return obs.value_text or "—"


def _reference(obs: ResultObservation) -> str:
    from farcare.core.values import number

    if obs.reference_low is not None and obs.reference_high is not None:
        return f"{number(obs.reference_low)}–{number(obs.reference_high)}"
    if obs.reference_high is not None:
        return f"< {number(obs.reference_high)}"
    if obs.reference_low is not None:
        return f"> {number(obs.reference_low)}"
    return obs.reference_text


def values_of(report: DiagnosticReport, lang: str) -> list[Value]:
    observations = list(report.observations.order_by("sequence", "created_at"))
    current = [o for o in observations if o.superseded_by_id is None]
    out = []
    for obs in current:
        earlier = []
        link = {o.superseded_by_id: o for o in observations if o.superseded_by_id}
        step = link.get(obs.pk)
        while step is not None:
            earlier.append(step)
            step = link.get(step.pk)
        out.append(
            Value(
                obs=obs,
                name=catalogue.label(obs.code, lang) if catalogue.entry(obs.code) else obs.display,
                unit=words.unit(obs.unit, lang),
                value=_number(obs),
                reference=_reference(obs),
                meaning=str(INTERPRETATION_WORDS.get(obs.interpretation, "")),
                flag=flag_of([obs.interpretation]),
                history=earlier,
            )
        )
    return out


def _imaging_study(user: Any, report: DiagnosticReport) -> Any:
    """The study a radiologist's report is of, when this user may open it in the viewer."""
    if report.category != Category.IMAGING:
        return None
    from farcare.imaging.access import decide_study
    from farcare.imaging.models import ImagingStudy

    study = ImagingStudy.objects.select_related("patient").filter(report=report).first()
    return study if study is not None and decide_study(user, study).allowed else None


def _report_context(request: HttpRequest, report: DiagnosticReport, **forms: Any) -> dict[str, Any]:
    lang = language()
    user = user_of(request)
    values = values_of(report, lang)
    return {
        "report": report,
        "patient": report.patient,
        "order": report.order,
        "values": values,
        "name": catalogue.label(report.code, lang)
        if catalogue.entry(report.code)
        else report.display,
        "flag": flag_of(v.obs.interpretation for v in values),
        "critical": any(v.obs.interpretation in CRITICAL for v in values),
        "may_review": (
            report.review_required
            and report.reviewed_at is None
            and user.role in (Role.CLINICIAN, Role.CONSULTANT, Role.COORDINATOR)
        ),
        "review_form": forms.get("review_form") or ReviewForm(initial={"version": report.version}),
        "imaging_study": _imaging_study(user, report),
        "alerts": list(
            report.observations.filter(critical_alerts__isnull=False)
            .values_list("critical_alerts__uuid", "critical_alerts__status")
            .distinct()
        ),
    }


@login_required
def report_detail(request: HttpRequest, report_uuid: str) -> HttpResponse:
    report = load_report(request, report_uuid)
    return render(request, "diagnostics/report.html", _report_context(request, report))


@login_required
@require_POST
def review(request: HttpRequest, report_uuid: str) -> HttpResponse:
    report = load_report(request, report_uuid)
    form = ReviewForm(request.POST)
    if form.is_valid():
        try:
            report_review(
                accessor=Accessor.from_request(request),
                report=report,
                version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, _("Marked as reviewed: the patient can see the result now."))
            return redirect("diagnostics:report", report_uuid=report.uuid)
    else:
        form.add_error(None, _("The page was out of date: look at the report again."))
    report.refresh_from_db()
    return render(
        request,
        "diagnostics/report.html",
        _report_context(request, report, review_form=form),
        status=422,
    )


@login_required
def patient_results(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    """A patient's orders and reports, from the patient's page."""
    staff_only(request)
    patient = get_object_or_404(Patient, uuid=patient_uuid)
    user = user_of(request)
    if user.role in PERFORMING_ROLES:
        # Laboratory and radiology staff work from their worklists, not a patient's history.
        refuse(
            request,
            record=patient,
            patient_uuid=patient.uuid,
            reason=_("A patient's results are for the clinicians caring for them."),
        )
    authorise(
        accessor=Accessor.from_request(request),
        patient=patient,
        action=Action.VIEW,
        details={"page": "diagnostic results"},
    )
    reports = list(selectors.reports_for_patient(user, patient))
    orders = prefetched(DiagnosticOrder.objects.filter(patient=patient))
    lang = language()
    return render(
        request,
        "diagnostics/patient_results.html",
        {
            "patient": patient,
            "rows": order_rows(orders, timezone.localdate()),
            "reports": [
                {
                    "r": r,
                    "name": catalogue.label(r.code, lang) if catalogue.entry(r.code) else r.display,
                    "flag": flag_of(
                        o.interpretation for o in r.observations.all() if o.superseded_by_id is None
                    ),
                }
                for r in reports
            ],
            "may_order": user.role in (Role.CLINICIAN, Role.CONSULTANT),
        },
    )
