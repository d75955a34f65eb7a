"""Where can the patient go and how long would it take, from the database: the aircraft fly from
their base (the positioning flight counts into dispatch), a plane needs an airstrip at both
ends, ground routes count in the months they run, and time-critical conditions get the
window advice. The figures match a hand calculation."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from farcare.evacuation.aircraft import MI_8
from farcare.evacuation.geo import Point, great_circle_km
from farcare.evacuation.models import AircraftStatus, GroundRoute, Transfer, TransferCondition
from farcare.evacuation.planning import (
    air_estimate,
    best_air,
    candidate_destinations,
    estimate_for,
    ground_options,
)

from .settlements import settlement
from .world import World, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


def km(a: str, b: str) -> float:
    one, two = settlement(a), settlement(b)
    return great_circle_km(Point(one.lat, one.lon), Point(two.lat, two.lon))


@pytest.mark.django_db
def test_uelen_to_anadyr_by_the_anadyr_mi8_counts_the_positioning_flight(world: World):  # noqa: F811
    option = air_estimate(world.mi8, world.post, world.hub)
    assert option is not None
    distance = km("Uelen", "Anadyr")
    assert 600 < distance < 700  # Uelen–Anadyr is about 630 km: more than a Mi-8's 550 km
    # By hand: the Mi-8 flies Anadyr → Uelen empty (one stop on the way), then back with the
    # patient (one stop again); 10 minutes to Uelen's helipad, 40 from Anadyr's airport.
    flight = distance / 220 * 60
    positioning = flight + 45
    assert option.positioning_minutes == pytest.approx(positioning)
    assert option.estimate.dispatch_minutes == pytest.approx(60 + positioning)
    assert option.estimate.refuel_stops == 1
    assert option.estimate.ground_minutes == 10 + 40
    assert option.estimate.total_minutes == pytest.approx(60 + positioning + flight + 45 + 50)


@pytest.mark.django_db
def test_a_plane_needs_an_airstrip_at_both_ends(world: World):  # noqa: F811
    assert air_estimate(world.l410, world.post, world.hub) is None  # Uelen: helipad only
    lavrentiya_to_anadyr = air_estimate(world.l410, world.district, world.hub)
    assert lavrentiya_to_anadyr is not None
    # From Lavrentiya the plane is faster than the helicopter, positioning and all.
    best = best_air(world.district, world.hub)
    assert best is not None and best.aircraft == world.l410


@pytest.mark.django_db
def test_an_aircraft_at_the_origin_needs_no_positioning(world: World):  # noqa: F811
    option = air_estimate(world.mi8, world.hub, world.district)
    assert option is not None
    assert option.positioning_minutes == 0
    assert option.estimate.dispatch_minutes == MI_8.dispatch_minutes


@pytest.mark.django_db
def test_only_available_aircraft_are_offered(world: World):  # noqa: F811
    for aircraft in (world.mi8, world.mi8_second, world.l410):
        aircraft.status = AircraftStatus.MAINTENANCE
        aircraft.save()
    assert best_air(world.post, world.hub) is None
    world.mi8_second.status = AircraftStatus.AVAILABLE
    world.mi8_second.save()
    best = best_air(world.post, world.hub)
    assert best is not None and best.aircraft == world.mi8_second


@pytest.mark.django_db
def test_ground_routes_count_in_the_months_they_run(world: World):  # noqa: F811
    GroundRoute.objects.create(
        origin=world.lavrentiya,
        destination=world.uelen,
        mode="winter_road",
        distance_km=120,
        months=[12, 1, 2, 3, 4],
    )
    # Either direction; 120 km at 30 km/h in February, nothing in July.
    (winter,) = ground_options(world.post, world.district, month=2)
    assert (winter.mode, winter.minutes) == ("winter_road", 240)
    assert ground_options(world.post, world.district, month=7) == ()


@pytest.mark.django_db
def test_candidates_for_a_stemi_are_the_pci_hospitals_with_the_window_advice(world: World):  # noqa: F811
    options = candidate_destinations(
        world.post,
        TransferCondition.STEMI,
        now=NOW,
        first_contact_at=NOW - timedelta(minutes=15),
    )
    assert [o.facility for o in options] == [world.hub]  # the only cath lab in Russia here
    (anadyr,) = options
    assert anadyr.capability == "pci"
    assert anadyr.air is not None and anadyr.best_minutes == anadyr.air.estimate.total_minutes
    advice = anadyr.advice
    assert advice is not None
    assert advice.window_minutes == 120
    assert advice.expected_minutes == pytest.approx(15 + anadyr.best_minutes)
    assert advice.exceeded  # five hours and more: fibrinolysis on site, then transfer
    assert advice.protocol == "fibrinolysis_on_site_then_transfer"


@pytest.mark.django_db
def test_candidates_for_an_emergency_are_hubs_and_above_in_russia(world: World):  # noqa: F811
    options = candidate_destinations(world.post, TransferCondition.EMERGENCY, now=NOW)
    assert {o.facility for o in options} == {world.hub, world.sakha_hub}  # not Korea
    assert options[0].facility == world.hub  # nearest first
    assert options[0].advice is not None and not options[0].advice.exceeded  # 24 h
    planned = candidate_destinations(world.post, TransferCondition.PLANNED, now=NOW)
    assert all(option.advice is None for option in planned)


@pytest.mark.django_db
def test_estimate_snapshot_is_json_ready(world: World):  # noqa: F811
    transfer = Transfer(origin=world.post, destination=world.hub, condition="emergency")
    snapshot = estimate_for(transfer, world.mi8)
    assert snapshot["aircraft_registration"] == "RA-22001"
    assert snapshot["aircraft_profile"] == "mi-8"
    assert snapshot["mode"] == "air"
    assert set(snapshot) >= {
        "total_minutes",
        "dispatch_minutes",
        "positioning_minutes",
        "flight_minutes",
        "refuel_minutes",
        "ground_minutes",
        "distance_km",
    }
    assert estimate_for(Transfer(origin=world.post, condition="emergency")) == {}
