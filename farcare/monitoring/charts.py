"""Trend charts of home readings as inline SVG drawn on the server, with the person's target
band shaded (issue 17, point 4).

Like clinical/trends.py: a chart is a few kilobytes of markup inside the page, no script and no
inline style (the CSP forbids both), so only SVG presentation attributes colour it. Pure:
readings in, markup out; no ORM, no request.

Unlike the observation charts of a consultation, home readings come four times a day for
weeks, and "2 kg in 3 days" is about days, so the time axis is time, not one column per
reading. The points are one <path> of round dots (a zero-length segment per reading), not a
<circle> each: sixty readings cost under a kilobyte, and the chart stays well under 8 KB at
64 kbit/s. Blood pressure is two lines, systolic and diastolic, each with its own band;
weight carries a dashed least-squares trend, which is what a heart-failure nurse reads first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal, InvalidOperation
from html import escape

from django.utils.translation import gettext, ngettext

from farcare.clinical.trends import day_text
from farcare.clinical.vitals import format_number

from .measures import Code

# The most recent readings drawn per line; the table under the chart lists them all.
MAX_POINTS = 60

WIDTH, HEIGHT = 320, 150
LEFT, RIGHT, TOP, BOTTOM = 34, 40, 14, 22
MUTED, AXIS = "#5b6675", "#9aa5b1"
OUTSIDE = "#b3261e"
# Each line's colour and its band's: dark on light, told apart without colour too (the
# diastolic is dashed) for readers who cannot tell blue from teal.
COLOURS = {"main": ("#0b5cad", "#e6f4ea"), "second": ("#00695c", "#e3eef9")}


@dataclass(frozen=True)
class Point:
    at: datetime  # aware
    value: Decimal


@dataclass(frozen=True)
class Band:
    """The target range set for the person; an open end is None (weight has only a ceiling
    in some plans)."""

    low: Decimal | None
    high: Decimal | None

    def holds(self, value: Decimal) -> bool:
        return (self.low is None or value >= self.low) and (self.high is None or value <= self.high)


@dataclass(frozen=True)
class Line:
    key: str  # "systolic", "diastolic", "value": in the markup for tests and styles
    label: str  # in the reader's language
    points: Sequence[Point]
    band: Band | None = None
    trend: bool = False
    second: bool = False  # drawn in the second colour, dashed


@dataclass(frozen=True)
class Extent:
    """What a chart of the measure always shows, so that two people's charts read alike;
    readings beyond it widen it."""

    floor: Decimal
    ceiling: Decimal


EXTENTS: Mapping[str, Extent] = {
    Code.BP_PANEL.value: Extent(Decimal(50), Decimal(200)),
    Code.HEART_RATE.value: Extent(Decimal(40), Decimal(140)),
    Code.GLUCOSE.value: Extent(Decimal(2), Decimal(16)),
    Code.SPO2.value: Extent(Decimal(84), Decimal(100)),
    Code.TEMPERATURE.value: Extent(Decimal(35), Decimal(40)),
}


def _fmt(number: float) -> str:
    return f"{number:.1f}".rstrip("0").rstrip(".")


def band_from(targets: Mapping[str, object], code: str) -> Band | None:
    """The band of `code` in an enrolment's `targets` ({"8480-6": {"low": "100", "high":
    "139"}}), or None when none is set or it cannot be read (a band is a drawing aid: a broken
    one is left out rather than breaking the page)."""
    entry = targets.get(code)
    if not isinstance(entry, Mapping):
        return None

    def end(name: str) -> Decimal | None:
        raw = entry.get(name)
        if raw in (None, ""):
            return None
        try:
            return Decimal(str(raw))
        except InvalidOperation:
            return None

    low, high = end("low"), end("high")
    return None if low is None and high is None else Band(low, high)


def trend_line(points: Sequence[Point]) -> tuple[float, float] | None:
    """Least squares through the points: (value at the first, value at the last), or None
    with fewer than three points or all at one moment."""
    if len(points) < 3:
        return None
    start = points[0].at
    xs = [(p.at - start).total_seconds() for p in points]
    ys = [float(p.value) for p in points]
    n = len(points)
    mean_x, mean_y = sum(xs) / n, sum(ys) / n
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    return mean_y + slope * (xs[0] - mean_x), mean_y + slope * (xs[-1] - mean_x)


def chart_svg(
    *,
    lines: Sequence[Line],
    title: str,
    unit: str,
    language: str,
    zone: tzinfo,
    chart_id: str,
    extent: Extent | None = None,
) -> str:
    """The lines over time as one <svg>; "" when no line has a reading."""
    shown = [
        (line, sorted(line.points, key=lambda p: p.at)[-MAX_POINTS:])
        for line in lines
        if line.points
    ]
    if not shown:
        return ""
    values = [p.value for _, points in shown for p in points]
    bands = [line.band for line, _ in shown if line.band is not None]
    ends = [e for band in bands for e in (band.low, band.high) if e is not None]
    low_end = min(values + ends + ([extent.floor] if extent else []))
    high_end = max(values + ends + ([extent.ceiling] if extent else []))
    if low_end == high_end:
        low_end, high_end = low_end - 1, high_end + 1
    span = float(high_end - low_end)
    first = min(p.at for _, points in shown for p in points)
    last = max(p.at for _, points in shown for p in points)
    seconds = (last - first).total_seconds()
    x0, x1, y0, y1 = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM

    def y(value: Decimal | float) -> float:
        return y1 - (float(value) - float(low_end)) / span * (y1 - y0)

    def x(moment: datetime) -> float:
        if seconds == 0:
            return (x0 + x1) / 2
        return x0 + 4 + (moment - first).total_seconds() / seconds * (x1 - x0 - 8)

    ident = escape(chart_id)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" width="100%" '
        f'role="img" aria-labelledby="{ident}-t {ident}-d" font-family="sans-serif" '
        f'font-size="10" data-chart="{ident}">',
        f'<title id="{ident}-t">{escape(title)}</title>',
        f'<desc id="{ident}-d">{escape(_summary(shown, unit, language))}</desc>',
    ]
    for line, _ in shown:
        if line.band is None:
            continue
        top = y(line.band.high if line.band.high is not None else high_end)
        bottom = y(line.band.low if line.band.low is not None else low_end)
        fill = COLOURS["second" if line.second else "main"][1]
        parts.append(
            f'<rect x="{x0}" y="{_fmt(top)}" width="{x1 - x0}" '
            f'height="{_fmt(max(bottom - top, 1))}" fill="{fill}" '
            f'data-band="{escape(line.key)}"/>'
        )
    parts.append(f'<path d="M{x0} {y0}V{y1}H{x1}" fill="none" stroke="{AXIS}"/>')
    if unit:
        parts.append(f'<text x="2" y="10" fill="{MUTED}">{escape(unit)}</text>')
    placed: list[float] = []
    for value in sorted({*ends, low_end, high_end}):
        height = y(value)
        if any(abs(height - other) < 11 for other in placed):
            continue
        placed.append(height)
        parts.append(
            f'<text x="{x0 - 3}" y="{_fmt(height + 3.5)}" text-anchor="end" fill="{MUTED}">'
            f"{escape(format_number(value, language))}</text>"
        )
    first_day, last_day = (
        day_text(first.astimezone(zone), language),
        day_text(last.astimezone(zone), language),
    )
    parts.append(f'<text x="{x0}" y="{HEIGHT - 6}" fill="{MUTED}">{escape(first_day)}</text>')
    if last_day != first_day:
        parts.append(
            f'<text x="{x1}" y="{HEIGHT - 6}" text-anchor="end" fill="{MUTED}">'
            f"{escape(last_day)}</text>"
        )
    for line, points in shown:
        colour = COLOURS["second" if line.second else "main"][0]
        dash = ' stroke-dasharray="5 3"' if line.second else ""
        if len(points) > 1:
            path = " ".join(f"{_fmt(x(p.at))},{_fmt(y(p.value))}" for p in points)
            parts.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="1.5"'
                f'{dash} stroke-linejoin="round"/>'
            )
        if line.trend and (ends_of := trend_line(points)) is not None:
            parts.append(
                f'<line x1="{_fmt(x(points[0].at))}" y1="{_fmt(y(ends_of[0]))}" '
                f'x2="{_fmt(x(points[-1].at))}" y2="{_fmt(y(ends_of[1]))}" stroke="{MUTED}" '
                f'stroke-width="1.5" stroke-dasharray="2 3" data-trend="{escape(line.key)}"/>'
            )
        inside = [p for p in points if line.band is None or line.band.holds(p.value)]
        outside = [p for p in points if line.band is not None and not line.band.holds(p.value)]
        for group, fill in ((inside, colour), (outside, OUTSIDE)):
            if group:
                dots = "".join(f"M{_fmt(x(p.at))} {_fmt(y(p.value))}h0" for p in group)
                parts.append(
                    f'<path d="{dots}" stroke="{fill}" stroke-width="5" stroke-linecap="round" '
                    f'data-points="{escape(line.key)}" data-count="{len(group)}"/>'
                )
        latest = points[-1]
        parts.append(
            f'<text x="{_fmt(x(latest.at) + 6)}" y="{_fmt(y(latest.value) + 4)}" font-size="11" '
            f'font-weight="bold" fill="{colour}" data-latest="{escape(str(latest.value))}">'
            f"{escape(format_number(latest.value, language))}</text>"
        )
    parts.append("</svg>")
    return "".join(parts)


def _summary(shown: Sequence[tuple[Line, Sequence[Point]]], unit: str, language: str) -> str:
    """What a screen reader says: per line, how many readings, the latest, and how many fell
    outside the target."""

    def number(value: Decimal) -> str:
        text = format_number(value, language)
        return f"{text} {unit}" if unit else text

    said: list[str] = []
    for line, points in shown:
        text = ngettext(
            "%(line)s: %(count)d reading, latest %(value)s.",
            "%(line)s: %(count)d readings, latest %(value)s.",
            len(points),
        ) % {"line": line.label, "count": len(points), "value": number(points[-1].value)}
        if line.band is not None:
            outside = sum(1 for p in points if not line.band.holds(p.value))
            text += " " + gettext("Outside the target: %(count)d.") % {"count": outside}
        said.append(text)
    return " ".join(said)


# --- one measure of one person, as the pages ask for it ----------------------------------------


@dataclass(frozen=True)
class Sample:
    """A stored reading as the chart needs it (the pages build these from HomeReading)."""

    at: datetime
    value: Decimal
    value_2: Decimal | None = None


def measure_chart(
    *,
    code: str,
    samples: Sequence[Sample],
    targets: Mapping[str, object],
    title: str,
    unit: str,
    language: str,
    zone: tzinfo,
    chart_id: str,
) -> str:
    """The chart of one measure: blood pressure as systolic and diastolic with both bands,
    weight with its trend, anything else as one line with its band."""
    if code == Code.BP_PANEL.value:
        lines = [
            Line(
                "systolic",
                gettext("systolic"),
                [Point(s.at, s.value) for s in samples],
                band_from(targets, Code.SYSTOLIC.value),
            ),
            Line(
                "diastolic",
                gettext("diastolic"),
                [Point(s.at, s.value_2) for s in samples if s.value_2 is not None],
                band_from(targets, Code.DIASTOLIC.value),
                second=True,
            ),
        ]
    else:
        lines = [
            Line(
                "value",
                title,
                [Point(s.at, s.value) for s in samples],
                band_from(targets, code),
                trend=code == Code.WEIGHT.value,
            )
        ]
    return chart_svg(
        lines=lines,
        title=title,
        unit=unit,
        language=language,
        zone=zone,
        chart_id=chart_id,
        extent=EXTENTS.get(code),
    )
