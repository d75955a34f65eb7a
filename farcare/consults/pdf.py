"""The signed conclusion as a PDF for the patient's paper record and for the air-ambulance crew.

Cyrillic and Latin are set in DejaVu Sans, shipped with the project (fonts/, free licence), so a
server needs no system fonts; Hangul in a CID font that every PDF reader supplies (the file
stays small: no 15 MB CJK font is embedded)."""

from __future__ import annotations

import io
import re
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from django.utils import timezone, translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from farcare.clinical import icd10
from farcare.core.timezones import local_moment

from .conclusions import conclusion_verification
from .models import Conclusion, Consultation

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


def conclusion_pdf(
    *,
    consultation: Consultation,
    conclusion: Conclusion,
    patient_label: str,
    patient_line: str,
    labels: list[tuple[str, str]],
    signature_note: str,
) -> bytes:
    """Render in the active language; the caller activates the requester's."""
    _register_fonts()
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=10, leading=13)
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=14, leading=18)
    key = ParagraphStyle("key", parent=body, fontName="DejaVuSans-Bold")
    rows = [
        (_("Patient"), f"{patient_label}, {patient_line}"),
        (_("Requesting organisation"), consultation.requesting_facility.name),
        (_("Requesting clinician"), str(consultation.requester)),
        (_("Consultant"), str(conclusion.author)),
        (_("Signed"), local_moment(conclusion.signed_at)),
        (_("Question"), consultation.question),
        (_("Findings"), conclusion.findings),
        (_("Diagnoses"), "\n".join(f"{code} {label}" for code, label in labels)),
        (_("Recommendations"), conclusion.recommendations),
        (
            _("Transfer or evacuation"),
            conclusion.get_evacuation_display()
            + (
                f": {conclusion.evacuation_destination.name}"
                if conclusion.evacuation_destination
                else ""
            ),
        ),
        (_("Follow-up"), conclusion.follow_up or "—"),
        (_("Version"), str(conclusion.version)),
        (
            _("Signature"),
            f"{signature_note}\n{conclusion.signature.algorithm} · {conclusion.signature.digest}",
        ),
    ]
    table = Table(
        [[Paragraph(_markup(str(k)), key), Paragraph(_markup(str(v)), body)] for k, v in rows],
        colWidths=[45 * mm, 125 * mm],
    )
    table.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#c0c6cf"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 4),
            ]
        )
    )
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=str(_("Medical conclusion of a teleconsultation")),
        author=str(conclusion.author),
    )
    document.build(
        [
            Paragraph(_markup(str(_("Medical conclusion of a teleconsultation"))), head),
            Spacer(1, 4 * mm),
            table,
        ]
    )
    return buffer.getvalue()


def render_conclusion(
    conclusion: Conclusion, *, language: str, pseudonymised_label: str = ""
) -> bytes:
    """The conclusion's PDF in `language`: the patient named, unless a pseudonym is given."""
    consultation = conclusion.consultation
    patient = consultation.patient
    with translation.override(language):
        result = conclusion_verification(conclusion)
        return conclusion_pdf(
            consultation=consultation,
            conclusion=conclusion,
            patient_label=pseudonymised_label or patient.full_name,
            patient_line=_("%(sex)s, %(age)s years")
            % {"sex": patient.get_sex_display(), "age": patient.age_on(timezone.localdate())},
            labels=[(e["code"], icd10.label(e["code"], language)) for e in conclusion.diagnoses],
            signature_note=("✔ " if result.valid else "✘ ") + result.reason,
        )
