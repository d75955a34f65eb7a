"""The certificate as PDF in Russian, Korean or English: the learner's name, the programme, the
hours, the date of issue, the verification code, the address of the public check and a QR code
of it (drawn as vectors: sharp when printed, no image library).

Fonts as in the house's other PDFs (farcare/consults/pdf.py): DejaVu Sans for Cyrillic and
Latin, shipped with the project; Hangul in a CID font every PDF reader supplies."""

from __future__ import annotations

import io
from functools import cache
from xml.sax.saxutils import escape

import segno
from django.utils import formats, translation
from django.utils.translation import gettext as _
from reportlab.graphics.shapes import Drawing, Rect
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer

from farcare.consults.pdf import FONTS, HANGUL, KOREAN_FONT

from .codes import grouped
from .models import Certificate


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))


def _markup(text: str) -> str:
    """Escape the text and set Hangul runs in the Korean font."""
    parts = HANGUL.split(text or "")
    return "".join(
        f'<font name="{KOREAN_FONT}">{escape(part)}</font>' if index % 2 else escape(part)
        for index, part in enumerate(parts)
    )


def _qr(url: str, size: float) -> Drawing:
    matrix = [list(row) for row in segno.make(url, error="m").matrix]
    modules = len(matrix)
    cell = size / (modules + 8)
    drawing = Drawing(size, size)
    drawing.hAlign = "CENTER"
    for y, row in enumerate(matrix):
        for x, dark in enumerate(row):
            if dark:
                drawing.add(
                    Rect(
                        (x + 4) * cell,
                        size - (y + 5) * cell,
                        cell,
                        cell,
                        fillColor="#000000",
                        strokeColor=None,
                    )
                )
    return drawing


def certificate_pdf(certificate: Certificate, *, language: str, verify_url: str) -> bytes:
    """`verify_url`: the public page of this certificate's code, as a full address."""
    _register_fonts()
    with translation.override(language):
        return _build(certificate, language, verify_url)


def _build(certificate: Certificate, language: str, verify_url: str) -> bytes:
    body = ParagraphStyle(
        "body", fontName="DejaVuSans", fontSize=12, leading=16, alignment=TA_CENTER
    )
    small = ParagraphStyle("small", parent=body, fontSize=9.5, leading=13, textColor="#4a5563")
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=22, leading=28)
    name = ParagraphStyle("name", parent=head, fontSize=18, leading=24)
    title = _("Certificate of continuing education")
    issued = formats.date_format(certificate.issued_at.date(), "DATE_FORMAT")
    story: list[Flowable] = [
        Spacer(1, 20 * mm),
        Paragraph(_markup(title), head),
        Spacer(1, 12 * mm),
        Paragraph(_markup(_("This certifies that")), body),
        Spacer(1, 4 * mm),
        Paragraph(_markup(certificate.learner_name), name),
        Spacer(1, 4 * mm),
        Paragraph(_markup(_("completed the training programme")), body),
        Spacer(1, 4 * mm),
        Paragraph(_markup(certificate.programme_title), name),
        Spacer(1, 8 * mm),
        Paragraph(
            _markup(_("Credit hours: %(hours)s") % {"hours": f"{certificate.hours:.1f}"}), body
        ),
        Paragraph(_markup(_("Date of issue: %(date)s") % {"date": issued}), body),
        Spacer(1, 14 * mm),
        Paragraph(
            _markup(_("Verification code: %(code)s") % {"code": grouped(certificate.code)}), body
        ),
        Paragraph(_markup(_("Check this certificate at %(url)s") % {"url": verify_url}), small),
        Spacer(1, 6 * mm),
        _qr(verify_url, 35 * mm),
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
        author=certificate.learner_name,
        lang=language,
    )
    document.build(story)
    return buffer.getvalue()
