"""The monthly report for the three ministries as PDF, in Russian, Korean or English (issue 18,
point 5): the regions' main indicators, the settlements where access is worst (fewest
consultations per 1,000 residents; longest wait for a signed conclusion) with their distance to
the regional hub and their link, the cross-border consultations, evacuations, diagnostics and
training, and the note on suppression.

Everything comes from `selectors.table`, the tables the pages show, so a figure hidden on a page
is hidden here too and nothing here can name a person. A partner abroad (scope CROSS_BORDER)
gets the cross-border part only.

Fonts as in the house's other PDFs (consults/pdf.py): DejaVu Sans for Cyrillic and Latin, shipped
with the project and embedded as a subset; Hangul in a CID font every PDF reader supplies, so the
file stays small."""

from __future__ import annotations

import io
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from xml.sax.saxutils import escape

from django.utils import translation
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Flowable, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from farcare.access.policy import AnalyticsScope
from farcare.consults.pdf import FONTS, HANGUL, KOREAN_FONT
from farcare.core.durations import minutes_text
from farcare.core.timezones import local_moment

from . import selectors
from .indicators import BY_CODE, DEFAULT_CODES, PARTNER_CODES, Indicator, Kind
from .spreadsheets import suppression_note
from .tables import EMPTY_TEXT, Figure, Row, ShownTable

LANGUAGES = ("ru", "ko", "en")
# Settlements listed in each "worst access" table: enough to act on, few enough for one page.
WORST_ROWS = 10
EVACUATION_CODES = ("transfers", "transfer_minutes_median", "transfer_within_24h_share")
RESULT_CODES = (
    "results",
    "result_minutes_median",
    "result_minutes_p90",
    "critical_ack_minutes_median",
)
TRAINING_CODES = ("trained_staff", "training_coverage_share")
SETTLEMENT_CODES = (
    "consultations_per_1000",
    "consultations",
    "conclusion_minutes_median",
    "deadline_met_share",
)
RATE, WAIT = "consultations_per_1000", "conclusion_minutes_median"


@dataclass(frozen=True)
class MonthlyReport:
    """What the report shows, read before it is set (tables of `selectors`, rows chosen)."""

    month: date
    computed_at: datetime | None
    # A partner abroad: the cross-border part only.
    cross_border_only: bool
    partners: ShownTable
    cross_border_specialties: ShownTable
    regions: ShownTable | None = None
    settlement_indicators: tuple[Indicator, ...] = ()
    lowest_rate: tuple[Row, ...] = ()
    longest_wait: tuple[Row, ...] = ()
    evacuations: ShownTable | None = None
    results: ShownTable | None = None
    training: ShownTable | None = None


def monthly_report_pdf(*, scope: AnalyticsScope, month: date, language: str) -> bytes:
    """The report of `month` for a reader of `scope`, in `language` (one of LANGUAGES), times
    in the active zone. Raises selectors.OutOfScope as the selectors do."""
    if language not in LANGUAGES:
        raise ValueError(f"no report in {language}")
    _register_fonts()
    with translation.override(language):
        return render(gather(scope=scope, month=month), language=language)


def gather(*, scope: AnalyticsScope, month: date) -> MonthlyReport:
    run = selectors.last_run()
    computed_at = run.finished_at if run is not None else None
    partners = selectors.table(
        scope=scope, month=month, dimension="partner", codes=PARTNER_CODES, cross_border=True
    )
    specialties = selectors.table(
        scope=scope, month=month, dimension="specialty", codes=PARTNER_CODES, cross_border=True
    )
    if scope != AnalyticsScope.ALL:
        return MonthlyReport(month, computed_at, True, partners, specialties)
    settlements = selectors.table(
        scope=scope, month=month, dimension="settlement", codes=SETTLEMENT_CODES
    )
    return MonthlyReport(
        month=month,
        computed_at=computed_at,
        cross_border_only=False,
        partners=partners,
        cross_border_specialties=specialties,
        regions=selectors.table(scope=scope, month=month, dimension="region", codes=DEFAULT_CODES),
        settlement_indicators=settlements.indicators,
        lowest_rate=worst(settlements.rows, RATE, WORST_ROWS),
        longest_wait=worst(settlements.rows, WAIT, WORST_ROWS),
        evacuations=_place_table(scope, month, EVACUATION_CODES),
        results=_place_table(scope, month, RESULT_CODES),
        training=_place_table(scope, month, TRAINING_CODES),
    )


