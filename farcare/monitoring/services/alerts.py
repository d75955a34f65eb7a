"""Alerts of remote monitoring: found by the plan's rules, sent to the responsible clinician with
an acknowledgement deadline, acknowledged, and turned into a teleconsultation request in one
click (issue 17, point 3).

Who is told: a "watch" alert (within the working day) goes to the responsible feldsher, who
sees the person; an urgent or critical one to the responsible doctor, who decides on treatment
or a teleconsultation. The deadline comes from the severity (`FARCARE_MONITORING_ACK_MINUTES`);
past it the watch escalates (watch.py). The same episode never alerts twice: the rules' dedupe
key is stored with the alert, under the constraint `one_alert_per_episode`.
"""

from __future__ import annotations

import uuid as uuid_lib
from collections.abc import Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Max
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from farcare.access.policy import Action, decide
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation, ConsultForm, Status
from farcare.core.ports import replication
from farcare.network.models import Specialty

from .. import notices, plans, risk, rules
from ..measures import MEASURES, PANELS, READING_CODES, Code, Quantity, Reading
from ..models import (
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingStatus,
)
from ..workflow import OPEN_STATUSES, Side, apply, record_raised

SYSTEM = Accessor(None, None, "system")
DEFAULT_ACK_MINUTES = {"critical": 30, "urgent": 240, "watch": 1440}
# Readings the rules look at: the longest trend is 14 days; older readings change no
# current state (a run of high pressures older than this was alerted when it began).
WINDOW = timedelta(days=15)
ACKNOWLEDGING_ROLES = (Role.CLINICIAN, Role.COORDINATOR)
NOTE_MAX_CHARS = 1000


# --- the plan and the readings as the rules see them -------------------------------------------


def plan_of(enrolment: Enrolment) -> rules.Plan:
    return plans.plan_from_json(
        enrolment.plan,
        programme=enrolment.programme,
        subject=str(enrolment.uuid),
        enrolled_at=enrolment.enrolled_at,
        zone=enrolment.zone,
    )


def as_rule_reading(reading: HomeReading) -> Reading:
    code = Code(reading.code)
    parts = PANELS.get(code, (code,))
    values = [reading.value, reading.value_2]
    quantities = tuple(
        Quantity(part, value, MEASURES[part].unit)
        for part, value in zip(parts, values, strict=False)
        if value is not None
    )
    return Reading(code, quantities, reading.taken_at, reference=str(reading.uuid))


def _recent(enrolment: Enrolment, measures: set[Code], now: datetime) -> list[HomeReading]:
    # From the enrolment on: the plan starts there, and a reading the person took before it
    # (typed in later) is not an alert of a programme they were not in.
    return list(
        HomeReading.objects.filter(
            patient_id=enrolment.patient_id,
            code__in=[m.value for m in measures],
            status=ReadingStatus.FINAL,
            taken_at__gte=max(now - WINDOW, enrolment.enrolled_at),
            taken_at__lte=now,
        ).order_by("taken_at", "id")
    )


def _last_before(enrolment: Enrolment, measure: Code, before: datetime) -> HomeReading | None:
    return (
        HomeReading.objects.filter(
            patient_id=enrolment.patient_id,
            code=measure.value,
            status=ReadingStatus.FINAL,
            taken_at__lt=before,
        )
        .order_by("-taken_at", "-id")
        .first()
    )


def ack_minutes(severity: str) -> int:
    configured = getattr(settings, "FARCARE_MONITORING_ACK_MINUTES", None) or {}
    return int(configured.get(severity, DEFAULT_ACK_MINUTES[severity]))


def recipient_for(enrolment: Enrolment, severity: str) -> User:
    """The feldsher for what can wait the working day, the doctor for what cannot; the other
    named clinician when that one has left or may no longer open the record (an alert sent to
    someone who cannot open it is an alert nobody reads)."""
    first, other = enrolment.responsible_doctor, enrolment.responsible_feldsher
    if severity == rules.Severity.WATCH:
        first, other = other, first
    if _may_see(first, enrolment) or not _may_see(other, enrolment):
        return first
    return other


