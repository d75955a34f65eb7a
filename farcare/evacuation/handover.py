"""The transfer summary the receiving hospital reads before the patient lands (issue 16, point 5):
who the patient is, where from and where to, why, the signed conclusion, the vital signs over
time, what was given on the way, the case's files, the estimate and the times as they happened.

One `Handover` feeds both the PDF (`handover_pdf.py`) and the FHIR document Bundle
(`farcare.fhir.resources.evacuation.document_bundle`), so the two never tell different stories.
`read_handover` is the only door: it asks the access policy for the patient (a consultant abroad
is refused before anything is assembled — the summary carries the identity, 152-FZ) and audits
the read, linked to the patient, or audits the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from typing import Any

from django.utils import translation
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor
from farcare.clinical import icd10
from farcare.consults.models import Attachment, Conclusion, EvacuationAdvice
from farcare.consults.vital_history import vital_history
from farcare.core.timezones import zone_for_user

from .models import (
    Transfer,
    TransferCondition,
    TransferStatus,
    TreatmentGiven,
)

# A summary, not the chart: the last readings are what the receiving team acts on; the whole
# history stays on the patient's page.
MAX_VITAL_ROWS = 12


@dataclass(frozen=True)
class Diagnosis:
    code: str
    name: str


@dataclass(frozen=True)
class ConclusionPart:
    uuid: str
    number: str
    version: int
    signed_at: datetime
    signer: str
    findings: str
    diagnoses: list[Diagnosis]
    recommendations: str
    evacuation: str  # the advice as the conclusion gave it, in the reader's language
    evacuation_code: str
    destination: str


@dataclass(frozen=True)
class VitalRow:
    at: datetime
    cells: list[str]  # aligned with Handover.vital_columns
    news2: int | None
    news2_band: str


@dataclass(frozen=True)
class VitalValue:
    """One reading as recorded (for the FHIR document's Observations)."""

    uuid: str
    key: str
    loinc: str
    value: str
    unit: str
    at: datetime


@dataclass(frozen=True)
class Treatment:
    uuid: str
    given_at: datetime
    description: str
    by: str


@dataclass(frozen=True)
class CaseFile:
    uuid: str
    name: str
    content_type: str
    size: int
    arrived: bool  # False while only the preview has crossed a weak link
    url: str  # where the reader may open it; "" when they may not (yet)


@dataclass(frozen=True)
class Moment:
    key: str
    label: str
    at: datetime | None


@dataclass(frozen=True)
class Handover:
    transfer: Transfer
    language: str
    zone: tzinfo
    patient_name: str
    birth_date: date
    sex: str
    snils: str
    oms_policy: str
    origin: str
    destination: str
    status: str
    condition: str
    reason: str
    bed_note: str
    transport: str
    conclusion: ConclusionPart | None
    vital_columns: list[str]
    vital_rows: list[VitalRow]
    vital_values: list[VitalValue]
    treatments: list[Treatment]
    files: list[CaseFile]
    estimate_minutes: int | None
    estimate_parts: list[tuple[str, int]]
    moments: list[Moment]
    actual_minutes: int | None  # decision → arrival, as it happened (holds included)
    held_minutes: int
    hold_reason: str = ""


def read_handover(
    *,
    accessor: Accessor,
    transfer: Transfer,
    language: str,
    zone: tzinfo | None = None,
    file_url: Callable[[Attachment], str] | None = None,
    channel_detail: str = "pdf",
) -> Handover:
    """Authorise and audit the read (a refusal is audited and raises PatientAccessDenied), then
    assemble the summary in `language`, times in `zone` (the reader's, by default)."""
    authorise(
        accessor=accessor,
        patient=transfer.patient,
        action=Action.VIEW,
        audit_action=AuditAction.VIEW,
        record=transfer,
        details={"page": "transfer handover", "format": channel_detail},
    )
    reader_zone = zone if zone is not None else zone_for_user(accessor.user)
    return assemble(transfer, language=language, zone=reader_zone, file_url=file_url)


def _signer(conclusion: Conclusion) -> str:
    author = conclusion.author
    practitioner = getattr(author, "practitioner", None)
    return str(practitioner) if practitioner is not None else author.get_full_name()


def stated_diagnoses(stored: object, language: str) -> list[Diagnosis]:
    """The conclusion's ICD-10 diagnoses, named in `language` (the label signed with it when
    the classification has no name in that language). Signed conclusions keep
    {"code", "label"}; older ones a bare code."""
    found = []
    for item in stored if isinstance(stored, list) else []:
        code = str(item.get("code", "")) if isinstance(item, dict) else str(item)
        signed = str(item.get("label", "")) if isinstance(item, dict) else ""
        if not code:
            continue
        try:
            name = icd10.label(code, language) if icd10.has_label(code, language) else signed
        except ValueError:
            name = signed
        found.append(Diagnosis(code, name or signed))
    return found


def _conclusion(transfer: Transfer, language: str) -> ConclusionPart | None:
    conclusion = transfer.conclusion
    if conclusion is None and transfer.consultation_id is not None:
        # The case's latest signed version when the transfer was opened without naming one.
        conclusion = (
            Conclusion.objects.filter(consultation_id=transfer.consultation_id)
            .order_by("-version")
            .first()
        )
    if conclusion is None:
        return None
    diagnoses = stated_diagnoses(conclusion.diagnoses, language)
    destination = conclusion.evacuation_destination
    return ConclusionPart(
        uuid=str(conclusion.uuid),
        number=conclusion.number,
        version=conclusion.version,
        signed_at=conclusion.signed_at,
        signer=_signer(conclusion),
        findings=conclusion.findings,
        diagnoses=diagnoses,
        recommendations=conclusion.recommendations,
        evacuation=str(EvacuationAdvice(conclusion.evacuation).label),
        evacuation_code=conclusion.evacuation,
        destination=destination.name if destination is not None else "",
    )


def _files(transfer: Transfer, file_url: Callable[[Attachment], str] | None) -> list[CaseFile]:
    if transfer.consultation_id is None:
        return []
    items = Attachment.objects.filter(consultation_id=transfer.consultation_id).order_by(
        "uploaded_at", "pk"
    )
    return [
        CaseFile(
            uuid=str(item.uuid),
            name=item.original_name,
            content_type=item.content_type,
            size=item.size,
            arrived=item.has_original,
            url=file_url(item) if file_url is not None and item.has_original else "",
        )
        for item in items
    ]


def _vital_values(transfer: Transfer) -> list[VitalValue]:
    from farcare.consults.models import Status, VitalObservation

    rows = (
        VitalObservation.objects.filter(patient_id=transfer.patient_id)
        .exclude(consultation__status=Status.ENTERED_IN_ERROR)
        .order_by("-recorded_at", "pk")[: MAX_VITAL_ROWS * 8]
    )
    return [VitalValue(str(o.uuid), o.key, o.loinc, o.value, o.unit, o.recorded_at) for o in rows]


def _estimate(estimate: dict[str, Any]) -> tuple[int | None, list[tuple[str, int]]]:
    total = estimate.get("total_minutes")
    labels = {
        "dispatch": _("dispatch"),
        "positioning": _("positioning from the base"),
        "flight": _("flight"),
        "refuel": _("refuelling"),
        "ground": _("ground legs"),
    }
    parts = []
    for key, label in labels.items():
        # The snapshot's parts by their short name (planning.estimate_for) or as the pure
        # estimate names them (estimates.Estimate: "flight_minutes").
        value = estimate.get(key, estimate.get(f"{key}_minutes"))
        if isinstance(value, int | float) and value:
            parts.append((str(label), round(value)))
    return (round(total) if isinstance(total, int | float) else None), parts


def _minutes(start: datetime | None, end: datetime | None) -> int | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds() / 60)


