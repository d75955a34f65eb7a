"""From the database to the pure estimates: which hospitals can take the patient, how long each
would take by air (from where the aircraft actually stands) and over the ground, and what that
means for a time-critical condition (issue 16, points 3 and 4).

Positioning: an aircraft is rarely at the post. Its flight from its base to the origin is part
of the dispatch time (`estimates.py` leaves it to the caller): dispatch = the take-off target
(60 minutes) + the positioning flight (with its own refuelling stops), unless the base is in the
origin's settlement. A plane needs an airstrip at the origin and at the destination; a helicopter
a landing site (every settlement without an `Airfield` row has one).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from farcare.network.models import Facility, FacilityKind, Settlement

from . import windows
from .aircraft import GROUND, AircraftKind, AircraftProfile, GroundMode, aircraft_by_code
from .estimates import (
    DEFAULT_GROUND_MINUTES_DESTINATION,
    DEFAULT_GROUND_MINUTES_ORIGIN,
    Estimate,
    estimate,
    split_into_legs,
)
from .geo import Point, great_circle_km
from .models import (
    Aircraft,
    AircraftStatus,
    Airfield,
    Capability,
    GroundRoute,
    Transfer,
    TransferCondition,
)

# Which capability a condition needs at the destination; the rest go to a regional hub or above.
NEEDED: dict[str, Capability] = {
    TransferCondition.STEMI: Capability.PCI,
    TransferCondition.ISCHAEMIC_STROKE: Capability.STROKE_THROMBOLYSIS,
}
HUB_AND_ABOVE = (FacilityKind.REGIONAL_HUB, FacilityKind.FEDERAL_CENTRE)
# Conditions with a window (windows.py); urgent and planned transfers have none.
TIMED: dict[str, windows.Condition] = {
    TransferCondition.STEMI: windows.Condition.STEMI,
    TransferCondition.ISCHAEMIC_STROKE: windows.Condition.ISCHAEMIC_STROKE,
    TransferCondition.EMERGENCY: windows.Condition.EMERGENCY,
}


def point(place: Facility | Settlement | Any) -> Point:
    return Point(place.latitude, place.longitude)


def profile_of(aircraft: Aircraft) -> AircraftProfile:
    """The type's profile with this airframe's own figures."""
    return dataclasses.replace(
        aircraft_by_code(aircraft.profile),
        kind=AircraftKind(aircraft.kind),
        cruise_kmh=aircraft.cruise_kmh,
        range_km=aircraft.range_km,
        crew=aircraft.crew,
    )


def _airfields(settlement_ids: set[int]) -> dict[int, Airfield]:
    return {a.settlement_id: a for a in Airfield.objects.filter(settlement_id__in=settlement_ids)}


def can_land(kind: AircraftKind, airfield: Airfield | None) -> bool:
    if kind == AircraftKind.PLANE:
        return airfield is not None and airfield.has_airstrip
    return airfield is None or airfield.has_helipad


@dataclass(frozen=True)
class AirOption:
    aircraft: Aircraft
    estimate: Estimate
    positioning_km: float
    positioning_minutes: float  # flight and stops from the base to the origin; in dispatch


@dataclass(frozen=True)
class GroundOption:
    mode: GroundMode
    distance_km: float
    minutes: float


@dataclass(frozen=True)
class DestinationOption:
    facility: Facility
    capability: str  # the capability that qualifies it, or "" (a hub or above)
    air: AirOption | None
    ground: tuple[GroundOption, ...]
    best_minutes: float | None  # the fastest of air and ground
    advice: windows.Advice | None  # for time-critical conditions; shown, not decided


def positioning(
    aircraft: Aircraft, origin: Facility, profile: AircraftProfile
) -> tuple[float, float]:
    """(km, minutes) of the flight from the aircraft's base to the origin, with refuelling."""
    base = aircraft.base
    if base.settlement_id == origin.settlement_id:
        return 0.0, 0.0
    km = great_circle_km(point(base), point(origin))
    stops = len(split_into_legs(km, profile.range_km)) - 1
    return km, km / profile.cruise_kmh * 60 + stops * profile.refuel_stop_minutes


