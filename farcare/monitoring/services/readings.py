"""Recording home readings, whichever way they came (the person's page, the post, a station, a
device over FHIR, an SMS), and evaluating the person's plans on them (issue 17, point 2).

A reading is refused when it cannot be real (measures.check: a systolic of 900, a temperature
of 378), when it is in the future or older than 30 days; a retry with the same `source_id` (a
device's Observation identifier, an SMS's gateway id) is recognised and answered with what was
stored, nothing evaluated twice. Each reading is audited linked to the patient.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, Decision
from farcare.access.services import require
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.patients.models import Patient

from .. import plans
from ..measures import MEASURES, READING_CODES, Code, Problem, check, check_pressure
from ..models import (
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
    ReadingStatus,
    SmsMessage,
)
from .alerts import evaluate_enrolment, refresh_risk

CLOCK_SLACK = timedelta(minutes=5)
MAX_AGE = timedelta(days=30)
MAX_READINGS = 20  # one message, one form: more is not a person's readings


@dataclass(frozen=True)
class ReadingIn:
    code: str  # measures.Code value; BP as Code.BP_PANEL with value=systolic, value_2=diastolic
    value: Decimal
    value_2: Decimal | None = None
    taken_at: datetime | None = None  # None: now
    converted_from: str = ""
    note: str = ""


@dataclass
class RecordResult:
    readings: list[HomeReading] = field(default_factory=list)
    alerts: list[MonitoringAlert] = field(default_factory=list)
    duplicate: bool = False


def _problem_text(problem: Problem, what: str, code: Code) -> str:
    spec = MEASURES[code]
    if problem == Problem.UNEXPECTED_DECIMALS:
        return _("%(what)s: too many decimals for a home device (a typo?).") % {"what": what}
    if problem == Problem.SYSTOLIC_NOT_ABOVE_DIASTOLIC:
        return _("Blood pressure: the upper number must be above the lower one.")
    return _("%(what)s: the value cannot be real (from %(low)s to %(high)s %(unit)s).") % {
        "what": what,
        "low": spec.low,
        "high": spec.high,
        "unit": spec.unit,
    }


def _decimal(value: object, what: str) -> Decimal:
    try:
        number = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "."))
    except (InvalidOperation, ValueError):
        raise ValidationError(
            _("%(what)s must be a number.") % {"what": what}, code="number"
        ) from None
    if not number.is_finite():
        raise ValidationError(_("%(what)s must be a number.") % {"what": what}, code="number")
    # "150.0" from a device is 150: trailing zeros are not extra precision.
    if number == number.to_integral_value():
        return number.quantize(Decimal(1))
    return number.normalize()


def _validated(reading: ReadingIn, now: datetime) -> tuple[Code, Decimal, Decimal | None, datetime]:
    try:
        code = Code(reading.code)
    except ValueError:
        code = None
    if code is None or code not in READING_CODES:
        raise ValidationError(
            _("Unknown measure: %(code)s.") % {"code": reading.code}, code="measure"
        )
    what = plans.label(code)
    value = _decimal(reading.value, what)
    if code == Code.BP_PANEL:
        if reading.value_2 is None:
            raise ValidationError(
                _("Blood pressure needs both numbers, upper and lower."), code="pressure"
            )
        value_2: Decimal | None = _decimal(reading.value_2, what)
        assert value_2 is not None
        problem = check_pressure(value, value_2)
        if problem is not None:
            part = Code.SYSTOLIC if check(Code.SYSTOLIC, value) else Code.DIASTOLIC
            raise ValidationError(_problem_text(problem, what, part), code=problem.value)
    else:
        if reading.value_2 is not None:
            raise ValidationError(_("%(what)s is one number.") % {"what": what}, code="extra_value")
        value_2 = None
        problem = check(code, value)
        if problem is not None:
            raise ValidationError(_problem_text(problem, what, code), code=problem.value)
    taken_at = reading.taken_at or now
    if timezone.is_naive(taken_at):
        raise ValidationError(_("Give the time with its time zone."), code="naive")
    if taken_at > now + CLOCK_SLACK:
        raise ValidationError(_("A reading cannot be taken in the future."), code="future")
    if taken_at < now - MAX_AGE:
        raise ValidationError(
            _("A reading older than 30 days is not taken: enter recent readings."), code="too_old"
        )
    return code, value, value_2, taken_at


def _stored(patient: Patient, source: str, source_id: str) -> list[HomeReading]:
    """What a first delivery with this source id stored (its readings carry `id`, `id#2`...)."""
    return list(
        HomeReading.objects.filter(patient=patient, source=source)
        .filter(Q(source_id=source_id) | Q(source_id__startswith=f"{source_id}#"))
        .order_by("id")
    )


def _authorise(
    accessor: Accessor, patient: Patient, source: str, authorised: bool
) -> Decision | None:
    if accessor.user is None and source == ReadingSource.SMS:
        # The sender was identified by the phone registered to the person (sms_inbound);
        # there is no user to ask the policy about. Audited with channel "sms".
        return None
    if not authorised:
        return None
    return require(
        accessor=accessor,
        patient=patient,
        action=Action.RECORD_READING,
        details={"app": "monitoring", "event": "reading"},
    )


def reading_record(
    *,
    accessor: Accessor,
    patient: Patient,
    readings: Sequence[ReadingIn],
    source: ReadingSource | str,
    device: str = "",
    sms: SmsMessage | None = None,
    source_id: str = "",
    remainder: dict[str, Any] | None = None,
    authorised: bool = True,
) -> RecordResult:
    """Store the readings and evaluate every active enrolment of the person on them.

    `authorised=False` only for a caller that already asked the policy (a FHIR bundle)."""
    if source not in ReadingSource.values:
        raise ValidationError(_("Unknown source of a reading."), code="source")
    decision = _authorise(accessor, patient, source, authorised)
    if not readings:
        raise ValidationError(_("No reading was given."), code="empty")
    if len(readings) > MAX_READINGS:
        raise ValidationError(
            _("At most %(limit)s readings at once.") % {"limit": MAX_READINGS}, code="too_many"
        )
    source_id = (source_id or "").strip()
    if len(source_id) > 190:
        raise ValidationError(_("The source identifier is too long."), code="source_id")
    if source_id:
        earlier = _stored(patient, source, source_id)
        if earlier:
            return RecordResult(readings=earlier, duplicate=True)
    now = timezone.now()
    checked = [_validated(reading, now) for reading in readings]
    user = accessor.user if accessor.user is not None and accessor.user.is_authenticated else None
    purpose = decision.purpose if decision is not None else None
    try:
        with transaction.atomic():
            stored: list[HomeReading] = []
            for index, (reading, (code, value, value_2, taken_at)) in enumerate(
                zip(readings, checked, strict=True)
            ):
                stored.append(
                    HomeReading.objects.create(
                        patient=patient,
                        code=code.value,
                        value=value,
                        value_2=value_2,
                        unit=MEASURES[Code.SYSTOLIC if code == Code.BP_PANEL else code].unit,
                        converted_from=(reading.converted_from or "")[:16],
                        taken_at=taken_at,
                        received_at=now,
                        source=source,
                        entered_by=user,
                        device=(device or "")[:200],
                        sms=sms,
                        note=(reading.note or "").strip()[:500],
                        source_id=(
                            source_id if index == 0 or not source_id else f"{source_id}#{index + 1}"
                        ),
                        remainder=(remainder or {}) if index == 0 else {},
                    )
                )
            for reading_row in stored:
                audit_record(
                    accessor=accessor,
                    action=AuditAction.CREATE,
                    patient_uuid=patient.uuid,
                    record=reading_row,
                    details={"app": "monitoring", "source": source, "code": reading_row.code},
                    **({"purpose": purpose} if purpose else {}),
                )
            # At a station the reading is queued for the hub, which alone evaluates the rules
            # and sends alerts (a station's alert would tell the clinicians twice).
            station = replication().is_station()
            for reading_row in stored:
                replication().reading_recorded(reading=reading_row, actor=user)
            alerts = [] if station else _evaluate(patient, stored)
    except IntegrityError:
        # The same delivery raced us to it: answer as the retry it is.
        earlier = _stored(patient, source, source_id) if source_id else []
        if earlier:
            return RecordResult(readings=earlier, duplicate=True)
        raise
    return RecordResult(readings=stored, alerts=alerts)


def _evaluate(patient: Patient, stored: Sequence[HomeReading]) -> list[MonitoringAlert]:
    # Readings a few minutes ahead of the server's clock (a phone's) count as now.
    now = max([timezone.now(), *(r.taken_at for r in stored)])
    alerts: list[MonitoringAlert] = []
    enrolments = (
        Enrolment.objects.select_for_update(of=("self",))
        .select_related("patient", "responsible_feldsher", "responsible_doctor")
        .filter(patient=patient, status=EnrolmentStatus.ACTIVE)
        .order_by("pk")
    )
    for enrolment in enrolments:
        alerts += evaluate_enrolment(enrolment, now=now)
    return alerts


def reading_mark_in_error(*, accessor: Accessor, reading: HomeReading, reason: str) -> HomeReading:
    """A reading typed wrong is kept, marked, and no longer counts (charts, rules, risk)."""
    if replication().is_station():
        # Only new readings cross from a station; a mark made here would never reach the hub.
        raise ValidationError(
            _("A reading is marked as entered in error at the hub, not at a station."),
            code="at_station",
        )
    decision = require(
        accessor=accessor,
        patient=reading.patient,
        action=Action.UPDATE,
        record=reading,
        details={"app": "monitoring", "event": "reading_in_error"},
    )
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": _("Say why the reading is wrong.")}, code="required")
    with transaction.atomic():
        locked = (
            HomeReading.objects.select_for_update().select_related("patient").get(pk=reading.pk)
        )
        if locked.status == ReadingStatus.ENTERED_IN_ERROR:
            raise ValidationError(
                _("This reading is already marked as entered in error."), code="in_error"
            )
        locked.status = ReadingStatus.ENTERED_IN_ERROR
        locked.version += 1
        locked.save(update_fields=["status", "version", "updated_at"])
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=locked.patient.uuid,
            record=locked,
            purpose=decision.purpose,
            details={"app": "monitoring", "event": "entered_in_error", "reason": reason},
        )
        now = timezone.now()
        for enrolment in Enrolment.objects.select_for_update(of=("self",)).filter(
            patient_id=locked.patient_id, status=EnrolmentStatus.ACTIVE
        ):
            refresh_risk(enrolment, now=now)
    return locked
