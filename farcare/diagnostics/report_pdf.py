"""A person's laboratory report as PDF, in their language: each value with its unit, the usual
range and the sentence that says where it stands, as on their results page (both read one
`plain_words.ResultSheet`).

Set as the printed conclusions are (consults/pdf.py): DejaVu Sans shipped with the project for
Cyrillic and Latin, Hangul in a CID font every PDF reader supplies, so the file stays small."""

from __future__ import annotations

import io
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
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from farcare.consults.pdf import FONTS, HANGUL, KOREAN_FONT

from .plain_words import ResultSheet, Tone

# The colours of the page's marks (farcare.css): outside the usual range, critical.
_TONE_COLOURS = {Tone.OUTSIDE: "#8a5a00", Tone.CRITICAL: "#b3261e"}


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


def report_pdf(sheet: ResultSheet) -> bytes:
    """An A4 PDF of the sheet in its language."""
    _register_fonts()
    with translation.override(sheet.language):
        return _build(sheet)


def _build(sheet: ResultSheet) -> bytes:
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor="#4a5563")
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=14, leading=18)
    strong = ParagraphStyle("strong", parent=body, fontName="DejaVuSans-Bold")
    story: list[Flowable] = [
        Paragraph(_markup(" · ".join(p for p in ("FarCare", sheet.laboratory) if p)), small),
        Spacer(1, 2 * mm),
        Paragraph(_markup(sheet.title), head),
        Paragraph(_markup(sheet.person), strong),
        Paragraph(
            _markup(
                _("Sample taken: %(collected)s. Reported: %(issued)s.")
                % {"collected": sheet.collected, "issued": sheet.issued}
            ),
            small,
        ),
        Spacer(1, 4 * mm),
    ]
    rows: list[list[Flowable]] = [
        [
            Paragraph(_markup(_("Test")), strong),
            Paragraph(_markup(_("Result")), strong),
            Paragraph(_markup(_("Usual range")), strong),
            Paragraph(_markup(_("What it means")), strong),
        ]
    ]
    for line in sheet.lines:
        colour = _TONE_COLOURS.get(line.tone)
        value_style = (
            ParagraphStyle(f"v-{line.tone}", parent=strong, textColor=colour) if colour else body
        )
        name = line.name + (f"\n({_('corrected')})" if line.corrected else "")
        rows.append(
            [
                Paragraph(_markup(name), body),
                Paragraph(_markup(line.value), value_style),
                Paragraph(_markup(line.usual or "—"), body),
                Paragraph(_markup(line.words), body),
            ]
        )
    table = Table(rows, colWidths=[42 * mm, 30 * mm, 33 * mm, 65 * mm], repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#c0c6cf"),
                ("LINEBELOW", (0, 0), (-1, 0), 0.8, "#4a5563"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
                ("TOPPADDING", (0, 0), (-1, -1), 2),
            ]
        )
    )
    story.append(table)
    if sheet.conclusion:
        story += [
            Spacer(1, 4 * mm),
            Paragraph(_markup(_("Conclusion")), strong),
            Paragraph(_markup(sheet.conclusion), body),
        ]
    story += [
        Spacer(1, 6 * mm),
        Paragraph(
            _markup(
                _(
                    "The usual range is where the values of most healthy people lie. A value "
                    "outside it is not always a sign of illness: your doctor will explain what "
                    "your results mean for you."
                )
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
        title=sheet.title,
        author="FarCare",
        lang=sheet.language,
    )
    document.build(story)
    return buffer.getvalue()
