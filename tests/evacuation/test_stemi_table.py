"""`farcare transfers-stemi-table` on the demo network: every post and district hospital, its
nearest PCI hospital, the fastest airframe with its flight from its base, and whether the
patient can be on the table within 120 minutes of the feldsher's first contact. Figures checked
by hand (tests/evacuation/test_estimates.py has the distances: Uelen–Anadyr 605.6 km,
Uelen–Lavrentiya 84.5 km)."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from farcare.evacuation.management.commands.transfers_stemi_table import (
    TableRow,
    network_stemi_table,
)
from farcare.evacuation.models import Aircraft, AircraftStatus, Capability, FacilityCapability
from farcare.network.models import Facility, FacilityKind

pytestmark = pytest.mark.usefixtures("demo_network")


def _rows() -> dict[str, TableRow]:
    return {row.facility.settlement.name_en: row for row in network_stemi_table()}


def test_uelen_waits_for_a_mi8_from_anadyr_and_misses_the_window():
    # Uelen has a helicopter site only (no L-410); the nearest Mi-8 stands at Anadyr:
    #   positioning  Anadyr→Uelen 605.6 km / 220 × 60 = 165.2 min + 1 stop 45 = 210.2 min
    #   dispatch     60 + 210.2 = 270.2 min
    #   ground       10 at the post + 30 at the hub (across the estuary) = 40 min
    #   flight       165.2 min, refuelling 1 × 45 min
    #   total        270.2 + 40 + 165.2 + 45 = 520.4 min, 8 h 40 min: fibrinolysis on site.
    row = _rows()["Uelen"]
    assert row.hospital is not None and row.aircraft is not None
    assert row.hospital.settlement.name_en == "Anadyr"
    assert row.distance_km == pytest.approx(605.6, abs=0.1)
    assert row.aircraft.registration == "RA-22851"  # RA-22852 ties; the first registration
    assert row.positioning_minutes == pytest.approx(210.2, abs=0.1)
    assert row.total_minutes == pytest.approx(520.4, abs=0.1)
    assert not row.within_window


def test_a_district_hospital_with_an_airstrip_gets_the_l410():
    # Lavrentiya–Anadyr 543 km, both with airstrips. L-410 (320 km/h) from Anadyr:
    #   positioning 543/320×60 = 101.8; total 60 + 101.8 + 15 + 30 + 101.8 = 308.6 min.
    # A Mi-8 would take 60 + 148.1 + 45 + 148.1 = 401.2 min.
    row = _rows()["Lavrentiya"]
    assert row.aircraft is not None and row.total_minutes is not None
    assert row.aircraft.profile == "l-410"
    expected = 60 + 2 * row.distance_km / 320 * 60 + 15 + 30
    assert row.total_minutes == pytest.approx(expected, abs=0.01)
    assert row.total_minutes == pytest.approx(308.6, abs=0.3)
    assert not row.within_window


def test_yelizovo_next_to_the_kamchatka_base_is_within_120_minutes():
    # Yelizovo–Petropavlovsk-Kamchatsky 25 km; the Ansat (250 km/h) at the hub's base:
    #   60 + 6.0 (positioning) + 15 + 30 + 6.0 = 117 min ≤ 120.
    row = _rows()["Yelizovo"]
    assert row.aircraft is not None and row.total_minutes is not None
    assert row.aircraft.profile == "ansat"
    assert row.total_minutes == pytest.approx(60 + 2 * row.distance_km / 250 * 60 + 45, abs=0.01)
    assert row.total_minutes <= 120
    assert row.within_window


def test_a_nearer_pci_hospital_changes_the_row():
    # Were Lavrentiya's hospital to open a cath lab, Uelen's nearest would be 84.5 km away:
    #   the Mi-8 still comes from Anadyr: 60 + 210.2 + (10 + 15) + 23.05 = 318.25 min.
    lavrentiya = Facility.objects.get(
        settlement__name_en="Lavrentiya", kind=FacilityKind.DISTRICT_HOSPITAL
    )
    FacilityCapability.objects.create(facility=lavrentiya, capability=Capability.PCI)
    row = _rows()["Uelen"]
    assert row.hospital == lavrentiya
    assert row.distance_km == pytest.approx(84.5, abs=0.1)
    assert row.total_minutes == pytest.approx(318.25, abs=0.1)


def test_every_post_and_district_hospital_has_a_row_whatever_the_aircraft_status():
    # A planning table: an aircraft in maintenance today still belongs to the fleet.
    Aircraft.objects.update(status=AircraftStatus.MAINTENANCE)
    rows = network_stemi_table()
    kinds = {FacilityKind.FELDSHER_POST, FacilityKind.DISTRICT_HOSPITAL}
    assert len(rows) == Facility.objects.filter(kind__in=kinds, country="RU").count()
    assert all(row.total_minutes is not None for row in rows)


def test_the_command_prints_and_saves_the_table(tmp_path: Path):
    out = StringIO()
    target = tmp_path / "stemi.md"
    call_command("transfers_stemi_table", output=str(target), stdout=out)
    text = out.getvalue()
    assert text == target.read_text(encoding="utf-8")
    uelen = next(line for line in text.splitlines() if "Uelen" in line)
    assert "Anadyr regional hospital" in uelen
    assert "| 606 |" in uelen and "| 520 |" in uelen and "8 h 40 min" in uelen
    assert uelen.endswith("| no |")
    assert "1 of 45 posts and district hospitals" in text
