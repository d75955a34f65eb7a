"""What the review of issue 16 found, told as the stories that went wrong: an aircraft freed while
it flies another patient, another region's aircraft or a plane that cannot land at Uelen assigned,
a winter road assigned in a month it is closed, a break-glass write audited as normal, a hold that
moved the departure, a receiving hospital that kept a patient who died before leaving."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.access.policy import Action, decide
from farcare.access.services import break_glass_open
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.evacuation.aircraft import MI_8
from farcare.evacuation.models import (
    AircraftStatus,
    GroundRoute,
    Transfer,
    TransferStatus,
    TransportBase,
)
from farcare.evacuation.services import transfer_move, treatment_add

from ..conftest import make_user
from .world import World, airframe, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)  # February: the winter road runs, the river is ice


def _moves(
    world: World,  # noqa: F811
    transfer: Transfer,
    *events: str,
    **assign: Any,
) -> Transfer:
    for event in events:
        who = world.hub_doctor if event in ("accept", "hand_over") else world.coordinator
        details = assign if event == "assign" else {}
        transfer = transfer_move(accessor=Accessor(who), transfer=transfer, event=event, **details)
    return transfer


@pytest.mark.django_db
def test_handing_over_the_last_patient_does_not_free_the_aircraft_flying_the_next(
    world: World,  # noqa: F811
):
    with time_machine.travel(NOW, tick=False):
        first = world.open(first_contact_at=NOW)
        first = _moves(
            world, first, "accept", "assign", "dispatch", "board", "arrive", aircraft=world.mi8
        )
        # Landed at Anadyr: the Mi-8 is free and takes the next patient at once.
        second = world.open(first_contact_at=NOW, patient=world.another_patient())
        second = _moves(world, second, "accept", "assign", "dispatch", aircraft=world.mi8)
        # Only now is the first patient handed over at the hospital.
        _moves(world, first, "hand_over")
    world.mi8.refresh_from_db()
    second.refresh_from_db()
    assert (second.status, second.aircraft_id) == (TransferStatus.DISPATCHED, world.mi8.pk)
    assert world.mi8.status == AircraftStatus.ON_MISSION


@pytest.mark.django_db
def test_a_death_after_landing_does_not_free_the_aircraft_flying_the_next(
    world: World,  # noqa: F811
):
    with time_machine.travel(NOW, tick=False):
        first = world.open(first_contact_at=NOW)
        first = _moves(
            world, first, "accept", "assign", "dispatch", "board", "arrive", aircraft=world.mi8
        )
        second = world.open(first_contact_at=NOW, patient=world.another_patient())
        _moves(world, second, "accept", "assign", aircraft=world.mi8)
        transfer_move(accessor=Accessor(world.hub_doctor), transfer=first, event="died")
    world.mi8.refresh_from_db()
    assert world.mi8.status == AircraftStatus.ON_MISSION


@pytest.mark.django_db
def test_a_coordinator_does_not_assign_another_region_s_aircraft(world: World):  # noqa: F811
    yakutsk_base = TransportBase.objects.create(
        name_en="Yakutsk air ambulance",
        region="Sakha",
        settlement=world.sakha_hub.settlement,
        latitude=62.03,
        longitude=129.73,
    )
    yakutsk_mi8 = airframe(yakutsk_base, "RA-22901", MI_8)
    with time_machine.travel(NOW, tick=False):
        transfer = _moves(world, world.open(first_contact_at=NOW), "accept")
        with pytest.raises(ValidationError) as refused:
            _moves(world, transfer, "assign", aircraft=yakutsk_mi8)
    assert refused.value.code == "other_region"
    assert "RA-22901" in refused.value.messages[0]
    yakutsk_mi8.refresh_from_db()
    assert yakutsk_mi8.status == AircraftStatus.AVAILABLE


@pytest.mark.django_db
def test_a_plane_is_not_assigned_to_a_post_without_an_airstrip(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = _moves(world, world.open(first_contact_at=NOW), "accept")
        with pytest.raises(ValidationError) as refused:
            _moves(world, transfer, "assign", aircraft=world.l410)  # Uelen has a helipad only
    assert refused.value.code == "cannot_fly"
    assert "cannot land" in refused.value.messages[0]
    world.l410.refresh_from_db()
    assert world.l410.status == AircraftStatus.AVAILABLE
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED and transfer.aircraft_id is None


@pytest.mark.django_db
def test_a_way_over_the_ground_is_assigned_only_where_and_when_it_runs(
    world: World,  # noqa: F811
):
    GroundRoute.objects.create(
        origin=world.uelen,
        destination=world.anadyr,
        mode="river",
        distance_km=700,
        months=[6, 7, 8, 9],
    )
    with time_machine.travel(NOW, tick=False):
        transfer = _moves(world, world.open(first_contact_at=NOW), "accept")
        for mode in ("river", "road"):  # frozen in February; no road at all
            with pytest.raises(ValidationError) as refused:
                _moves(world, transfer, "assign", ground_mode=mode)
            assert refused.value.code == "no_route"
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED and transfer.ground_mode == ""


@pytest.mark.django_db
def test_a_write_asks_the_policy_and_is_audited_under_break_glass(world: World):  # noqa: F811
    """The Yakutsk coordinator stands on the transfer's side (its destination is in Sakha) but
    the policy does not let them reach the patient; after breaking the glass they may, and the
    writes are audited as break-glass."""
    yakutsk = Accessor(world.sakha_coordinator)
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW, destination=world.sakha_hub)
        with pytest.raises(PermissionDenied):
            transfer_move(accessor=yakutsk, transfer=transfer, event="accept", bed_note="3")
        refusal = AuditEvent.objects.filter(
            actor_username=world.sakha_coordinator.username, action=AuditAction.DENIED
        ).get()
        assert refusal.patient_uuid == world.patient.uuid
        transfer.refresh_from_db()
        assert transfer.status == TransferStatus.REQUESTED

        break_glass_open(accessor=yakutsk, patient=world.patient, reason="Evacuation under way")
        transfer_move(accessor=yakutsk, transfer=transfer, event="accept", bed_note="3")
        treatment_add(
            accessor=yakutsk,
            transfer=transfer,
            given_at=NOW - timedelta(minutes=5),
            description="Aspirin 300 mg",
        )
    writes = AuditEvent.objects.filter(
        actor_username=world.sakha_coordinator.username,
        action__in=(AuditAction.UPDATE, AuditAction.CREATE),
    )
    assert sorted(writes.values_list("action", "purpose")) == [
        ("create", "break_glass"),
        ("update", "break_glass"),
    ]


@pytest.mark.django_db
def test_a_hold_after_take_off_keeps_the_first_departure_and_dispatch(
    world: World,  # noqa: F811
):
    with time_machine.travel(NOW, tick=False) as clock:
        transfer = world.open(first_contact_at=NOW)
        transfer = _moves(
            world, transfer, "accept", "assign", "dispatch", "board", aircraft=world.mi8
        )
        accepted, dispatched, departed = (
            transfer.accepted_at,
            transfer.dispatched_at,
            transfer.departed_at,
        )
        clock.move_to(NOW + timedelta(hours=1))
        transfer = transfer_move(
            accessor=Accessor(world.coordinator), transfer=transfer, event="hold", reason="Fog"
        )
        clock.move_to(NOW + timedelta(hours=4))
        transfer = _moves(world, transfer, "resume")
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ON_BOARD
    assert transfer.held_seconds == 3 * 3600
    assert (transfer.accepted_at, transfer.dispatched_at, transfer.departed_at) == (
        accepted,
        dispatched,
        departed,
    )


@pytest.mark.django_db
def test_the_receiving_hospital_keeps_a_patient_only_if_they_left_the_post(
    world: World,  # noqa: F811
):
    """Yakutsk is not in Uelen's referral chain: it reaches the patient by the transfer alone."""
    yakutsk_doctor = make_user(Role.CLINICIAN, world.sakha_hub, username="yakutsk_doctor")
    GroundRoute.objects.create(
        origin=world.uelen,
        destination=world.sakha_hub.settlement,
        mode="winter_road",
        distance_km=2000,
        months=[12, 1, 2, 3],
    )
    with time_machine.travel(NOW, tick=False):
        died_at_post = world.open(first_contact_at=NOW, destination=world.sakha_hub)
        assert decide(yakutsk_doctor, Action.VIEW, world.patient)
        transfer_move(accessor=Accessor(world.feldsher), transfer=died_at_post, event="died")
        assert not decide(yakutsk_doctor, Action.VIEW, world.patient)
        assert not decide(yakutsk_doctor, Action.UPDATE, world.patient)

        other = world.another_patient()
        left = world.open(first_contact_at=NOW, destination=world.sakha_hub, patient=other)
        for event in ("accept", "assign", "dispatch", "board", "died"):
            who = yakutsk_doctor if event in ("accept", "died") else world.coordinator
            details: dict[str, Any] = {"ground_mode": "winter_road"} if event == "assign" else {}
            left = transfer_move(accessor=Accessor(who), transfer=left, event=event, **details)
    assert left.departed_at is not None and left.status == TransferStatus.DIED
    assert decide(yakutsk_doctor, Action.VIEW, other)