def _may_see(user: User, enrolment: Enrolment) -> bool:
    return user.is_active and bool(decide(user, Action.VIEW, enrolment.patient))


# --- evaluation ----------------------------------------------------------------------------


def evaluate_enrolment(enrolment: Enrolment, *, now: datetime) -> list[MonitoringAlert]:
    """The new alerts of the enrolment's current state, stored, sent and audited; its risk and
    last reading brought up to date. Runs inside the caller's transaction (the enrolment row
    locked by the caller when readings arrive at once); the notifications leave after commit."""
    if enrolment.status != EnrolmentStatus.ACTIVE:
        return []
    plan = plan_of(enrolment)
    measures = {t.measure for t in plan.thresholds}
    measures |= {g.measure for g in plan.gains} | {s.measure for s in plan.schedules}
    stored = _recent(enrolment, measures, now)
    # A measure with no reading in the window: its last reading still dates a missed one.
    present = {Code(r.code) for r in stored}
    for schedule in plan.schedules:
        if schedule.measure not in present:
            last = _last_before(enrolment, schedule.measure, now - WINDOW)
            if last is not None and last.taken_at >= enrolment.enrolled_at:
                stored.insert(0, last)
    by_reference = {str(r.uuid): r for r in stored}
    found = rules.evaluate(plan, [as_rule_reading(r) for r in stored], now=now)
    found = [a for a in found if not _began_before_window(a, stored, enrolment)]
    keys = [a.dedupe_key for a in found]
    alerted = set(
        MonitoringAlert.objects.filter(enrolment=enrolment, dedupe_key__in=keys).values_list(
            "dedupe_key", flat=True
        )
    )
    created: list[MonitoringAlert] = []
    for found_alert in found:
        if found_alert.dedupe_key in alerted or _episode_alerted(enrolment, found_alert, stored):
            continue
        alert = _store(enrolment, found_alert, by_reference, now)
        if alert is not None:
            created.append(alert)
    refresh_risk(enrolment, now=now)
    return created


def _episode_alerted(
    enrolment: Enrolment, found: rules.Alert, stored: Sequence[HomeReading]
) -> bool:
    """Whether an alert of the rule already covers this episode under another key.

    A threshold run is keyed by its first reading: a breaching reading taken earlier but typed
    in later moves the start, and the key, of the same run. A weight gain is keyed by its
    lowest weight: as the days slide, a later low opens a new key for the gain already told.
    """
    same_rule = MonitoringAlert.objects.filter(enrolment=enrolment, rule=found.rule)
    if found.kind in (rules.AlertKind.THRESHOLD, rules.AlertKind.REPEATED_THRESHOLD):
        anchor = found.dedupe_key.rsplit("|", 1)[-1]
        run = [r for r in stored if r.code == found.measure.value]
        start = next((i for i, r in enumerate(run) if str(r.uuid) == anchor), None)
        if start is None:
            return False
        run = run[start:]
        prefix = found.dedupe_key[: -len(anchor)]
        return (
            same_rule.filter(readings__in=run).exists()
            or same_rule.filter(dedupe_key__in=[f"{prefix}{r.uuid}" for r in run]).exists()
        )
    if found.kind == rules.AlertKind.TREND and found.readings:
        # The same gain while the weight stays up: the earlier alert's readings reach into
        # this gain (its latest weight is not older than this gain's lowest one).
        return same_rule.filter(
            kind=found.kind.value, readings__taken_at__gte=found.readings[0].at
        ).exists()
    return False


