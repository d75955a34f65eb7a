"""Releasing a report to the patient: at once when final, unless its tests need a clinician to
explain them first (`catalogue.review_codes()`); then after the review, or after
`FARCARE_RESULTS_RELEASE_HOURS` (72 by default) when nobody reviewed it. Preliminary results
are never released: the patient sees what the laboratory stands by. Once released the patient
is told "your result is ready" (no medical content; `alerts.result_ready`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings

from . import alerts
from .catalogue import canonical, review_codes
from .models import DiagnosticReport, ReportStatus

RELEASABLE = (ReportStatus.FINAL, ReportStatus.CORRECTED, ReportStatus.AMENDED)


def release_delay() -> timedelta:
    return timedelta(hours=float(getattr(settings, "FARCARE_RESULTS_RELEASE_HOURS", 72)))


def needs_review(codes: set[str]) -> bool:
    wanted = review_codes()
    return any(canonical(code) in wanted or code in wanted for code in codes)


def release(report: DiagnosticReport, now: datetime) -> bool:
    """Release the (locked) report if it is releasable and not yet released; tell the patient."""
    if report.released_at is not None or report.status not in RELEASABLE:
        return False
    report.released_at = now
    report.save(update_fields=["released_at"])
    alerts.result_ready(report.patient.user)
    return True


def release_if_due(report: DiagnosticReport, now: datetime) -> bool:
    waiting = report.review_required and report.reviewed_at is None
    if waiting and now < report.issued_at + release_delay():
        return False
    return release(report, now)
