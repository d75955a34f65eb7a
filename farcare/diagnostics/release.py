"""Releasing a report to the patient: at once when final, unless its tests need a clinician to
explain them first (`catalogue.review_codes()`); then after the review, or after
`FARCARE_RESULTS_RELEASE_HOURS` (72 by default) when nobody reviewed it. Preliminary results
are never released: the patient sees what the laboratory stands by. Once released the patient
is told "your result is ready" (no medical content; `alerts.result_ready`).

Release is per value too (`ResultObservation.released_at`): a value added to a released report,
or a correction of one of its values, is released with the report when the report needs no
review; when it does, the report is held back again (`hold`): not released, not reviewed, so
the reviewer's page asks for a review, while the patient goes on seeing the values released
before (`shown_values`) and is told "your result was updated" once the new ones are released
(after the review, or the same delay)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import QuerySet

from . import alerts
from .catalogue import canonical, review_codes
from .models import DiagnosticReport, ReportStatus, ResultObservation

RELEASABLE = (ReportStatus.FINAL, ReportStatus.CORRECTED, ReportStatus.AMENDED)


def release_delay() -> timedelta:
    return timedelta(hours=float(getattr(settings, "FARCARE_RESULTS_RELEASE_HOURS", 72)))


def needs_review(codes: set[str]) -> bool:
    wanted = review_codes()
    return any(canonical(code) in wanted or code in wanted for code in codes)


def release(report: DiagnosticReport, now: datetime) -> bool:
    """Release the (locked) report, and its values not yet released, if it is releasable and
    something is new to the patient; tell the patient (ready, or updated when they saw values
    of it before)."""
    if report.status not in RELEASABLE:
        return False
    waiting = ResultObservation.objects.filter(report=report, released_at__isnull=True)
    if report.released_at is not None and not waiting.exists():
        return False
    seen_before = ResultObservation.objects.filter(
        report=report, released_at__isnull=False
    ).exists()
    waiting.update(released_at=now)
    if report.released_at is None:
        report.released_at = now
        report.save(update_fields=["released_at"])
    if seen_before:
        alerts.result_updated(report.patient.user)
    else:
        alerts.result_ready(report.patient.user)
    return True


def hold(report: DiagnosticReport) -> None:
    """A released report that needs a review got new values: not released (the new values
    wait) and not reviewed (the review is asked for again) until a clinician looks again or
    the delay passes."""
    report.released_at = None
    report.reviewed_at = None
    report.reviewed_by = None
    report.save(update_fields=["released_at", "reviewed_at", "reviewed_by"])


def shown_among(report: DiagnosticReport, rows: list[ResultObservation]) -> list[ResultObservation]:
    """`shown_values` over the report's rows already loaded (every version of every value)."""
    if report.released_at is not None:
        return [row for row in rows if row.superseded_by_id is None]
    released = {row.pk for row in rows if row.released_at is not None}
    return [row for row in rows if row.pk in released and row.superseded_by_id not in released]


def shown_values(report: DiagnosticReport) -> QuerySet[ResultObservation]:
    """The values the patient sees of the report: all current ones once it is released; while
    it is held, the latest released version of each value (a correction waiting for review
    leaves the earlier value shown; a value added meanwhile is not shown)."""
    if report.released_at is not None:
        return report.observations.filter(superseded_by__isnull=True)
    return report.observations.filter(released_at__isnull=False).exclude(
        superseded_by__released_at__isnull=False
    )


def release_if_due(report: DiagnosticReport, now: datetime) -> bool:
    waiting = report.review_required and report.reviewed_at is None
    if waiting and now < report.issued_at + release_delay():
        return False
    return release(report, now)
