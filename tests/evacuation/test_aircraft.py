import pytest

from farcare.evacuation.aircraft import (
    AIRCRAFT,
    ANSAT,
    L_410,
    MI_8,
    AircraftKind,
    AircraftProfile,
    GroundMode,
    aircraft_by_code,
    ground_options,
)


def test_the_reference_aircraft_are_those_of_the_domain_reference():
    assert [(a.code, a.kind, a.cruise_kmh, a.range_km) for a in AIRCRAFT] == [
        ("mi-8", AircraftKind.HELICOPTER, 220, 550),
        ("ansat", AircraftKind.HELICOPTER, 250, 500),
        ("l-410", AircraftKind.PLANE, 320, 1300),
    ]
    # The one-hour take-off target is every aircraft's default dispatch time.
    assert {a.dispatch_minutes for a in AIRCRAFT} == {60}
    assert aircraft_by_code("ansat") is ANSAT
    with pytest.raises(KeyError):
        aircraft_by_code("an-2")


def test_a_profile_is_frozen_and_refuses_impossible_figures():
    with pytest.raises(AttributeError):
        MI_8.cruise_kmh = 300  # type: ignore[misc]
    with pytest.raises(ValueError):
        AircraftProfile(code="x", kind=AircraftKind.PLANE, cruise_kmh=0, range_km=100, crew=2)
    with pytest.raises(ValueError):
        AircraftProfile(
            code="x",
            kind=AircraftKind.PLANE,
            cruise_kmh=300,
            range_km=100,
            crew=2,
            dispatch_minutes=-1,
        )
    assert L_410.kind == AircraftKind.PLANE


@pytest.mark.parametrize(
    ("month", "modes"),
    [
        (1, {GroundMode.ROAD, GroundMode.WINTER_ROAD}),
        (5, {GroundMode.ROAD}),  # the winter road has thawed and the rivers are not yet open
        (7, {GroundMode.ROAD, GroundMode.RIVER}),
        (12, {GroundMode.ROAD, GroundMode.WINTER_ROAD}),
    ],
)
def test_ground_transport_depends_on_the_season(month, modes):
    assert {profile.mode for profile in ground_options(month)} == modes


def test_ground_minutes_follow_the_speed_and_a_month_must_exist():
    (road,) = [p for p in ground_options(5) if p.mode == GroundMode.ROAD]
    assert road.minutes_for(20) == pytest.approx(30)  # 20 km at 40 km/h
    with pytest.raises(ValueError):
        ground_options(13)
