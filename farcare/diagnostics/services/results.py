"""Results in: `report_receive` stores what a laboratory sent (HL7 v2, FHIR or a page, all as
a `LabReportIn`), once. It finds the patient (and checks the name and birth date sent), the
order by its placer number, interprets each value (the sender's flags, else the reference
range by sex and age), stores corrections and final-after-preliminary values as new versions
(the old row points at the new one), raises critical alerts, notifies the orderer and releases
the report to the patient when it may be.

Unsolicited results (no placer number: a test the laboratory did on its own, or one ordered
outside FarCare) are accepted when the performing laboratory is known: the accessor's own
laboratory, or the sending facility named by its FarCare UUID or its exact name. Anything else
is refused, since nobody could be told of a critical value in it.

A delivery is applied once: its (source, external id, content hash) is kept in
`ReceivedReport`; the same delivery again answers `created=False`. Each delivery costs a
handful of queries whatever the number of values (bulk inserts), for the HL7 ingest."""

from __future__ import annotations

import hashlib
import json
import uuid as uuid_lib
from dataclasses import asdict, dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action, decide, is_abroad
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.ports import replication
from farcare.network.models import Facility
from farcare.network.staff import clinicians_at, coordinators_of
from farcare.patients.models import Patient

from .. import alerts, catalogue, release
from ..inbound import LabReportIn, ReceiveOutcome, ReportRefused, ResultIn, ValueWarning
from ..interpretation import (
    HIGH,
    Range,
    interpret,
    interpret_bound,
    is_critical,
    parse_bound,
    parse_decimal,
    parse_range,
    range_text,
    reference_for,
    sent_interpretation,
    unread_flags,
)
from ..limits import limits_for
from ..models import (
    AlertKind,
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    ObservationStatus,
    OrderStatus,
    ReceivedReport,
    ReportStatus,
    ResultObservation,
    ResultSource,
    ValueType,
)
from ..sides import order_sides
from ..workflow import Side, apply_order, check_version

# Troponins: above the assay's 99th percentile (the upper reference limit the laboratory sends
# with the value, else ours) a clinician must know at once (domain.md §9).
TROPONIN_CODES = frozenset({"10839-9", "67151-1"})

REPORT_STATUS = {
    "P": ReportStatus.PRELIMINARY,
    "F": ReportStatus.FINAL,
    "C": ReportStatus.CORRECTED,
    "A": ReportStatus.AMENDED,
    "X": ReportStatus.CANCELLED,
    **{status: ReportStatus(status) for status in ReportStatus.values},
    "registered": ReportStatus.PRELIMINARY,
    "partial": ReportStatus.PRELIMINARY,
    "appended": ReportStatus.AMENDED,
}
OBSERVATION_STATUS = {
    "P": ObservationStatus.PRELIMINARY,
    "F": ObservationStatus.FINAL,
    "C": ObservationStatus.CORRECTED,
    "X": ObservationStatus.CANCELLED,
    "D": ObservationStatus.ENTERED_IN_ERROR,
    "W": ObservationStatus.ENTERED_IN_ERROR,
    **{status: ObservationStatus(status) for status in ObservationStatus.values},
    "registered": ObservationStatus.PRELIMINARY,
    "amended": ObservationStatus.CORRECTED,
}
TEXT_MAX = 400
DISPLAY_MAX = 200


def ack_minutes() -> int:
    return int(getattr(settings, "FARCARE_CRITICAL_ACK_MINUTES", 30))


# --- who sent it --------------------------------------------------------------------------------


def _sending_facility(accessor: Accessor, report: LabReportIn) -> Facility | None:
    user = accessor.user
    if user is not None and user.role in (Role.LABORATORY, Role.RADIOLOGIST) and user.facility_id:
        return user.facility
    sent = report.sending_facility.strip()
    if sent:
        try:
            return Facility.objects.filter(uuid=uuid_lib.UUID(sent)).first()
        except ValueError:
            by_name = Facility.objects.filter(Q(name_en__iexact=sent) | Q(name_ru__iexact=sent))
            if by_name.count() == 1:
                return by_name.get()
    if user is not None and user.role == Role.SYSTEM and user.facility_id:
        return user.facility
    return None


