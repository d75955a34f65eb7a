"""The monitoring watcher (run by `farcare monitoring watch`), as the diagnostics one: readings
that did not come when the plan expects them alert the responsible clinician (missed reading),
and an alert nobody acknowledged by its deadline escalates to the district doctor(s) of the
post the person lives at now (the clinicians of the first district hospital up the chain) and
that region's coordinators, never to its recipient again and only to those the access policy
lets open the person's record (with nobody left, to the responsible doctor, and the timeline
says so); still unacknowledged
`FARCARE_MONITORING_SECOND_ESCALATION_MINUTES` (60) after that, it escalates once more,
urgently, to the coordinators. Each step in its own transaction, audited.

Missed readings are found without evaluating 100,000 plans: one query per batch gives the last
reading of each measure, and only the enrolments whose schedule is overdue are evaluated (which
also brings their risk up to date: "readings overdue" is a risk that grows with the clock).

Only at the hub: a station's copy would tell everyone a second time.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from farcare.access.policy import Action, decide
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.network.models import Facility
from farcare.network.staff import clinicians_at, coordinators_of, district_hospital_for

from . import notices, plans
from .models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingStatus,
)
from .services.alerts import evaluate_enrolment
from .workflow import Side, apply

SYSTEM = Accessor(None, None, "system")
BATCH = 1000
logger = logging.getLogger(__name__)


@dataclass
class WatchReport:
    missed: list[str] = field(default_factory=list)  # uuids of the missed-reading alerts
    escalated: list[str] = field(default_factory=list)
    escalated_again: list[str] = field(default_factory=list)
    evaluated: int = 0
    # Enrolments whose stored plan cannot be read: nobody can tell whether they missed a
    # reading, which must be seen and fixed, not skipped in silence.
    unreadable: list[str] = field(default_factory=list)


def at_station() -> bool:
    return replication().is_station()


def second_escalation_delay() -> timedelta:
    return timedelta(
        minutes=float(getattr(settings, "FARCARE_MONITORING_SECOND_ESCALATION_MINUTES", 60))
    )


def watch_monitoring(now: datetime | None = None) -> WatchReport:
    report = WatchReport()
    if at_station():
        return report
    now = now or timezone.now()
    _missed_readings(now, report)
    _escalate_overdue(now, report)
    _escalate_again(now, report)
    return report


# --- missed readings ---------------------------------------------------------------------------


def _overdue(
    enrolment: Enrolment,
    last: dict[tuple[int, str], datetime],
    now: datetime,
    report: WatchReport,
) -> bool:
    try:
        schedules = plans.plan_from_json(
            enrolment.plan,
            programme=enrolment.programme,
            subject="",
            enrolled_at=enrolment.enrolled_at,
            zone=enrolment.zone,
        ).schedules
    except plans.PlanError as error:
        logger.warning(
            "monitoring enrolment %s: its plan cannot be read (%s); missed readings are not "
            "watched until it is fixed",
            enrolment.uuid,
            error.message,
        )
        report.unreadable.append(str(enrolment.uuid))
        return False
    for schedule in schedules:
        since = last.get((enrolment.patient_id, schedule.measure.value))
        if since is None or since < enrolment.enrolled_at:
            since = enrolment.enrolled_at
        if now > since + schedule.every + schedule.grace:
            return True
    return False


def _missed_readings(now: datetime, report: WatchReport) -> None:
    active = Enrolment.objects.filter(status=EnrolmentStatus.ACTIVE, enrolled_at__lte=now)
    after = 0
    while True:
        batch = list(
            active.filter(pk__gt=after)
            .order_by("pk")
            .only("pk", "uuid", "patient_id", "plan", "programme", "enrolled_at", "zone")[:BATCH]
        )
        if not batch:
            return
        after = batch[-1].pk
        last: dict[tuple[int, str], datetime] = {
            (row["patient_id"], row["code"]): row["last"]
            for row in HomeReading.objects.filter(
                patient_id__in={e.patient_id for e in batch},
                status=ReadingStatus.FINAL,
                taken_at__lte=now,
            )
            .values("patient_id", "code")
            .annotate(last=Max("taken_at"))
        }
        for enrolment in batch:
            if _overdue(enrolment, last, now, report):
                _evaluate(enrolment.pk, now, report)


def _evaluate(pk: int, now: datetime, report: WatchReport) -> None:
    with transaction.atomic():
        enrolment = (
            Enrolment.objects.select_for_update(of=("self",))
            .select_related("patient", "responsible_feldsher", "responsible_doctor")
            .get(pk=pk)
        )
        report.evaluated += 1
        for alert in evaluate_enrolment(enrolment, now=now):
            report.missed.append(str(alert.uuid))


# --- escalation --------------------------------------------------------------------------------


def _home(alert: MonitoringAlert) -> Facility:
    # Where the person lives now, not where they were enrolled: after a move the old
    # district no longer reaches them and the new one must be told.
    return alert.patient.home_facility


def _may_see(users: list[User], alert: MonitoringAlert) -> list[User]:
    return [u for u in users if decide(u, Action.VIEW, alert.patient)]


def escalation_recipients(alert: MonitoringAlert) -> list[User]:
    """The district doctor(s) of the person's post and the region's coordinators, without the
    one who was told first (telling them again would not be an escalation), and only those
    who may open the person's record (the link leads there)."""
    where = _home(alert)
    skip = {alert.recipient_id}
    doctors = [u for u in clinicians_at(district_hospital_for(where)) if u.pk not in skip]
    coordinators = [u for u in coordinators_of(where.region) if u.pk not in skip]
    return _may_see([*doctors, *coordinators], alert)


