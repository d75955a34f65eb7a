"""Two coordinators assign the one free Mi-8 to two patients at the same moment: exactly one
gets it, on SQLite and on PostgreSQL alike; the other is told, in words, to choose another
aircraft (never a server error). Should the aircraft's row say "available" by mistake while it
carries a patient, the database's constraint still refuses the second assignment."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import connection

from farcare.audit.services import Accessor
from farcare.evacuation.models import Aircraft, AircraftStatus, Transfer, TransferStatus
from farcare.evacuation.services import AIRCRAFT_TAKEN, transfer_move

from .world import World, build_world, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


def two_accepted_transfers(place: World) -> list[Transfer]:
    transfers = []
    for patient in (place.patient, place.another_patient()):
        transfer = place.open(patient=patient, first_contact_at=NOW)
        transfers.append(
            transfer_move(accessor=Accessor(place.hub_doctor), transfer=transfer, event="accept")
        )
    return transfers


@pytest.mark.django_db(transaction=True)
def test_two_assignments_of_one_aircraft_at_once_exactly_one_wins():
    with time_machine.travel(NOW, tick=False):
        world = build_world()
        transfers = two_accepted_transfers(world)
    barrier = threading.Barrier(len(transfers))
    outcomes: dict[int, str] = {}

    def assign(index: int) -> None:
        try:
            with time_machine.travel(NOW, tick=False):
                barrier.wait(timeout=10)
                transfer_move(
                    accessor=Accessor(world.coordinator),
                    transfer=transfers[index],
                    event="assign",
                    aircraft=world.mi8,
                )
            outcomes[index] = "won"
        except ValidationError as error:
            outcomes[index] = "taken" if error.code == AIRCRAFT_TAKEN else str(error)
        except Exception as error:  # anything else would be a server error: the test says which
            outcomes[index] = repr(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=assign, args=(i,)) for i in range(len(transfers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes.values()) == ["taken", "won"]
    winner = transfers[next(i for i, outcome in outcomes.items() if outcome == "won")]
    loser = transfers[next(i for i, outcome in outcomes.items() if outcome == "taken")]
    assert Transfer.objects.get(pk=winner.pk).aircraft_id == world.mi8.pk
    assert Transfer.objects.get(pk=winner.pk).status == TransferStatus.TRANSPORT_ASSIGNED
    refused = Transfer.objects.get(pk=loser.pk)
    assert (refused.status, refused.aircraft_id) == (TransferStatus.ACCEPTED, None)
    assert refused.events.filter(event="assign").count() == 0
    assert Aircraft.objects.get(pk=world.mi8.pk).status == AircraftStatus.ON_MISSION


@pytest.mark.django_db
def test_the_constraint_backs_the_lock_up(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        first, second = two_accepted_transfers(world)
        coordinator = Accessor(world.coordinator)
        transfer_move(accessor=coordinator, transfer=first, event="assign", aircraft=world.mi8)
        # A row put right by hand, wrongly: the aircraft looks free while it carries a patient.
        Aircraft.objects.filter(pk=world.mi8.pk).update(status=AircraftStatus.AVAILABLE)
        with pytest.raises(ValidationError) as refused:
            transfer_move(accessor=coordinator, transfer=second, event="assign", aircraft=world.mi8)
    assert refused.value.code == AIRCRAFT_TAKEN
    second.refresh_from_db()
    assert second.status == TransferStatus.ACCEPTED