def _may_send(user: User | None) -> bool:
    """Whether the sender may report results at all: asked before the patient is matched, so
    that one who may not learns nothing about who is registered. The HL7 listener (no user),
    laboratory and radiology staff and system clients; never from abroad."""
    if user is None:
        return True
    return user.role in (Role.LABORATORY, Role.RADIOLOGIST, Role.SYSTEM) and not is_abroad(user)


def _may_report(user: User | None, patient: Patient, performer: Facility | None) -> bool:
    """The HL7 listener (no user: its peers are configured) and system clients in the
    patient's scope may deliver; laboratory staff only for their own laboratory."""
    if user is None:
        return True
    if user.role in (Role.LABORATORY, Role.RADIOLOGIST):
        return performer is not None and user.facility_id == performer.pk
    if user.role == Role.SYSTEM:
        return bool(decide(user, Action.UPDATE, patient))
    return False


def _find_order(report: LabReportIn, patient: Patient) -> DiagnosticOrder | None:
    number = report.placer_number.strip()
    if not number:
        return None
    order = (
        DiagnosticOrder.objects.select_related(
            "orderer", "ordering_facility", "performer", "patient"
        )
        .filter(placer_number=number)
        .first()
    )
    if order is None:
        raise ReportRefused(
            _("No order %(number)s was placed in FarCare.") % {"number": number},
            field="placer_number",
        )
    if order.patient_id != patient.pk:
        raise ReportRefused(
            _("Order %(number)s is for another patient.") % {"number": number},
            field="placer_number",
        )
    if order.status in (OrderStatus.REVOKED, OrderStatus.ENTERED_IN_ERROR):
        raise ReportRefused(
            _("Order %(number)s was cancelled.") % {"number": number}, field="placer_number"
        )
    return order


def _content_hash(report: LabReportIn) -> str:
    def default(value: Any) -> str:
        return value.isoformat() if isinstance(value, (datetime, date)) else str(value)

    body = json.dumps(asdict(report), sort_keys=True, default=default, ensure_ascii=False)
    return hashlib.sha256(body.encode()).hexdigest()


# What the columns hold (DecimalField(max_digits=14, decimal_places=4), a small positive
# integer): anything larger is refused here rather than failing in the database, or, on SQLite,
# being stored and failing on every later read.
MAX_MAGNITUDE = Decimal(10) ** 10
MAX_SEQUENCE = 32767


def _check(report: LabReportIn) -> None:
    if report.source not in ResultSource.values:
        raise ReportRefused(_("Unknown source of results."), field="source")
    if report.status not in REPORT_STATUS:
        raise ReportRefused(
            _("Unknown report status %(status)s.") % {"status": report.status}, field="status"
        )
    if not report.code.strip():
        raise ReportRefused(_("The report does not say which test it is."), field="code")
    if len(report.external_id) > 120:
        raise ReportRefused(_("The report's identifier is too long."), field="external_id")
    seen: set[tuple[str, int]] = set()
    for result in report.results:
        where = f"results[{result.sequence}]"
        if not result.code.strip() or len(result.code.strip()) > 16:
            raise ReportRefused(_("A value without a valid test code."), field=f"{where}.code")
        if result.status not in OBSERVATION_STATUS:
            raise ReportRefused(
                _("Unknown result status %(status)s.") % {"status": result.status},
                field=f"{where}.status",
            )
        if result.value_type not in ValueType.values:
            raise ReportRefused(
                _("Unknown value type %(type)s.") % {"type": result.value_type},
                field=f"{where}.value_type",
            )
        if not 0 <= result.sequence <= MAX_SEQUENCE:
            raise ReportRefused(_("A value's position in its report is out of range."), field=where)
        number = parse_decimal(result.value) if result.value_type == ValueType.NUMBER else None
        reference = parse_range(result.reference_range)
        if any(
            part is not None and abs(part) >= MAX_MAGNITUDE
            for part in (number, reference.low, reference.high)
        ):
            raise ReportRefused(
                _("The value %(value)s or its range is too large to be a result.")
                % {"value": result.value},
                field=f"{where}.value",
            )
        key = (result.code.strip(), result.sequence)
        if key in seen:
            raise ReportRefused(_("A value is sent twice in one report."), field=where)
        seen.add(key)


