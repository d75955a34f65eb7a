"""Flight estimates checked against calculations done by hand.

Defaults used throughout unless a test says otherwise: dispatch 60 min (the one-hour take-off
target), ground 15 min at the post and 30 min at the destination, a refuelling stop 45 min.
"""

import pytest

from farcare.evacuation.aircraft import ANSAT, L_410, MI_8
from farcare.evacuation.estimates import best_estimate, estimate, split_into_legs
from farcare.evacuation.geo import Point

from .settlements import settlement


def test_uelen_to_anadyr_by_mi8_needs_one_refuelling_stop():
    # Hand calculation, Mi-8 (220 km/h, range 550 km):
    #   distance    Uelen–Anadyr 605.6 km (domain.md §10: 606 km)
    #   legs        ceil(605.6 / 550) = 2 legs of 302.8 km, so 1 refuelling stop
    #   flight      605.6 / 220 × 60 = 165.2 min
    #   refuelling  1 × 45 = 45 min
    #   dispatch    60 min;  ground 15 + 30 = 45 min
    #   total       60 + 45 + 165.2 + 45 = 315.2 min, about 5 h 15 min
    # — close to the "up to ~5 hours to Anadyr in good weather" Chukotka reports (§2).
    result = estimate(origin=settlement("Uelen"), destination=settlement("Anadyr"), aircraft=MI_8)

    assert result.distance_km == pytest.approx(606, rel=0.01)
    assert result.refuel_stops == 1
    assert [leg.distance_km for leg in result.legs] == pytest.approx([302.8, 302.8], abs=0.1)
    assert all(leg.distance_km <= MI_8.range_km for leg in result.legs)
    assert result.flight_minutes == pytest.approx(165.2, abs=0.1)
    assert sum(leg.flight_minutes for leg in result.legs) == pytest.approx(result.flight_minutes)
    assert result.refuel_minutes == 45
    assert result.dispatch_minutes == 60
    assert result.ground_minutes == 45
    assert result.total_minutes == pytest.approx(315.2, abs=0.1)


def test_uelen_to_lavrentiya_by_mi8_is_one_short_leg():
    # Hand calculation, Mi-8:
    #   distance    Uelen–Lavrentiya 84.5 km (domain.md §10: 85 km), within range: 1 leg, 0 stops
    #   flight      84.5 / 220 × 60 = 23.05 min
    #   total       60 + 45 + 23.05 + 0 = 128.05 min
    # The flight itself is a fifth of the total: dispatch and the ground dominate short trips.
    result = estimate(
        origin=settlement("Uelen"), destination=settlement("Lavrentiya"), aircraft=MI_8
    )

    assert result.distance_km == pytest.approx(85, rel=0.01)
    assert result.refuel_stops == 0
    assert len(result.legs) == 1
    assert result.refuel_minutes == 0
    assert result.flight_minutes == pytest.approx(23.05, abs=0.01)
    assert result.total_minutes == pytest.approx(128.05, abs=0.01)


def test_the_dispatcher_can_give_the_real_dispatch_and_ground_times():
    # Mi-8 already at Uelen and the patient at the helipad; a car waits at Lavrentiya (10 min):
    #   0 + 0 + 23.05 + 10 = 33.05 min
    result = estimate(
        origin=settlement("Uelen"),
        destination=settlement("Lavrentiya"),
        aircraft=MI_8,
        dispatch_minutes=0,
        ground_minutes_origin=0,
        ground_minutes_destination=10,
    )
    assert result.total_minutes == pytest.approx(33.05, abs=0.01)
    with pytest.raises(ValueError):
        estimate(origin=Point(0, 0), destination=Point(0, 1), aircraft=MI_8, dispatch_minutes=-5)


def test_anadyr_to_khabarovsk_by_l410_adds_refuelling_stops():
    # Hand calculation, L-410 (320 km/h, range 1,300 km):
    #   distance    Anadyr–Khabarovsk 3,073.3 km (domain.md §10: 3,073 km)
    #   legs        ceil(3073.3 / 1300) = ceil(2.36) = 3 legs of 1,024.4 km, so 2 stops
    #   flight      3073.3 / 320 × 60 = 576.2 min
    #   refuelling  2 × 45 = 90 min
    #   total       60 + 45 + 576.2 + 90 = 771.2 min, nearly 13 h
    result = estimate(
        origin=settlement("Anadyr"), destination=settlement("Khabarovsk"), aircraft=L_410
    )

    assert result.distance_km == pytest.approx(3073, rel=0.01)
    assert result.refuel_stops == 2
    assert [leg.distance_km for leg in result.legs] == pytest.approx([1024.4] * 3, abs=0.1)
    assert result.flight_minutes == pytest.approx(576.2, abs=0.1)
    assert result.refuel_minutes == 90
    assert result.total_minutes == pytest.approx(771.2, abs=0.1)


@pytest.mark.parametrize(
    ("distance", "range_km", "legs"),
    [(0, 550, 1), (549, 550, 1), (550, 550, 1), (550.1, 550, 2), (1100, 550, 2), (1101, 550, 3)],
)
def test_stops_are_ceil_of_distance_over_range_minus_one(distance, range_km, legs):
    split = split_into_legs(distance, range_km)
    assert len(split) == legs
    assert sum(split) == pytest.approx(distance)
    assert max(split) <= range_km


def test_the_fastest_aircraft_is_chosen_for_uelen_to_anadyr():
    # Ansat: 2 legs, 605.6 / 250 × 60 = 145.4 min flight + 45 stop → 60 + 45 + 145.4 + 45 = 295.4
    # L-410: 1 leg,  605.6 / 320 × 60 = 113.6 min flight          → 60 + 45 + 113.6 = 218.6
    # Mi-8:  315.2 (above). The plane wins: no stop, and faster.
    best = best_estimate(settlement("Uelen"), settlement("Anadyr"), [MI_8, ANSAT, L_410])
    assert best is not None
    assert best.aircraft is L_410
    assert best.total_minutes == pytest.approx(218.6, abs=0.1)

    # Without the plane (no airstrip free), the Ansat is next.
    helicopter = best_estimate(settlement("Uelen"), settlement("Anadyr"), [MI_8, ANSAT])
    assert helicopter is not None
    assert helicopter.aircraft is ANSAT
    assert helicopter.total_minutes == pytest.approx(295.4, abs=0.1)


def test_an_aircraft_needing_too_many_stops_is_not_feasible():
    # Anadyr–Khabarovsk: Mi-8 needs ceil(3073.3 / 550) − 1 = 5 stops, L-410 needs 2.
    anadyr, khabarovsk = settlement("Anadyr"), settlement("Khabarovsk")
    assert best_estimate(anadyr, khabarovsk, [MI_8], max_refuel_stops=2) is None
    best = best_estimate(anadyr, khabarovsk, [MI_8, L_410], max_refuel_stops=2)
    assert best is not None
    assert best.aircraft is L_410
    assert best_estimate(anadyr, khabarovsk, []) is None