def _with_fallback(
    alert: MonitoringAlert, recipients: list[User]
) -> tuple[list[User], dict[str, Any]]:
    """Nobody eligible up the chain: the responsible doctor, if they still may see the person;
    the alert's timeline says which happened, and says it when nobody was told at all."""
    if recipients:
        return recipients, {}
    doctor = alert.enrolment.responsible_doctor
    if doctor.is_active and decide(doctor, Action.VIEW, alert.patient):
        return [doctor], {"fallback": "responsible_doctor"}
    return [], {}


def _escalation_data(
    alert: MonitoringAlert, told: list[User], extra: dict[str, Any]
) -> dict[str, Any]:
    data: dict[str, Any] = {"told": [str(u.uuid) for u in told], **extra}
    if not told:
        data["nobody_told"] = True
        logger.warning("monitoring alert %s escalated with nobody left to tell", alert.uuid)
    return data


def _locked(pk: int) -> MonitoringAlert:
    return (
        MonitoringAlert.objects.select_for_update(of=("self",))
        .select_related("patient__home_facility", "enrolment__responsible_doctor")
        .get(pk=pk)
    )


def _escalate_overdue(now: datetime, report: WatchReport) -> None:
    overdue = MonitoringAlert.objects.filter(status=AlertStatus.OPEN, ack_deadline__lte=now)
    for pk in list(overdue.values_list("pk", flat=True)):
        with transaction.atomic():
            alert = _locked(pk)
            if alert.status != AlertStatus.OPEN:
                continue
            recipients, extra = _with_fallback(alert, escalation_recipients(alert))
            told = notices.alert_escalated(alert, recipients)
            data = _escalation_data(alert, told, extra)
            apply(alert, "escalate", sides={Side.SYSTEM}, actor=None, at=now, data=data)
            _audit(alert, "escalated", data)
            report.escalated.append(str(alert.uuid))


def _escalate_again(now: datetime, report: WatchReport) -> None:
    again = MonitoringAlert.objects.filter(
        status=AlertStatus.ESCALATED,
        escalated_again_at__isnull=True,
        escalated_at__lte=now - second_escalation_delay(),
    )
    for pk in list(again.values_list("pk", flat=True)):
        with transaction.atomic():
            alert = _locked(pk)
            if alert.status != AlertStatus.ESCALATED or alert.escalated_again_at is not None:
                continue
            coordinators = _may_see(coordinators_of(_home(alert).region), alert)
            recipients, extra = _with_fallback(alert, coordinators)
            told = notices.alert_escalated_again(alert, recipients)
            data = _escalation_data(alert, told, extra)
            apply(alert, "escalate_again", sides={Side.SYSTEM}, actor=None, at=now, data=data)
            _audit(alert, "escalated_again", data)
            report.escalated_again.append(str(alert.uuid))


def _audit(alert: MonitoringAlert, event: str, data: dict[str, Any]) -> None:
    audit_record(
        accessor=SYSTEM,
        action=AuditAction.UPDATE,
        patient_uuid=alert.patient.uuid,
        record=alert,
        details={"app": "monitoring", "event": event, **data},
    )
