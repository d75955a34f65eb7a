"""A person's own results (issue 13, point 5): the list of their reports, each report with its
values in plain words and a trend chart per test, and the report as PDF, in their language.

Only the person's own record (the access policy: a patient reaches their own record only),
every page audited like any read of patient data, a refusal audited too. A report that waits
for a clinician's review (or the release delay, `watch_diagnostics`) is listed as being
reviewed, with no value: not in the list, not in a trend, not in a PDF. Tests ordered and still
waiting for a result are listed first: what was ordered, when, and where it is done.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import Prefetch, Q
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone, translation
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.clinical.trends import Point, Scale, trend_svg
from farcare.core.values import reader_language
from farcare.patients.models import Patient

from .interpretation import Range
from .models import (
    DiagnosticOrder,
    DiagnosticReport,
    Interpretation,
    OrderStatus,
    ReportStatus,
    ResultObservation,
)
from .plain_words import (
    name_of,
    unit_text,
)
from .release import shown_among
from .report_pdf import report_pdf
from .result_sheet import (
    HIDDEN_VALUES,
    _age,
    _reference,
    is_released,
    result_sheet,
)

PAGE = "my_results"
HIDDEN_REPORTS = (ReportStatus.CANCELLED, ReportStatus.ENTERED_IN_ERROR)
OUTSIDE = (
    Interpretation.LOW,
    Interpretation.HIGH,
    Interpretation.CRITICAL_LOW,
    Interpretation.CRITICAL_HIGH,
    Interpretation.ABNORMAL,
    Interpretation.CRITICAL_ABNORMAL,
)
CRITICAL = (
    Interpretation.CRITICAL_LOW,
    Interpretation.CRITICAL_HIGH,
    Interpretation.CRITICAL_ABNORMAL,
)
# Readings a trend chart draws at most (clinical.trends draws the latest 24).
TREND_READINGS = 24


def _plain(value: Decimal) -> Decimal:
    """4.8000 → 4.8 and 100.0000 → 100 (never 1E+2)."""
    return value.quantize(Decimal(1)) if value == value.to_integral_value() else value.normalize()


def _patient_role_only(request: HttpRequest, patient: Patient, report: Any = None) -> None:
    """These pages are the person's own; staff read results on the diagnostics pages. A try is
    written to the trail like any refused record."""
    user: User = request.user  # type: ignore[assignment]
    if user.role == Role.PATIENT:
        return
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.DENIED,
        patient_uuid=patient.uuid,
        record=report or patient,
        outcome="denied",
        details={"wanted": str(Action.VIEW), "page": PAGE},
    )
    raise PermissionDenied(_("These pages show a person their own results."))


def _language() -> str:
    return reader_language(translation.get_language())


# --- the list ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportRow:
    uuid: str
    title: str
    taken: datetime
    released: bool
    outside: int  # values outside the usual range (released reports only)
    critical: bool


@dataclass(frozen=True)
class WaitingRow:
    """An order with tests that have no result yet: no value, only what, when and where."""

    uuid: str
    tests: tuple[str, ...]
    ordered: datetime
    place: str


WAITING_STATUSES = (OrderStatus.ACTIVE, OrderStatus.ON_HOLD)


def waiting_orders(patient: Patient, language: str) -> list[WaitingRow]:
    """The person's orders still waiting for a result, newest first: the tests of each order
    that no report (of any status) answers yet."""
    orders = (
        DiagnosticOrder.objects.filter(patient=patient, status__in=WAITING_STATUSES)
        .select_related("performer")
        .prefetch_related("tests", "reports")
        .order_by("-created_at", "-pk")
    )
    rows = []
    for order in orders:
        answered = {report.code for report in order.reports.all()}
        tests = tuple(
            name_of(test.code, language, test.display)
            for test in order.tests.all()
            if test.code not in answered
        )
        if tests:
            rows.append(
                WaitingRow(
                    uuid=str(order.uuid),
                    tests=tests,
                    ordered=order.placed_at or order.created_at,
                    place=order.performer.name if order.performer else "",
                )
            )
    return rows


@login_required
def results(request: HttpRequest) -> HttpResponse:
    """My results: every report, newest first; one waiting for review without its values."""
    user: User = request.user  # type: ignore[assignment]
    if user.role != Role.PATIENT:
        raise PermissionDenied(_("These pages show a person their own results."))
    patient = Patient.objects.filter(user=user).first()
    if patient is None:
        return render(request, "diagnostics/patient/results.html", {"patient": None})
    authorise(
        accessor=Accessor.from_request(request),
        patient=patient,
        action=Action.VIEW,
        details={"page": PAGE},
    )
    reports = (
        DiagnosticReport.objects.filter(patient=patient)
        .exclude(status__in=HIDDEN_REPORTS)
        .prefetch_related(Prefetch("observations", to_attr="versions"))
        .order_by("-issued_at", "-pk")
    )
    language = _language()
    rows = []
    for report in reports:
        versions: list[ResultObservation] = getattr(report, "versions", [])
        shown = [
            value for value in shown_among(report, versions) if value.status not in HIDDEN_VALUES
        ]
        released = report.released_at is not None or any(
            value.released_at is not None for value in versions
        )
        flags = [value.interpretation for value in shown] if released else []
        rows.append(
            ReportRow(
                uuid=str(report.uuid),
                title=name_of(report.code, language, report.display),
                taken=report.effective_at or report.issued_at,
                released=released,
                outside=sum(1 for flag in flags if flag in OUTSIDE),
                critical=any(flag in CRITICAL for flag in flags),
            )
        )
    return render(
        request,
        "diagnostics/patient/results.html",
        {"patient": patient, "rows": rows, "waiting": waiting_orders(patient, language)},
    )


# --- one report -------------------------------------------------------------------------------


def _open(
    request: HttpRequest, report_uuid: str, audit_action: str, **details: Any
) -> DiagnosticReport:
    report = get_object_or_404(
        DiagnosticReport.objects.select_related("patient", "performer").exclude(
            status__in=HIDDEN_REPORTS
        ),
        uuid=report_uuid,
    )
    _patient_role_only(request, report.patient, report)
    # Someone else's report: refused by the policy, audited, 403.
    authorise(
        accessor=Accessor.from_request(request),
        patient=report.patient,
        action=Action.VIEW,
        audit_action=audit_action,
        record=report,
        details={"page": PAGE, **details},
    )
    return report


@dataclass(frozen=True)
class Trend:
    code: str
    name: str
    svg: SafeString


def _scale(reference: Range, values: list[Decimal]) -> Scale | None:
    """The shaded band is the usual range; a one-sided range is closed by zero or the values."""
    low = reference.low if reference.low is not None else min(Decimal(0), *values)
    high = reference.high if reference.high is not None else max(low * 2, *values)
    if high <= low:
        return None
    margin = (high - low) / 2
    floor = max(low - margin, Decimal(0)) if low >= 0 else low - margin
    return Scale(low, high, floor, high + margin, reference_band=True)


def trends(patient: Patient, codes: list[str], language: str, zone: tzinfo) -> list[Trend]:
    """A chart per test of `codes` over the person's released reports (two readings at least);
    a value waiting for review is never drawn."""
    history = (
        ResultObservation.objects.filter(
            patient=patient,
            code__in=codes,
            value_number__isnull=False,
        )
        .filter(
            # As `release.shown_values`, over every report: the current values of released
            # reports, and of a held report the values released before.
            Q(report__released_at__isnull=False, superseded_by__isnull=True)
            | (
                Q(report__released_at__isnull=True, released_at__isnull=False)
                & ~Q(superseded_by__released_at__isnull=False)
            )
        )
        .exclude(status__in=HIDDEN_VALUES)
        .exclude(report__status__in=HIDDEN_REPORTS)
        .order_by("-effective_at")
    )
    series: dict[str, list[ResultObservation]] = defaultdict(list)
    for observation in history:
        if len(series[observation.code]) < TREND_READINGS:
            series[observation.code].append(observation)
    charts = []
    for code in codes:
        readings = series.get(code, [])
        if len(readings) < 2:
            continue
        latest = readings[0]
        reference = _reference(latest, patient, _age(patient, latest.effective_at))
        values = [_plain(r.value_number) for r in readings if r.value_number is not None]
        scale = _scale(reference, values) if reference is not None else None
        if scale is None:
            continue
        name = name_of(code, language, latest.display)
        with translation.override(language):
            svg = trend_svg(
                points=[Point(r.effective_at, v) for r, v in zip(readings, values, strict=True)],
                scale=scale,
                title=name,
                unit=unit_text(latest.unit, language),
                language=language,
                zone=zone,
                chart_id=f"trend-{code}",
            )
        # trend_svg escapes every text it draws.
        charts.append(Trend(code, name, mark_safe(svg)))  # noqa: S308
    return charts


@login_required
def report_page(request: HttpRequest, report_uuid: str) -> HttpResponse:
    report = _open(request, report_uuid, AuditAction.VIEW)
    language = _language()
    context: dict[str, Any] = {
        "report": report,
        "title": name_of(report.code, language, report.display),
        "released": is_released(report),
    }
    if context["released"]:
        sheet = result_sheet(report, language)
        codes = list(dict.fromkeys(line.code for line in sheet.lines))
        context["sheet"] = sheet
        context["trends"] = trends(report.patient, codes, language, timezone.get_current_timezone())
    return render(request, "diagnostics/patient/report.html", context)


@login_required
def report_pdf_page(request: HttpRequest, report_uuid: str) -> HttpResponse:
    report = _open(request, report_uuid, AuditAction.EXPORT, format="pdf")
    if not is_released(report):
        raise Http404
    language = _language()
    response = HttpResponse(
        report_pdf(result_sheet(report, language)), content_type="application/pdf"
    )
    response["Content-Disposition"] = f'inline; filename="result-{report.uuid.hex[:8]}.pdf"'
    return response