def _began_before_window(
    alert: rules.Alert, stored: Sequence[HomeReading], enrolment: Enrolment
) -> bool:
    """A threshold run that starts at the window's first reading may have begun before it: its
    episode then has an older anchor, already alerted; a new key would alert it again."""
    if alert.kind not in (rules.AlertKind.THRESHOLD, rules.AlertKind.REPEATED_THRESHOLD):
        return False
    first = next((r for r in stored if r.code == alert.measure.value), None)
    if first is None or not alert.dedupe_key.endswith(f"|{first.uuid}"):
        return False
    return HomeReading.objects.filter(
        patient_id=first.patient_id,
        code=first.code,
        status=ReadingStatus.FINAL,
        taken_at__lt=first.taken_at,
        taken_at__gte=enrolment.enrolled_at,
    ).exists()


def plain(value: Decimal) -> str:
    """A stored number as a person writes it: 73.20 is "73.2", 150.00 is "150"."""
    if value == value.to_integral_value():
        return format(value.quantize(Decimal(1)), "f")
    return format(value.normalize(), "f")


def _detail(found: rules.Alert) -> dict[str, Any]:
    detail: dict[str, Any] = {key: plain(value) for key, value in found.detail.items()}
    detail["values"] = [
        {"at": r.at.isoformat(), **{q.code.value: plain(q.value) for q in r.quantities}}
        for r in found.readings
    ]
    return detail


def _store(
    enrolment: Enrolment,
    found: rules.Alert,
    by_reference: dict[str, HomeReading],
    now: datetime,
) -> MonitoringAlert | None:
    severity = found.severity.value
    alert = MonitoringAlert(
        enrolment=enrolment,
        patient_id=enrolment.patient_id,
        kind=found.kind.value,
        severity=severity,
        rule=found.rule,
        measure=found.measure.value,
        dedupe_key=found.dedupe_key,
        detail=_detail(found),
        raised_at=now,
        recipient=recipient_for(enrolment, severity),
        ack_deadline=now + timedelta(minutes=ack_minutes(severity)),
    )
    try:
        with transaction.atomic():  # a savepoint: a concurrent evaluation may have stored it
            alert.save()
    except IntegrityError:
        return None
    readings = [by_reference[r.reference] for r in found.readings if r.reference in by_reference]
    if readings:
        alert.readings.set(readings)
    record_raised(alert, at=now, data={"recipient": str(alert.recipient.uuid)})
    audit_record(
        accessor=SYSTEM,
        action=AuditAction.CREATE,
        patient_uuid=enrolment.patient.uuid,
        record=alert,
        details={
            "app": "monitoring",
            "event": "alert",
            "kind": alert.kind,
            "severity": severity,
            "rule": alert.rule,
            "recipient": str(alert.recipient.uuid),
        },
    )
    # notify() queues the message and sends it after commit: a rolled-back reading tells
    # nobody, and a gateway that is down leaves it in the outbox to retry.
    notices.alert_raised(alert)
    return alert


# --- risk --------------------------------------------------------------------------------------


def refresh_risk(enrolment: Enrolment, *, now: datetime) -> None:
    """Recompute and store the enrolment's risk, reason and last reading time."""
    if enrolment.status != EnrolmentStatus.ACTIVE:
        return
    plan = plan_of(enrolment)
    severities = list(
        MonitoringAlert.objects.filter(enrolment=enrolment, status__in=OPEN_STATUSES).values_list(
            "severity", flat=True
        )
    )
    codes = set(enrolment.targets) | {s.measure.value for s in plan.schedules}
    measures = [
        code
        for code in READING_CODES
        if code.value in codes or any(part.value in codes for part in PANELS.get(code, ()))
    ]
    latest: dict[str, Decimal] = {}
    last_at: dict[Code, datetime] = {}
    readings = HomeReading.objects.filter(
        patient_id=enrolment.patient_id, status=ReadingStatus.FINAL
    )
    for measure in measures:
        reading = readings.filter(code=measure.value).order_by("-taken_at", "-id").first()
        if reading is None:
            continue
        last_at[measure] = reading.taken_at
        parts = PANELS.get(measure, (measure,))
        for part, value in zip(parts, (reading.value, reading.value_2), strict=False):
            if value is not None:
                latest[part.value] = value
    schedules = [
        risk.Due(every=s.every, grace=s.grace, last_at=last_at.get(s.measure))
        for s in plan.schedules
    ]
    score, reason = risk.score(
        open_alerts=severities,
        latest=latest,
        targets=enrolment.targets,
        schedules=schedules,
        enrolled_at=enrolment.enrolled_at,
        now=now,
    )
    last_reading = readings.aggregate(last=Max("taken_at"))["last"]
    if (score, reason, last_reading) != (
        enrolment.risk,
        enrolment.risk_reason,
        enrolment.last_reading_at,
    ):
        enrolment.risk, enrolment.risk_reason, enrolment.last_reading_at = (
            score,
            reason,
            last_reading,
        )
        # A queryset update: the clinician's version of the enrolment is not bumped by the
        # system's bookkeeping (a form open on the plan still saves).
        Enrolment.objects.filter(pk=enrolment.pk).update(
            risk=score, risk_reason=reason, last_reading_at=last_reading
        )


