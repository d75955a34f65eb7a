"""The diagnostics watcher (run by `farcare diagnostics watch`): a critical alert nobody
acknowledged by its deadline escalates to the district doctor of the ordering post (the
clinicians of the first district hospital up the chain) and the region's coordinators, as
consultations escalate (consults.deadlines); still unacknowledged a second deadline later
(`FARCARE_CRITICAL_SECOND_ESCALATION_MINUTES` after the first escalation, 30 by default) it
escalates once more, urgently, to the region's coordinators (by SMS where they gave a phone);
reports whose review delay passed are released to the patient. Each step in its own
transaction, audited.

Only at the hub: a station's alerts and reports are copies of the hub's (`sync`), which
escalates and releases them; a station doing it too would tell everyone twice and release
what the hub holds. So at a station the watcher does nothing (`at_station`), and the command
refuses to run there."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.network.staff import clinicians_at, coordinators_of, district_hospital_for

from . import alerts, release
from .models import AlertStatus, CriticalAlert, DiagnosticReport

SYSTEM = Accessor(None, None, "system")


@dataclass
class WatchReport:
    escalated: list[str] = field(default_factory=list)
    escalated_again: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)


def at_station() -> bool:
    return replication().is_station()


def watch_diagnostics(now: datetime | None = None) -> WatchReport:
    report = WatchReport()
    if at_station():
        return report
    now = now or timezone.now()
    overdue = CriticalAlert.objects.filter(status=AlertStatus.OPEN, ack_deadline__lte=now)
    for pk in list(overdue.values_list("pk", flat=True)):
        with transaction.atomic():
            alert = (
                CriticalAlert.objects.select_for_update(of=("self",))
                .select_related("patient__home_facility", "observation__report__order")
                .get(pk=pk)
            )
            if alert.status != AlertStatus.OPEN:
                continue
            _escalate(alert, now)
            report.escalated.append(str(alert.uuid))
    again = CriticalAlert.objects.filter(
        status=AlertStatus.ESCALATED,
        escalated_again_at__isnull=True,
        escalated_at__lte=now - second_escalation_delay(),
    )
    for pk in list(again.values_list("pk", flat=True)):
        with transaction.atomic():
            alert = (
                CriticalAlert.objects.select_for_update(of=("self",))
                .select_related("patient__home_facility", "observation__report__order")
                .get(pk=pk)
            )
            if alert.status != AlertStatus.ESCALATED or alert.escalated_again_at is not None:
                continue
            _escalate_again(alert, now)
            report.escalated_again.append(str(alert.uuid))
    due = DiagnosticReport.objects.filter(
        review_required=True,
        reviewed_at__isnull=True,
        released_at__isnull=True,
        status__in=release.RELEASABLE,
        issued_at__lte=now - release.release_delay(),
    )
    for pk in list(due.values_list("pk", flat=True)):
        with transaction.atomic():
            stored = (
                DiagnosticReport.objects.select_for_update(of=("self",))
                .select_related("patient__user")
                .get(pk=pk)
            )
            if release.release_if_due(stored, now):
                audit_record(
                    accessor=SYSTEM,
                    action=AuditAction.UPDATE,
                    patient_uuid=stored.patient.uuid,
                    record=stored,
                    details={"event": "released_after_delay"},
                )
                report.released.append(str(stored.uuid))
    return report


def second_escalation_delay() -> timedelta:
    return timedelta(
        minutes=float(getattr(settings, "FARCARE_CRITICAL_SECOND_ESCALATION_MINUTES", 30))
    )


def escalation_recipients(alert: CriticalAlert) -> list[User]:
    order = alert.observation.report.order
    where = order.ordering_facility if order is not None else alert.patient.home_facility
    district = district_hospital_for(where)
    skip = {alert.recipient_id}
    doctors = [user for user in clinicians_at(district) if user.pk not in skip]
    return [*doctors, *coordinators_of(where.region)]


def _escalate(alert: CriticalAlert, now: datetime) -> None:
    alert.status = AlertStatus.ESCALATED
    alert.escalated_at = now
    alert.version += 1
    alert.save(update_fields=["status", "escalated_at", "version"])
    order = alert.observation.report.order
    told = alerts.critical_escalated(
        alert, escalation_recipients(alert), order.placer_number if order else ""
    )
    audit_record(
        accessor=SYSTEM,
        action=AuditAction.UPDATE,
        patient_uuid=alert.patient.uuid,
        record=alert,
        details={"event": "escalated", "told": [str(user.uuid) for user in told]},
    )


def _escalate_again(alert: CriticalAlert, now: datetime) -> None:
    alert.escalated_again_at = now
    alert.version += 1
    alert.save(update_fields=["escalated_again_at", "version"])
    order = alert.observation.report.order
    where = order.ordering_facility if order is not None else alert.patient.home_facility
    told = alerts.critical_escalated_again(
        alert, coordinators_of(where.region), order.placer_number if order else ""
    )
    audit_record(
        accessor=SYSTEM,
        action=AuditAction.UPDATE,
        patient_uuid=alert.patient.uuid,
        record=alert,
        details={"event": "escalated_again", "told": [str(user.uuid) for user in told]},
    )
