"""A DiagnosticReport's `presentedForm`: the report as a person reads it, a PDF served as the
FHIR `Binary` of the same id as the report (`Binary/<report id>`), so a client fetches it with
the same bearer token and the same access policy as the report (a part of the Binary type
beside the consultation files of documents.py).

- a laboratory report, once released to its person: the person's result sheet
  (`diagnostics.report_pdf`, the page's PDF: each released value, its usual range and what it
  means);
- an imaging report, once the radiologist signed it: the signed report
  (`imaging.report_pdf`, with who signed it and whether it still verifies).

The PDF is in the deployment's language (LANGUAGE_CODE) with times in the zone of the facility
that performed the study, and made invariant (no creation time inside): one report gives the
same bytes whoever reads it, so its Binary keeps one version until the report changes. A
patient's own token reads it only once the report is released; before, it does not exist (404)."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from django.conf import settings
from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q, QuerySet
from django.utils import timezone, translation

from farcare.diagnostics.models import Category, DiagnosticReport, ReportStatus
from farcare.diagnostics.report_pdf import report_pdf
from farcare.diagnostics.result_sheet import is_released, result_sheet
from farcare.imaging.report_pdf import imaging_report_pdf
from farcare.patients.models import Patient

from ...auth import Principal
from ...registry import Handler, register_part
from .common import when
from .report import DiagnosticReportHandler, released_only

PDF = "application/pdf"
WITHOUT_FORM = (ReportStatus.CANCELLED, ReportStatus.ENTERED_IN_ERROR)


def _study(report: DiagnosticReport) -> Any:
    try:
        return report.imaging_study
    except ObjectDoesNotExist:
        return None


def has_form(report: DiagnosticReport) -> bool:
    if report.status in WITHOUT_FORM:
        return False
    if report.category == Category.IMAGING:
        return report.signature_id is not None and _study(report) is not None
    return is_released(report)


def presented_form(report: DiagnosticReport) -> list[dict[str, Any]]:
    """The Attachment naming the report's PDF, or nothing while it has none."""
    if not has_form(report):
        return []
    return [
        {
            "contentType": PDF,
            "language": settings.LANGUAGE_CODE,
            "url": f"Binary/{report.uuid}",
            "title": report.display or report.code,
            "creation": when(report.issued_at),
        }
    ]


@contextmanager
def _invariant() -> Iterator[None]:
    """reportlab without the creation time and random id in the file (the laboratory sheet's
    builder takes no such argument)."""
    from reportlab import rl_config

    before = rl_config.invariant
    rl_config.invariant = 1
    try:
        yield
    finally:
        rl_config.invariant = before


def report_pdf_bytes(report: DiagnosticReport) -> bytes:
    language = settings.LANGUAGE_CODE
    facility = report.performer or report.patient.home_facility
    zone = facility.time_zone if facility is not None else settings.TIME_ZONE
    with timezone.override(zone), translation.override(language):
        study = _study(report)
        if report.category == Category.IMAGING and study is not None:
            return imaging_report_pdf(study, report, language)
        with _invariant():
            return report_pdf(result_sheet(report, language))


@register_part
class ReportFormHandler(Handler):
    """Binary/<report id>: the PDF of a DiagnosticReport (read only; versions written on read,
    as the consultation files' Binary)."""

    resource_type = "Binary"
    model = DiagnosticReport
    interactions = frozenset({"read", "vread"})

    def all_objects(self) -> QuerySet[DiagnosticReport]:
        return (
            DiagnosticReport.objects.select_related(
                "patient__home_facility", "performer", "signature__signer"
            )
            .exclude(status__in=WITHOUT_FORM)
            .exclude(Q(category=Category.IMAGING) & Q(signature__isnull=True))
        )

    def find(self, logical_id: str) -> DiagnosticReport | None:
        found = self.all_objects().filter(uuid=logical_id).first()
        return found if found is not None and has_form(found) else None

    def queryset(self, principal: Principal) -> QuerySet[DiagnosticReport]:
        return self.all_objects().filter(
            pk__in=DiagnosticReportHandler().queryset(principal).values("pk")
        )

    def hidden(self, principal: Principal, obj: DiagnosticReport) -> bool:
        # As the report itself: to the patient an unreleased report's form does not exist.
        return released_only(principal)

    def patient_of(self, obj: DiagnosticReport) -> Patient:
        return obj.patient

    def versioned_objects(self, instance: Model) -> list[Any]:
        return []

    def to_fhir(self, obj: DiagnosticReport) -> dict[str, Any]:
        return {
            "resourceType": "Binary",
            "id": str(obj.uuid),
            "contentType": PDF,
            "securityContext": {"reference": f"DiagnosticReport/{obj.uuid}"},
            "data": base64.b64encode(report_pdf_bytes(obj)).decode(),
        }