# --- acknowledging -----------------------------------------------------------------------------


def may_acknowledge(alert: MonitoringAlert, user: object) -> bool:
    if not isinstance(user, User) or not user.is_active:
        return False
    if alert.recipient_id == user.pk:
        return bool(decide(user, Action.VIEW, alert.patient))
    # Whoever was told on escalation (the district doctor, the coordinator) may act as well.
    return user.role in ACKNOWLEDGING_ROLES and bool(decide(user, Action.VIEW, alert.patient))


def _denied(accessor: Accessor, alert: MonitoringAlert, wanted: str, message: str) -> None:
    audit_record(
        accessor=accessor,
        action=AuditAction.DENIED,
        patient_uuid=alert.patient.uuid,
        record=alert,
        outcome="denied",
        details={"app": "monitoring", "wanted": wanted},
    )
    raise PermissionDenied(message)


def alert_acknowledge(
    *, accessor: Accessor, alert: MonitoringAlert, note: str, expected_version: int | None = None
) -> MonitoringAlert:
    """The clinician says what was done; the deadline stops counting."""
    if replication().is_station():
        # A station's alert is the hub's copy (sync.monitoring_mirror): an acknowledgement kept
        # here would never reach the hub, which would go on escalating it.
        raise ValidationError(
            _("Alerts are acknowledged at the hub: open this alert there when the link is up."),
            code="at_station",
        )
    if not may_acknowledge(alert, accessor.user):
        _denied(accessor, alert, "acknowledge", _("This alert is not yours to acknowledge."))
    note = (note or "").strip()
    if not note:
        raise ValidationError({"note": _("Say what was done about the alert.")}, code="required")
    if len(note) > NOTE_MAX_CHARS:
        raise ValidationError(
            {"note": _("At most %(limit)s characters.") % {"limit": NOTE_MAX_CHARS}}
        )
    now = timezone.now()
    with transaction.atomic():
        locked = (
            MonitoringAlert.objects.select_for_update(of=("self",))
            .select_related("patient", "enrolment")
            .get(pk=alert.pk)
        )
        apply(
            locked,
            "acknowledge",
            sides={Side.CLINICIAN},
            actor=accessor.user,
            note=note,
            at=now,
            expected_version=expected_version,
        )
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=locked.patient.uuid,
            record=locked,
            details={
                "app": "monitoring",
                "event": "acknowledge",
                "seconds_to_acknowledge": int((now - locked.raised_at).total_seconds()),
            },
        )
        refresh_risk(locked.enrolment, now=now)
    return locked


# --- a teleconsultation request from an alert ---------------------------------------------------

