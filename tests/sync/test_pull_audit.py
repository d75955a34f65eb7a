"""A station's pull sends the post's patients to a laptop: every patient sent finds that pull in
"who looked at my record", and nobody else does."""

from __future__ import annotations

import secrets

from django.test import Client

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.selectors import who_accessed
from farcare.core.bearer import token_digest
from farcare.sync.models import Station

from ..factories import PatientFactory


def a_station(chain, feldsher) -> str:
    token = secrets.token_urlsafe(32)
    Station.objects.create(
        name="Uelen laptop",
        facility=chain.post,
        token_hash=token_digest(token),
        enrolled_by=feldsher,
    )
    return token


def test_every_patient_sent_in_a_pull_sees_it_in_who_looked_at_my_record(chain, feldsher):
    ours = [PatientFactory(home_facility=chain.post) for _ in range(3)]
    stranger = PatientFactory(home_facility=chain.other_region_post)
    token = a_station(chain, feldsher)

    response = Client().get("/api/sync/pull", HTTP_AUTHORIZATION=f"Bearer {token}")

    assert response.status_code == 200, response.content
    assert {p["uuid"] for p in response.json()["patients"]} == {str(p.uuid) for p in ours}
    pull = AuditEvent.objects.get(action=AuditAction.EXPORT, channel="sync")
    assert pull.actor_username == feldsher.username
    for patient in ours:
        lines = who_accessed(patient.uuid)
        assert [(line.who, line.channel) for line in lines] == [(str(feldsher), "sync")], lines
    assert who_accessed(stranger.uuid) == []


def test_a_pull_with_nothing_new_names_nobody(chain, feldsher):
    token = a_station(chain, feldsher)
    response = Client().get("/api/sync/pull", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    assert not AuditEvent.objects.filter(action=AuditAction.EXPORT).exists()
