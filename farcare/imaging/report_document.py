"""What a radiologist's signature covers, and checking it (a leaf: models and signatures only,
so that a page, FHIR or a PDF can verify a report without the writes)."""

from __future__ import annotations

from typing import Any

from farcare.diagnostics.models import DiagnosticReport
from farcare.signatures.services import VerificationResult, document_digest, verify_document

from .models import ImagingStudy

__all__ = [
    "DOCUMENT_TYPE",
    "SET_AT_SIGNING",
    "draft_digest",
    "report_document",
    "report_verification",
]

DOCUMENT_TYPE = "imaging_report"
SET_AT_SIGNING = frozenset({"issued_at"})


def report_document(study: ImagingStudy, report: DiagnosticReport) -> dict[str, Any]:
    """Every clinical field of the report, the study it reads and whom it is about."""
    return {
        "study": study.study_uid,
        "study_id": str(study.uuid),
        "patient": str(report.patient.uuid),
        "modality": study.modality,
        "body_site": study.body_site,
        "instances": study.instance_count,
        "author": str(report.author.uuid) if report.author else "",
        "performer": str(report.performer.uuid) if report.performer else "",
        "code": report.code,
        "status": report.status,
        "findings": report.findings,
        "impression": report.conclusion,
        "codes": list(report.conclusion_codes),
        "issued_at": report.issued_at,
    }


def draft_digest(study: ImagingStudy, report: DiagnosticReport) -> str:
    """The digest of what the reader reviewed: the document less the moment of signing."""
    document = report_document(study, report)
    return document_digest({k: v for k, v in document.items() if k not in SET_AT_SIGNING})


def report_verification(study: ImagingStudy) -> VerificationResult | None:
    """Whether the study's report, as stored now, is what its author signed; None unreported."""
    report = study.report
    if report is None or report.signature is None:
        return None
    return verify_document(signature=report.signature, document=report_document(study, report))