# The specialty asked by default: of the programme, and after discharge of the measure.
SPECIALTY_BY_PROGRAMME = {
    "hypertension": "cardiology",
    "heart_failure": "cardiology",
    "diabetes": "endocrinology",
    "pregnancy": "obstetrics",
}
SPECIALTY_BY_MEASURE = {
    Code.TEMPERATURE.value: "infectious",
    Code.SPO2.value: "pulmonology",
    Code.HEART_RATE.value: "cardiology",
}
FORM_BY_SEVERITY = {
    "critical": ConsultForm.EMERGENCY,
    "urgent": ConsultForm.URGENT,
    "watch": ConsultForm.PLANNED,
}
# Latest readings of the last day become the request's vital signs (clinical.vitals keys).
VITALS_MAX_AGE = timedelta(hours=24)


def _specialty(alert: MonitoringAlert) -> Specialty:
    configured = getattr(settings, "FARCARE_MONITORING_SPECIALTIES", None) or {}
    programme = alert.enrolment.programme
    code = (
        configured.get(programme)
        or SPECIALTY_BY_PROGRAMME.get(programme)
        or SPECIALTY_BY_MEASURE.get(alert.measure)
        or "cardiology"
    )
    specialty = (
        Specialty.objects.filter(code=code).first() or Specialty.objects.order_by("code").first()
    )
    if specialty is None:
        raise ValidationError(_("No specialty is set up for teleconsultations."), code="specialty")
    return specialty


def _vitals(alert: MonitoringAlert, now: datetime) -> dict[str, str]:
    recent = HomeReading.objects.filter(
        patient_id=alert.patient_id, status=ReadingStatus.FINAL, taken_at__gte=now - VITALS_MAX_AGE
    ).order_by("-taken_at", "-id")
    vitals: dict[str, str] = {}
    keys = {
        Code.HEART_RATE.value: "heart_rate",
        Code.SPO2.value: "spo2",
        Code.TEMPERATURE.value: "temperature",
    }
    for reading in recent[:50]:
        if reading.code == Code.BP_PANEL.value and "systolic_bp" not in vitals:
            vitals["systolic_bp"] = plain(reading.value)
            if reading.value_2 is not None:
                vitals["diastolic_bp"] = plain(reading.value_2)
        elif reading.code in keys and keys[reading.code] not in vitals:
            vitals[keys[reading.code]] = plain(reading.value)
    return vitals


def alert_open_consultation(*, accessor: Accessor, alert: MonitoringAlert) -> Consultation:
    """A draft teleconsultation request by the accessor, its question the trend that alerted
    (no name: the consultant may be abroad). Opening it again gives the same draft back."""
    from farcare.consults.services import RequestData, consult_save_draft

    from ..selectors import trend_text

    if not may_acknowledge(alert, accessor.user) or accessor.user is None:
        _denied(accessor, alert, "consultation", _("This alert is not yours to act on."))
    assert accessor.user is not None
    if accessor.user.role != Role.CLINICIAN:
        raise PermissionDenied(_("Only a requesting clinician asks for a consultation."))
    existing = alert.consultation
    if (
        existing is not None
        and existing.status == Status.DRAFT
        and existing.requester_id == accessor.user.pk
    ):
        return existing
    now = timezone.now()
    language = (get_language() or "ru")[:2]
    question = trend_text(alert.enrolment, language=language, measure=alert.measure, now=now)
    data = RequestData(
        specialty=_specialty(alert),
        form=FORM_BY_SEVERITY.get(alert.severity, ConsultForm.PLANNED),
        question=question,
        language=language,
        vitals=_vitals(alert, now),
    )
    draft = consult_save_draft(
        accessor=accessor, patient=alert.patient, client_token=uuid_lib.uuid4(), data=data
    )
    with transaction.atomic():
        locked = MonitoringAlert.objects.select_for_update(of=("self",)).get(pk=alert.pk)
        locked.consultation = draft
        locked.save(update_fields=["consultation", "updated_at"])
        from ..models import AlertEvent

        AlertEvent.objects.create(
            alert=locked,
            from_status=locked.status,
            to_status=locked.status,
            event="consultation",
            at=now,
            actor=accessor.user,
            data={"consultation": str(draft.uuid)},
        )
    alert.consultation = draft
    return draft
