"""A table of figures as every reader gets it: the page, the map, the CSV and XLSX exports and
the monthly PDF all take a `ShownTable` from `selectors`, so a figure hidden in one is hidden
in all of them. Pure: no ORM."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from .indicators import Indicator

# What a hidden figure reads as, everywhere (pages, exports, the report).
SUPPRESSED_TEXT = "×"
# A figure with nothing to compute it from (no events that month).
EMPTY_TEXT = "—"


@dataclass(frozen=True)
class Figure:
    """One cell as shown. `value` is None when the figure is hidden or there is nothing to show;
    `text` is what every reader prints (formatted for the indicator's kind, not localised)."""

    value: float | None
    text: str
    suppressed: bool = False


@dataclass(frozen=True)
class Place:
    """What a settlement's (or facility's) row shows beside its figures so that inequity is
    visible: how far it is from the regional hub, and what link it has."""

    population: int | None = None
    distance_km: int | None = None
    link_type: str = ""
    link_label: str = ""
    bandwidth_kbps: int | None = None
    latitude: float | None = None
    longitude: float | None = None


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    region: str = ""
    figures: dict[str, Figure] = field(default_factory=dict)
    place: Place | None = None


@dataclass(frozen=True)
class ShownTable:
    """Rows of one dimension (or of months, for a trend) and the total they are a part of."""

    title: str
    dimension: str
    months: tuple[date, ...]
    indicators: tuple[Indicator, ...]
    rows: tuple[Row, ...]
    total: Row | None = None
    cross_border: bool = False
    form: str = ""
    region: str = ""
