"""Who stands on which side of a transfer: the post and the facilities above it send, the
destination receives, the coordinators of either region dispatch; a consultant abroad stands
nowhere and sees no transfer, and nobody sees a transfer of a patient outside their reach."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import time_machine

from farcare.accounts.models import Role
from farcare.evacuation.access import (
    may_dispatch,
    may_open_transfer,
    transfer_sides,
    visible_transfers,
)
from farcare.evacuation.selectors import incoming, timeline, transfer_for
from farcare.evacuation.workflow import Side

from ..conftest import make_user
from ..factories import PatientFactory
from .world import World, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_sides_of_a_transfer(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW, destination=world.district)
    assert transfer_sides(world.feldsher, transfer) == {Side.SENDER}
    # The district hospital supervises the post and receives the patient.
    assert transfer_sides(world.district_doctor, transfer) == {Side.SENDER, Side.RECEIVER}
    assert transfer_sides(world.coordinator, transfer) == {Side.COORDINATOR}
    assert transfer_sides(world.sakha_coordinator, transfer) == set()
    assert transfer_sides(world.consultant_abroad, transfer) == set()
    assert transfer_sides(None, transfer) == set()
    # Yakutia's coordinator dispatches for a transfer to Yakutsk.
    transfer.destination = world.sakha_hub
    assert transfer_sides(world.sakha_coordinator, transfer) == {Side.COORDINATOR}


@pytest.mark.django_db
def test_visible_transfers(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW)
    elsewhere = make_user(Role.CLINICIAN, world.sakha_hub)
    for user in (world.feldsher, world.district_doctor, world.hub_doctor, world.coordinator):
        assert list(visible_transfers(user)) == [transfer], user
    for user in (world.consultant_abroad, world.sakha_coordinator, elsewhere, None):
        assert not visible_transfers(user).exists()


@pytest.mark.django_db
def test_who_dispatches_and_who_asks_for_a_transfer(world: World):  # noqa: F811
    assert may_dispatch(world.coordinator)
    assert not may_dispatch(world.hub_doctor)
    assert not may_dispatch(world.consultant_abroad)
    assert may_open_transfer(world.feldsher, world.patient)
    assert may_open_transfer(world.coordinator, world.patient)
    assert not may_open_transfer(world.consultant_abroad, world.patient)
    assert not may_open_transfer(world.sakha_coordinator, world.patient)
    stranger = PatientFactory(home_facility=world.sakha_hub)
    assert not may_open_transfer(world.feldsher, stranger)


@pytest.mark.django_db
def test_the_receiving_hospital_s_incoming_list_and_one_transfer_by_its_link(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW)
    assert list(incoming(world.hub_doctor)) == [transfer]
    assert list(incoming(world.feldsher)) == []
    assert transfer_for(world.hub_doctor, transfer.uuid) == transfer
    assert transfer_for(world.consultant_abroad, transfer.uuid) is None
    assert transfer_for(world.hub_doctor, "not-a-uuid") is None
    assert [e.event for e in timeline(transfer)] == ["request"]