# --- the values ---------------------------------------------------------------------------------


def _age_at(patient: Patient, moment: datetime) -> int:
    born, day = patient.birth_date, moment.date()
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


@dataclass
class _Value:
    result: ResultIn
    code: str
    number: Decimal | None
    text: str
    unit: str
    reference: Range
    interpretation: str
    status: str
    effective_at: datetime
    alert_kind: str = ""
    warnings: list[ValueWarning] = field(default_factory=list)


def _values(
    report: LabReportIn,
    patient: Patient,
    performer: Facility | None,
    effective: datetime,
) -> list[_Value]:
    limits = limits_for({result.code for result in report.results}, performer)
    values: list[_Value] = []
    for result in report.results:
        code = result.code.strip()
        item = catalogue.entry(code)
        moment = result.effective_at or effective
        unit = result.unit.strip() or (item.unit if item else "")
        number = parse_decimal(result.value) if result.value_type == ValueType.NUMBER else None
        warnings: list[ValueWarning] = []
        if result.value_type == ValueType.NUMBER and number is None and result.value.strip():
            warnings.append(
                ValueWarning(result.sequence, code, "value", f"{code}: not a number, kept as text")
            )
        # A flag we do not read is kept on the value and the sender told (never dropped quietly).
        warnings.extend(
            ValueWarning(
                result.sequence,
                code,
                "flags",
                f"{code}: abnormal flag {flag} is not interpreted here, kept as sent",
            )
            for flag in unread_flags(result.flags)
        )
        sent_range = parse_range(result.reference_range)
        reference = sent_range
        if not sent_range.numeric and not sent_range.text:
            found = reference_for(code, patient.sex, _age_at(patient, moment))
            reference = found or Range()
        critical = None
        limit = limits.get(catalogue.canonical(code))
        if limit is not None:
            if not unit or unit.casefold() == limit[1].casefold():
                critical = limit[0]
            else:
                warnings.append(
                    ValueWarning(
                        result.sequence,
                        code,
                        "unit",
                        f"{code}: unit {unit} differs from the critical limit's {limit[1]}",
                    )
                )
        bounded = parse_bound(result.value) if number is None else None
        if number is not None:
            computed = interpret(number, reference, critical)
        elif bounded is not None:
            computed = interpret_bound(*bounded, reference, critical)
        else:
            computed = ""
        interpretation = sent_interpretation(result.flags) or computed
        if is_critical(computed) and not is_critical(interpretation):
            # The laboratory flagged it H or L, but it is beyond our critical limit.
            interpretation = computed
        status = OBSERVATION_STATUS[result.status]
        kind = ""
        if status not in (ObservationStatus.CANCELLED, ObservationStatus.ENTERED_IN_ERROR):
            if is_critical(interpretation):
                kind = AlertKind.CRITICAL
            elif (
                catalogue.canonical(code) in TROPONIN_CODES
                and number is not None
                and (
                    (reference.high is not None and number > reference.high)
                    or interpretation == HIGH
                )
            ):
                kind = AlertKind.TROPONIN
        values.append(
            _Value(
                result=result,
                code=code,
                number=number,
                text="" if number is not None else result.value.strip()[:TEXT_MAX],
                unit=unit[:24],
                reference=reference,
                interpretation=interpretation,
                status=status,
                effective_at=moment,
                alert_kind=kind,
                warnings=warnings,
            )
        )
    return values


def _same(old: ResultObservation, value: _Value) -> bool:
    return (
        old.value_number == value.number
        and old.value_text == value.text
        and old.unit == value.unit
        and old.status == value.status
        and old.interpretation == value.interpretation
    )


# --- the service --------------------------------------------------------------------------------


