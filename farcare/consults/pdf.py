"""The printed documents of a case as PDF: the signed conclusion for the patient's paper record
and for the air-ambulance crew, and the referral.

Cyrillic and Latin are set in DejaVu Sans, shipped with the project (fonts/, free licence), so a
server needs no system fonts; Hangul in a CID font that every PDF reader supplies (the file
stays small: no 15 MB CJK font is embedded)."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.utils import translation
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from farcare.access.policy import ConsultView

from .documents import Printout, conclusion_printout
from .models import Conclusion

FONTS = Path(__file__).resolve().parent / "fonts"
HANGUL = re.compile(r"([\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]+)")
KOREAN_FONT = "HYGothic-Medium"


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))


def _markup(text: str) -> str:
    """Escape the text and set Hangul runs in the Korean font; keep line breaks."""
    parts = HANGUL.split(text or "")
    out = []
    for index, part in enumerate(parts):
        safe = escape(part)
        out.append(f'<font name="{KOREAN_FONT}">{safe}</font>' if index % 2 else safe)
    return "".join(out).replace("\n", "<br/>")


def printout_pdf(printout: Printout) -> bytes:
    """An A4 PDF of the document, every section a block of label–value rows."""
    _register_fonts()
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11)
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=14, leading=18)
    part = ParagraphStyle("part", parent=body, fontName="DejaVuSans-Bold", fontSize=10.5)
    key = ParagraphStyle("key", parent=body, textColor="#4a5563")
    story: list[Flowable] = [
        Paragraph(_markup(printout.issuer), small),
        Spacer(1, 2 * mm),
        Paragraph(_markup(printout.title), head),
        Paragraph(_markup(printout.number), part),
        Spacer(1, 3 * mm),
    ]
    for section in printout.sections:
        story.append(Paragraph(_markup(section.title), part))
        table = Table(
            [
                [Paragraph(_markup(entry.label), key), Paragraph(_markup(entry.value), body)]
                for entry in section.entries
            ],
            colWidths=[45 * mm, 125 * mm],
        )
        table.setStyle(
            TableStyle(
                [
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                    ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#c0c6cf"),
                    ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                    ("TOPPADDING", (0, 0), (-1, -1), 2),
                ]
            )
        )
        story += [table, Spacer(1, 3 * mm)]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=printout.title,
        author=printout.author,
        lang=printout.language,
    )
    document.build(story)
    return buffer.getvalue()


def render_conclusion(
    conclusion: Conclusion, *, language: str, pseudonymised_label: str = ""
) -> bytes:
    """The conclusion's PDF in `language` and the active time zone: the patient named, unless
    it is for a reader abroad (`pseudonymised_label` given: the case's pseudonym is shown)."""
    view = ConsultView(True, pseudonymised=bool(pseudonymised_label))
    with translation.override(language):
        return printout_pdf(conclusion_printout(conclusion, view))