def assemble(
    transfer: Transfer,
    *,
    language: str,
    zone: tzinfo,
    file_url: Callable[[Attachment], str] | None = None,
) -> Handover:
    """The summary of an already authorised read."""
    with translation.override(language):
        patient = transfer.patient
        history = vital_history(patient_id=patient.pk, language=language, zone=zone)
        rows = [
            VitalRow(r.at, r.cells, r.news2, r.news2_band)
            for r in history.readings[:MAX_VITAL_ROWS]
        ]
        treatments = [
            Treatment(str(t.uuid), t.given_at, t.description, t.by.get_full_name() or str(t.by))
            for t in TreatmentGiven.objects.filter(transfer=transfer).select_related("by")
        ]
        total, parts = _estimate(transfer.estimate or {})
        moments = [
            Moment("first_contact", str(_("first medical contact")), transfer.first_contact_at),
            Moment("onset", str(_("symptom onset")), transfer.onset_at),
            Moment("decision", str(_("decision to transfer")), transfer.decided_at),
            Moment("accepted", str(_("bed confirmed")), transfer.accepted_at),
            Moment("dispatched", str(_("dispatched")), transfer.dispatched_at),
            Moment("departed", str(_("departure with the patient")), transfer.departed_at),
            Moment("arrived", str(_("arrived")), transfer.arrived_at),
            Moment("handed_over", str(_("handed over")), transfer.handed_over_at),
        ]
        moments = [m for m in moments if m.at is not None or m.key != "onset"]
        transport = ""
        if transfer.aircraft is not None:
            transport = str(transfer.aircraft)
        elif transfer.ground_mode:
            transport = transfer.ground_mode
        held = transfer.held_seconds
        hold_reason = ""
        if transfer.status == TransferStatus.HELD:
            hold_reason = transfer.hold_reason
        destination = transfer.destination
        return Handover(
            transfer=transfer,
            language=language,
            zone=zone,
            patient_name=" ".join(p for p in (patient.family, patient.given, patient.middle) if p),
            birth_date=patient.birth_date,
            sex=str(patient.get_sex_display()),
            snils=patient.snils,
            oms_policy=patient.oms_policy,
            origin=transfer.origin.name,
            destination=destination.name if destination is not None else str(_("not chosen yet")),
            status=str(TransferStatus(transfer.status).label),
            condition=str(TransferCondition(transfer.condition).label),
            reason=transfer.reason,
            bed_note=transfer.bed_note,
            transport=transport,
            conclusion=_conclusion(transfer, language),
            vital_columns=[f"{c.name}, {c.unit}" if c.unit else c.name for c in history.columns],
            vital_rows=rows,
            vital_values=_vital_values(transfer),
            treatments=treatments,
            files=_files(transfer, file_url),
            estimate_minutes=total,
            estimate_parts=parts,
            moments=moments,
            actual_minutes=_minutes(transfer.decided_at, transfer.arrived_at),
            held_minutes=round(held / 60),
            hold_reason=hold_reason,
        )


def transfer_related() -> tuple[str, ...]:
    """What a handover reads of a transfer in one query."""
    return (
        "patient",
        "origin__settlement",
        "origin__organisation",
        "destination__organisation",
        "destination__settlement",
        "conclusion__author",
        "conclusion__evacuation_destination",
        "aircraft",
        "consultation",
    )
