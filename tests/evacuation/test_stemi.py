import dataclasses

import pytest

from farcare.evacuation.aircraft import ANSAT, L_410
from farcare.evacuation.stemi import stemi_table

from .settlements import settlement


def test_stemi_table_shows_which_posts_reach_a_pci_centre_in_two_hours():
    # An Ansat on standby (dispatch 0) and the L-410 with its usual one-hour dispatch.
    standby_ansat = dataclasses.replace(ANSAT, dispatch_minutes=0)
    posts = [settlement(name) for name in ("Beringovsky", "Uelen", "Anadyr")]
    hubs = [settlement("Khabarovsk"), settlement("Anadyr")]

    rows = stemi_table(posts, hubs, [standby_ansat, L_410])

    beringovsky, uelen, anadyr = rows
    # Beringovsky–Anadyr 205.6 km:
    #   Ansat  0 + 45 + 205.6 / 250 × 60 (49.3) = 94.3 min
    #   L-410  60 + 45 + 205.6 / 320 × 60 (38.5) = 143.5 min  → Ansat, within 120
    assert beringovsky.hospital.name == "Anadyr"
    assert beringovsky.distance_km == pytest.approx(205.6, abs=0.1)
    assert beringovsky.best is not None
    assert beringovsky.best.aircraft is standby_ansat
    assert beringovsky.total_minutes == pytest.approx(94.3, abs=0.1)
    assert beringovsky.within_window

    # Uelen–Anadyr 605.6 km:
    #   Ansat  0 + 45 + 145.4 + 45 (one stop) = 235.4 min
    #   L-410  60 + 45 + 113.6 = 218.6 min  → L-410, not within 120
    assert uelen.hospital.name == "Anadyr"
    assert uelen.best is not None
    assert uelen.best.aircraft is L_410
    assert uelen.total_minutes == pytest.approx(218.6, abs=0.1)
    assert not uelen.within_window

    # Anadyr is itself the PCI centre: no flight.
    assert anadyr.hospital.name == "Anadyr"
    assert anadyr.best is None
    assert anadyr.total_minutes == 0
    assert anadyr.within_window


def test_stemi_table_needs_a_capable_hospital():
    with pytest.raises(ValueError):
        stemi_table([settlement("Uelen")], [], [L_410])