def report_receive(*, accessor: Accessor, report: LabReportIn) -> ReceiveOutcome:
    _check(report)
    if not _may_send(accessor.user):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            outcome="denied",
            details={"wanted": "report_receive"},
        )
        raise PermissionDenied(_("You may not send results for this patient or order."))
    patient = _find_patient_or_refuse(report)
    order = _find_order(report, patient)
    performer = order.performer if order is not None else _sending_facility(accessor, report)
    if order is None and performer is None:
        raise ReportRefused(
            _(
                "A result without a FarCare order number is accepted only from a known "
                "laboratory; the sending facility is not known."
            ),
            field="sending_facility",
        )
    if not _may_report(accessor.user, patient, performer):
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=patient.uuid,
            record=order or patient,
            outcome="denied",
            details={"wanted": "report_receive"},
        )
        raise PermissionDenied(_("You may not send results for this patient or order."))
    digest = _content_hash(report)
    repeat = _repeat(report, digest)
    if repeat is not None:
        return repeat
    try:
        with transaction.atomic():
            return _store(accessor, report, patient, order, performer, digest)
    except IntegrityError:
        # The same delivery, stored meanwhile by another connection: a repeat.
        repeat = _repeat(report, digest)
        if repeat is None:
            raise
        return repeat


def _find_patient_or_refuse(report: LabReportIn) -> Patient:
    from ..patient_match import find_patient

    return find_patient(report.patient)


def _repeat(report: LabReportIn, digest: str) -> ReceiveOutcome | None:
    receipt = (
        ReceivedReport.objects.select_related("report")
        .filter(source=report.source, external_id=report.external_id, content_hash=digest)
        .first()
    )
    if receipt is None:
        return None
    return ReceiveOutcome(report_uuid=str(receipt.report.uuid), created=False)


def _existing(
    report: LabReportIn, patient: Patient, order: DiagnosticOrder | None
) -> DiagnosticReport | None:
    code = catalogue.canonical(report.code)
    reports = DiagnosticReport.objects.select_for_update(of=("self",)).filter(patient=patient)
    if report.external_id:
        found = reports.filter(source=report.source, external_id=report.external_id).first()
        if found is not None:
            return found
    if order is not None:
        found = reports.filter(order=order, code=code).order_by("pk").first()
        if found is not None:
            return found
    if report.filler_number:
        return reports.filter(filler_number=report.filler_number, code=code).order_by("pk").first()
    return None


