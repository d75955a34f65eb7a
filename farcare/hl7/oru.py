"""ORU^R01 (unsolicited observation result) into `LabReportIn`, one per OBR with its OBXs.
Pure: no ORM, so each mapping is tested on its own.

hl7apy splits the message into segments, fields and repetitions (any version 2.3 to 2.5.1,
any separators the sender declared); components are read by position from each repetition,
the same way in every version (2.3's CE and 2.5.1's CWE both carry code^text^system first).

Patient identifiers (PID-3, CX): the assigning authority (CX-4, its namespace or its OID) names
the system. FarCare's systems:

- `snils`: authority SNILS, СНИЛС, PFR, SFR, or the OID 1.2.643.100.3; digits only are kept;
- `oms`: authority OMS, ОМС, FOMS, ФОМС, MHI, or an identifier type (CX-5) of `HC`;
- FarCare's own patient UUID: authority FARCARE (what our ORM^O01/OML^O21 send in PID-3);
- anything else is passed on with its authority as sent (upper case), for the service to try.

Report identity (`external_id`, so a repeat or a correction finds the report it repeats):
"<MSH-4>|<OBR-3 filler number>" when the laboratory gave one, else "<MSH-4>|<OBR-2>|<OBR-4>",
else "<MSH-4>|<MSH-10>|<OBR-1>".

Coded values (OBX-2 CE/CWE) are given as their text, or their code when there is no text.
A structured numeric (SN) with only a number (and `=`) is a number; with a comparator or a
range ("<^5", "^10^-^20") it is text ("<5", "10-20")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import Any

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.parser import parse_message

from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn

from .ack import SUPPORTED_VERSIONS, AckCode, ErrorCode, Problem
from .header import Header, read_header

SNILS_AUTHORITIES = frozenset({"SNILS", "СНИЛС", "PFR", "SFR", "1.2.643.100.3"})
OMS_AUTHORITIES = frozenset({"OMS", "ОМС", "FOMS", "ФОМС", "MHI"})
FARCARE_AUTHORITY = "FARCARE"
_NUMERIC_TYPES = frozenset({"NM"})
_TEXT_TYPES = frozenset({"ST", "TX", "FT", "ID", "IS", "TS", "DT", "TM", "DTM"})
_CODED_TYPES = frozenset({"CE", "CWE", "CNE"})


class MessageError(ValueError):
    """The message cannot be taken: why, where, and which answer it gets (AR: never
    acceptable as sent; AE: may be sent again later)."""

    def __init__(self, problem: Problem, ack: AckCode = AckCode.REJECT) -> None:
        super().__init__(
            f"{problem.location}: {problem.reason}" if problem.segment else problem.reason
        )
        self.problem = problem
        self.ack = ack


def _error(
    code: ErrorCode, reason: str, segment: str = "", field: int = 0, sequence: int = 1
) -> MessageError:
    return MessageError(Problem(code, reason, segment, sequence, field))


@dataclass(frozen=True)
class OruMessage:
    header: Header
    reports: tuple[LabReportIn, ...]


# --- reading fields ---------------------------------------------------------------------------


class _Segment:
    """One segment's repetitions by field number, as ER7 text, with the separators to split
    components and undo escapes."""

    def __init__(self, segment: Any, header: Header, sequence: int) -> None:
        self.name: str = str(segment.name)
        self.sequence = sequence
        self.encoding = header.encoding_characters
        self._fields: dict[int, list[str]] = {}
        for child in segment.children:
            name = str(child.name or "")
            number = name.rsplit("_", 1)[-1]
            if number.isdigit():
                self._fields.setdefault(int(number), []).append(str(child.to_er7()))

    def repetitions(self, n: int) -> list[str]:
        return [value for value in self._fields.get(n, []) if value != ""]

    def raw_components(self, n: int, repetition: int = 0) -> list[str]:
        values = self.repetitions(n)
        if len(values) <= repetition:
            return []
        return values[repetition].split(self.encoding[0])

    def components(self, n: int, repetition: int = 0) -> list[str]:
        return [self.unescape(part) for part in self.raw_components(n, repetition)]

    def component(self, n: int, index: int = 1, repetition: int = 0) -> str:
        parts = self.raw_components(n, repetition)
        if len(parts) < index:
            return ""
        # A component's subcomponents: the first is the value (e.g. XPN-1's surname).
        return self.unescape(parts[index - 1].split(self.encoding[3:4] or "&")[0]).strip()

    def text(self, n: int) -> str:
        return " ".join(self.unescape(value).strip() for value in self.repetitions(n)).strip()

    def unescape(self, value: str) -> str:
        escape = self.encoding[2:3] or "\\"
        if escape not in value:
            return value
        chars = (self.encoding + "^~\\&"[len(self.encoding) :])[:4]
        component, repetition, sub = chars[0], chars[1], chars[3]
        table = {"F": "|", "S": component, "R": repetition, "E": escape, "T": sub, ".br": "\n"}
        pattern = re.compile(re.escape(escape) + r"(.*?)" + re.escape(escape))

        def replace(match: re.Match[str]) -> str:
            code = match.group(1)
            if code in table:
                return table[code]
            if code.startswith("X") and len(code) > 1:
                try:
                    return bytes.fromhex(code[1:]).decode("utf-8", errors="replace")
                except ValueError:
                    return ""
            return ""  # formatting escapes (\H\, \N\, \.sp\ ...) carry no text

        return pattern.sub(replace, value)

    def problem(
        self, field: int, reason: str, code: ErrorCode = ErrorCode.DATA_TYPE
    ) -> MessageError:
        return _error(code, reason, self.name, field, self.sequence)


def _loinc(segment: _Segment, field: int) -> tuple[str, str]:
    """(code, text) of a CE/CWE: the LOINC triplet (system LN), else its alternate, else the
    first code as sent."""
    parts = [part.strip() for part in segment.components(field)] + [""] * 6
    loinc = ("LN", "LOINC")
    if parts[2].upper() not in loinc and parts[5].upper() in loinc and parts[3]:
        return parts[3], parts[4] or parts[1]
    if parts[0]:
        return parts[0], parts[1]
    return parts[3], parts[4]


_TS = re.compile(r"^(\d{4})(\d{2})?(\d{2})?(\d{2})?(\d{2})?(\d{2})?(?:\.(\d{1,4}))?([+-]\d{4})?$")


def parse_timestamp(value: str, default_zone: tzinfo = UTC) -> datetime | None:
    """HL7 TS/DTM (YYYY[MM[DD[HH[MM[SS[.S…]]]]]][+/-ZZZZ]) as an aware datetime, in UTC; a
    time without an offset is in `default_zone` (the laboratory's). None when empty; ValueError
    when not a timestamp."""
    value = value.strip()
    if not value:
        return None
    match = _TS.match(value)
    if not match:
        raise ValueError(value)
    year, month, day, hour, minute, second, fraction, offset = match.groups()
    zone: tzinfo = default_zone
    if offset:
        sign = 1 if offset[0] == "+" else -1
        zone = timezone(sign * timedelta(hours=int(offset[1:3]), minutes=int(offset[3:5])))
    moment = datetime(
        int(year),
        int(month or 1),
        int(day or 1),
        int(hour or 0),
        int(minute or 0),
        int(second or 0),
        int((fraction or "0").ljust(6, "0")[:6]),
        tzinfo=zone,
    )
    return moment.astimezone(UTC)


def _timestamp(segment: _Segment, field: int, zone: tzinfo) -> datetime | None:
    value = segment.component(field, 1)
    try:
        return parse_timestamp(value, zone)
    except ValueError as error:
        raise segment.problem(field, f"not a date and time: {value!r}") from error


# --- the patient ------------------------------------------------------------------------------


def _system(authority: str, oid: str, type_code: str) -> str:
    names = {authority.strip().upper(), oid.strip()}
    if names & SNILS_AUTHORITIES or type_code.upper() == "SNILS":
        return "snils"
    if names & OMS_AUTHORITIES or type_code.upper() == "HC":
        return "oms"
    if FARCARE_AUTHORITY in names:
        return "farcare"
    return authority.strip().upper() or oid.strip() or type_code.strip().upper()


def _birth_date(value: str) -> str:
    digits = value[:8]
    if len(digits) >= 8:
        return f"{digits[:4]}-{digits[4:6]}-{digits[6:8]}"
    if len(digits) >= 6:
        return f"{digits[:4]}-{digits[4:6]}"
    return digits[:4]


def _patient(pid: _Segment) -> PatientRef:
    identifiers: list[tuple[str, str]] = []
    farcare_uuid = ""
    for index in range(len(pid.repetitions(3))):
        parts = pid.raw_components(3, index) + [""] * 5
        value = pid.unescape(parts[0]).strip()
        if not value:
            continue
        hd = [pid.unescape(part) for part in parts[3].split(pid.encoding[3:4] or "&")] + ["", ""]
        parts[4] = pid.unescape(parts[4])
        system = _system(hd[0], hd[1], parts[4])
        if system in ("snils", "oms"):
            value = re.sub(r"\D", "", value)
        if system == "farcare":
            farcare_uuid = value
            continue
        if value and system:
            identifiers.append((system, value))
    # PID-2 (external id, before 2.5) and PID-19 (SSN, where some systems put SNILS).
    snils = re.sub(r"\D", "", pid.component(19))
    if snils and ("snils", snils) not in identifiers:
        identifiers.append(("snils", snils))
    if not identifiers and not farcare_uuid:
        raise pid.problem(3, "no patient identifier", ErrorCode.REQUIRED_FIELD_MISSING)
    return PatientRef(
        uuid=farcare_uuid,
        identifiers=tuple(identifiers),
        family=pid.component(5, 1),
        given=pid.component(5, 2),
        birth_date=_birth_date(pid.component(7)),
        sex=pid.component(8)[:1].upper(),
    )


# --- values -----------------------------------------------------------------------------------


def _value(obx: _Segment) -> tuple[str, str]:
    """(value type as ResultIn takes it, value as text)."""
    kind = obx.component(2).upper() or "ST"
    if kind in _NUMERIC_TYPES:
        value = obx.component(5).strip()
        if value:
            try:
                Decimal(value)
            except InvalidOperation as error:
                raise obx.problem(5, f"not a number: {value!r}") from error
        return "NM", value
    if kind == "SN":
        parts = [*obx.components(5), "", "", "", ""]
        comparator, first, separator, second = (part.strip() for part in parts[:4])
        if comparator in ("", "=") and first and not separator and not second:
            return _value_number(obx, first)
        return "ST", f"{comparator}{first}{separator}{second}".strip()
    if kind in _CODED_TYPES:
        values = []
        for index in range(len(obx.repetitions(5))):
            parts = [*obx.components(5, index), "", ""]
            values.append(parts[1].strip() or parts[0].strip())
        return "CE", "; ".join(value for value in values if value)
    if kind in _TEXT_TYPES:
        lines = [obx.unescape(value) for value in obx.repetitions(5)]
        return "ST", "\n".join(lines).strip()
    raise obx.problem(2, f"value type {kind!r} is not taken (NM, SN, ST, TX, FT, CE, CWE)")


def _value_number(obx: _Segment, text: str) -> tuple[str, str]:
    try:
        Decimal(text)
    except InvalidOperation as error:
        raise obx.problem(5, f"not a number: {text!r}") from error
    return "NM", text


def _result(obx: _Segment, position: int, zone: tzinfo) -> ResultIn:
    code, display = _loinc(obx, 3)
    if not code:
        raise obx.problem(3, "no observation code", ErrorCode.REQUIRED_FIELD_MISSING)
    kind, value = _value(obx)
    sequence_text = obx.component(1)
    sequence = int(sequence_text) if sequence_text.isdigit() else position
    performer = obx.component(23) or obx.component(15)
    return ResultIn(
        sequence=sequence,
        code=code,
        display=display,
        value_type=kind,
        value=value,
        unit=obx.component(6),
        reference_range=obx.text(7),
        flags=tuple(flag.strip().upper() for flag in obx.repetitions(8) if flag.strip()),
        status=obx.component(11).upper() or "F",
        effective_at=_timestamp(obx, 14, zone),
        performer=performer,
    )


# --- the message ------------------------------------------------------------------------------


def check_header(header: Header) -> None:
    if header.message_type.upper() != "ORU":
        raise _error(
            ErrorCode.UNSUPPORTED_MESSAGE_TYPE,
            f"message type {header.message_type or '(none)'} is not taken here, only ORU^R01",
            "MSH",
            9,
        )
    if header.trigger_event.upper() not in ("R01", ""):
        raise _error(
            ErrorCode.UNSUPPORTED_EVENT,
            f"event {header.trigger_event} is not taken here, only ORU^R01",
            "MSH",
            9,
        )
    if header.version not in SUPPORTED_VERSIONS:
        raise _error(
            ErrorCode.UNSUPPORTED_VERSION,
            f"version {header.version or '(none)'} is not taken; send 2.3 to 2.5.1",
            "MSH",
            12,
        )


def normalise(text: str) -> str:
    """Segments ended by carriage returns, whatever line ends the sender used."""
    text = text.replace("\r\n", "\r").replace("\n", "\r")
    return "\r".join(line for line in text.split("\r") if line.strip())


def parse_oru(text: str, *, default_zone: tzinfo = UTC) -> OruMessage:
    """Every report of an ORU^R01. Raises MessageError naming what is wrong and where."""
    text = normalise(text)
    header = read_header(text)
    if header is None or not text.startswith("MSH"):
        raise _error(ErrorCode.REQUIRED_FIELD_MISSING, "no message header (MSH) with a control id")
    check_header(header)
    try:
        message = parse_message(text, validation_level=VALIDATION_LEVEL.TOLERANT, find_groups=False)
    except Exception as error:  # hl7apy raises many kinds for malformed text
        raise _error(ErrorCode.DATA_TYPE, f"the message cannot be parsed: {error}") from error

    seen: dict[str, int] = {}
    segments = []
    for child in message.children:
        name = str(child.name)
        seen[name] = seen.get(name, 0) + 1
        segments.append(_Segment(child, header, seen[name]))
    return OruMessage(header, _reports(segments, header, default_zone))


def _reports(segments: list[_Segment], header: Header, zone: tzinfo) -> tuple[LabReportIn, ...]:
    reports: list[LabReportIn] = []
    patient: PatientRef | None = None
    orc: _Segment | None = None
    current: dict[str, Any] | None = None
    results: list[ResultIn] = []
    notes: list[str] = []

    def close() -> None:
        if current is not None:
            reports.append(
                LabReportIn(**current, results=tuple(results), conclusion="\n".join(notes).strip())
            )

    for segment in segments:
        if segment.name == "PID":
            close()
            current, results, notes, orc = None, [], [], None
            patient = _patient(segment)
        elif segment.name == "ORC":
            orc = segment
        elif segment.name == "OBR":
            close()
            results, notes = [], []
            if patient is None:
                raise segment.problem(0, "OBR before any PID", ErrorCode.SEGMENT_SEQUENCE)
            current = _report(segment, orc, patient, header, zone)
            orc = None
        elif segment.name == "OBX":
            if current is None:
                raise segment.problem(0, "OBX before any OBR", ErrorCode.SEGMENT_SEQUENCE)
            results.append(_result(segment, len(results) + 1, zone))
        elif segment.name == "NTE" and current is not None:
            # A note after an OBX is about that value (haemolysed, diluted, repeated): kept in
            # the report's comments under the value's code, never dropped.
            text = segment.text(3).strip()
            if text and results:
                last = results[-1]
                notes.append(f"{last.code} {last.display}: {text}".replace("  ", " "))
            elif text:
                notes.append(text)
    close()
    if patient is None:
        raise _error(ErrorCode.REQUIRED_FIELD_MISSING, "no patient (PID)", "PID")
    if not reports:
        raise _error(ErrorCode.REQUIRED_FIELD_MISSING, "no report (OBR)", "OBR")
    return tuple(reports)


def _report(
    obr: _Segment, orc: _Segment | None, patient: PatientRef, header: Header, zone: tzinfo
) -> dict[str, Any]:
    code, display = _loinc(obr, 4)
    if not code:
        raise obr.problem(4, "no ordered test (OBR-4)", ErrorCode.REQUIRED_FIELD_MISSING)
    placer = obr.component(2) or (orc.component(2) if orc else "")
    filler = obr.component(3) or (orc.component(3) if orc else "")
    facility = header.sending_facility
    if filler:
        external = f"{facility}|{filler}"
    elif placer:
        external = f"{facility}|{placer}|{code}"
    else:
        external = f"{facility}|{header.control_id}|{obr.component(1) or obr.sequence}"
    return {
        "patient": patient,
        "code": code,
        "display": display,
        "placer_number": placer,
        "filler_number": filler,
        "status": obr.component(25).upper() or "F",
        "effective_at": _timestamp(obr, 7, zone),
        "issued_at": _timestamp(obr, 22, zone),
        "source": "hl7",
        "external_id": external[:120],
        "sending_facility": facility,
    }
