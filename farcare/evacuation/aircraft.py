"""Reference aircraft and ground transport of the regional air ambulances, as data (issue 16).

Source: domain.md §10 ("approximate cruise speed / range"). Every figure here is approximate and a
default for estimates, never a flight plan: the real speed, range and readiness depend on the
airframe, the load, the wind, daylight and the weather, which the dispatcher decides on.
Where §10 gives a span (Mi-8 range 500–600 km, L-410 cruise 300–350 km/h) the middle is taken.
Crew and the refuelling stop are not in §10: they are the usual figures for these types and are
marked as assumptions below.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

# Target from the regional services (domain.md §2, §10): take-off within one hour when an
# aircraft is free. An estimate uses it unless the dispatcher gives the real figure.
DEFAULT_DISPATCH_MINUTES = 60
# Assumption: landing, refuelling from a fuel store and taking off again at an intermediate site.
DEFAULT_REFUEL_STOP_MINUTES = 45


class AircraftKind(StrEnum):
    HELICOPTER = "helicopter"  # lands at a settlement's helipad or any flat site
    PLANE = "plane"  # needs an airstrip at both ends


@dataclass(frozen=True)
class AircraftProfile:
    code: str  # stable identifier; the display name is translated on pages
    kind: AircraftKind
    cruise_kmh: float
    range_km: float  # on standard tanks, with reserve; a leg longer than this needs a stop
    crew: int  # flight crew, not counting the medical team (assumption, see module docstring)
    dispatch_minutes: int = DEFAULT_DISPATCH_MINUTES
    refuel_stop_minutes: int = DEFAULT_REFUEL_STOP_MINUTES

    def __post_init__(self) -> None:
        if self.cruise_kmh <= 0 or self.range_km <= 0:
            raise ValueError(f"{self.code}: cruise speed and range must be positive")
        if self.dispatch_minutes < 0 or self.refuel_stop_minutes < 0:
            raise ValueError(f"{self.code}: minutes cannot be negative")


MI_8 = AircraftProfile(
    code="mi-8", kind=AircraftKind.HELICOPTER, cruise_kmh=220, range_km=550, crew=3
)
ANSAT = AircraftProfile(
    code="ansat", kind=AircraftKind.HELICOPTER, cruise_kmh=250, range_km=500, crew=2
)
L_410 = AircraftProfile(
    code="l-410", kind=AircraftKind.PLANE, cruise_kmh=320, range_km=1300, crew=2
)

AIRCRAFT: tuple[AircraftProfile, ...] = (MI_8, ANSAT, L_410)


def aircraft_by_code(code: str) -> AircraftProfile:
    for profile in AIRCRAFT:
        if profile.code == code:
            return profile
    raise KeyError(code)


class GroundMode(StrEnum):
    ROAD = "road"  # an all-season road, where one exists
    WINTER_ROAD = "winter_road"  # зимник: a road over frozen ground and rivers
    RIVER = "river"  # a boat during the navigation season


ALL_YEAR: frozenset[int] = frozenset(range(1, 13))


@dataclass(frozen=True)
class GroundProfile:
    """A way over the ground and the months (1–12) it normally runs. Assumptions, not in §10:
    average speeds including stops, and seasons as in Chukotka and northern Yakutia; the actual
    opening of a winter road or of navigation is announced each year by the region."""

    mode: GroundMode
    speed_kmh: float
    months: frozenset[int]

    def runs_in(self, month: int) -> bool:
        return month in self.months

    def minutes_for(self, distance_km: float) -> float:
        return distance_km / self.speed_kmh * 60


GROUND: tuple[GroundProfile, ...] = (
    GroundProfile(GroundMode.ROAD, speed_kmh=40, months=ALL_YEAR),
    GroundProfile(GroundMode.WINTER_ROAD, speed_kmh=30, months=frozenset({12, 1, 2, 3, 4})),
    GroundProfile(GroundMode.RIVER, speed_kmh=25, months=frozenset({6, 7, 8, 9})),
)


def ground_options(month: int) -> tuple[GroundProfile, ...]:
    """The ground profiles that run in the given month (1–12)."""
    if month not in ALL_YEAR:
        raise ValueError(f"month out of range: {month}")
    return tuple(profile for profile in GROUND if profile.runs_in(month))