def air_estimate(
    aircraft: Aircraft,
    origin: Facility,
    destination: Facility,
    airfields: dict[int, Airfield] | None = None,
) -> AirOption | None:
    """The estimate for one airframe, or None when it cannot land at both ends."""
    if airfields is None:
        airfields = _airfields({origin.settlement_id, destination.settlement_id})
    profile = profile_of(aircraft)
    at_origin = airfields.get(origin.settlement_id)
    at_destination = airfields.get(destination.settlement_id)
    if not (can_land(profile.kind, at_origin) and can_land(profile.kind, at_destination)):
        return None
    km, minutes = positioning(aircraft, origin, profile)
    result = estimate(
        origin=point(origin),
        destination=point(destination),
        aircraft=profile,
        dispatch_minutes=profile.dispatch_minutes + minutes,
        ground_minutes_origin=(
            at_origin.ground_minutes if at_origin else DEFAULT_GROUND_MINUTES_ORIGIN
        ),
        ground_minutes_destination=(
            at_destination.ground_minutes if at_destination else DEFAULT_GROUND_MINUTES_DESTINATION
        ),
    )
    return AirOption(aircraft, result, km, minutes)


def available_aircraft() -> QuerySet[Aircraft]:
    return Aircraft.objects.filter(status=AircraftStatus.AVAILABLE).select_related(
        "base", "base__settlement"
    )


def best_air(
    origin: Facility, destination: Facility, aircraft: list[Aircraft] | None = None
) -> AirOption | None:
    """The fastest available aircraft for the trip, positioning included; ties go to the
    airframe listed first (base, registration)."""
    fleet = list(available_aircraft()) if aircraft is None else aircraft
    airfields = _airfields({origin.settlement_id, destination.settlement_id})
    options = [
        option
        for option in (air_estimate(a, origin, destination, airfields) for a in fleet)
        if option is not None
    ]
    return min(options, key=lambda option: option.estimate.total_minutes, default=None)


def ground_options(
    origin: Facility, destination: Facility, month: int | None = None
) -> tuple[GroundOption, ...]:
    """The ground routes between the two settlements (either direction) running this month."""
    month = month or timezone.localdate().month
    speeds = {profile.mode: profile for profile in GROUND}
    a, b = origin.settlement_id, destination.settlement_id
    routes = GroundRoute.objects.filter(origin_id=a, destination_id=b) | GroundRoute.objects.filter(
        origin_id=b, destination_id=a
    )
    found = []
    for route in routes.order_by("mode", "pk"):
        if month not in (route.months or []):
            continue
        profile = speeds[GroundMode(route.mode)]
        found.append(
            GroundOption(
                GroundMode(route.mode), route.distance_km, profile.minutes_for(route.distance_km)
            )
        )
    return tuple(sorted(found, key=lambda option: option.minutes))


def _elapsed_minutes(
    condition: windows.Condition,
    now: datetime,
    first_contact_at: datetime | None,
    onset_at: datetime | None,
) -> float:
    window = windows.window_for(condition)
    start = first_contact_at
    if window.counted_from == windows.CountedFrom.SYMPTOM_ONSET and onset_at is not None:
        start = onset_at
    if start is None:
        return 0.0
    return max(0.0, (now - start).total_seconds() / 60)


def advice_for(
    condition: str,
    minutes_to_capable: float | None,
    *,
    now: datetime,
    first_contact_at: datetime | None,
    onset_at: datetime | None = None,
) -> windows.Advice | None:
    """The window advice, or None for a condition without one or without any estimate. A
    stroke without a known onset is counted from first contact: the advice is then optimistic,
    which the page says."""
    timed = TIMED.get(condition)
    if timed is None or minutes_to_capable is None:
        return None
    elapsed = _elapsed_minutes(timed, now, first_contact_at, onset_at)
    return windows.advice(timed, minutes_to_capable, elapsed)


