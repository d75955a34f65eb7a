"""Acknowledgements (HL7 v2 original mode): `ACK` with MSA-1

- `AA` accepted: the report is stored (or was, for a repeated control id); what was stored but
  not wholly understood (an abnormal flag FarCare does not interpret, a unit unlike the
  critical limit's) is named in an ERR segment of severity `W` each, so nothing is dropped
  without the sender knowing;
- `AE` error: the message is well formed but cannot be applied now; the sender may send it
  again unchanged once the cause is fixed here (an unknown patient, an order not yet known,
  a database busy) — the reason in MSA-3 and in an ERR segment;
- `AR` reject: sending it again unchanged will never work (a message type or version we do
  not take, a malformed message, a sender we do not know).

The answer is in the sender's version, from us (their MSH-5/6) to them (their MSH-3/4), and
MSA-2 is their control id. Built with hl7apy; pure."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum

from hl7apy.consts import VALIDATION_LEVEL
from hl7apy.core import Message

from .header import Header, read_header

APPLICATION = "FARCARE"
# Versions we read (ORU^R01 leniently from 2.3 on) and answer in; hl7apy builds each of them.
SUPPORTED_VERSIONS = ("2.3", "2.3.1", "2.4", "2.5", "2.5.1")
# hl7apy knows more versions than we accept; an answer to one it does not know is built in 2.5.1.
_BUILDABLE = (*SUPPORTED_VERSIONS, "2.6", "2.7", "2.8")


class AckCode(StrEnum):
    ACCEPT = "AA"
    ERROR = "AE"
    REJECT = "AR"


class ErrorCode(StrEnum):
    """HL7 table 0357 (message error condition codes)."""

    SEGMENT_SEQUENCE = "100"
    REQUIRED_FIELD_MISSING = "101"
    DATA_TYPE = "102"
    TABLE_VALUE_NOT_FOUND = "103"
    UNSUPPORTED_MESSAGE_TYPE = "200"
    UNSUPPORTED_EVENT = "201"
    UNSUPPORTED_PROCESSING_ID = "202"
    UNSUPPORTED_VERSION = "203"
    UNKNOWN_KEY = "204"
    DUPLICATE_KEY = "205"
    RECORD_LOCKED = "206"
    INTERNAL = "207"


_ERROR_TEXT = {
    ErrorCode.SEGMENT_SEQUENCE: "Segment sequence error",
    ErrorCode.REQUIRED_FIELD_MISSING: "Required field missing",
    ErrorCode.DATA_TYPE: "Data type error",
    ErrorCode.TABLE_VALUE_NOT_FOUND: "Table value not found",
    ErrorCode.UNSUPPORTED_MESSAGE_TYPE: "Unsupported message type",
    ErrorCode.UNSUPPORTED_EVENT: "Unsupported event code",
    ErrorCode.UNSUPPORTED_PROCESSING_ID: "Unsupported processing id",
    ErrorCode.UNSUPPORTED_VERSION: "Unsupported version id",
    ErrorCode.UNKNOWN_KEY: "Unknown key identifier",
    ErrorCode.DUPLICATE_KEY: "Duplicate key identifier",
    ErrorCode.RECORD_LOCKED: "Application record locked",
    ErrorCode.INTERNAL: "Application internal error",
}


@dataclass(frozen=True)
class Problem:
    """Why a message was not accepted: the 0357 code, the reason in words, and where
    (`segment`, its position among segments of that name, `field` number; 0 when unknown)."""

    code: ErrorCode
    reason: str
    segment: str = ""
    sequence: int = 1
    field: int = 0
    severity: str = "E"  # HL7 table 0516: E error, W warning, I information

    @property
    def location(self) -> str:
        if not self.segment:
            return ""
        return f"{self.segment}-{self.field}" if self.field else self.segment


def _plain(text: str, limit: int = 200) -> str:
    """Text safe in an ST field whatever the sender's separators: HL7 delimiters become
    spaces (so nothing needs escaping), line breaks too."""
    for char in "|^~\\&\r\n":
        text = text.replace(char, " ")
    return " ".join(text.split())[:limit]


def _timestamp(now: datetime | None) -> str:
    return (now or datetime.now(UTC)).astimezone(UTC).strftime("%Y%m%d%H%M%S+0000")


def build_ack(
    header: Header,
    code: AckCode,
    *,
    problem: Problem | None = None,
    text: str = "",
    now: datetime | None = None,
    control_id: str = "",
    warnings: Sequence[Problem] = (),
) -> str:
    """The ACK answering the message whose header is `header`, as ER7 text (segments ended
    by carriage returns, unframed): an ERR for the `problem`, then one per warning."""
    version = header.version if header.version in _BUILDABLE else "2.5.1"
    message = Message("ACK", version=version, validation_level=VALIDATION_LEVEL.TOLERANT)
    msh = message.msh
    msh.msh_3 = _plain(header.receiving_application, 180) or APPLICATION
    msh.msh_4 = _plain(header.receiving_facility, 180) or APPLICATION
    msh.msh_5 = _plain(header.sending_application, 180)
    msh.msh_6 = _plain(header.sending_facility, 180)
    msh.msh_7 = _timestamp(now)
    event = _plain(header.trigger_event, 3)
    if version in ("2.3", "2.3.1"):
        msh.msh_9 = f"ACK^{event}" if event else "ACK"
    else:
        msh.msh_9 = f"ACK^{event}^ACK" if event else "ACK^^ACK"
    msh.msh_10 = control_id or uuid.uuid4().hex[:20].upper()
    msh.msh_11 = _plain(header.processing_id, 3) or "P"
    # In the sender's version even when it is one we do not take (the answer says so).
    msh.msh_12 = _plain(header.version, 20) or version
    msa = message.msa
    msa.msa_1 = str(code)
    msa.msa_2 = header.control_id[:199]
    reason = _plain(problem.reason if problem else text)
    if reason:
        msa.msa_3 = reason[:80]
    for each in ([problem] if problem is not None else []) + list(warnings):
        _add_err(message, version, each)
    return str(message.to_er7())


def _add_err(message: Message, version: str, problem: Problem) -> None:
    err = message.add_segment("ERR")
    table = f"{problem.code}^{_ERROR_TEXT[problem.code]}^HL70357"
    location = ""
    if problem.segment:
        location = f"{problem.segment}^{problem.sequence}"
        if problem.field:
            location += f"^{problem.field}"
    if version in ("2.3", "2.3.1", "2.4"):
        # ERR-1 (ELD): segment^sequence^field^code&text&table (no severity before 2.5)
        err.err_1 = f"{location or '^^'}^{table.replace('^', '&')}"
    else:
        if location:
            err.err_2 = location
        err.err_3 = table
        err.err_4 = problem.severity
        err.err_8 = _plain(problem.reason)


def reject_raw(data: bytes, reason: str) -> bytes | None:
    """The AR answering bytes that are not a well-framed message, or None when no control id
    can be read from them (the connection is then closed without an answer)."""
    header = read_header(data)
    if header is None:
        return None
    problem = Problem(
        ErrorCode.INTERNAL if reason == "internal error" else ErrorCode.DATA_TYPE, reason
    )
    code = AckCode.ERROR if reason == "internal error" else AckCode.REJECT
    return build_ack(header, code, problem=problem).encode("utf-8")


def read_ack(text: str | bytes) -> tuple[str, str, str]:
    """(MSA-1, MSA-2, MSA-3) of an acknowledgement, for the sending side and tests."""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    for segment in text.replace("\n", "\r").split("\r"):
        if segment.startswith("MSA"):
            fields = [*segment.split(segment[3]), "", "", ""]
            return fields[1], fields[2], fields[3]
    return "", "", ""
