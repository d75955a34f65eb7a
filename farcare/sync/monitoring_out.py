"""A station's home readings in its outbox (issue 17): a blood pressure or a weight the
feldsher entered at the post, offline or not, waits in the reading's own transaction and
crosses as a record, after the patient's own records (which take its rank). At the hub it is
stored once (the push's receipt, and the station's reading id as its source id) and evaluated
against the patient's plan there, where the responsible clinicians are alerted."""

from __future__ import annotations

from farcare.accounts.models import User
from farcare.monitoring.models import HomeReading

from .models import OutboxItem
from .outbox import _enqueue, _raise_rank

READING = "monitoring.reading"
KINDS = (READING,)
# Planned work's rank: a reading alarming at the post has already alerted the post itself.
READING_RANK = 2


def queue_reading(*, reading: HomeReading, actor: User) -> OutboxItem:
    _raise_rank(reading.patient, READING_RANK)
    values = f"{reading.value}/{reading.value_2}" if reading.value_2 is not None else reading.value
    return _enqueue(
        kind=READING,
        label=f"{reading.get_code_display()}: {values} {reading.unit}",
        payload={
            "reading": str(reading.uuid),
            "patient": str(reading.patient.uuid),
            "code": reading.code,
            "value": str(reading.value),
            "value_2": str(reading.value_2) if reading.value_2 is not None else None,
            "unit": reading.unit,
            "converted_from": reading.converted_from,
            "taken_at": reading.taken_at.isoformat(),
            "device": reading.device,
            "note": reading.note,
        },
        actor=actor,
        rank=READING_RANK,
        patient_uuid=reading.patient.uuid,
    )
