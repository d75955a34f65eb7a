import pytest

from farcare.evacuation.geo import Point, great_circle_km

from .settlements import settlement


@pytest.mark.parametrize(
    ("origin", "destination", "domain_km"),
    [
        # The great-circle distances listed in domain.md §10.
        ("Uelen", "Lavrentiya", 85),
        ("Uelen", "Provideniya", 250),
        ("Uelen", "Anadyr", 606),
        ("Enurmino", "Anadyr", 543),
        ("Anadyr", "Khabarovsk", 3073),
        ("Anadyr", "Moscow", 6191),
    ],
)
def test_distances_between_settlements_match_the_domain_reference(origin, destination, domain_km):
    distance = great_circle_km(settlement(origin), settlement(destination))
    assert distance == pytest.approx(domain_km, rel=0.01)


def test_uelen_to_anadyr_crosses_the_antimeridian_the_short_way():
    # Uelen is at 169.8° W, Anadyr at 177.5° E: 12.7° of longitude apart, not 347.3°.
    # Had the formula gone the long way round, the distance would be well over 10,000 km.
    uelen, anadyr = settlement("Uelen"), settlement("Anadyr")
    assert great_circle_km(uelen, anadyr) == pytest.approx(605.6, abs=0.1)
    assert great_circle_km(anadyr, uelen) == pytest.approx(great_circle_km(uelen, anadyr))


def test_one_degree_of_meridian_is_about_111_km_and_a_place_is_zero_from_itself():
    assert great_circle_km(Point(0, 0), Point(1, 0)) == pytest.approx(111.195, abs=0.001)
    assert great_circle_km(Point(64.734, 177.514), Point(64.734, 177.514)) == 0


def test_antipodes_are_half_the_circumference_apart():
    assert great_circle_km(Point(90, 0), Point(-90, 0)) == pytest.approx(20015.1, abs=0.1)


@pytest.mark.parametrize(("lat", "lon"), [(90.5, 0), (-91, 0), (0, 180.1), (0, -181)])
def test_a_point_off_the_globe_is_refused(lat, lon):
    with pytest.raises(ValueError):
        Point(lat, lon)
