"""A station's item the policy refuses at the hub: the refusal is kept in the audit trail,
linked to the patient, although the item's own transaction (and with it any record written
inside) is rolled back."""

from __future__ import annotations

import uuid

from farcare.access.services import PatientAccessDenied
from farcare.audit.models import AuditAction, AuditEvent
from farcare.sync import hub
from farcare.sync.models import Station

from ..factories import PatientFactory


def test_a_refused_item_leaves_a_denied_record_naming_the_patient(chain, feldsher, monkeypatch):
    patient = PatientFactory(home_facility=chain.post)
    station = Station.objects.create(
        name="Uelen laptop",
        facility=chain.post,
        token_hash=uuid.uuid4().hex * 2,
        enrolled_by=feldsher,
    )

    def refusing(station, accessor, payload):  # the policy's refusal, as a handler meets it
        raise PatientAccessDenied(patient, "not yours")

    monkeypatch.setitem(hub.HANDLERS, "diag.review", refusing)
    op = str(uuid.uuid4())
    [result] = hub.push(
        station=station,
        items=[{"id": op, "kind": "diag.review", "payload": {"actor": str(feldsher.uuid)}}],
        ip="127.0.0.1",
    )
    assert result["status"] == "refused"
    denied = AuditEvent.objects.get(action=AuditAction.DENIED, details__op=op)
    assert denied.patient_uuid == patient.uuid
    assert denied.channel == "sync" and denied.actor_username == feldsher.username
