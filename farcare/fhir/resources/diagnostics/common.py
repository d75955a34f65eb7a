"""What the diagnostics resources share: code systems, renderings, search conditions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.db.models import Q

from farcare.diagnostics.models import Category
from farcare.network.models import Facility
from farcare.patients.models import Patient

from ... import systems
from ..consultation.common import _organisation, is_uuid, referenced

PLACER_NUMBER = "urn:farcare:placer-number"  # FarCare's order number, "DX-2026-000123"
FILLER_NUMBER = "urn:farcare:filler-number"  # the laboratory's number of the order
CLIENT_TOKEN = "urn:farcare:client-token"  # noqa: S105  (an identifier system)
SPECIMEN_LABEL = "urn:farcare:specimen-label"  # the tube's barcode
REJECTION_REASON = "urn:farcare:specimen-rejection"
IDENTIFIER_TYPE = "http://terminology.hl7.org/CodeSystem/v2-0203"
DIAGNOSTIC_SECTION = "http://terminology.hl7.org/CodeSystem/v2-0074"
INTERPRETATION = "http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation"
DICOM_UID = "urn:dicom:uid"
DICOM_MODALITY = "http://dicom.nema.org/resources/ontology/DCM"

# ServiceRequest.category (the brief: SNOMED CT) and DiagnosticReport.category (v2-0074).
ORDER_CATEGORY = {
    Category.LABORATORY: {
        "system": systems.SNOMED,
        "code": "108252007",
        "display": "Laboratory procedure",
    },
    Category.IMAGING: {"system": systems.SNOMED, "code": "363679005", "display": "Imaging"},
}
CATEGORY_OF_SNOMED = {coding["code"]: category for category, coding in ORDER_CATEGORY.items()}
REPORT_SECTION = {
    Category.LABORATORY: {"system": DIAGNOSTIC_SECTION, "code": "LAB", "display": "Laboratory"},
    Category.IMAGING: {"system": DIAGNOSTIC_SECTION, "code": "RAD", "display": "Radiology"},
}
CATEGORY_OF_SECTION = {coding["code"]: category for category, coding in REPORT_SECTION.items()}
LABORATORY_CATEGORY = {
    "coding": [
        {"system": systems.OBSERVATION_CATEGORY, "code": "laboratory", "display": "Laboratory"}
    ]
}
INTERPRETATION_DISPLAY = {
    "N": "Normal",
    "L": "Low",
    "H": "High",
    "LL": "Critical low",
    "HH": "Critical high",
    "A": "Abnormal",
    "AA": "Critical abnormal",
}

Condition = Callable[[str, str, str], Q]


def when(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def patient_reference(patient: Patient) -> dict[str, Any]:
    return {"reference": f"Patient/{patient.uuid}"}


def organisation(facility: Facility | None) -> dict[str, Any] | None:
    return _organisation(facility) if facility is not None else None


def loinc(code: str, display: str) -> dict[str, Any]:
    coding: dict[str, Any] = {"system": systems.LOINC, "code": code}
    if display:
        coding["display"] = display
    return {"coding": [coding], **({"text": display} if display else {})}


def number(value: Decimal) -> int | float:
    normal = value.normalize()
    return int(normal) if normal == normal.to_integral_value() else float(normal)


def negated(condition: Q, modifier: str) -> Q:
    return ~condition if modifier == "not" else condition


def nothing() -> Q:
    return Q(pk__in=[])


def choice_q(field: str, allowed: list[str]) -> Condition:
    """A status token whose codes are the model's own (FHIR's, one to one)."""

    def to_q(modifier: str, system: str, code: str) -> Q:
        return negated(Q(**{field: code}) if code in allowed else nothing(), modifier)

    return to_q


def loinc_q(path: str) -> Condition:
    def to_q(modifier: str, system: str, code: str) -> Q:
        if system and system != systems.LOINC:
            return negated(nothing(), modifier)
        return negated(Q(**{path: code}), modifier)

    return to_q


def organisation_q(path: str) -> Condition:
    """A reference to the Organization of a facility (`path` is the facility field)."""

    def to_q(modifier: str, _system: str, value: str) -> Q:
        parts = value.rstrip("/").split("/")
        kind, ident = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])
        if kind not in ("", "Organization") or not is_uuid(ident):
            return nothing()
        return Q(**{f"{path}__organisation__uuid": ident})

    return to_q


__all__ = ["is_uuid", "referenced"]
