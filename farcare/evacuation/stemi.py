"""Which posts can get a STEMI patient to a PCI centre within 120 minutes (issue 16).

For each post: the nearest capable hospital by great-circle distance, the fastest aircraft to it
and whether the total is within the STEMI window counted from the feldsher's first contact. A
post that misses it plans for fibrinolysis on site (windows.py); the table is for the lead's demo
network and for planning, shown, not decided.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from .aircraft import AircraftProfile
from .estimates import Estimate, best_estimate
from .geo import Located, great_circle_km
from .windows import Condition, advice

PlaceT = TypeVar("PlaceT", bound=Located)


@dataclass(frozen=True)
class StemiRow(Generic[PlaceT]):
    post: PlaceT
    hospital: PlaceT  # the nearest capable hospital
    distance_km: float
    best: Estimate | None  # None when the post is itself capable or no aircraft can fly it
    total_minutes: float | None
    within_window: bool


def stemi_table(
    settlements: Iterable[PlaceT],
    capable_hospitals: Sequence[PlaceT],
    aircraft: Sequence[AircraftProfile],
) -> list[StemiRow[PlaceT]]:
    """One row per settlement, in the given order, with the default dispatch and ground times."""
    if not capable_hospitals:
        raise ValueError("at least one capable hospital is needed")
    rows: list[StemiRow[PlaceT]] = []
    for post in settlements:
        hospital = min(capable_hospitals, key=lambda candidate: great_circle_km(post, candidate))
        distance = great_circle_km(post, hospital)
        if distance == 0:
            # The post is the capable hospital: no transfer, the window is its own to meet.
            rows.append(StemiRow(post, hospital, 0.0, None, 0.0, within_window=True))
            continue
        best = best_estimate(post, hospital, aircraft)
        total = None if best is None else best.total_minutes
        within = total is not None and not advice(Condition.STEMI, total, 0).exceeded
        rows.append(StemiRow(post, hospital, distance, best, total, within_window=within))
    return rows