def _store(
    accessor: Accessor,
    report: LabReportIn,
    patient: Patient,
    order: DiagnosticOrder | None,
    performer: Facility | None,
    digest: str,
) -> ReceiveOutcome:
    now = timezone.now()
    issued = report.issued_at or now
    effective = report.effective_at or issued
    item = catalogue.entry(report.code)
    status = REPORT_STATUS[report.status]
    # Two first deliveries of one report at once (a doubled page, two messages) would each find
    # no report yet; the order's row (or the patient's, for results without one) serialises them.
    if order is not None:
        DiagnosticOrder.objects.select_for_update(of=("self",)).filter(pk=order.pk).first()
    else:
        Patient.objects.select_for_update(of=("self",)).filter(pk=patient.pk).first()
    stored = _existing(report, patient, order)
    created = stored is None
    # Released before this delivery: a correction now tells the patient and the orderer again.
    was_released = stored is not None and stored.released_at is not None
    codes = {report.code, *(result.code for result in report.results)}
    if stored is None:
        stored = DiagnosticReport.objects.create(
            patient=patient,
            order=order,
            performer=performer,
            category=order.category if order else (item.category if item else "laboratory"),
            code=catalogue.canonical(report.code),
            display=(report.display or (item.names["en"] if item else report.code))[:DISPLAY_MAX],
            status=status,
            source=report.source,
            external_id=report.external_id,
            filler_number=report.filler_number[:64],
            effective_at=effective,
            issued_at=issued,
            conclusion=report.conclusion,
            review_required=release.needs_review(codes),
        )
    else:
        stored.status = status
        stored.issued_at = issued
        stored.effective_at = effective
        stored.conclusion = report.conclusion or stored.conclusion
        stored.review_required = stored.review_required or release.needs_review(codes)
        stored.version += 1
        stored.save(
            update_fields=[
                "status",
                "issued_at",
                "effective_at",
                "conclusion",
                "review_required",
                "version",
            ]
        )
    values = _values(report, patient, performer, effective)
    current: dict[str, list[ResultObservation]] = {}
    for stored_value in ResultObservation.objects.filter(report=stored, superseded_by__isnull=True):
        current.setdefault(stored_value.code, []).append(stored_value)
    new_rows: list[ResultObservation] = []
    replaced: list[tuple[ResultObservation, ResultObservation]] = []
    raising: list[tuple[ResultObservation, _Value]] = []
    earlier_alerts = _earlier_alerts(current)
    for value in values:
        olds = current.get(value.code, [])
        old = next((o for o in olds if o.sequence == value.result.sequence), None) or (
            olds[0] if len(olds) == 1 else None
        )
        if old is not None and _same(old, value):
            continue
        row = ResultObservation(
            report=stored,
            patient=patient,
            code=value.code,
            display=(value.result.display or catalogue.label(value.code, "en"))[:DISPLAY_MAX],
            value_type=value.result.value_type,
            value_number=value.number,
            value_text=value.text,
            unit=value.unit,
            reference_low=value.reference.low,
            reference_high=value.reference.high,
            reference_text=(
                value.reference.text or range_text(value.reference.low, value.reference.high)
            )[:60],
            interpretation=value.interpretation,
            flags=[flag.strip() for flag in value.result.flags if flag.strip()][:10],
            status=value.status,
            performer=performer,
            effective_at=value.effective_at,
            issued_at=issued,
            sequence=value.result.sequence,
        )
        row.first_uuid = (old.first_uuid or old.uuid) if old is not None else row.uuid
        new_rows.append(row)
        if old is not None:
            replaced.append((old, row))
            olds.remove(old)
        # A final value that repeats a preliminary one already alerted on is not alerted twice.
        if value.alert_kind and not (
            old is not None
            and (old.pk, value.alert_kind) in earlier_alerts
            and old.interpretation == value.interpretation
        ):
            raising.append((row, value))
    ResultObservation.objects.bulk_create(new_rows)
    for old, row in replaced:
        old.superseded_by = row
    ResultObservation.objects.bulk_update([old for old, _row in replaced], ["superseded_by"])
    alerts_made = _raise_alerts(raising, patient, order, now)
    if order is not None:
        _update_order(order, report, stored)
    if stored.review_required and was_released and new_rows:
        # New or corrected values of a released report that needs a review wait for the
        # review again; the patient keeps seeing what was released before.
        release.hold(stored)
        released = False
    elif stored.review_required:
        released = stored.released_at is None and release.release_if_due(stored, now)
    else:
        released = release.release(stored, now)
    ReceivedReport.objects.create(
        report=stored,
        source=report.source,
        external_id=report.external_id,
        content_hash=digest,
        received_at=now,
    )
    warnings = tuple(warning for value in values for warning in value.warnings)
    audit_record(
        accessor=accessor,
        action=AuditAction.CREATE if created else AuditAction.UPDATE,
        patient_uuid=patient.uuid,
        record=stored,
        details={
            "event": "results",
            "source": report.source,
            "placer_number": order.placer_number if order else "",
            "values": len(new_rows),
            "corrected": len(replaced),
            "critical": len(alerts_made),
            "released": bool(released),
        },
    )
    if was_released and replaced:
        # The patient is told by the release of the new values (now, or after the review).
        if order is not None:
            alerts.results_corrected(order)
    elif order is not None and new_rows and not alerts_made:
        alerts.results_in(order)
    return ReceiveOutcome(
        report_uuid=str(stored.uuid),
        created=True,
        corrected=len(replaced),
        critical=len(alerts_made),
        warnings=warnings,
    )


def _earlier_alerts(current: dict[str, list[ResultObservation]]) -> set[tuple[int, str]]:
    ids = [old.pk for olds in current.values() for old in olds]
    if not ids:
        return set()
    return set(
        CriticalAlert.objects.filter(observation_id__in=ids).values_list("observation_id", "kind")
    )


