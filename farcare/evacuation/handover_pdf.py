"""The transfer summary as PDF, in the reader's language, every time in the reader's zone: what
the receiving team prints and reads before the aircraft lands (issue 16, point 5).

Set as the printed conclusions and laboratory reports are (consults/pdf.py,
diagnostics/report_pdf.py): DejaVu Sans shipped with the project for Cyrillic and Latin, Hangul
in a CID font every PDF reader supplies."""

from __future__ import annotations

import io
from datetime import datetime
from xml.sax.saxutils import escape

from django.template.defaultfilters import filesizeformat
from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from farcare.core.timezones import zone_label
from farcare.diagnostics.report_pdf import _markup, _register_fonts

from .handover import Handover

_GRID = TableStyle(
    [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#c0c6cf"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.8, "#4a5563"),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 3),
        ("TOPPADDING", (0, 0), (-1, -1), 2),
    ]
)


def handover_pdf(handover: Handover) -> bytes:
    """An A4 PDF of the summary in its language."""
    _register_fonts()
    with translation.override(handover.language):
        return _build(handover)


def _when(handover: Handover, moment: datetime | None) -> str:
    if moment is None:
        return "—"
    return moment.astimezone(handover.zone).strftime("%d.%m.%Y %H:%M")


def _build(h: Handover) -> bytes:
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9.5, leading=12.5)
    small = ParagraphStyle("small", parent=body, fontSize=8.5, leading=11, textColor="#4a5563")
    head = ParagraphStyle("head", parent=body, fontName="DejaVuSans-Bold", fontSize=14, leading=18)
    section = ParagraphStyle(
        "section", parent=body, fontName="DejaVuSans-Bold", fontSize=11, leading=15
    )
    strong = ParagraphStyle("strong", parent=body, fontName="DejaVuSans-Bold")

    def p(text: str, style: ParagraphStyle = body) -> Paragraph:
        return Paragraph(_markup(text), style)

    def title(text: str) -> list[Flowable]:
        return [Spacer(1, 4 * mm), p(text, section)]

    def table(rows: list[list[str]], widths: list[float]) -> Table:
        cells = [
            [p(cell, strong if index == 0 else body) for cell in row]
            for index, row in enumerate(rows)
        ]
        grid = Table(cells, colWidths=widths, repeatRows=1)
        grid.setStyle(_GRID)
        return grid

    transfer = h.transfer
    now_zone = zone_label(transfer.decided_at, h.zone, language=h.language)
    story: list[Flowable] = [
        p(f"FarCare · {_('Transfer summary')}", small),
        Spacer(1, 2 * mm),
        p(f"{h.origin} → {h.destination}", head),
        p(f"{h.condition} · {h.status}", strong),
        p(_("Times in %(zone)s.") % {"zone": now_zone}, small),
    ]
    story += title(_("Patient"))
    identity = [
        h.patient_name,
        _("born %(date)s") % {"date": h.birth_date.strftime("%d.%m.%Y")},
        h.sex,
    ]
    if h.snils:
        identity.append(_("SNILS %(number)s") % {"number": h.snils})
    if h.oms_policy:
        identity.append(_("OMS policy %(number)s") % {"number": h.oms_policy})
    story.append(p(" · ".join(identity), strong))
    story += title(_("Reason for transfer"))
    story.append(p(h.reason))
    if h.bed_note:
        story.append(p(_("Bed: %(bed)s") % {"bed": h.bed_note}))
    if h.transport:
        story.append(p(_("Transport: %(transport)s") % {"transport": h.transport}))
    if h.hold_reason:
        story.append(p(_("Held: %(reason)s") % {"reason": h.hold_reason}, strong))

    story += title(_("Conclusion"))
    c = h.conclusion
    if c is None:
        story.append(p(_("No signed conclusion is linked to this transfer."), small))
    else:
        signed = _("Signed by %(signer)s on %(date)s") % {
            "signer": c.signer,
            "date": _when(h, c.signed_at),
        }
        story.append(p(" · ".join(x for x in (c.number, signed) if x), small))
        if c.diagnoses:
            story.append(p(_("Diagnoses (ICD-10)"), strong))
            story += [p(f"{d.code} — {d.name}") for d in c.diagnoses]
        story += [p(_("Findings"), strong), p(c.findings)]
        story += [p(_("Recommendations"), strong), p(c.recommendations)]
        advice = c.evacuation + (f" → {c.destination}" if c.destination else "")
        story += [p(_("Transfer or evacuation"), strong), p(advice)]

    story += title(_("Vital signs"))
    if h.vital_rows:
        rows = [[_("When"), *h.vital_columns, "NEWS2"]]
        for row in h.vital_rows:
            score = f"{row.news2} {row.news2_band}".strip() if row.news2 is not None else ""
            rows.append([_when(h, row.at), *row.cells, score])
        width = 170 * mm
        first = 28 * mm
        rest = (width - first) / max(len(rows[0]) - 1, 1)
        story.append(table(rows, [first] + [rest] * (len(rows[0]) - 1)))
    else:
        story.append(p(_("No vital signs recorded."), small))

    story += title(_("Treatment given"))
    if h.treatments:
        rows = [[_("When"), _("Treatment"), _("By")]]
        rows += [[_when(h, t.given_at), t.description, t.by] for t in h.treatments]
        story.append(table(rows, [28 * mm, 102 * mm, 40 * mm]))
    else:
        story.append(p(_("No treatment recorded."), small))

    story += title(_("Files of the case"))
    if h.files:
        rows = [[_("File"), _("Size"), ""]]
        for f in h.files:
            state = "" if f.arrived else _("the original has not arrived yet")
            rows.append([f.name, str(filesizeformat(f.size)), state])
        grid = table(rows, [100 * mm, 25 * mm, 45 * mm])
        story.append(grid)
        # A file the reader may open is a link to it (their own session decides again).
        links = [f for f in h.files if f.url]
        if links:
            story.append(
                Paragraph(
                    " · ".join(
                        f'<a href="{escape(f.url)}" color="#1a56a0">{_markup(f.name)}</a>'
                        for f in links
                    ),
                    small,
                )
            )
    else:
        story.append(p(_("No files."), small))

    story += title(_("Estimate and times"))
    if h.estimate_minutes is not None:
        parts = ", ".join(f"{label} {minutes}" for label, minutes in h.estimate_parts)
        line = _("Estimated at the decision: %(minutes)s min") % {"minutes": h.estimate_minutes}
        story.append(p(line + (f" ({parts})" if parts else "")))
    rows = [[_("Moment"), _("Time")]] + [[m.label, _when(h, m.at)] for m in h.moments]
    story.append(table(rows, [80 * mm, 90 * mm]))
    if h.actual_minutes is not None:
        story.append(
            p(
                _("Decision to arrival: %(minutes)s min, of which held %(held)s min.")
                % {"minutes": h.actual_minutes, "held": h.held_minutes}
            )
        )

    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=15 * mm,
        bottomMargin=15 * mm,
        title=str(_("Transfer summary")),
        author="FarCare",
        lang=h.language,
    )
    document.build(story)
    return buffer.getvalue()
