"""`make run`'s network flies: five air-ambulance bases with their aircraft, landing sites, a
winter road, a river and a road, cath labs at the hubs, and transfers in different states whose
timelines are the state machine's own moves — one of them held for a blizzard."""

from __future__ import annotations

import pytest

from farcare.demo.evacuation import load_evacuation
from farcare.evacuation.aircraft import GroundMode
from farcare.evacuation.models import (
    Aircraft,
    AircraftStatus,
    Airfield,
    Capability,
    FacilityCapability,
    GroundRoute,
    Transfer,
    TransferEvent,
    TransferStatus,
    TransportBase,
)
from farcare.network.models import Facility, FacilityKind

pytestmark = pytest.mark.usefixtures("demo_network")


def test_five_bases_with_their_aircraft_and_the_hubs_capabilities():
    bases = {b.settlement.name_en for b in TransportBase.objects.select_related("settlement")}
    assert bases == {"Anadyr", "Petropavlovsk-Kamchatsky", "Magadan", "Yakutsk", "Khabarovsk"}
    registrations = set(Aircraft.objects.values_list("registration", flat=True))
    assert {"RA-22851", "RA-67021", "RA-20081"} <= registrations
    kinds = {r[:5] for r in registrations}
    assert kinds == {"RA-22", "RA-67", "RA-20"}  # Mi-8, L-410, Ansat
    assert Aircraft.objects.get(registration="RA-22852").status == AircraftStatus.MAINTENANCE

    for hub in ("Anadyr", "Petropavlovsk-Kamchatsky", "Magadan", "Yakutsk", "Khabarovsk"):
        facility = Facility.objects.get(settlement__name_en=hub, kind=FacilityKind.REGIONAL_HUB)
        capabilities = set(
            FacilityCapability.objects.filter(facility=facility).values_list(
                "capability", flat=True
            )
        )
        assert {Capability.PCI, Capability.STROKE_THROMBOLYSIS} <= capabilities
    # A post treats no STEMI itself.
    uelen = Facility.objects.get(settlement__name_en="Uelen")
    assert not FacilityCapability.objects.filter(facility=uelen).exists()


def test_landing_sites_and_seasonal_ground_routes():
    anadyr = Airfield.objects.get(settlement__name_en="Anadyr")
    lavrentiya = Airfield.objects.get(settlement__name_en="Lavrentiya")
    uelen = Airfield.objects.get(settlement__name_en="Uelen")
    assert anadyr.has_airstrip and lavrentiya.has_airstrip
    assert not uelen.has_airstrip and uelen.has_helipad  # a helicopter site at the post
    modes = set(GroundRoute.objects.values_list("mode", flat=True))
    assert modes == {GroundMode.ROAD, GroundMode.WINTER_ROAD, GroundMode.RIVER}
    winter = GroundRoute.objects.get(origin__name_en="Lorino", mode=GroundMode.WINTER_ROAD)
    assert 1 in winter.months and 7 not in winter.months


def test_demo_transfers_in_different_states_one_held_for_the_weather():
    statuses = {t.patient.family: t.status for t in Transfer.objects.select_related("patient")}
    assert statuses["Кергинто"] == TransferStatus.REQUESTED
    assert statuses["Громов"] == TransferStatus.ACCEPTED
    assert statuses["Ётылин"] == TransferStatus.HELD
    assert statuses["Слепцов"] == TransferStatus.DISPATCHED
    assert statuses["Ёлкина"] == TransferStatus.HANDED_OVER
    # The Uelen patients are free for a user to open a transfer from the "evacuate" conclusion.
    assert not Transfer.objects.filter(origin__settlement__name_en="Uelen").exists()

    held = Transfer.objects.get(patient__family="Ётылин")
    assert held.held_from == TransferStatus.TRANSPORT_ASSIGNED
    assert "Пурга" in held.hold_reason
    assert held.hold_expected_until is not None and held.held_since is not None
    assert held.aircraft is not None and held.aircraft.registration == "RA-22851"
    assert held.aircraft.status == AircraftStatus.ON_MISSION
    events = list(held.events.values_list("event", flat=True))
    assert events == ["request", "accept", "assign", "hold"]


def test_a_finished_transfer_has_its_whole_timeline_and_the_estimate_shown_before():
    done = Transfer.objects.get(patient__family="Ёлкина")
    assert [e.event for e in done.events.all()] == [
        "request",
        "accept",
        "assign",
        "dispatch",
        "board",
        "arrive",
        "hand_over",
    ]
    times = [e.at for e in done.events.all()]
    assert times == sorted(times)
    assert done.departed_at is not None and done.arrived_at is not None
    assert done.first_contact_at < done.decided_at < done.departed_at < done.arrived_at
    assert done.handed_over_at is not None and done.ended_at == done.handed_over_at
    assert done.estimate["aircraft_registration"] == "RA-67021"
    assert done.estimate["total_minutes"] > 0
    # STEMI from Pevek: the advice shown said the window would be missed; the choice is recorded.
    assert done.advice["exceeded"] is True
    assert done.decision_choice == "local_then_transfer"
    assert done.aircraft is not None and done.aircraft.status == AircraftStatus.AVAILABLE

    stroke = Transfer.objects.get(patient__family="Слепцов")
    assert stroke.onset_at is not None and stroke.advice["counted_from"] == "symptom_onset"


def test_loading_again_changes_nothing():
    before = (
        Transfer.objects.count(),
        TransferEvent.objects.count(),
        Aircraft.objects.count(),
        Airfield.objects.count(),
        FacilityCapability.objects.count(),
    )
    load_evacuation()
    after = (
        Transfer.objects.count(),
        TransferEvent.objects.count(),
        Aircraft.objects.count(),
        Airfield.objects.count(),
        FacilityCapability.objects.count(),
    )
    assert after == before