def advice_json(advice: windows.Advice | None, **extra: Any) -> dict[str, Any]:
    if advice is None:
        return {}
    data = {
        key: (str(value) if isinstance(value, str) else value)
        for key, value in dataclasses.asdict(advice).items()
    }
    for key in ("elapsed_minutes", "expected_minutes", "margin_minutes"):
        data[key] = round(float(data[key]), 1)
    data.update(extra)
    return data


def capable_facilities(origin: Facility, condition: str) -> list[tuple[Facility, str]]:
    needed = NEEDED.get(condition)
    facilities = Facility.objects.filter(country=origin.country).exclude(pk=origin.pk)
    if needed is not None:
        facilities = facilities.filter(capabilities__capability=needed)
        label = str(needed.value)
    else:
        facilities = facilities.filter(kind__in=HUB_AND_ABOVE)
        label = ""
    return [(f, label) for f in facilities.select_related("settlement").distinct().order_by("pk")]


def candidate_destinations(
    origin: Facility,
    condition: str,
    *,
    now: datetime | None = None,
    first_contact_at: datetime | None = None,
    onset_at: datetime | None = None,
) -> list[DestinationOption]:
    """Hospitals that can take the patient, fastest first (those without any way last)."""
    now = now or timezone.now()
    fleet = list(available_aircraft())
    month = timezone.localtime(now).month
    found = []
    for facility, capability in capable_facilities(origin, condition):
        air = best_air(origin, facility, fleet)
        ground = ground_options(origin, facility, month)
        times = [option.minutes for option in ground]
        if air is not None:
            times.append(air.estimate.total_minutes)
        best = min(times, default=None)
        found.append(
            DestinationOption(
                facility=facility,
                capability=capability,
                air=air,
                ground=ground,
                best_minutes=best,
                advice=advice_for(
                    condition,
                    best,
                    now=now,
                    first_contact_at=first_contact_at or now,
                    onset_at=onset_at,
                ),
            )
        )
    return sorted(
        found,
        key=lambda o: (o.best_minutes is None, o.best_minutes or math.inf, o.facility.pk),
    )


def air_json(option: AirOption) -> dict[str, Any]:
    e = option.estimate
    return {
        "mode": "air",
        "total_minutes": round(e.total_minutes, 1),
        "dispatch_minutes": round(e.dispatch_minutes, 1),
        "positioning_minutes": round(option.positioning_minutes, 1),
        "positioning_km": round(option.positioning_km, 1),
        "flight_minutes": round(e.flight_minutes, 1),
        "refuel_stops": e.refuel_stops,
        "refuel_minutes": round(e.refuel_minutes, 1),
        "ground_minutes": round(e.ground_minutes, 1),
        "distance_km": round(e.distance_km, 1),
        "aircraft_registration": option.aircraft.registration,
        "aircraft_profile": option.aircraft.profile,
        "aircraft_kind": option.aircraft.kind,
    }


def ground_json(option: GroundOption) -> dict[str, Any]:
    return {
        "mode": "ground",
        "ground_mode": str(option.mode),
        "total_minutes": round(option.minutes, 1),
        "distance_km": round(option.distance_km, 1),
    }


def estimate_for(transfer: Transfer, aircraft: Aircraft | None = None) -> dict[str, Any]:
    """A JSON-ready snapshot of the estimate to the transfer's destination: with the given
    aircraft, or the best available one (or the transfer's ground mode, or the fastest ground
    route when no aircraft can fly it). {} without a destination or any way there."""
    destination = transfer.destination
    if destination is None:
        return {}
    origin = transfer.origin
    ground = ground_options(origin, destination)
    if transfer.ground_mode and aircraft is None:
        same = [g for g in ground if g.mode == transfer.ground_mode]
        return ground_json(same[0]) if same else {}
    if aircraft is not None:
        option = air_estimate(aircraft, origin, destination)
    else:
        option = best_air(origin, destination)
    if option is None:
        return ground_json(ground[0]) if ground else {}
    snapshot = air_json(option)
    if ground:
        snapshot["ground_alternative"] = ground_json(ground[0])
    return snapshot
