"""At the Uelen post's laptop (a station) the transfer of its patient is the hub's copy: the
coordinator and the receiving hospital move it at the hub, and each sync brings its state down.
Nothing of it crosses back up, so the laptop accepts no change of it: every write is refused up
front with a clear message, the pages offer no button or form and say where changes are made,
a change posted all the same is answered on the page (never a 500, never kept), and the stall
sweep leaves the alerting to the hub. The same database without its station config is a hub
again, and everything works there."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from farcare.audit.services import Accessor
from farcare.evacuation import services
from farcare.evacuation.models import (
    Aircraft,
    AircraftStatus,
    DecisionChoice,
    Transfer,
    TransferStatus,
    TreatmentGiven,
)
from farcare.evacuation.stall import sweep
from farcare.sync.models import StationConfig

from ..conftest import logged_in
from .world import World, world  # noqa: F401

ACTION_MARKS = (
    'data-testid="move-',
    'data-testid="accept"',
    'data-testid="decline"',
    'data-testid="assign',
    'data-testid="set-destination"',
    'data-testid="hold"',
    'data-testid="record-decision"',
    'data-testid="add-treatment"',
    'data-testid="open-a-transfer"',
    'data-testid="request-transfer"',
)
READ_ONLY = "At a station a transfer is read only: it is changed at the hub."


def at_the_hub_a_bed_is_confirmed(world: World) -> Transfer:  # noqa: F811
    """What the hub did before the post's laptop last synced: the request and the bed."""
    transfer = world.open(first_contact_at=timezone.now() - timedelta(minutes=30))
    return services.transfer_move(
        accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept", bed_note="Ward 3"
    )


def become_the_posts_station(world: World) -> StationConfig:  # noqa: F811
    return StationConfig.objects.create(
        hub_url="https://hub.example/",
        token="t" * 40,
        station_uuid=uuid.uuid4(),
        name="Uelen post laptop",
        facility=world.post,
    )


def unchanged(transfer: Transfer) -> tuple[object, ...]:
    fresh = Transfer.objects.get(pk=transfer.pk)
    return (
        fresh.status,
        fresh.version,
        fresh.destination_id,
        fresh.aircraft_id,
        fresh.decision_choice,
        fresh.events.count(),
        TreatmentGiven.objects.filter(transfer=fresh).count(),
    )


def refused_at_station(call: Callable[[], object]) -> None:
    with pytest.raises(ValidationError) as caught:
        call()
    assert caught.value.code == "at_station"
    assert caught.value.messages == [READ_ONLY]


def test_every_write_of_a_transfer_is_refused_at_a_station(world: World):  # noqa: F811
    transfer = at_the_hub_a_bed_is_confirmed(world)
    become_the_posts_station(world)
    before = unchanged(transfer)
    feldsher, coordinator = Accessor(world.feldsher), Accessor(world.coordinator)
    now = timezone.now()

    refused_at_station(
        lambda: services.transfer_open(
            accessor=feldsher,
            patient=world.another_patient(),
            origin=world.post,
            condition="emergency",
            reason="Abdominal pain, guarding",
            first_contact_at=now,
        )
    )
    refused_at_station(
        lambda: services.transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8
        )
    )
    refused_at_station(
        lambda: services.transfer_move(
            accessor=coordinator, transfer=transfer, event="hold", reason="Blizzard"
        )
    )
    refused_at_station(
        lambda: services.transfer_move(accessor=feldsher, transfer=transfer, event="cancel")
    )
    refused_at_station(
        lambda: services.transfer_decline(
            accessor=Accessor(world.hub_doctor), transfer=transfer, reason="No bed"
        )
    )
    refused_at_station(
        lambda: services.transfer_set_destination(
            accessor=coordinator, transfer=transfer, destination=world.district
        )
    )
    refused_at_station(
        lambda: services.transfer_record_decision(
            accessor=feldsher, transfer=transfer, choice=DecisionChoice.values[0], note=""
        )
    )
    refused_at_station(
        lambda: services.treatment_add(
            accessor=feldsher, transfer=transfer, given_at=now, description="Aspirin 250 mg"
        )
    )
    refused_at_station(
        lambda: services.aircraft_set_status(
            accessor=coordinator, aircraft=world.mi8, status=AircraftStatus.MAINTENANCE
        )
    )

    assert unchanged(transfer) == before
    assert Transfer.objects.count() == 1
    assert Aircraft.objects.get(pk=world.mi8.pk).status == AircraftStatus.AVAILABLE


def test_the_refusal_is_in_the_readers_language(world: World):  # noqa: F811
    transfer = at_the_hub_a_bed_is_confirmed(world)
    become_the_posts_station(world)
    with translation.override("ru"), pytest.raises(ValidationError) as caught:
        services.transfer_move(accessor=Accessor(world.feldsher), transfer=transfer, event="cancel")
    assert caught.value.messages[0] != READ_ONLY
    assert "станц" in caught.value.messages[0]


