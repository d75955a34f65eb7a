"""The transfers a region's clocks are counted over (issue 16, point 6): per region of the
sending facility, over a period, the rows `clocks.region_summary` aggregates against the
national target (90 % of emergency patients hospitalised within 24 hours, domain.md §2).

A selector of aggregates: it hands the rows to the pure clocks and returns numbers, never a
patient. The page that shows them (coordinators and analysts) decides who may look.

What counts, where the target is silent:
- the region is the sending facility's: the target is the region's, wherever the bed was;
- the period is of first medical contact, [start, end) in UTC days; the page asks for whole
  calendar months in UTC (`month_period`, farcare.core.months), so that no two periods it
  offers differ by less than a month and a single case cannot be cut out by subtracting one
  period from another;
- emergencies only (STEMI, stroke, other emergency): urgent and planned transfers have no 24-hour
  target;
- a transfer cancelled or ended by treatment on site sought no hospitalisation and is left out
  of the count of transfers; any other ending is counted by the clocks' own rules.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time

from django.db.models import QuerySet

from farcare.core.months import month_period
from farcare.core.suppression import SMALL_CELL, Line, suppress_lines

from .clocks import RegionSummary, region_summary
from .models import Transfer, TransferCondition, TransferStatus

EMERGENCY_CONDITIONS = (
    TransferCondition.STEMI,
    TransferCondition.ISCHAEMIC_STROKE,
    TransferCondition.EMERGENCY,
)
LEFT_OUT = (TransferStatus.CANCELLED, TransferStatus.TREATED_LOCALLY)


@dataclass(frozen=True)
class RegionClocks:
    region: str
    summary: RegionSummary


def _moment(day: date | datetime) -> datetime:
    if isinstance(day, datetime):
        if day.tzinfo is None:
            raise ValueError("a moment without its zone")
        return day
    return datetime.combine(day, time.min, tzinfo=UTC)


def region_rows(
    region: str,
    *,
    start: date | datetime,
    end: date | datetime,
    conditions: Iterable[str] = EMERGENCY_CONDITIONS,
) -> QuerySet[Transfer]:
    """The transfers of `region` (the sending facility's) whose first contact falls in
    [start, end). Only the fields the clocks read are loaded."""
    return (
        Transfer.objects.filter(
            origin__region=region,
            first_contact_at__gte=_moment(start),
            first_contact_at__lt=_moment(end),
            condition__in=list(conditions),
        )
        .exclude(status__in=LEFT_OUT)
        .only(
            "first_contact_at",
            "decided_at",
            "departed_at",
            "arrived_at",
            "handed_over_at",
            "ended_at",
            "held_seconds",
            "held_since",
        )
        .order_by("first_contact_at", "pk")
    )


def regions_with_transfers(*, start: date | datetime, end: date | datetime) -> list[str]:
    """The sending regions that have any transfer in the period, alphabetically."""
    return sorted(
        set(
            Transfer.objects.filter(
                first_contact_at__gte=_moment(start), first_contact_at__lt=_moment(end)
            ).values_list("origin__region", flat=True)
        )
    )


def region_clocks(
    *,
    start: date | datetime,
    end: date | datetime,
    now: datetime | None = None,
    regions: Iterable[str] | None = None,
) -> list[RegionClocks]:
    """One summary per region (all regions with transfers in the period unless given). `now`
    counts a transfer still on its way as late once 24 hours have passed (the page passes the
    current time; without it only arrived transfers are counted)."""
    chosen = regions_with_transfers(start=start, end=end) if regions is None else list(regions)
    return [
        RegionClocks(region, region_summary(region_rows(region, start=start, end=end), now=now))
        for region in chosen
    ]


__all__ = [
    "EMERGENCY_CONDITIONS",
    "RegionClocks",
    "ShownClocks",
    "month_period",
    "region_clocks",
    "region_rows",
    "regions_with_transfers",
    "shown_clocks",
]


@dataclass(frozen=True)
class ShownClocks:
    """A region's row as a reader may see it. Below SMALL_CELL transfers a row could be one
    person's journey (their exact minutes): for anyone but that region's own coordinator it says
    only "fewer than 5" and hides the share and medians, the rule of every aggregate page
    (farcare.core.suppression). `hidden` is decided over the whole table by `shown_clocks`."""

    region: str
    summary: RegionSummary
    exact: bool
    hidden: bool = False

    @property
    def small(self) -> bool:
        """Shown only as "fewer than" SMALL_CELL: the page shows no total of regions, so the
        only rows hidden are the small ones (no row is hidden as another's complement)."""
        return self.hidden

    @property
    def count(self) -> int | None:
        """The count, or None when it is shown only as "fewer than" SMALL_CELL."""
        return None if self.hidden else self.summary.count

    @property
    def share_shown(self) -> bool:
        """The share (and its within/counted) only over enough known outcomes: 1 of 1 within
        24 hours tells one patient's outcome as surely as their minutes do."""
        return self.exact or (not self.hidden and self.summary.counted >= SMALL_CELL)

    @property
    def medians_shown(self) -> bool:
        return not self.hidden


def shown_clocks(
    rows: Iterable[RegionClocks], *, exact_regions: Iterable[str]
) -> list[ShownClocks]:
    """Each region's row, exact only for the regions in `exact_regions` (the reader
    coordinates them, and already sees their transfers one by one on the board).

    The regions' counts are one line of farcare.core.suppression without a total (the page
    shows none): a small count is hidden, and nothing else needs to be. The exact regions are
    left out of the line: their reader knows them already."""
    rows = list(rows)
    exact = set(exact_regions)
    counts = {row.region: row.summary.count for row in rows if row.region not in exact}
    hidden = suppress_lines(counts, [Line(None, tuple(counts))])
    return [
        ShownClocks(row.region, row.summary, row.region in exact, row.region in hidden)
        for row in rows
    ]
