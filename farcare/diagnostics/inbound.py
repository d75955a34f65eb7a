"""What a laboratory sends, whichever way it arrives (HL7 v2 ORU^R01, FHIR DiagnosticReport,
a page at a small laboratory), as plain data: each delivery layer maps its message into a
`LabReportIn` and hands it to `diagnostics.services.results.report_receive`, which checks it,
stores it (a correction as a new version), interprets each value and raises critical alerts.

No ORM here, so the HL7 and FHIR mappings can be tested without a database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class PatientRef:
    """How the sender names the patient: FarCare's UUID, or identifiers with their system
    (`snils`, `oms`, or the assigning authority as sent), and what else the sender gave, to
    check a match (never to create a patient)."""

    uuid: str = ""
    identifiers: tuple[tuple[str, str], ...] = ()
    family: str = ""
    given: str = ""
    birth_date: str = ""  # ISO, as far as the sender gave it
    sex: str = ""  # M, F, O, U (HL7 v2 table 0001)


@dataclass(frozen=True)
class ResultIn:
    """One value (HL7 OBX, FHIR Observation)."""

    sequence: int
    code: str  # LOINC
    display: str = ""
    value_type: str = "NM"  # NM, ST, CE
    value: str = ""  # as sent; a number is parsed by the service
    unit: str = ""  # UCUM
    reference_range: str = ""  # "3.5-5.1", "<5", ">60", or text
    flags: tuple[str, ...] = ()  # as sent (HL7 table 0078): L, H, LL, HH, A, AA, N, <, > ...
    status: str = "F"  # P, F, C (OBX-11) or the FHIR status
    effective_at: datetime | None = None
    performer: str = ""  # the performing organisation as sent


@dataclass(frozen=True)
class LabReportIn:
    """One report (HL7 OBR with its OBXs, FHIR DiagnosticReport)."""

    patient: PatientRef
    code: str  # LOINC of the panel or test (OBR-4)
    display: str = ""
    placer_number: str = ""  # FarCare's order number (ORC-2 / OBR-2), when ordered here
    filler_number: str = ""  # the laboratory's (ORC-3 / OBR-3)
    status: str = "F"  # P, F, C (OBR-25) or the FHIR status
    effective_at: datetime | None = None  # specimen collected (OBR-7)
    issued_at: datetime | None = None  # reported (OBR-22)
    results: tuple[ResultIn, ...] = ()
    conclusion: str = ""
    # Who sent it and how: "hl7", "fhir", "page", "station"; the sender's own identifier of
    # this report, so a repeat is found, not stored twice.
    source: str = "hl7"
    external_id: str = ""
    sending_facility: str = ""  # as sent (MSH-4), or the facility's UUID


@dataclass(frozen=True)
class ValueWarning:
    """Something in a value that was stored but not (wholly) understood: the sender is told,
    nothing is dropped. `field`: "flags", "value" or "unit"; `sequence` and `code` name the
    value (HL7 OBX-1 and OBX-3)."""

    sequence: int
    code: str
    field: str
    text: str

    def __str__(self) -> str:
        return self.text


@dataclass(frozen=True)
class ReceiveOutcome:
    report_uuid: str
    created: bool  # False when it was a repeat of a report already stored
    corrected: int = 0  # values stored as corrections of earlier ones
    critical: int = 0  # critical alerts raised
    warnings: tuple[ValueWarning, ...] = ()


class ReportRefused(ValueError):
    """The report cannot be stored: the reason in the user's (or the sender's) language, and
    whether the sender may send it again unchanged (`retry`: HL7 AE vs AR)."""

    def __init__(self, reason: str, *, retry: bool = False, field: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry = retry
        self.field = field
