"""A request written at a station reaches the hub whole: the diastolic pressure and the reason
the vital signs are incomplete travel in its record, and the hub keeps them (in process: the
station's outbox item applied by the hub's push, with no link in between)."""

from __future__ import annotations

import uuid

from farcare.consults.models import Consultation
from farcare.sync.hub import push
from farcare.sync.models import OutboxItem, Station
from farcare.sync.outbox import queue_consultation

from ..consults.conftest import scene  # noqa: F401


def test_the_diastolic_pressure_and_the_missing_reason_cross_to_the_hub(scene):  # noqa: F811
    written = scene.submit(
        "emergency",
        vitals={"systolic_bp": 150, "diastolic_bp": 95, "heart_rate": 110},
        vitals_missing="no_equipment",
    )
    item = next(
        i
        for i in queue_consultation(consultation=written, actor=scene.feldsher)
        if i.kind == "consult.submit"
    )
    payload = dict(item.payload)
    assert payload["vitals"]["diastolic_bp"] == "95"
    assert payload["vitals_missing"] == "no_equipment"

    # The hub has not seen it yet: the same database plays the hub once the station's copy goes.
    OutboxItem.objects.all().delete()
    written.vitals.all().delete()
    written.delete()
    station = Station.objects.create(
        name="Uelen laptop",
        facility=scene.feldsher.facility,
        token_hash=uuid.uuid4().hex * 2,
        enrolled_by=scene.feldsher,
    )
    [result] = push(
        station=station,
        items=[{"id": str(uuid.uuid4()), "kind": "consult.submit", "payload": payload}],
        ip="127.0.0.1",
    )
    assert result["status"] == "applied", result
    received = Consultation.objects.get(uuid=payload["consultation"])
    assert received.vitals.get(key="diastolic_bp").loinc == "8462-4"
    assert received.vitals.get(key="diastolic_bp").value == "95"
    assert received.vitals_missing == "no_equipment"
    assert received.form_suggested == received.suggested_form
