"""Taking one HL7 message off the wire: who sent it, whether it was taken before, what it
says, storing its reports through the diagnostics service, and the acknowledgement.

Who acts: each laboratory system is a `LaboratoryInterface` known by its MSH-4 sending
facility (`farcare hl7 interface add`), with a laboratory system account of its facility; the
reports are stored as that account (Accessor channel "hl7"), so the access policy and the audit
trail see the laboratory. A sender we do not know gets AR and nothing is stored but the
message's record.

Answers: AA stored (with an ERR of severity W for each thing kept but not interpreted, e.g. an
abnormal flag outside the ones FarCare reads); AE the sender may send it again later unchanged
(the service said the problem may go away — e.g. a patient not yet registered here — or the
database was busy); AR never as sent (not ORU^R01, a version we do not read, malformed, an
unknown sender, a control id used before for another message). A repeated control id of an
accepted message is answered with the stored ACK and applies nothing; one answered AE/AR
before is tried again.

`handle` is what the MLLP listener calls, in a worker thread: synchronous, it never raises."""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, tzinfo
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, OperationalError, close_old_connections, transaction
from django.utils import timezone, translation

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.diagnostics.inbound import LabReportIn, ReceiveOutcome, ReportRefused, ValueWarning

from .ack import AckCode, ErrorCode, Problem, build_ack, reject_raw
from .header import Header, decode, read_header
from .models import LaboratoryInterface, ReceivedMessage
from .oru import MessageError, normalise, parse_oru

logger = logging.getLogger(__name__)

CHANNEL = "hl7"

Receiver = Callable[..., ReceiveOutcome]


def _report_receive() -> Receiver:
    from farcare.diagnostics.services.results import report_receive

    return report_receive


@dataclass(frozen=True)
class Answer:
    code: AckCode
    message: str  # the ACK, ER7
    text: str = ""
    repeat: bool = False
    report_uuids: tuple[str, ...] = ()


def _digest(text: str) -> str:
    """Of the segments after MSH: a resend whose header was made again (a new MSH-7) is still
    the same message."""
    body = normalise(text).split("\r", 1)
    return hashlib.sha256((body[1] if len(body) > 1 else "").encode("utf-8")).hexdigest()


def _zone(interface: LaboratoryInterface) -> tzinfo:
    try:
        return ZoneInfo(interface.facility.time_zone)
    except (ValueError, KeyError):
        return UTC


def interface_for(header: Header) -> LaboratoryInterface | None:
    return (
        LaboratoryInterface.objects.select_related("facility", "account")
        .filter(sending_facility=header.sending_facility, active=True)
        .first()
    )


def handle(data: bytes) -> bytes:
    """The listener's handler: the ACK for one framed message, as bytes. Never raises."""
    close_old_connections()
    language = getattr(settings, "FARCARE_HL7_LANGUAGE", settings.LANGUAGE_CODE)
    try:
        with translation.override(language):
            return receive(data).message.encode("utf-8")
    except Exception:
        logger.exception("HL7 message could not be handled")
        return reject_raw(data, "internal error") or b""
    finally:
        close_old_connections()


def receive(data: bytes, *, receiver: Receiver | None = None) -> Answer:
    text = normalise(decode(data))
    header = read_header(text)
    if header is None or not text.startswith("MSH"):
        problem = Problem(
            ErrorCode.REQUIRED_FIELD_MISSING, "no message header (MSH) with a control id"
        )
        return Answer(
            AckCode.REJECT, build_ack(header or Header(), AckCode.REJECT, problem=problem)
        )
    interface = interface_for(header)
    if interface is None:
        problem = Problem(
            ErrorCode.UNKNOWN_KEY,
            f"sending facility {header.sending_facility or '(none)'} is not known here",
            "MSH",
            field=4,
        )
        logger.warning("HL7 from an unknown sender %r refused", header.sending_facility)
        audit_record(
            accessor=Accessor(user=None, channel=CHANNEL),
            action=AuditAction.DENIED,
            outcome="denied",
            details={
                "control_id": header.control_id[:199],
                "sending_facility": header.sending_facility[:180],
                "sending_application": header.sending_application[:180],
                "ack": str(AckCode.REJECT),
            },
        )
        return Answer(AckCode.REJECT, build_ack(header, AckCode.REJECT, problem=problem))
    try:
        return _receive(text, header, interface, receiver or _report_receive())
    except OperationalError as error:  # the database is busy or gone: the sender retries
        logger.warning("HL7 %s not stored: %s", header.control_id, error)
        problem = Problem(ErrorCode.RECORD_LOCKED, "busy, send again later")
        return Answer(AckCode.ERROR, build_ack(header, AckCode.ERROR, problem=problem))


