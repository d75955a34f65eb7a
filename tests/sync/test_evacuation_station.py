"""The Uelen feldsher's patient is being flown to Anadyr. The coordinator and the receiving
hospital move the transfer at the hub; at the post, after each sync, the laptop shows where the
patient is — the state, Uelen → Anadyr, the blizzard that holds the helicopter, the timeline
and its times — even when the link drops again. Nothing of it is pushed back up."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import translation

from farcare.evacuation.models import Transfer, TransferStatus
from farcare.patients.models import Patient
from farcare.sync import station as sync
from farcare.sync.models import StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_json

pytestmark = pytest.mark.weaklink

SETUP = """
from datetime import timedelta
from django.utils import timezone
from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.evacuation.models import Aircraft
from farcare.evacuation.services import transfer_move, transfer_open, treatment_add
from farcare.network.models import Facility
from farcare.patients.models import Patient

def who(name):
    return Accessor(User.objects.get(username=name), None, 'page')
"""


def hub_opens_and_dispatches(hub: HubProcess, family: str) -> str:
    """At the hub: the feldsher asks for the transfer (before her laptop's link dropped), the
    receiving doctor confirms a bed, the coordinator assigns the Mi-8 and dispatches it, and
    then holds it for a blizzard."""
    result: str = hub_json(
        hub,
        SETUP + f"p = Patient.objects.get(family='{family}')\n"
        "anadyr = Facility.objects.get(settlement__name_en='Anadyr', kind='regional_hub')\n"
        "now = timezone.now()\n"
        "t = transfer_open(accessor=who('feldsher'), patient=p, origin=p.home_facility,\n"
        "    condition='stemi', reason='ST elevation V1-V4, pain 40 min',\n"
        "    first_contact_at=now - timedelta(minutes=40), destination=anadyr)\n"
        "treatment_add(accessor=who('feldsher'), transfer=t, given_at=now,\n"
        "    description='Aspirin 250 mg chewed, heparin 5000 IU')\n"
        "Aircraft.objects.filter(registration='RA-22852').update(status='available')\n"
        "mi8 = Aircraft.objects.get(registration='RA-22852')\n"
        "t = transfer_move(accessor=who('er_anadyr'), transfer=t, event='accept',\n"
        "    bed_note='Cath lab on standby')\n"
        "t = transfer_move(accessor=who('coordinator'), transfer=t, event='assign', aircraft=mi8)\n"
        "t = transfer_move(accessor=who('coordinator'), transfer=t, event='dispatch')\n"
        "t = transfer_move(accessor=who('coordinator'), transfer=t, event='hold',\n"
        "    reason='Blizzard over Uelen, visibility 150 m',\n"
        "    expected_until=now + timedelta(hours=3))\n"
        "result = str(t.uuid)\n",
    )
    return result


def hub_moves(hub: HubProcess, transfer_uuid: str, *moves: tuple[str, str]) -> None:
    hub.python(
        SETUP
        + f"from farcare.evacuation.models import Transfer\nuuid = '{transfer_uuid}'\n"
        + "".join(
            f"transfer_move(accessor=who('{by}'), "
            f"transfer=Transfer.objects.get(uuid=uuid), event='{event}')\n"
            for event, by in moves
        )
    )


def station_page(path: str) -> str:
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    response = client.get(path)
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def station_post(path: str, data: dict[str, str]) -> tuple[int, str]:
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    response = client.post(path, data)
    return response.status_code, response.content.decode()


def status_shown(page: str) -> str:
    found = re.search(r'data-testid="patient-transfer-status">([^<]*)<', page)
    assert found, "the patient's page shows no transfer"
    return found.group(1).strip()


def label(status: TransferStatus, page: str) -> str:
    """The state's name in the language the page is in (the feldsher's)."""
    found = re.search(r'<html lang="([^"]+)"', page)
    with translation.override(found.group(1) if found else "en"):
        return str(status.label)


def timeline(transfer: Transfer) -> list[tuple[str, Any]]:
    return [(e.event, e.actor.username if e.actor else None) for e in transfer.events.all()]


def test_the_post_sees_its_patients_transfer_after_each_sync(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    patient = Patient.objects.get(family="Рультына")  # came down at enrolment
    uuid = hub_opens_and_dispatches(hub, "Рультына")
    assert not Transfer.objects.filter(uuid=uuid).exists()  # not at the post before a sync

    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down and not report.refused
    here = Transfer.objects.get(uuid=uuid)
    assert here.patient == patient
    assert here.status == TransferStatus.HELD
    assert here.held_from == TransferStatus.DISPATCHED
    assert here.origin.settlement.name_en == "Uelen"
    assert here.destination is not None and here.destination.settlement.name_en == "Anadyr"
    assert here.aircraft is not None and here.aircraft.registration == "RA-22852"
    assert here.hold_reason == "Blizzard over Uelen, visibility 150 m"
    assert here.dispatched_at is not None and here.hold_expected_until is not None
    assert here.estimate["total_minutes"] > 0  # the estimate shown when it was decided
    assert timeline(here) == [
        ("request", "feldsher"),
        ("accept", "er_anadyr"),
        ("assign", "coordinator"),
        ("dispatch", "coordinator"),
        ("hold", "coordinator"),
    ]
    # The receiving doctor and the coordinator are named, never able to log in at the post.
    assert here.accepted_by is not None
    assert not here.accepted_by.is_active and not here.accepted_by.has_usable_password()
    assert [g.description for g in here.treatments.all()] == [
        "Aspirin 250 mg chewed, heparin 5000 IU"
    ]

    # The patient's page at the post says where the patient is; the transfer's page the rest.
    page = station_page(reverse("patients:detail", args=[patient.uuid]))
    assert status_shown(page) == label(TransferStatus.HELD, page)
    assert "Blizzard over Uelen" in page
    detail = station_page(reverse("evacuation:detail", args=[uuid]))
    assert "Blizzard over Uelen" in detail and "RA-22852" in detail
    # A copy to read: no button, no form; the page says the hub changes it.
    assert 'data-testid="station-read-only"' in detail
    for mark in ('data-testid="move-', 'data-testid="hold"', "record-decision", "add-treatment"):
        assert mark not in detail, mark
    assert 'data-testid="open-a-transfer"' not in page
    # A change posted all the same is refused on the page and never waits to cross up.
    code, answer = station_post(
        reverse("evacuation:treatment", args=[uuid]),
        {"given_at": "2026-01-01T10:00", "description": "Morphine 5 mg"},
    )
    assert code == 409 and 'data-testid="station-read-only"' in answer
    assert not here.treatments.filter(description="Morphine 5 mg").exists()

    # The weather clears while the link is down: the post keeps the last state it was told.
    link.go_down()
    hub_moves(hub, uuid, ("resume", "coordinator"), ("board", "coordinator"))
    assert sync.sync_once().link_down
    assert Transfer.objects.get(uuid=uuid).status == TransferStatus.HELD

    link.come_up()
    sync.sync_until_done(pause=0.1)
    here = Transfer.objects.get(uuid=uuid)
    assert here.status == TransferStatus.ON_BOARD
    assert here.held_seconds >= 0 and here.held_since is None
    assert here.departed_at is not None
    assert [event for event, _by in timeline(here)][-2:] == ["resume", "board"]
    assert len(timeline(here)) == 7  # replaced whole, never doubled

    hub_moves(hub, uuid, ("arrive", "coordinator"), ("hand_over", "er_anadyr"))
    sync.sync_until_done(pause=0.1)
    here = Transfer.objects.get(uuid=uuid)
    assert here.status == TransferStatus.HANDED_OVER
    assert here.arrived_at is not None and here.handed_over_at is not None
    page = station_page(reverse("patients:detail", args=[patient.uuid]))
    assert status_shown(page) == label(TransferStatus.HANDED_OVER, page)
    # Read-only: nothing of the transfer waits to cross up.
    assert not [item for item in pending() if "transfer" in item.kind]