def test_the_posts_pages_offer_no_change_and_say_where_it_is_made(world: World):  # noqa: F811
    transfer = at_the_hub_a_bed_is_confirmed(world)
    patient_page = reverse("patients:detail", args=[world.patient.uuid])
    other_page = reverse("patients:detail", args=[world.another_patient().uuid])
    at_hub = logged_in(world.feldsher).get(other_page).content.decode()
    assert 'data-testid="open-a-transfer"' in at_hub  # the hub offers it

    become_the_posts_station(world)
    feldsher, coordinator = logged_in(world.feldsher), logged_in(world.coordinator)
    pages = {
        "patient": feldsher.get(patient_page),
        "other patient": feldsher.get(other_page),
        "transfer (post)": feldsher.get(reverse("evacuation:detail", args=[transfer.uuid])),
        "transfer (coordinator)": coordinator.get(
            reverse("evacuation:detail", args=[transfer.uuid])
        ),
        "board": coordinator.get(reverse("evacuation:board")),
        "incoming": logged_in(world.hub_doctor).get(reverse("evacuation:incoming")),
        "new": feldsher.get(reverse("evacuation:new") + f"?patient={world.patient.uuid}"),
    }
    for name, response in pages.items():
        assert response.status_code == 200, name
        html = response.content.decode()
        for mark in ACTION_MARKS:
            assert mark not in html, (name, mark)
    for name in ("patient", "transfer (post)", "transfer (coordinator)", "board", "new"):
        assert 'data-testid="station-read-only"' in pages[name].content.decode(), name
    # What the hub said is all there: the state, the bed, the timeline.
    detail = pages["transfer (post)"].content.decode()
    assert "Ward 3" in detail and 'data-testid="timeline"' in detail
    assert 'action="/transfers/aircraft/' not in pages["board"].content.decode()


def test_a_change_posted_at_a_station_is_answered_on_the_page(world: World):  # noqa: F811
    transfer = at_the_hub_a_bed_is_confirmed(world)
    become_the_posts_station(world)
    before = unchanged(transfer)
    feldsher, coordinator = logged_in(world.feldsher), logged_in(world.coordinator)
    version = {"version": str(transfer.version)}
    posts: list[tuple[Client, str, list[Any], dict[str, str]]] = [
        (coordinator, "evacuation:move", [transfer.uuid, "cancel"], version),
        (logged_in(world.hub_doctor), "evacuation:accept", [transfer.uuid], {"bed_note": "B"}),
        (logged_in(world.hub_doctor), "evacuation:decline", [transfer.uuid], {"reason": "x"}),
        (coordinator, "evacuation:assign", [transfer.uuid], {"aircraft": str(world.mi8.uuid)}),
        (coordinator, "evacuation:hold", [transfer.uuid], {"reason": "Blizzard"}),
        (feldsher, "evacuation:decision", [transfer.uuid], {"choice": "", "note": ""}),
        (feldsher, "evacuation:treatment", [transfer.uuid], {"description": "Aspirin"}),
        (coordinator, "evacuation:destination", [transfer.uuid], {}),
    ]
    for client, name, args, data in posts:
        response = client.post(reverse(name, args=args), data)
        assert response.status_code == 409, name
        html = response.content.decode()
        assert READ_ONLY in html, name
        assert 'data-testid="move-' not in html, name

    new = feldsher.post(
        reverse("evacuation:new"),
        {"patient": str(world.patient.uuid), "reason": "Chest pain", "condition": "stemi"},
    )
    assert new.status_code == 409
    assert READ_ONLY in new.content.decode()
    assert 'data-testid="request-transfer"' not in new.content.decode()

    status = coordinator.post(
        reverse("evacuation:aircraft_status", args=[world.mi8.uuid]),
        {"status": AircraftStatus.MAINTENANCE, "note": "", "version": str(world.mi8.version)},
        follow=True,
    )
    assert status.status_code == 200
    assert READ_ONLY in status.content.decode()

    assert unchanged(transfer) == before
    assert Transfer.objects.count() == 1
    assert Aircraft.objects.get(pk=world.mi8.pk).status == AircraftStatus.AVAILABLE


def test_the_stall_sweep_is_the_hubs_not_the_stations(world: World):  # noqa: F811
    transfer = world.open(first_contact_at=timezone.now() - timedelta(hours=2))
    transfer.events.update(at=timezone.now() - timedelta(hours=2))  # asked for 2 h ago
    station = become_the_posts_station(world)

    assert sweep().alerted == []
    with pytest.raises(CommandError, match=r"station.*at the hub"):
        call_command("transfers", "sweep", stdout=StringIO())
    fresh = Transfer.objects.get(pk=transfer.pk)
    assert fresh.stall_alerted_at is None
    assert not fresh.events.filter(event="stalled").exists()

    station.delete()  # the same database as a hub's
    assert sweep().alerted == [f"{transfer.uuid}: {TransferStatus.REQUESTED}"]
