"""The deadline watcher: a background job looks at every open request.

- At half the deadline with nobody having accepted, it alerts the region's coordinators and a
  backup consultant.
- At the deadline, it records the breach. A request nobody accepted is re-routed up the routing
  table with a fresh clock; with nowhere left to go it fails. An accepted request that is late
  stays with its consultant and the coordinators are alerted.
Every escalation is on the case's timeline and in the audit trail. Emergency clocks never pause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from . import alerts, routing
from .models import AWAITING_ANSWER, Consultation, DeadlinePolicy, Status
from .services.requesting import _abroad_allowed, _route
from .workflow import Side, apply, record_event

SYSTEM = Accessor(None, None, "system")


@dataclass
class WatchReport:
    half_alerts: list[str] = field(default_factory=list)
    rerouted: list[str] = field(default_factory=list)
    late: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)


def _audit(consultation: Consultation, event: str) -> None:
    audit_record(
        accessor=SYSTEM,
        action=AuditAction.UPDATE,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"event": event},
    )


def watch_deadlines(now: datetime | None = None) -> WatchReport:
    now = now or timezone.now()
    report = WatchReport()
    due = Consultation.objects.filter(
        status__in=AWAITING_ANSWER, deadline_at__isnull=False, paused_at__isnull=True
    ).values_list("pk", flat=True)
    for pk in list(due):
        with transaction.atomic():
            consultation = (
                Consultation.objects.select_for_update(of=("self",))
                .select_related("patient", "requesting_facility", "specialty")
                .get(pk=pk)
            )
            if consultation.status not in AWAITING_ANSWER or consultation.deadline_at is None:
                continue
            _watch_one(consultation, now, report)
    return report


def _watch_one(consultation: Consultation, now: datetime, report: WatchReport) -> None:
    assert consultation.deadline_at is not None and consultation.received_at is not None
    clock = DeadlinePolicy.duration(consultation.form)
    started = consultation.deadline_at - clock
    unaccepted = consultation.status == Status.REQUESTED
    key = str(consultation.uuid)
    if now >= consultation.deadline_at:
        first_breach = consultation.breached_at is None
        consultation.breached_at = consultation.breached_at or now
        consultation.save(update_fields=["breached_at"])
        if unaccepted:
            _escalate(consultation, now, report)
        elif first_breach:
            record_event(consultation, event="breached", actor=None)
            alerts.deadline_breached(consultation)
            _audit(consultation, "breached")
            report.late.append(key)
        return
    if unaccepted and consultation.half_alert_at is None and now >= started + clock / 2:
        consultation.half_alert_at = now
        consultation.save(update_fields=["half_alert_at"])
        record_event(consultation, event="half_deadline", actor=None)
        backup = routing.choose(
            facilities=routing.consulting_facilities(
                requesting=consultation.requesting_facility,
                specialty=consultation.specialty,
                abroad_allowed=_abroad_allowed(consultation),
            ),
            specialty=consultation.specialty,
            language=consultation.language,
            at=now,
            start_rank=consultation.routing_rank,
            exclude=set(consultation.assignments.values_list("consultant_id", flat=True)),
        )
        alerts.half_deadline(consultation, backup.candidate.user if backup.candidate else None)
        _audit(consultation, "half_deadline")
        report.half_alerts.append(key)


def _escalate(consultation: Consultation, now: datetime, report: WatchReport) -> None:
    """Nobody accepted in time: the next facility up the table gets it, with a fresh clock."""
    key = str(consultation.uuid)
    record_event(consultation, event="breached", actor=None)
    consultation.assignments.filter(ended_at__isnull=True).update(
        ended_at=now, end_reason="deadline passed without acceptance"
    )
    facilities = routing.consulting_facilities(
        requesting=consultation.requesting_facility,
        specialty=consultation.specialty,
        abroad_allowed=_abroad_allowed(consultation),
    )
    next_rank = consultation.routing_rank + 1
    if next_rank >= len(facilities):
        apply(consultation, Status.FAILED, side=Side.SYSTEM, actor=None, note="deadline passed")
        alerts.failed(consultation)
        _audit(consultation, "failed")
        report.failed.append(key)
        return
    # The breach stays on the timeline; the next facility starts a clock of its own.
    consultation.deadline_at = now + DeadlinePolicy.duration(consultation.form)
    consultation.half_alert_at = None
    consultation.breached_at = None
    consultation.save(update_fields=["deadline_at", "half_alert_at", "breached_at"])
    assignments = _route(consultation, start_rank=next_rank, actor=None)
    alerts.rerouted(consultation, assignments)
    _audit(consultation, "rerouted")
    report.rerouted.append(key)