def _claim(
    text: str, header: Header, interface: LaboratoryInterface
) -> tuple[ReceivedMessage, bool]:
    """The message's row, locked for this transaction; True when it was received before."""
    key = {
        "sending_application": header.sending_application[:180],
        "sending_facility": header.sending_facility[:180],
        "control_id": header.control_id[:199],
    }
    now = timezone.now()
    try:
        with transaction.atomic():
            row = ReceivedMessage.objects.create(
                **key,
                interface=interface,
                message_type=f"{header.message_type}^{header.trigger_event}"[:20],
                version=header.version[:8],
                digest=_digest(text),
                raw=text,
                received_at=now,
            )
            return row, False
    except IntegrityError:
        return ReceivedMessage.objects.select_for_update().get(**key), True


@transaction.atomic
def _receive(
    text: str, header: Header, interface: LaboratoryInterface, receiver: Receiver
) -> Answer:
    row, seen = _claim(text, header, interface)
    accessor = Accessor(user=interface.account, channel=CHANNEL)
    if seen and row.ack_code == AckCode.ACCEPT:
        if row.digest != _digest(text):
            problem = Problem(
                ErrorCode.DUPLICATE_KEY,
                f"control id {header.control_id} was used before for another message",
                "MSH",
                field=10,
            )
            return Answer(AckCode.REJECT, build_ack(header, AckCode.REJECT, problem=problem))
        _audit(accessor, row, repeat=True)
        return Answer(
            AckCode.ACCEPT,
            row.ack_message,
            row.ack_text,
            repeat=True,
            report_uuids=tuple(row.report_uuids),
        )
    if seen:
        row.attempts += 1
        row.raw = text
        row.digest = _digest(text)
    answer = _apply(text, header, interface, accessor, receiver)
    row.ack_code = answer.code
    row.ack_text = answer.text[:400]
    row.ack_message = answer.message
    row.answered_at = timezone.now()
    row.report_uuids = list(answer.report_uuids)
    row.save()
    _audit(accessor, row, repeat=False)
    return answer


def _apply(
    text: str,
    header: Header,
    interface: LaboratoryInterface,
    accessor: Accessor,
    receiver: Receiver,
) -> Answer:
    try:
        parsed = parse_oru(text, default_zone=_zone(interface))
    except MessageError as error:
        return _refusal(header, error.ack, error.problem)
    reports: list[LabReportIn] = list(parsed.reports)
    outcomes: list[ReceiveOutcome] = []
    try:
        # All reports of a message or none: a refusal of the third undoes the first two.
        with transaction.atomic():
            for index, report in enumerate(reports, start=1):
                try:
                    outcomes.append(receiver(accessor=accessor, report=report))
                except ReportRefused as error:
                    raise _Refused(error, index) from error
    except _Refused as failure:
        refused = failure.refused
        # AE when sending it again later may work: the service says so, or it could not match
        # the patient or the order yet (registered, or synced from a station, meanwhile).
        retry = refused.retry or refused.field in _RETRYABLE_FIELDS
        code = AckCode.ERROR if retry else AckCode.REJECT
        segment, sequence, number = _location(refused.field, failure.index)
        problem = Problem(
            ErrorCode.UNKNOWN_KEY
            if segment in ("PID", "MSH") or (number == 2 and segment == "OBR")
            else ErrorCode.TABLE_VALUE_NOT_FOUND,
            refused.reason,
            segment,
            sequence,
            number,
        )
        return _refusal(header, code, problem)
    except PermissionDenied as denied:
        problem = Problem(ErrorCode.UNKNOWN_KEY, str(denied) or "not allowed", "OBR", 1, 2)
        return _refusal(header, AckCode.REJECT, problem)
    except ValidationError as invalid:
        problem = Problem(ErrorCode.DATA_TYPE, "; ".join(invalid.messages)[:200], "OBX")
        return _refusal(header, AckCode.REJECT, problem)
    uuids = tuple(outcome.report_uuid for outcome in outcomes)
    critical = sum(outcome.critical for outcome in outcomes)
    summary = f"{len(outcomes)} report(s) stored" + (f", {critical} critical" if critical else "")
    warnings = [_warning(warning) for outcome in outcomes for warning in outcome.warnings]
    return Answer(
        AckCode.ACCEPT,
        build_ack(header, AckCode.ACCEPT, text=summary, warnings=warnings),
        summary,
        report_uuids=uuids,
    )


