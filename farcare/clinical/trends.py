"""Trend charts of vital signs as inline SVG, drawn on the server.

A chart is two or three kilobytes of markup inside the page: no chart library crosses a
64 kbit/s link and no script runs (the CSP forbids inline scripts and styles, so only SVG
presentation attributes colour it). Pure: readings in, markup out; no ORM, no request.

The shaded band is where the parameter scores 0 in NEWS2 (RCP 2017, `news2.py`), the scale the
rest of FarCare judges a patient by; for NEWS2 itself it is the low-risk band (0–4).
Readings are spaced evenly, one column per reading as on a paper observation chart: months
between two consultations would otherwise squeeze the recent readings into one corner.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from html import escape

from django.utils.translation import gettext, ngettext

from .vitals import format_number, primary_language

# Only the most recent readings are drawn; the table beside the chart lists them all.
MAX_POINTS = 24

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 36, 44, 18, 22  # margins for the axis labels and the latest value
INK, MUTED, AXIS = "#1b2330", "#5b6675", "#9aa5b1"
LINE, OUTSIDE, BAND = "#0b5cad", "#b3261e", "#e6f4ea"
MIN_LABEL_GAP = 13  # px between two labels of the value axis


@dataclass(frozen=True)
class Point:
    at: datetime  # aware
    value: Decimal


@dataclass(frozen=True)
class Scale:
    """The usual range (shaded) and the extent a chart always shows, so that two patients'
    charts read alike; readings beyond the extent widen it."""

    low: Decimal
    high: Decimal
    floor: Decimal
    ceiling: Decimal
    low_risk_band: bool = False  # NEWS2 itself: the band is its low-risk total, not a score of 0
    # A laboratory value: the band is the usual (reference) range, not where NEWS2 scores 0.
    reference_band: bool = False

    def usual(self, value: Decimal) -> bool:
        return self.low <= value <= self.high


def _d(text: str) -> Decimal:
    return Decimal(text)


# Keyed as vitals.VITALS, and "news2" for the total score.
SCALES: dict[str, Scale] = {
    "respiratory_rate": Scale(_d("12"), _d("20"), _d("6"), _d("32")),
    "spo2": Scale(_d("96"), _d("100"), _d("84"), _d("100")),
    "systolic_bp": Scale(_d("111"), _d("219"), _d("70"), _d("230")),
    "heart_rate": Scale(_d("51"), _d("90"), _d("40"), _d("140")),
    "temperature": Scale(_d("36.1"), _d("38.0"), _d("35.0"), _d("40.0")),
    "news2": Scale(_d("0"), _d("4"), _d("0"), _d("12"), low_risk_band=True),
}


def day_text(moment: datetime, language: str) -> str:
    """06.12.2026 in Russian, 2026-12-06 (padded ISO) in Korean and English."""
    if primary_language(language) == "ru":
        return moment.strftime("%d.%m.%Y")
    return moment.strftime("%Y-%m-%d")


def moment_text(moment: datetime, language: str) -> str:
    return f"{day_text(moment, language)} {moment:%H:%M}"


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def trend_svg(
    *,
    points: Sequence[Point],
    scale: Scale,
    title: str,
    unit: str,
    language: str,
    zone: tzinfo,
    chart_id: str,
) -> str:
    """One vital sign over time as an <svg> element; "" when there is no reading.

    `points` in any order; `title` and `unit` in the reader's language; times are shown in
    `zone`. `chart_id` makes the ids of the chart's <title> and <desc> unique in the page."""
    readings = sorted(points, key=lambda point: point.at)[-MAX_POINTS:]
    if not readings:
        return ""
    values = [point.value for point in readings]
    bottom = min(scale.floor, *values)
    top = max(scale.ceiling, *values)
    span = float(top - bottom) or 1.0
    x0, x1 = LEFT, WIDTH - RIGHT
    y0, y1 = TOP, HEIGHT - BOTTOM

    def y(value: Decimal) -> float:
        return y1 - float(value - bottom) / span * (y1 - y0)

    def x(index: int) -> float:
        if len(readings) == 1:
            return (x0 + x1) / 2
        return x0 + 6 + index * (x1 - x0 - 12) / (len(readings) - 1)

    def number(value: Decimal) -> str:
        return format_number(value, language)

    local = [point.at.astimezone(zone) for point in readings]
    latest = readings[-1]
    ident = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" font-family="sans-serif" '
        f'font-size="10" data-chart="{ident}">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(_summary(readings, local, scale, unit, language))}</desc>',
    ]
    # The usual range, clipped to what the chart shows.
    band_top, band_bottom = y(min(scale.high, top)), y(max(scale.low, bottom))
    parts.append(
        f'<rect x="{x0}" y="{_fmt(band_top)}" width="{x1 - x0}" '
        f'height="{_fmt(max(band_bottom - band_top, 1))}" fill="{BAND}"/>'
    )
    parts.append(f'<path d="M{x0} {y0}V{y1}H{x1}" fill="none" stroke="{AXIS}" stroke-width="1"/>')
    if unit:
        parts.append(f'<text x="2" y="10" fill="{MUTED}">{escape(unit)}</text>')
    # Value axis: the edges of the usual range first, then the chart's extent where it fits.
    placed: list[float] = []
    for value in (scale.low, scale.high, bottom, top):
        if not bottom <= value <= top:
            continue
        height = y(value)
        if any(abs(height - other) < MIN_LABEL_GAP for other in placed):
            continue
        placed.append(height)
        parts.append(
            f'<text x="{x0 - 4}" y="{_fmt(height + 3.5)}" text-anchor="end" '
            f'fill="{MUTED}">{escape(number(value))}</text>'
        )
    # Time axis: the first and the last day.
    first_day, last_day = day_text(local[0], language), day_text(local[-1], language)
    parts.append(f'<text x="{x0}" y="{HEIGHT - 6}" fill="{MUTED}">{escape(first_day)}</text>')
    if last_day != first_day:
        parts.append(
            f'<text x="{x1}" y="{HEIGHT - 6}" text-anchor="end" '
            f'fill="{MUTED}">{escape(last_day)}</text>'
        )
    if len(readings) > 1:
        line = " ".join(f"{_fmt(x(i))},{_fmt(y(p.value))}" for i, p in enumerate(readings))
        parts.append(
            f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2" '
            f'stroke-linejoin="round"/>'
        )
    for index, (point, moment) in enumerate(zip(readings, local, strict=True)):
        last = index == len(readings) - 1
        colour = LINE if scale.usual(point.value) else OUTSIDE
        parts.append(
            f'<circle cx="{_fmt(x(index))}" cy="{_fmt(y(point.value))}" '
            f'r="{4.5 if last else 3}" fill="{colour}"><title>'
            f"{escape(moment_text(moment, language))}: {escape(number(point.value))}"
            "</title></circle>"
        )
    parts.append(
        f'<text x="{_fmt(x(len(readings) - 1) + 7)}" y="{_fmt(y(latest.value) + 4)}" '
        f'font-size="12" font-weight="bold" fill="{INK}" '
        f'data-latest="{escape(str(latest.value))}">{escape(number(latest.value))}</text>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _summary(
    readings: Sequence[Point],
    local: Sequence[datetime],
    scale: Scale,
    unit: str,
    language: str,
) -> str:
    """What a screen reader says for the chart: how many readings, when, the latest, the
    lowest and highest, and the shaded range."""
    values = [point.value for point in readings]

    def number(value: Decimal) -> str:
        text = format_number(value, language)
        return f"{text} {unit}" if unit else text

    outside = sum(1 for value in values if not scale.usual(value))
    parts = [
        ngettext(
            "%(count)d reading from %(first)s to %(last)s.",
            "%(count)d readings from %(first)s to %(last)s.",
            len(readings),
        )
        % {
            "count": len(readings),
            "first": moment_text(local[0], language),
            "last": moment_text(local[-1], language),
        },
        gettext("Latest: %(value)s.") % {"value": number(values[-1])},
        gettext("Lowest %(low)s, highest %(high)s.")
        % {"low": number(min(values)), "high": number(max(values))},
        (
            gettext("Shaded: %(low)s–%(high)s, low risk; above it: %(outside)d.")
            if scale.low_risk_band
            else gettext("Shaded: %(low)s–%(high)s, the usual range; outside it: %(outside)d.")
            if scale.reference_band
            else gettext("Shaded: %(low)s–%(high)s, where NEWS2 scores 0; outside it: %(outside)d.")
        )
        % {
            "low": format_number(scale.low, language),
            "high": number(scale.high),
            "outside": outside,
        },
    ]
    return " ".join(parts)