def worst(rows: Sequence[Row], code: str, limit: int) -> tuple[Row, ...]:
    """The `limit` rows worst by `code` (lowest where higher is better), shown figures only: a
    hidden figure has no rank, so its place in a list gives nothing away."""
    indicator = BY_CODE[code]
    shown = [row for row in rows if code in row.figures and row.figures[code].value is not None]
    sign = 1 if indicator.higher_is_better else -1
    shown.sort(key=lambda row: sign * (row.figures[code].value or 0.0))  # stable: ties keep order
    return tuple(shown[:limit])


def _place_table(scope: AnalyticsScope, month: date, codes: Sequence[str]) -> ShownTable:
    return selectors.table(scope=scope, month=month, dimension="region", codes=codes)


# --- setting the report ----------------------------------------------------------------------


@cache
def _register_fonts() -> None:
    pdfmetrics.registerFont(TTFont("DejaVuSans", str(FONTS / "DejaVuSans.ttf")))
    pdfmetrics.registerFont(TTFont("DejaVuSans-Bold", str(FONTS / "DejaVuSans-Bold.ttf")))
    pdfmetrics.registerFont(UnicodeCIDFont(KOREAN_FONT))


def _markup(text: str) -> str:
    """Escape the text and set Hangul runs in the Korean font."""
    return re.sub(HANGUL, rf'<font name="{KOREAN_FONT}">\1</font>', escape(text))


@dataclass(frozen=True)
class _Styles:
    body: ParagraphStyle
    small: ParagraphStyle
    head: ParagraphStyle
    part: ParagraphStyle
    cell: ParagraphStyle
    number: ParagraphStyle
    header: ParagraphStyle


def _styles() -> _Styles:
    body = ParagraphStyle("body", fontName="DejaVuSans", fontSize=9, leading=12)
    cell = ParagraphStyle("cell", parent=body, fontSize=7.5, leading=9.5)
    return _Styles(
        body=body,
        small=ParagraphStyle("small", parent=body, fontSize=8, leading=10, textColor="#4a5563"),
        head=ParagraphStyle(
            "head", parent=body, fontName="DejaVuSans-Bold", fontSize=15, leading=19
        ),
        part=ParagraphStyle(
            "part", parent=body, fontName="DejaVuSans-Bold", fontSize=11, leading=14, spaceBefore=6
        ),
        cell=cell,
        number=ParagraphStyle("number", parent=cell, alignment=2),
        header=ParagraphStyle(
            "header", parent=cell, fontName="DejaVuSans-Bold", textColor="#1f2933"
        ),
    )


def render(report: MonthlyReport, *, language: str) -> bytes:
    styles = _styles()
    month = selectors.month_label(report.month)
    title = (
        _("Cross-border consultations: monthly report")
        if report.cross_border_only
        else _("Access to care: monthly report")
    )
    computed = (
        _("Figures computed %(moment)s.") % {"moment": local_moment(report.computed_at)}
        if report.computed_at is not None
        else _("The figures have not been computed yet.")
    )
    story: list[Flowable] = [
        Paragraph(_markup(title), styles.head),
        Paragraph(_markup(month), styles.part),
        Paragraph(_markup(computed), styles.small),
        Paragraph(_markup(suppression_note()), styles.small),
        Spacer(1, 3 * mm),
    ]
    if report.regions is not None:
        story += _section(_("Regions"), _table(report.regions, styles, first=_("Region")), styles)
        story += _section(
            _("Settlements with the fewest consultations per 1,000 residents"),
            _settlements(report.lowest_rate, report.settlement_indicators, styles),
            styles,
        )
        story += _section(
            _("Settlements with the longest wait for a signed conclusion"),
            _settlements(report.longest_wait, report.settlement_indicators, styles),
            styles,
        )
    story += _section(
        _("Cross-border consultations by partner hospital"),
        _table(report.partners, styles, first=_("Partner hospital")),
        styles,
    )
    story += _section(
        _("Cross-border consultations by specialty"),
        _table(report.cross_border_specialties, styles, first=_("Specialty")),
        styles,
    )
    for heading, shown in (
        (_("Evacuations"), report.evacuations),
        (_("Diagnostics"), report.results),
        (_("Training"), report.training),
    ):
        if shown is not None:
            story += _section(heading, _table(shown, styles, first=_("Region")), styles)
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=landscape(A4),
        leftMargin=12 * mm,
        rightMargin=12 * mm,
        topMargin=12 * mm,
        bottomMargin=12 * mm,
        title=f"{title} — {month}",
        author="FarCare",
        lang=language,
    )
    document.build(story)
    return buffer.getvalue()


