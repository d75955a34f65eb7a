"""What a station's pull carries of transfers: its own patients' only, whole (timeline, treatment,
aircraft), again whenever one moves; and the patient whose transfer crossed finds that pull in
"who looked at my record" even when nothing else of theirs changed."""

from __future__ import annotations

import secrets
from datetime import timedelta
from typing import cast

from django.test import Client
from django.utils import timezone

from farcare.audit.selectors import who_accessed
from farcare.core.bearer import token_digest
from farcare.evacuation.models import (
    Aircraft,
    Transfer,
    TransferCondition,
    TransportBase,
    TreatmentGiven,
)
from farcare.evacuation.workflow import Side, apply
from farcare.network.models import Facility
from farcare.patients.models import Patient
from farcare.sync.models import Station

from ..factories import PatientFactory


def patient_at(facility: Facility) -> Patient:
    return cast(Patient, PatientFactory(home_facility=facility))


def a_station(chain, feldsher) -> str:
    token = secrets.token_urlsafe(32)
    Station.objects.create(
        name="Uelen laptop",
        facility=chain.post,
        token_hash=token_digest(token),
        enrolled_by=feldsher,
    )
    return token


def a_transfer(patient, origin, destination, by) -> Transfer:
    now = timezone.now()
    return Transfer.objects.create(
        patient=patient,
        origin=origin,
        destination=destination,
        condition=TransferCondition.EMERGENCY,
        reason="Bleeding",
        requested_by=by,
        first_contact_at=now - timedelta(minutes=30),
        decided_at=now - timedelta(minutes=20),
    )


def pull(token: str, since: str = "") -> dict:
    response = Client().get(
        "/api/sync/pull", {"since": since}, HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert response.status_code == 200, response.content
    return response.json()


def test_a_moved_transfer_crosses_whole_and_names_its_patient(chain, feldsher):
    ours = patient_at(chain.post)
    stranger = patient_at(chain.other_region_post)
    token = a_station(chain, feldsher)
    # Both patients' records are old news to the station: only the transfers are new.
    Patient.objects.update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()

    transfer = a_transfer(ours, chain.post, chain.hub, feldsher)
    a_transfer(stranger, chain.other_region_post, chain.other_region_hub, feldsher)
    base = TransportBase.objects.create(
        name_en="Base",
        name_ru="База",
        region=chain.hub.region,
        settlement=chain.hub.settlement,
        latitude=chain.hub.latitude,
        longitude=chain.hub.longitude,
    )
    plane = Aircraft.objects.create(
        base=base,
        registration="RA-22999",
        profile="mi-8",
        kind="helicopter",
        cruise_kmh=220,
        range_km=550,
        crew=3,
    )
    apply(transfer, "accept", sides={Side.RECEIVER}, actor=None)
    transfer.aircraft = plane
    apply(transfer, "assign", sides={Side.COORDINATOR}, actor=None)
    TreatmentGiven.objects.create(
        transfer=transfer, given_at=timezone.now(), description="Tranexamic acid 1 g", by=feldsher
    )

    answer = pull(token, since)

    assert answer["patients"] == []
    (copy,) = answer["evacuation"]["transfers"]
    assert copy["uuid"] == str(transfer.uuid) and copy["patient"] == str(ours.uuid)
    assert copy["status"] == "transport_assigned"
    assert copy["origin"] == str(chain.post.uuid)
    assert copy["destination"] == str(chain.hub.uuid)
    assert [e["event"] for e in copy["events"]] == ["accept", "assign"]
    assert copy["aircraft"]["registration"] == "RA-22999"
    assert copy["treatments"][0]["description"] == "Tranexamic acid 1 g"
    assert [line.channel for line in who_accessed(ours.uuid)] == ["sync"]
    assert who_accessed(stranger.uuid) == []


def test_a_transfer_that_did_not_move_does_not_cross_again(chain, feldsher):
    ours = patient_at(chain.post)
    token = a_station(chain, feldsher)
    transfer = a_transfer(ours, chain.post, chain.hub, feldsher)
    Transfer.objects.filter(pk=transfer.pk).update(updated_at=timezone.now() - timedelta(days=2))
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert pull(token, since)["evacuation"]["transfers"] == []
    assert len(pull(token)["evacuation"]["transfers"]) == 1  # a fresh station gets it all