# Where in an OBX each kind of warning points (`ValueWarning.field`), and its 0357 code.
_WARNING_FIELDS = {
    "flags": (8, ErrorCode.TABLE_VALUE_NOT_FOUND),
    "value": (5, ErrorCode.DATA_TYPE),
    "unit": (6, ErrorCode.TABLE_VALUE_NOT_FOUND),
}


def _warning(warning: ValueWarning) -> Problem:
    """A value stored but not wholly understood, as an ERR of severity W in the AA."""
    number, code = _WARNING_FIELDS.get(warning.field, (0, ErrorCode.TABLE_VALUE_NOT_FOUND))
    return Problem(code, warning.text, "OBX", warning.sequence, number, severity="W")


_RETRYABLE_FIELDS = frozenset({"patient", "placer_number"})


class _Refused(Exception):
    def __init__(self, refused: ReportRefused, index: int) -> None:
        super().__init__(refused.reason)
        self.refused = refused
        self.index = index


_FIELDS = {
    "patient": ("PID", 3),
    "placer_number": ("OBR", 2),
    "filler_number": ("OBR", 3),
    "code": ("OBR", 4),
    "status": ("OBR", 25),
    "sending_facility": ("MSH", 4),
    "source": ("MSH", 3),
}
_PATIENT_FIELDS = {"family": 5, "given": 5, "birth_date": 7, "sex": 8}
_RESULT_FIELDS = {"code": 3, "value_type": 2, "value": 5, "unit": 6, "status": 11}
_RESULT = re.compile(r"^results\[(\d+)\](?:\.(\w+))?$")


def _location(field: str, report_index: int) -> tuple[str, int, int]:
    """Where in the message a refusal's field (as `report_receive` names it) is: segment,
    its sequence, field number."""
    if field in _FIELDS:
        segment, number = _FIELDS[field]
        return segment, 1 if segment in ("PID", "MSH") else report_index, number
    if field.startswith("patient."):
        return "PID", 1, _PATIENT_FIELDS.get(field.split(".", 1)[1], 3)
    match = _RESULT.match(field)
    if match:
        return "OBX", int(match.group(1)), _RESULT_FIELDS.get(match.group(2) or "", 0)
    return "OBR", report_index, 0


def _refusal(header: Header, code: AckCode, problem: Problem) -> Answer:
    return Answer(code, build_ack(header, code, problem=problem), problem.reason)


def _audit(accessor: Accessor, row: ReceivedMessage, *, repeat: bool) -> None:
    patients = _patients(row.report_uuids)
    row_patients = [str(uuid) for uuid in patients]
    if row_patients != row.patient_uuids and not repeat:
        ReceivedMessage.objects.filter(pk=row.pk).update(patient_uuids=row_patients)
    details: dict[str, Any] = {
        "control_id": row.control_id,
        "sending_facility": row.sending_facility,
        "ack": row.ack_code,
        "repeat": repeat,
    }
    if row.ack_code != AckCode.ACCEPT:
        details["reason"] = row.ack_text
    audit_record(
        accessor=accessor,
        action=AuditAction.CREATE if not repeat else AuditAction.VIEW,
        patient_uuid=patients[0] if patients else None,
        record=row,
        outcome="success" if row.ack_code == AckCode.ACCEPT else "refused",
        details=details,
        patients=patients[1:],
    )


def _patients(report_uuids: list[str]) -> list[Any]:
    if not report_uuids:
        return []
    from farcare.diagnostics.models import DiagnosticReport

    return sorted(
        set(
            DiagnosticReport.objects.filter(uuid__in=report_uuids).values_list(
                "patient__uuid", flat=True
            )
        ),
        key=str,
    )