def _section(heading: str, body: Flowable | None, styles: _Styles) -> list[Flowable]:
    if body is None:
        return [
            Paragraph(_markup(heading), styles.part),
            Paragraph(_markup(_("Nothing to show for this month.")), styles.small),
        ]
    return [Paragraph(_markup(heading), styles.part), Spacer(1, 1.5 * mm), body]


def figure_text(indicator: Indicator, figure: Figure | None) -> str:
    """A figure as the page says it: the mark when hidden, minutes in words."""
    if figure is None:
        return EMPTY_TEXT
    if indicator.kind == Kind.MINUTES and figure.value is not None and not figure.suppressed:
        return minutes_text(round(figure.value))
    return figure.text


def _table(shown: ShownTable, styles: _Styles, *, first: str) -> Table | None:
    rows = [*shown.rows, *([shown.total] if shown.total is not None else [])]
    if not rows or not shown.indicators:
        return None
    header = [first, *(str(indicator.label) for indicator in shown.indicators)]
    body = [
        [row.label, *(figure_text(i, row.figures.get(i.code)) for i in shown.indicators)]
        for row in rows
    ]
    return _grid(header, body, styles, label_width=48 * mm, shade_last=shown.total is not None)


def _settlements(
    rows: Sequence[Row], indicators: Sequence[Indicator], styles: _Styles
) -> Table | None:
    if not rows:
        return None
    header = [
        _("Settlement"),
        _("Region"),
        _("Population"),
        _("Distance to the regional hub, km"),
        _("Link"),
        *(str(indicator.label) for indicator in indicators),
    ]
    body = []
    for row in rows:
        place = row.place
        body.append(
            [
                row.label,
                row.region and _region_name(row.region),
                _number(place.population if place else None),
                _number(place.distance_km if place else None),
                _link(place.link_label, place.bandwidth_kbps) if place else EMPTY_TEXT,
                *(figure_text(i, row.figures.get(i.code)) for i in indicators),
            ]
        )
    return _grid(header, body, styles, label_width=34 * mm, text_columns={0, 1, 4})


def _region_name(region: str) -> str:
    from farcare.core import values

    return values.region(region)


def _number(value: int | None) -> str:
    return EMPTY_TEXT if value is None else str(value)


def _link(label: str, kbps: int | None) -> str:
    if kbps is None:
        return label or EMPTY_TEXT
    return _("%(link)s, %(kbps)s kbit/s") % {"link": label or EMPTY_TEXT, "kbps": kbps}


def _grid(
    header: list[str],
    body: list[list[str]],
    styles: _Styles,
    *,
    label_width: float,
    text_columns: set[int] | None = None,
    shade_last: bool = False,
) -> Table:
    """A table across the page: the label column wide, the others sharing the rest; texts
    (`text_columns`, the label by default) to the left, figures to the right."""
    texts = text_columns if text_columns is not None else {0}
    usable = landscape(A4)[0] - 24 * mm
    rest = len(header) - 1
    widths = [label_width] + [(usable - label_width) / rest] * rest

    def cells(values: list[str], head: bool) -> list[Paragraph]:
        return [
            Paragraph(
                _markup(value),
                styles.header if head else (styles.cell if index in texts else styles.number),
            )
            for index, value in enumerate(values)
        ]

    data = [cells(header, True)] + [cells(values, False) for values in body]
    commands: list[tuple[object, ...]] = [
        ("VALIGN", (0, 0), (-1, -1), "TOP"),
        ("LINEBELOW", (0, 0), (-1, 0), 0.6, "#1f2933"),
        ("LINEBELOW", (0, 1), (-1, -1), 0.25, "#c0c6cf"),
        ("TOPPADDING", (0, 0), (-1, -1), 1.5),
        ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
        ("LEFTPADDING", (0, 0), (-1, -1), 2),
        ("RIGHTPADDING", (0, 0), (-1, -1), 2),
    ]
    if shade_last:
        commands.append(("BACKGROUND", (0, -1), (-1, -1), "#eef1f4"))
    table = Table(data, colWidths=widths, repeatRows=1, hAlign="LEFT")
    table.setStyle(TableStyle(commands))
    return table