def recipients_for(patient: Patient, order: DiagnosticOrder | None) -> list[User]:
    """Who must act on a critical value: the orderer; for an unsolicited result, the
    clinicians of the patient's home facility."""
    if order is not None:
        return [order.orderer]
    return clinicians_at(patient.home_facility)


def _raise_alerts(
    raising: list[tuple[ResultObservation, _Value]],
    patient: Patient,
    order: DiagnosticOrder | None,
    now: datetime,
) -> list[CriticalAlert]:
    if not raising:
        return []
    recipients = recipients_for(patient, order)
    made = CriticalAlert.objects.bulk_create(
        [
            CriticalAlert(
                observation=row,
                patient=patient,
                recipient=recipients[0] if recipients else None,
                kind=value.alert_kind,
                raised_at=now,
                ack_deadline=now + timedelta(minutes=ack_minutes()),
            )
            for row, value in raising
        ]
    )
    number = order.placer_number if order else ""
    for alert in made:
        alerts.critical_raised(alert, recipients, number)
    if not recipients:
        # Nobody to tell at the patient's facility: the region's coordinators at once.
        for alert in made:
            alerts.critical_escalated(alert, coordinators_of(patient.home_facility.region), number)
    return made


def _update_order(order: DiagnosticOrder, report: LabReportIn, stored: DiagnosticReport) -> None:
    locked = DiagnosticOrder.objects.select_for_update(of=("self",)).get(pk=order.pk)
    changed = []
    if report.filler_number and not locked.filler_number:
        locked.filler_number = report.filler_number[:64]
        changed.append("filler_number")
    if changed:
        locked.save(update_fields=changed)
    if locked.status == OrderStatus.ACTIVE and _complete(locked):
        apply_order(locked, OrderStatus.COMPLETED, side=Side.SYSTEM)
    order.status, order.version = locked.status, locked.version


def _complete(order: DiagnosticOrder) -> bool:
    """Every ordered test has a final report or final values."""
    final = (ReportStatus.FINAL, ReportStatus.CORRECTED, ReportStatus.AMENDED)
    reported = set(
        DiagnosticReport.objects.filter(order=order, status__in=final).values_list(
            "code", flat=True
        )
    )
    values = set(
        ResultObservation.objects.filter(
            report__order=order,
            superseded_by__isnull=True,
            status__in=(ObservationStatus.FINAL, ObservationStatus.CORRECTED),
        ).values_list("code", flat=True)
    )
    values = {catalogue.canonical(code) for code in values}
    for test in order.tests.all():
        if test.code in reported:
            continue
        if not set(catalogue.members(test.code)) <= values:
            return False
    return True


# --- review -------------------------------------------------------------------------------------


def report_review(
    *, accessor: Accessor, report: DiagnosticReport, version: int
) -> DiagnosticReport:
    """A clinician has looked at the report (and explained it): it is released to the patient."""
    user = accessor.user
    allowed = False
    if user is not None and user.role == Role.CLINICIAN:
        if report.order is not None:
            allowed = Side.ORDERER in order_sides(user, report.order)
        else:
            allowed = bool(decide(user, Action.UPDATE, report.patient))
    if not allowed:
        audit_record(
            accessor=accessor,
            action=AuditAction.DENIED,
            patient_uuid=report.patient.uuid,
            record=report,
            outcome="denied",
            details={"wanted": "review"},
        )
        raise PermissionDenied(_("Only the ordering clinician reviews this result."))
    with transaction.atomic():
        locked = (
            DiagnosticReport.objects.select_for_update(of=("self",))
            .select_related("patient__user")
            .get(pk=report.pk)
        )
        check_version(locked.version, version)
        if locked.reviewed_at is not None:
            raise ValidationError(_("This result was already reviewed."))
        now = timezone.now()
        locked.reviewed_at, locked.reviewed_by = now, user
        locked.version += 1
        locked.save(update_fields=["reviewed_at", "reviewed_by", "version"])
        released = release.release(locked, now)
        audit_record(
            accessor=accessor,
            action=AuditAction.REVIEW,
            patient_uuid=locked.patient.uuid,
            record=locked,
            details={"released": released},
        )
        replication().report_reviewed(report=locked, actor=user)
    return locked
