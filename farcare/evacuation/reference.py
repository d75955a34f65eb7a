"""The air ambulances, landing sites, ground routes and hospital capabilities of the demo network
(issue 16), as data, and one idempotent loader that puts them in the database.

Registrations follow the Russian pattern of each type (RA-22xxx Mi-8, RA-67xxx L-410, RA-20xxx
Ansat) but are invented; which hospital has a cath lab and which base flies what is a plausible
picture of the regions, not a register. A region's real figures replace these rows, not code.
Loading twice changes nothing; a row edited by a coordinator (an aircraft's status) is kept.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction

from farcare.network.models import Facility, FacilityKind, Settlement

from .aircraft import ALL_YEAR, AircraftKind, GroundMode, aircraft_by_code
from .models import (
    Aircraft,
    AircraftStatus,
    Airfield,
    Capability,
    FacilityCapability,
    GroundRoute,
    TransportBase,
)


@dataclass(frozen=True)
class BaseRow:
    settlement: str  # Settlement.name_en
    name_en: str
    name_ru: str
    name_ko: str


@dataclass(frozen=True)
class AircraftRow:
    base: str  # the base's settlement
    registration: str
    profile: str  # aircraft.AIRCRAFT code
    status: str = AircraftStatus.AVAILABLE
    status_note: str = ""


@dataclass(frozen=True)
class RouteRow:
    origin: str
    destination: str
    mode: GroundMode
    distance_km: float  # along the road or river, not the straight line
    months: frozenset[int]


BASES: tuple[BaseRow, ...] = (
    BaseRow("Anadyr", "Anadyr air ambulance", "Санавиация, Анадырь", "아나디르 항공 구급대"),
    BaseRow(
        "Petropavlovsk-Kamchatsky",
        "Kamchatka air ambulance",
        "Санавиация, Петропавловск-Камчатский",
        "캄차카 항공 구급대",
    ),
    BaseRow("Magadan", "Magadan air ambulance", "Санавиация, Магадан", "마가단 항공 구급대"),
    BaseRow("Yakutsk", "Yakutia air ambulance", "Санавиация, Якутск", "야쿠티야 항공 구급대"),
    BaseRow(
        "Khabarovsk", "Khabarovsk air ambulance", "Санавиация, Хабаровск", "하바롭스크 항공 구급대"
    ),
)

FLEET: tuple[AircraftRow, ...] = (
    AircraftRow("Anadyr", "RA-22851", "mi-8"),
    AircraftRow(
        "Anadyr", "RA-22852", "mi-8", AircraftStatus.MAINTENANCE, "Scheduled 100-hour check"
    ),
    AircraftRow("Anadyr", "RA-67021", "l-410"),
    AircraftRow("Petropavlovsk-Kamchatsky", "RA-22861", "mi-8"),
    AircraftRow("Petropavlovsk-Kamchatsky", "RA-20071", "ansat"),
    AircraftRow("Magadan", "RA-22871", "mi-8"),
    AircraftRow("Magadan", "RA-67031", "l-410"),
    AircraftRow("Yakutsk", "RA-22881", "mi-8"),
    AircraftRow("Yakutsk", "RA-67041", "l-410"),
    AircraftRow("Yakutsk", "RA-20081", "ansat"),
    AircraftRow("Khabarovsk", "RA-22891", "mi-8"),
    AircraftRow("Khabarovsk", "RA-20091", "ansat"),
)

WINTER = frozenset({12, 1, 2, 3, 4})
NAVIGATION = frozenset({6, 7, 8, 9})

GROUND_ROUTES: tuple[RouteRow, ...] = (
    # The coastal winter road between the two Chukchi villages and the district centre.
    RouteRow("Lorino", "Lavrentiya", GroundMode.WINTER_ROAD, 35, WINTER),
    RouteRow("Verkhoyansk", "Batagay", GroundMode.WINTER_ROAD, 95, WINTER),
    # Down the Lena in the navigation season.
    RouteRow("Zhigansk", "Yakutsk", GroundMode.RIVER, 820, NAVIGATION),
    RouteRow("Yelizovo", "Petropavlovsk-Kamchatsky", GroundMode.ROAD, 32, ALL_YEAR),
    RouteRow("Komsomolsk-on-Amur", "Khabarovsk", GroundMode.ROAD, 390, ALL_YEAR),
)

# Every regional hub of the demo network has a cath lab on call and treats strokes; the federal
# centre too. District hospitals stabilise and send on.
HUB_CAPABILITIES = (
    Capability.PCI,
    Capability.STROKE_THROMBOLYSIS,
    Capability.INTENSIVE_CARE,
    Capability.TRAUMA,
)
CAPABLE_KINDS = (FacilityKind.REGIONAL_HUB, FacilityKind.FEDERAL_CENTRE)

# Minutes from the landing site to the facility (estimates.py's defaults otherwise): a hub's
# airport is often across a river or bay (Anadyr's across the estuary), a district centre's at
# the edge of the village, a post's helicopter site next to it.
GROUND_MINUTES: dict[str, int] = {
    FacilityKind.REGIONAL_HUB: 30,
    FacilityKind.FEDERAL_CENTRE: 45,
    FacilityKind.DISTRICT_HOSPITAL: 15,
    FacilityKind.FELDSHER_POST: 10,
}
AIRSTRIP_KINDS = (FacilityKind.REGIONAL_HUB, FacilityKind.DISTRICT_HOSPITAL)


def _settlement(name: str) -> Settlement | None:
    return Settlement.objects.filter(name_en=name).first()


@transaction.atomic
def load_reference() -> dict[str, int]:
    """Bases, aircraft, landing sites, ground routes and capabilities for the facilities that
    exist (a network without Magadan simply gets no Magadan base); returns counts per kind."""
    counts = {"bases": 0, "aircraft": 0, "airfields": 0, "routes": 0, "capabilities": 0}
    bases: dict[str, TransportBase] = {}
    for row in BASES:
        settlement = _settlement(row.settlement)
        if settlement is None:
            continue
        base, _created = TransportBase.objects.update_or_create(
            settlement=settlement,
            name_en=row.name_en,
            defaults={
                "name_ru": row.name_ru,
                "name_ko": row.name_ko,
                "region": settlement.region,
                "latitude": settlement.latitude,
                "longitude": settlement.longitude,
            },
        )
        bases[row.settlement] = base
        counts["bases"] += 1
    for plane in FLEET:
        if plane.base not in bases:
            continue
        profile = aircraft_by_code(plane.profile)
        Aircraft.objects.get_or_create(
            registration=plane.registration,
            defaults={
                "base": bases[plane.base],
                "profile": profile.code,
                "kind": AircraftKind(profile.kind).value,
                "cruise_kmh": profile.cruise_kmh,
                "range_km": profile.range_km,
                "crew": profile.crew,
                "status": plane.status,
                "status_note": plane.status_note,
            },
        )
        counts["aircraft"] += 1
    # One landing site per settlement, by its best-equipped facility.
    best: dict[int, str] = {}
    order: list[str] = list(GROUND_MINUTES)
    for facility in Facility.objects.filter(kind__in=order).only("settlement_id", "kind"):
        current = best.get(facility.settlement_id)
        if current is None or order.index(facility.kind) < order.index(current):
            best[facility.settlement_id] = facility.kind
    for settlement_id, kind in best.items():
        Airfield.objects.get_or_create(
            settlement_id=settlement_id,
            defaults={
                "has_airstrip": kind in AIRSTRIP_KINDS,
                "has_helipad": True,
                "ground_minutes": GROUND_MINUTES[kind],
            },
        )
        counts["airfields"] += 1
    for route in GROUND_ROUTES:
        origin, destination = _settlement(route.origin), _settlement(route.destination)
        if origin is None or destination is None:
            continue
        GroundRoute.objects.update_or_create(
            origin=origin,
            destination=destination,
            mode=route.mode.value,
            defaults={"distance_km": route.distance_km, "months": sorted(route.months)},
        )
        counts["routes"] += 1
    for facility in Facility.objects.filter(kind__in=CAPABLE_KINDS, country="RU"):
        for capability in HUB_CAPABILITIES:
            FacilityCapability.objects.get_or_create(facility=facility, capability=capability)
            counts["capabilities"] += 1
    return counts
