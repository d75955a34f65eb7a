"""A radiologist's signed report of a study as PDF (the presentedForm of its FHIR
DiagnosticReport): the study, findings, impression, ICD-10 codes, who signed it and when, and
whether the stored report is still what was signed (report_document.report_verification).

Set as the laboratory report is (diagnostics/report_pdf.py: DejaVu Sans for Cyrillic and Latin,
Hangul in a CID font), and invariant (no creation time or random id inside), so the same report
gives the same bytes and a Binary made of it keeps its version."""

from __future__ import annotations

import io
import re
from functools import cache
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from farcare.consults.pdf import FONTS, HANGUL, KOREAN_FONT
from farcare.core.timezones import local_moment
from farcare.diagnostics.models import DiagnosticReport

from .models import ImagingStudy
from .report_document import report_verification

__all__ = ["imaging_report_pdf"]


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))


def _markup(text: str) -> str:
    escaped = escape(text)
    return re.sub(HANGUL, rf'<font name="{KOREAN_FONT}">\1</font>', escaped).replace("\n", "<br/>")


def imaging_report_pdf(study: ImagingStudy, report: DiagnosticReport, language: str) -> bytes:
    """The signed report in `language`, times in the active zone."""
    _register_fonts()
    with translation.override(language):
        return _build(study, report, language)


def _build(study: ImagingStudy, report: DiagnosticReport, language: str) -> bytes:
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor="#4a5563")
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=14, leading=18)
    strong = ParagraphStyle("strong", parent=body, fontName="DejaVuSans-Bold")
    what = " · ".join(part for part in (study.modality, study.body_site, study.description) if part)
    made = study.started_at or study.created_at
    title = _("Imaging report")
    story: list[Flowable] = [
        Paragraph(_markup(" · ".join(p for p in ("FarCare", study.facility.name) if p)), small),
        Spacer(1, 2 * mm),
        Paragraph(_markup(title), head),
        Paragraph(_markup(report.patient.full_name), strong),
        Paragraph(
            _markup(_("Study: %(what)s, %(when)s") % {"what": what, "when": local_moment(made)}),
            small,
        ),
        Spacer(1, 4 * mm),
    ]
    for label, text in ((_("Findings"), report.findings), (_("Impression"), report.conclusion)):
        if text.strip():
            story += [Paragraph(_markup(label), strong), Paragraph(_markup(text), body)]
            story.append(Spacer(1, 3 * mm))
    if report.conclusion_codes:
        codes = ", ".join(str(code) for code in report.conclusion_codes)
        story.append(
            Paragraph(_markup(_("Diagnoses (ICD-10): %(codes)s") % {"codes": codes}), body)
        )
    signature = report.signature
    if signature is not None:
        verified = report_verification(study)
        story += [
            Spacer(1, 6 * mm),
            Paragraph(
                _markup(
                    _("Signed by %(name)s, %(when)s.")
                    % {
                        "name": signature.signer.get_full_name(),
                        "when": local_moment(signature.signed_at),
                    }
                ),
                small,
            ),
            Paragraph(
                _markup(
                    _("The signature verifies: this is the report as signed.")
                    if verified is not None and verified.valid
                    else _("The signature does not verify: the report changed after signing.")
                ),
                small,
            ),
        ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=title,
        author="FarCare",
        lang=language,
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()
