"""The clocks of a transfer, and of a region against the national target (issue 16, point 6).

Pure: it reads a transfer's timestamps (any object with the attributes of `Timed`, a model row
or a test's stand-in) and a `now`, never the database. Segments run first contact → decision →
departure with the patient → arrival (→ handover). A weather hold is time the patient waited all
the same, so the target is counted on the wall clock; the time without holds is shown beside it
to tell the weather from the rest.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

# The national target (domain.md §2): 90 % of emergency patients hospitalised within 24 hours.
TARGET_HOURS = 24
TARGET_SHARE = 0.9

SEGMENTS: tuple[tuple[str, str, str], ...] = (
    # (name, start attribute, end attribute)
    ("to_decision", "first_contact_at", "decided_at"),
    ("to_departure", "decided_at", "departed_at"),
    ("to_arrival", "departed_at", "arrived_at"),
    ("to_handover", "arrived_at", "handed_over_at"),
)


class Timed(Protocol):
    """What the clocks read of a transfer."""

    @property
    def first_contact_at(self) -> datetime: ...
    @property
    def decided_at(self) -> datetime: ...
    @property
    def departed_at(self) -> datetime | None: ...
    @property
    def arrived_at(self) -> datetime | None: ...
    @property
    def handed_over_at(self) -> datetime | None: ...
    @property
    def ended_at(self) -> datetime | None: ...
    @property
    def held_seconds(self) -> int: ...
    @property
    def held_since(self) -> datetime | None: ...


def _minutes(delta: timedelta) -> float:
    return max(0.0, delta.total_seconds() / 60)


@dataclass(frozen=True)
class Segment:
    name: str
    start: datetime | None
    end: datetime | None
    minutes: float | None  # None: not begun; a running segment counts up to now
    running: bool


@dataclass(frozen=True)
class Clock:
    segments: tuple[Segment, ...]
    elapsed_minutes: float  # first contact → arrival, or → the end, or → now: the wall clock
    held_minutes: float  # closed holds plus a hold still running
    running: bool  # neither arrived nor ended
    arrived: bool
    stopped_by_hold: bool  # held now: the clock without holds stands still

    @property
    def elapsed_without_holds_minutes(self) -> float:
        return max(0.0, self.elapsed_minutes - self.held_minutes)

    def within_target(self, hours: int = TARGET_HOURS) -> bool | None:
        """Hospitalised within `hours` of first contact: True/False once known, None while the
        case runs inside the target or ended without arriving (no hospitalisation to count)."""
        limit = hours * 60
        if self.arrived:
            return self.elapsed_minutes <= limit
        if self.elapsed_minutes > limit and self.running:
            return False
        return None

    def segment(self, name: str) -> Segment:
        return next(s for s in self.segments if s.name == name)


def clock(transfer: Timed, now: datetime) -> Clock:
    """The transfer's clock at `now` (aware datetimes)."""
    stop = transfer.arrived_at or transfer.ended_at
    running = stop is None
    end_of_wall = stop or now
    segments = []
    for name, start_attr, end_attr in SEGMENTS:
        start = getattr(transfer, start_attr)
        end = getattr(transfer, end_attr)
        if start is None:
            segments.append(Segment(name, None, end, None, False))
        elif end is not None:
            segments.append(Segment(name, start, end, _minutes(end - start), False))
        elif transfer.ended_at is None and (name != "to_handover" or running is False):
            # The segment in progress counts up to now; after arrival only the handover runs.
            segments.append(Segment(name, start, None, _minutes(now - start), True))
        else:
            segments.append(Segment(name, start, None, None, False))
    held = float(transfer.held_seconds) / 60
    stopped = transfer.held_since is not None and transfer.ended_at is None
    if stopped:
        assert transfer.held_since is not None
        held += _minutes(min(now, end_of_wall) - transfer.held_since)
    return Clock(
        segments=tuple(segments),
        elapsed_minutes=_minutes(end_of_wall - transfer.first_contact_at),
        held_minutes=held,
        running=running,
        arrived=transfer.arrived_at is not None,
        stopped_by_hold=stopped,
    )


@dataclass(frozen=True)
class RegionSummary:
    count: int  # transfers in the rows
    counted: int  # whose outcome against the target is known (arrived, or overdue)
    within_target: int
    share_within_target: float | None  # within / counted, None without a counted one
    target_share: float
    meets_target: bool | None
    median_minutes: dict[str, float | None]  # per segment name, of finished segments
    median_elapsed_minutes: float | None  # first contact → arrival, of arrived transfers
    median_held_minutes: float | None


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def region_summary(
    rows: Iterable[Timed], *, now: datetime | None = None, hours: int = TARGET_HOURS
) -> RegionSummary:
    """Aggregates of many transfers (a region over a period): the share hospitalised within
    the target of those whose outcome is known, and the median of each finished segment.
    Without `now`, a transfer that has not arrived is not counted against the target."""
    count = counted = within = 0
    segment_values: dict[str, list[float]] = {name: [] for name, _s, _e in SEGMENTS}
    elapsed: list[float] = []
    held: list[float] = []
    for row in rows:
        count += 1
        reference = now or row.arrived_at or row.ended_at or row.first_contact_at
        state = clock(row, reference)
        verdict = state.within_target(hours) if (now or state.arrived) else None
        if verdict is not None:
            counted += 1
            within += int(verdict)
        for segment in state.segments:
            if segment.minutes is not None and not segment.running:
                segment_values[segment.name].append(segment.minutes)
        if state.arrived:
            elapsed.append(state.elapsed_minutes)
            held.append(state.held_minutes)
    share = within / counted if counted else None
    return RegionSummary(
        count=count,
        counted=counted,
        within_target=within,
        share_within_target=share,
        target_share=TARGET_SHARE,
        meets_target=None if share is None else share >= TARGET_SHARE,
        median_minutes={name: _median(values) for name, values in segment_values.items()},
        median_elapsed_minutes=_median(elapsed),
        median_held_minutes=_median(held),
    )
