"""How long an evacuation flight takes, from the call to the hospital door (issue 16, point 3).

An estimate adds, in minutes:
- dispatch: from the decision to take-off (the aircraft's default, the 60-minute target, unless
  the dispatcher gives the real figure, e.g. 0 for an aircraft already on site);
- ground at the origin: carrying the patient from the post to the helipad or airstrip;
- flight: the great-circle distance at cruise speed (no climb, descent, wind or detours);
- refuelling: one stop per leg after the first, when the distance exceeds the range;
- ground at the destination: from landing to the hospital's admission.
It assumes an aircraft is free and the weather and daylight allow flying; it does not know where
the aircraft is based (a positioning flight to the post is part of `dispatch_minutes`) and it
treats the stops as lying on the straight line. It is shown to the people who decide, not decided.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

from .aircraft import AircraftProfile
from .geo import Located, great_circle_km

# Assumptions: a post carries the patient a short way to the helipad; at a hub the airport is
# often across a river or bay from the hospital (Anadyr's is across the estuary).
DEFAULT_GROUND_MINUTES_ORIGIN = 15.0
DEFAULT_GROUND_MINUTES_DESTINATION = 30.0


@dataclass(frozen=True)
class Leg:
    distance_km: float
    flight_minutes: float


@dataclass(frozen=True)
class Estimate:
    aircraft: AircraftProfile
    distance_km: float
    legs: tuple[Leg, ...]
    flight_minutes: float
    refuel_stops: int
    refuel_minutes: float
    dispatch_minutes: float
    ground_minutes: float  # both ends together
    total_minutes: float


def split_into_legs(distance_km: float, range_km: float) -> tuple[float, ...]:
    """Equal legs, each within range: ceil(distance / range) legs, so ceil(...) − 1 stops.

    Equal legs rather than full-range legs and a short last one: the crew plans stops where fuel
    is stored, and equal legs keep the reserve on every leg. A zero distance is one empty leg.
    """
    if distance_km < 0 or range_km <= 0:
        raise ValueError("distance cannot be negative and range must be positive")
    count = max(1, math.ceil(distance_km / range_km))
    return (distance_km / count,) * count


def estimate(
    *,
    origin: Located,
    destination: Located,
    aircraft: AircraftProfile,
    dispatch_minutes: float | None = None,
    ground_minutes_origin: float = DEFAULT_GROUND_MINUTES_ORIGIN,
    ground_minutes_destination: float = DEFAULT_GROUND_MINUTES_DESTINATION,
) -> Estimate:
    """Minutes from the decision to fly to the patient's arrival at the destination hospital.

    `dispatch_minutes` None means the aircraft's default (the one-hour take-off target).
    """
    dispatch = aircraft.dispatch_minutes if dispatch_minutes is None else dispatch_minutes
    if dispatch < 0 or ground_minutes_origin < 0 or ground_minutes_destination < 0:
        raise ValueError("minutes cannot be negative")
    distance = great_circle_km(origin, destination)
    legs = tuple(
        Leg(distance_km=leg, flight_minutes=leg / aircraft.cruise_kmh * 60)
        for leg in split_into_legs(distance, aircraft.range_km)
    )
    # distance / cruise × 60, the same as the sum of the legs' minutes.
    flight = distance / aircraft.cruise_kmh * 60
    stops = len(legs) - 1
    refuel = stops * aircraft.refuel_stop_minutes
    ground = ground_minutes_origin + ground_minutes_destination
    return Estimate(
        aircraft=aircraft,
        distance_km=distance,
        legs=legs,
        flight_minutes=flight,
        refuel_stops=stops,
        refuel_minutes=refuel,
        dispatch_minutes=dispatch,
        ground_minutes=ground,
        total_minutes=dispatch + ground + flight + refuel,
    )


def best_estimate(
    origin: Located,
    destination: Located,
    aircraft_list: Iterable[AircraftProfile],
    *,
    max_refuel_stops: int | None = None,
    dispatch_minutes: float | None = None,
    ground_minutes_origin: float = DEFAULT_GROUND_MINUTES_ORIGIN,
    ground_minutes_destination: float = DEFAULT_GROUND_MINUTES_DESTINATION,
) -> Estimate | None:
    """The fastest estimate among the aircraft that can make the trip, or None if none can.

    Feasible means: no more than `max_refuel_stops` stops (None: any number). The caller passes
    only the aircraft that are free and can land at both ends (a plane needs an airstrip). On a
    tie the earlier aircraft in `aircraft_list` wins, so the caller's order is the preference.
    """
    feasible = [
        candidate
        for candidate in (
            estimate(
                origin=origin,
                destination=destination,
                aircraft=aircraft,
                dispatch_minutes=dispatch_minutes,
                ground_minutes_origin=ground_minutes_origin,
                ground_minutes_destination=ground_minutes_destination,
            )
            for aircraft in aircraft_list
        )
        if max_refuel_stops is None or candidate.refuel_stops <= max_refuel_stops
    ]
    return min(feasible, key=lambda candidate: candidate.total_minutes, default=None)
