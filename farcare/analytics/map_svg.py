"""The analytics map as inline SVG (issue 18, point 2): the Far East's region outlines
(`outlines`) with each settlement as a dot coloured by the chosen indicator.

Pure: outlines, points and the indicator's direction in, markup and a legend out; no ORM, no
request, nothing fetched. Like the monitoring charts, colours are SVG presentation attributes,
which the Content-Security-Policy allows (it forbids inline scripts and style attributes,
neither of which is here), so the figure needs no stylesheet and reads the same in any page.

Classes: up to five, by the quantiles of the figures shown (each class an equal share of the
settlements; fewer classes when there are fewer distinct figures), on a sequential palette from
light to dark where the darker end is always the worse one (`Indicator.higher_is_better`). A
figure hidden (a small cell, or its complement) and a settlement with nothing to compute are
drawn alike, as a hollow grey ring with no number, so the map cannot tell them apart either.

Size: the outlines are about 9 KB of path data in whole units; a dot costs ~90 bytes with its
<title>, so sixty settlements stay well under 20 KB before gzip, readable at 64 kbit/s.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from .outlines import Outlines, Region

CLASSES = 5
# Light to dark; the darkest is the worst. Five steps of one yellow–brown ramp, told apart in
# lightness alone (for readers who cannot tell hues apart) and all distinct from the hollow
# white of "× hidden / no data".
PALETTE = ("#fee391", "#fec44f", "#fe9929", "#d95f0e", "#993404")
LAND, LAND_CHOSEN, BORDER = "#e9eef3", "#d5dfe9", "#8a96a3"
INK, NO_DATA = "#1b2330", "#6b7683"
# The smallest part of the map a region's view shows, in map units (Jewish AO is ~60 across).
MIN_VIEW = 260
PAD = 14


@dataclass(frozen=True)
class MapPoint:
    """A settlement as the map draws it: `text` is the figure as every reader prints it
    ("12", "83 %", "×", "—"); `value` is None when it is hidden or there is nothing."""

    label: str
    region: str
    latitude: float
    longitude: float
    value: float | None
    text: str
    suppressed: bool = False


@dataclass(frozen=True)
class LegendEntry:
    colour: str  # "" for the hollow "× hidden / no data" ring
    text: str
    count: int


@dataclass(frozen=True)
class DrawnMap:
    svg: str
    legend: tuple[LegendEntry, ...]
    # Settlements that lie in no outlined region (none in the register today): listed in the
    # table beside the map, not drawn.
    off_map: tuple[str, ...] = ()


def class_breaks(values: Sequence[float], classes: int = CLASSES) -> tuple[float, ...]:
    """The upper bounds of every class but the last (a value v is in class k when it is above
    k of them). Quantiles by nearest rank, so each bound is an observed figure; at most
    `classes` classes, fewer when there are fewer distinct figures; () for none or one."""
    ordered = sorted(values)
    distinct = sorted(set(ordered))
    if len(distinct) <= classes:
        return tuple(distinct[:-1])
    bounds: list[float] = []
    for step in range(1, classes):
        rank = math.ceil(len(ordered) * step / classes)
        bound = ordered[rank - 1]
        if bound < distinct[-1] and (not bounds or bound > bounds[-1]):
            bounds.append(bound)
    return tuple(bounds)


def class_of(value: float, bounds: Sequence[float]) -> int:
    return sum(1 for bound in bounds if value > bound)


def class_colour(index: int, classes: int, higher_is_better: bool) -> str:
    """The colour of class `index` (0 = lowest figures) of `classes`: darker is worse."""
    if classes <= 1:
        return PALETTE[len(PALETTE) // 2]
    share = index / (classes - 1)
    darkness = 1 - share if higher_is_better else share
    return PALETTE[round(darkness * (len(PALETTE) - 1))]


def _view(outlines: Outlines, region: Region | None) -> tuple[int, int, int, int]:
    """x, y, width, height of what is shown: the Far East, or one region with a margin."""
    if region is None:
        return 0, 0, outlines.width, outlines.height
    left, top, right, bottom = region.box
    width = max(right - left + 2 * PAD, MIN_VIEW)
    height = max(bottom - top + 2 * PAD, MIN_VIEW)
    x = (left + right) // 2 - width // 2
    y = (top + bottom) // 2 - height // 2
    return x, y, width, height


def draw_map(
    *,
    outlines: Outlines,
    points: Sequence[MapPoint],
    higher_is_better: bool,
    title: str,
    region_names: Callable[[Region], str],
    number: Callable[[float], str],
    no_data_label: str,
    region: str = "",
) -> DrawnMap:
    """The map of `points` over every outline (one <path> per region), zoomed to `region` when
    one is given (its outline darker). `number` formats a figure for the legend as the table
    does; `region_names` names an outline in the reader's language."""
    chosen = outlines.region(region) if region else None
    x0, y0, width, height = _view(outlines, chosen)
    # Dots keep their size on the screen whatever the zoom: a fixed share of the view.
    radius = max(2, round(max(width, height) / 130))
    shown = [point.value for point in points if point.value is not None and not point.suppressed]
    bounds = class_breaks(shown)
    classes = len(bounds) + 1 if shown else 0
    known = {r.key for r in outlines.regions}

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="{x0} {y0} {width} {height}" '
        f'role="group" aria-labelledby="map-title" class="region-map" data-testid="map" '
        f'font-family="sans-serif">',
        f'<title id="map-title">{escape(title)}</title>',
        f'<g stroke="{BORDER}" stroke-linejoin="round">',
    ]
    for outline in outlines.regions:
        fill = LAND_CHOSEN if chosen is not None and outline.key == chosen.key else LAND
        parts.append(
            # Borders a hairline at any zoom (vector-effect is not inherited from the <g>).
            f'<path d="{outline.path}" fill="{fill}" vector-effect="non-scaling-stroke" '
            f'data-region="{escape(outline.key)}">'
            f"<title>{escape(region_names(outline))}</title></path>"
        )
    parts.append("</g>")

    hollow: list[str] = []
    filled: list[tuple[int, str]] = []
    counts = [0] * classes
    hidden_count = 0
    off_map: list[str] = []
    for point in points:
        if point.region not in known:
            off_map.append(point.label)
            continue
        x, y = outlines.project(point.latitude, point.longitude)
        label = escape(f"{point.label}: {point.text}")
        if point.value is None or point.suppressed:
            hidden_count += 1
            hollow.append(
                f'<circle cx="{round(x)}" cy="{round(y)}" r="{radius}" role="img" '
                f'data-hidden="1"><title>{label}</title></circle>'
            )
            continue
        index = class_of(point.value, bounds)
        counts[index] += 1
        colour = class_colour(index, classes, higher_is_better)
        filled.append(
            (
                index,
                f'<circle cx="{round(x)}" cy="{round(y)}" r="{radius}" fill="{colour}" '
                f'role="img" data-class="{index}"><title>{label}</title></circle>',
            )
        )
    if hollow:
        parts.append(f'<g fill="#fff" stroke="{NO_DATA}" stroke-width="{max(1, radius // 3)}">')
        parts += hollow
        parts.append("</g>")
    if filled:
        # The worse figures drawn last, on top, where dots crowd.
        worse_last = sorted(filled, key=lambda item: item[0], reverse=higher_is_better)
        parts.append(f'<g stroke="{INK}" stroke-width="{max(1, radius // 4)}">')
        parts += [markup for _index, markup in worse_last]
        parts.append("</g>")
    parts.append("</svg>")

    legend = [
        LegendEntry(class_colour(index, classes, higher_is_better), text, counts[index])
        for index, text in enumerate(_class_texts(shown, bounds, number))
    ]
    legend.append(LegendEntry("", no_data_label, hidden_count))
    return DrawnMap("".join(parts), tuple(legend), tuple(off_map))


def _class_texts(
    values: Sequence[float], bounds: Sequence[float], number: Callable[[float], str]
) -> list[str]:
    """Each class as the range of the figures in it ("12–18", or "12" alone)."""
    if not values:
        return []
    members: list[list[float]] = [[] for _ in range(len(bounds) + 1)]
    for value in values:
        members[class_of(value, bounds)].append(value)
    texts = []
    for group in members:
        low, high = min(group), max(group)
        texts.append(number(low) if low == high else f"{number(low)}–{number(high)}")
    return texts
