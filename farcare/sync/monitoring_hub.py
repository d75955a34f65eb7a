"""The hub's side of remote monitoring at a station (issue 17), both ways.

Up: a home reading entered at the post is recorded through the monitoring service as the
feldsher who entered it, from when it was taken, with the station's reading id as its source id,
so a record pushed again (after a lost answer, or from a station restored from a backup) is
stored once. The service evaluates the patient's plan here, and the hub's alerts go to the
responsible clinicians. Refusals are `ValidationError`s (the push answers them item by item, in
the actor's language).

Down (`changes`): enrolments are made at the hub, so the post's laptop learns of them only from
the pull: the enrolments of the station's patients, their readings of the last 30 days (those
that came by SMS or from devices here included) and the enrolments' alerts, so the feldsher can
open the person's page, see the charts and add a reading with no link. What crosses is only what
changed since the station's cursor, bounded per patient; `monitoring_mirror` keeps it there,
read-only. The pull that carries it is audited by `hub.pull` with each patient linked."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import station_patients
from farcare.audit.services import Accessor
from farcare.monitoring.models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
)
from farcare.monitoring.services.readings import ReadingIn, reading_record

from .models import Station
from .training_hub import _person


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a time without its zone")
    return min(moment, timezone.now())  # a station's clock ahead of the hub's


def reading_recorded(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    patient = station_patients(station.facility).filter(uuid=payload["patient"]).first()
    if patient is None:
        raise ValidationError(_("The patient is not known to the hub yet."))
    value_2 = payload.get("value_2")
    result = reading_record(
        accessor=accessor,
        patient=patient,
        readings=[
            ReadingIn(
                code=str(payload["code"]),
                value=Decimal(str(payload["value"])),
                value_2=Decimal(str(value_2)) if value_2 is not None else None,
                taken_at=_time(payload["taken_at"]),
                converted_from=str(payload.get("converted_from") or ""),
                note=str(payload.get("note") or ""),
            )
        ],
        source=ReadingSource.STATION,
        device=str(payload.get("device") or ""),
        source_id=f"station:{payload['reading']}",
    )
    return {
        "reading": str(payload["reading"]),
        "stored": [str(r.uuid) for r in result.readings],
        "alerts": [str(a.uuid) for a in result.alerts],
        "duplicate": result.duplicate,
    }


HANDLERS = {"monitoring.reading": reading_recorded}


# --- down: what the station keeps of the hub's monitoring --------------------------------------

# The page's window (monitoring.pages.WINDOW): older readings are not drawn there.
READING_DAYS = 30
# At most this many readings of one person per pull (four measures four times a day for a month
# is under 500; a flood from a broken device does not block the link for the post).
READINGS_PER_PATIENT = 500
OPEN = (AlertStatus.OPEN, AlertStatus.ESCALATED)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def enrolment_copy(e: Enrolment) -> dict[str, Any]:
    return {
        "uuid": str(e.uuid),
        "patient": str(e.patient.uuid),
        "programme": e.programme,
        "status": e.status,
        "facility": str(e.facility.uuid),
        "responsible_feldsher": _person(e.responsible_feldsher),
        "responsible_doctor": _person(e.responsible_doctor),
        "in_person_visit_on": e.in_person_visit_on.isoformat(),
        "plan": e.plan,
        "targets": e.targets,
        "zone": e.zone,
        "note": e.note,
        "enrolled_at": e.enrolled_at.isoformat(),
        "ended_at": _when(e.ended_at),
        "end_reason": e.end_reason,
        "risk": e.risk,
        "risk_reason": e.risk_reason,
        "last_reading_at": _when(e.last_reading_at),
        "version": e.version,
    }


def reading_copy(r: HomeReading) -> dict[str, Any]:
    return {
        "uuid": str(r.uuid),
        "patient": str(r.patient.uuid),
        "code": r.code,
        "value": str(r.value),
        "value_2": str(r.value_2) if r.value_2 is not None else None,
        "unit": r.unit,
        "converted_from": r.converted_from,
        "taken_at": r.taken_at.isoformat(),
        "received_at": r.received_at.isoformat(),
        "source": r.source,
        # "station:<uuid>" names the station's own row: the station keeps that one.
        "source_id": r.source_id,
        "entered_by": _person(r.entered_by) if r.entered_by else None,
        "device": r.device,
        "status": r.status,
        "note": r.note,
        "version": r.version,
    }


def alert_copy(a: MonitoringAlert) -> dict[str, Any]:
    return {
        "uuid": str(a.uuid),
        "enrolment": str(a.enrolment.uuid),
        "patient": str(a.patient.uuid),
        "kind": a.kind,
        "severity": a.severity,
        "rule": a.rule,
        "measure": a.measure,
        "dedupe_key": a.dedupe_key,
        "detail": a.detail,
        "raised_at": a.raised_at.isoformat(),
        "recipient": _person(a.recipient),
        "ack_deadline": a.ack_deadline.isoformat(),
        "status": a.status,
        "acknowledged_at": _when(a.acknowledged_at),
        "acknowledged_by": _person(a.acknowledged_by) if a.acknowledged_by else None,
        "ack_note": a.ack_note,
        "escalated_at": _when(a.escalated_at),
        "escalated_again_at": _when(a.escalated_again_at),
        "version": a.version,
        # The readings that raised it, as the station may know them (its own under its uuid).
        "readings": [{"uuid": str(r.uuid), "source_id": r.source_id} for r in a.readings.all()],
        "events": [
            {
                "from_status": ev.from_status,
                "to_status": ev.to_status,
                "event": ev.event,
                "at": ev.at.isoformat(),
                "actor": _person(ev.actor) if ev.actor else None,
                "note": ev.note,
                "data": ev.data,
            }
            for ev in a.events.all()
        ],
    }


def _enrolments(station: Station, cutoff: datetime | None) -> QuerySet[Enrolment]:
    enrolments = Enrolment.objects.filter(patient__in=station_patients(station.facility))
    if cutoff is None:
        # A fresh station needs no ended programme: nothing of it is shown or followed there.
        return enrolments.filter(status=EnrolmentStatus.ACTIVE)
    # Risk and the last reading are the system's bookkeeping and do not touch updated_at (see
    # alerts.refresh_risk): a new reading or a moved alert sends the enrolment again as well.
    new_reading = HomeReading.objects.filter(patient=OuterRef("patient"), updated_at__gte=cutoff)
    moved_alert = MonitoringAlert.objects.filter(enrolment=OuterRef("pk"), updated_at__gte=cutoff)
    return enrolments.filter(
        Q(updated_at__gte=cutoff)
        # A person who has just become this post's patient (moved home).
        | Q(patient__updated_at__gte=cutoff)
        | Q(status=EnrolmentStatus.ACTIVE) & (Q(Exists(new_reading)) | Q(Exists(moved_alert)))
    )


def _whole(e: Enrolment, cutoff: datetime | None) -> bool:
    """Sent whole (its readings' window, its open alerts): the station may never have had it."""
    return cutoff is None or e.updated_at >= cutoff or e.patient.updated_at >= cutoff


def _readings(
    enrolments: list[Enrolment], cutoff: datetime | None, now: datetime
) -> list[HomeReading]:
    """The readings of the followed people: the whole window for an enrolment new or changed
    (the station may never have had its readings), else those changed since the cursor."""
    whole = {
        e.patient_id for e in enrolments if e.status == EnrolmentStatus.ACTIVE and _whole(e, cutoff)
    }
    followed = {e.patient_id for e in enrolments if e.status == EnrolmentStatus.ACTIVE}
    found: list[HomeReading] = []
    for patient_id in sorted(followed):
        readings = HomeReading.objects.filter(
            patient_id=patient_id, taken_at__gte=now - timedelta(days=READING_DAYS)
        )
        if cutoff is not None and patient_id not in whole:
            readings = readings.filter(updated_at__gte=cutoff)
        found += readings.select_related("patient", "entered_by").order_by("-taken_at", "-pk")[
            :READINGS_PER_PATIENT
        ]
    return found


def changes(station: Station, cutoff: datetime | None) -> dict[str, list[dict[str, Any]]]:
    """The station's patients' enrolments, readings and alerts changed since `cutoff` (all the
    active ones when None). Ended enrolments come first: a programme ended and started again
    must free its place before the new one takes it."""
    now = timezone.now()
    enrolments = list(
        _enrolments(station, cutoff)
        .select_related("patient", "facility", "responsible_feldsher", "responsible_doctor")
        .order_by("updated_at", "pk")
    )
    enrolments.sort(key=lambda e: e.status != EnrolmentStatus.ENDED)  # stable: ended first
    wanted = Q(enrolment__in=[e.pk for e in enrolments if _whole(e, cutoff)], status__in=OPEN)
    if cutoff is not None:
        # Any move since the cursor (acknowledged, escalated, closed), so that the station's
        # copy leaves the open list too.
        wanted |= Q(enrolment__in=[e.pk for e in enrolments], updated_at__gte=cutoff)
    alerts = MonitoringAlert.objects.filter(wanted)
    return {
        "enrolments": [enrolment_copy(e) for e in enrolments],
        "readings": [reading_copy(r) for r in _readings(enrolments, cutoff, now)],
        "alerts": [
            alert_copy(a)
            for a in alerts.select_related(
                "enrolment", "patient", "recipient", "acknowledged_by"
            ).prefetch_related("readings", "events__actor")
        ],
    }
