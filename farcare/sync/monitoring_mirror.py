"""At a station: the hub's remote monitoring of the post's patients, kept as the station's own
rows under the hub's UUIDs (issue 17), so that the feldsher opens the person's monitoring page
with no link — the programme, the plan's readings, the charts with the readings that came to the
hub by SMS or from a device, the hub's alerts — and adds a reading there (queued for the hub).

A read-only copy: enrolments are made, changed and ended at the hub, and alerts are raised and
acknowledged there; every pull replaces what the station holds of them with the hub's copy. An
enrolment the hub stops sending stays as it last said (the hub sends an ending). The people named
(the responsible clinicians, an alert's recipient) are kept as inactive accounts only to be
named, as training does.

Readings from the hub are written here directly, never through `reading_record`: that would
queue them for the hub again. A reading this station entered itself comes back with the source
id "station:<its uuid>": the station keeps its own row (only an "entered in error" from the hub
is taken), so the person's page shows it once."""

from __future__ import annotations

import logging
import uuid
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, transaction

from farcare.monitoring.models import (
    AlertEvent,
    Enrolment,
    HomeReading,
    MonitoringAlert,
    ReadingStatus,
)
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .training_mirror import _person

logger = logging.getLogger(__name__)

OWN = "station:"


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _own(source_id: str) -> str | None:
    """The uuid of this station's own reading a hub's source id names, if it names one."""
    if not source_id.startswith(OWN):
        return None
    try:
        return str(uuid.UUID(source_id.removeprefix(OWN)))
    except ValueError:
        return None


def mirror(data: dict[str, list[dict[str, Any]]]) -> int:
    """Apply a pull's monitoring; returns how many records were kept. A record the station
    cannot hold (its patient, facility or enrolment not known here) is logged and comes again
    with the next change."""
    kept = 0
    for kind, keep in (("enrolments", _enrolment), ("readings", _reading), ("alerts", _alert)):
        for copy in data.get(kind) or []:
            try:
                with transaction.atomic():
                    kept += int(keep(copy))
            except IntegrityError:
                # An older copy still holds the place (a programme's one active enrolment, an
                # alert's episode): the next pull brings both as the hub has them.
                logger.warning("monitoring %s %s could not be kept yet", kind, copy["uuid"])
    return kept


def _patient(copy: dict[str, Any]) -> Patient | None:
    patient = Patient.objects.filter(uuid=copy["patient"]).first()
    if patient is None:
        logger.warning("monitoring %s: its patient is not at this station", copy["uuid"])
    return patient


def _enrolment(copy: dict[str, Any]) -> bool:
    patient = _patient(copy)
    facility = Facility.objects.filter(uuid=copy["facility"]).first()
    if patient is None or facility is None:
        return False
    enrolment = Enrolment.objects.filter(uuid=copy["uuid"]).first() or Enrolment(uuid=copy["uuid"])
    enrolment.patient = patient
    enrolment.facility = facility
    for name in (
        "programme",
        "status",
        "plan",
        "targets",
        "zone",
        "note",
        "end_reason",
        "risk",
        "risk_reason",
        "version",
    ):
        setattr(enrolment, name, copy[name])
    enrolment.responsible_feldsher = _person(copy["responsible_feldsher"])
    enrolment.responsible_doctor = _person(copy["responsible_doctor"])
    enrolment.in_person_visit_on = date.fromisoformat(copy["in_person_visit_on"])
    enrolment.enrolled_at = _required(copy["enrolled_at"])
    enrolment.ended_at = _time(copy["ended_at"])
    enrolment.last_reading_at = _time(copy["last_reading_at"])
    enrolment.save()
    return True


def _reading(copy: dict[str, Any]) -> bool:
    source_id: str = copy["source_id"]
    if own_uuid := _own(source_id):
        own = HomeReading.objects.filter(uuid=own_uuid).first()
        if own is not None:
            # Ours, stored at the hub: the row here stays the one (its uuid is in the outbox's
            # record); only a correction made at the hub is taken.
            if copy["status"] == ReadingStatus.ENTERED_IN_ERROR and own.status != copy["status"]:
                own.status = copy["status"]
                own.save(update_fields=["status", "updated_at"])
            return True
    patient = _patient(copy)
    if patient is None:
        return False
    reading = HomeReading.objects.filter(uuid=copy["uuid"]).first() or HomeReading(
        uuid=copy["uuid"]
    )
    reading.patient = patient
    for name in ("code", "unit", "converted_from", "source", "device", "status", "note"):
        setattr(reading, name, copy[name])
    reading.source_id = source_id
    reading.value = Decimal(copy["value"])
    reading.value_2 = Decimal(copy["value_2"]) if copy["value_2"] is not None else None
    reading.taken_at = _required(copy["taken_at"])
    reading.received_at = _required(copy["received_at"])
    reading.entered_by = _person(copy["entered_by"]) if copy["entered_by"] else None
    reading.version = copy["version"]
    reading.save()
    return True


def _alert(copy: dict[str, Any]) -> bool:
    enrolment = Enrolment.objects.select_related("patient").filter(uuid=copy["enrolment"]).first()
    if enrolment is None:
        logger.warning("monitoring alert %s: its enrolment is not at this station", copy["uuid"])
        return False
    alert = MonitoringAlert.objects.filter(uuid=copy["uuid"]).first() or MonitoringAlert(
        uuid=copy["uuid"]
    )
    alert.enrolment = enrolment
    alert.patient = enrolment.patient
    for name in (
        "kind",
        "severity",
        "rule",
        "measure",
        "dedupe_key",
        "detail",
        "status",
        "ack_note",
        "version",
    ):
        setattr(alert, name, copy[name])
    alert.raised_at = _required(copy["raised_at"])
    alert.ack_deadline = _required(copy["ack_deadline"])
    alert.acknowledged_at = _time(copy["acknowledged_at"])
    alert.escalated_at = _time(copy["escalated_at"])
    alert.escalated_again_at = _time(copy["escalated_again_at"])
    alert.recipient = _person(copy["recipient"])
    alert.acknowledged_by = _person(copy["acknowledged_by"]) if copy["acknowledged_by"] else None
    alert.save()
    # The readings that raised it, as this station holds them: its own under its own uuid.
    known = {r["uuid"] for r in copy["readings"]} | {
        own for r in copy["readings"] if (own := _own(r["source_id"]))
    }
    alert.readings.set(HomeReading.objects.filter(patient=enrolment.patient, uuid__in=known))
    # The timeline as the hub has it: replaced whole (its moves carry no identity of their own).
    alert.events.all().delete()
    AlertEvent.objects.bulk_create(
        [
            AlertEvent(
                alert=alert,
                from_status=event["from_status"],
                to_status=event["to_status"],
                event=event["event"],
                at=_required(event["at"]),
                actor=_person(event["actor"]) if event["actor"] else None,
                note=event["note"],
                data=event["data"],
            )
            for event in copy["events"]
        ]
    )
    return True
