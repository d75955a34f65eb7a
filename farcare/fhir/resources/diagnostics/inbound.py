"""A DiagnosticReport with its Observations, as a laboratory's system sends it, mapped into
`diagnostics.inbound.LabReportIn` (source "fhir"): the same shape HL7 v2 results take, so that
`report_receive` checks, stores, interprets and alerts in one place.

Everything sent is either mapped here, kept with the resource (remainder.py), or refused with
422 naming the element: a report of another category than laboratory (imaging reports are
written and signed by the radiologist in FarCare), a value not coded in LOINC, a quantity not
in UCUM, an Observation about another patient, a `result` that names neither a contained
Observation nor one of the same transaction."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn
from farcare.diagnostics.models import DiagnosticOrder

from ... import systems
from ...auth import Principal
from ...errors import business_rule
from ...validation import validated
from .common import (
    CATEGORY_OF_SECTION,
    CATEGORY_OF_SNOMED,
    FILLER_NUMBER,
    IDENTIFIER_TYPE,
    INTERPRETATION,
    PLACER_NUMBER,
    referenced,
)

REPORT = "DiagnosticReport"
V2_FLAGS = "http://terminology.hl7.org/CodeSystem/v2-0078"
IDENTIFIER_NAMES = {systems.SNILS: "snils", systems.OMS: "oms"}
FIELD_PATHS = {
    "patient": "DiagnosticReport.subject",
    "code": "DiagnosticReport.code",
    "status": "DiagnosticReport.status",
    "placer_number": "DiagnosticReport.basedOn",
    "external_id": "DiagnosticReport.identifier",
    "sending_facility": "DiagnosticReport.performer",
}


def refused_path(field: str) -> str:
    """Where a refusal of `report_receive` points: `results[2].code` is the second result."""
    if field.startswith("results["):
        index, _bracket, rest = field.removeprefix("results[").partition("]")
        position = int(index) - 1 if index.isdigit() else 0
        element = {".code": ".code", ".status": ".status", ".value_type": ".value[x]"}.get(rest, "")
        return f"{REPORT}.result[{position}]{element}"
    return FIELD_PATHS.get(field, REPORT)


def contained_observations(resource: dict[str, Any]) -> list[dict[str, Any]]:
    """The Observations `result` names, in its order, each contained in the report."""
    contained = {
        f"#{item.get('id')}": item
        for item in resource.get("contained") or []
        if isinstance(item, dict) and item.get("resourceType") == "Observation"
    }
    found: list[dict[str, Any]] = []
    for index, result in enumerate(resource.get("result") or []):
        reference = str((result or {}).get("reference") or "")
        if reference not in contained:
            raise business_rule(
                "A laboratory report's values arrive with it: each result names an Observation "
                "contained in the report (#id) or an entry of the same transaction (urn:uuid).",
                [f"{REPORT}.result[{index}]"],
            )
        found.append(contained[reference])
    unnamed = set(contained) - {
        str((r or {}).get("reference")) for r in resource.get("result") or []
    }
    if unnamed:
        raise business_rule(
            f"The contained Observation {sorted(unnamed)[0]} is not named in result.",
            [f"{REPORT}.contained"],
        )
    return found


def gather_bundled(
    resource: dict[str, Any], bundled: dict[str, dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The report with the Observations of its transaction (named by fullUrl) contained, as a
    single POST sends them; and the local id each of those entries became."""
    folded = copy.deepcopy(resource)
    taken: dict[str, str] = {}
    results = folded.get("result") or []
    contained = list(folded.get("contained") or [])
    for position, result in enumerate(results, start=1):
        reference = str((result or {}).get("reference") or "")
        entry = bundled.get(reference)
        if entry is None or entry.get("resourceType") != "Observation" or reference in taken:
            continue
        local = f"r{position}"
        contained.append({**copy.deepcopy(entry), "id": local})
        result["reference"] = f"#{local}"
        taken[reference] = local
    if taken:
        # The report's own contained Observations take their places in `result` order too.
        folded["contained"] = contained
    return folded, taken


def lab_report_of(
    resource: dict[str, Any], observations: list[dict[str, Any]], principal: Principal
) -> LabReportIn:
    validated(REPORT, resource)
    _check_category(resource)
    patient = _patient_ref(resource.get("subject") or {}, f"{REPORT}.subject")
    code, display = _loinc(resource.get("code") or {}, f"{REPORT}.code")
    results = tuple(
        _result(position, observation, resource, patient)
        for position, observation in enumerate(observations, start=1)
    )
    identifiers = resource.get("identifier") or []
    external = next(
        (
            f"{item.get('system') or ''}|{item.get('value')}"
            for item in identifiers
            if item.get("value") and item.get("system") not in (PLACER_NUMBER, FILLER_NUMBER)
        ),
        "",
    )
    facility = principal.user.facility
    return LabReportIn(
        patient=patient,
        code=code,
        display=display,
        placer_number=_placer_number(resource),
        filler_number=_filler_number(identifiers),
        status=str(resource.get("status") or ""),
        effective_at=_moment(
            resource.get("effectiveDateTime")
            or (resource.get("effectivePeriod") or {}).get("start"),
            f"{REPORT}.effective[x]",
        ),
        issued_at=_moment(resource.get("issued"), f"{REPORT}.issued"),
        results=results,
        conclusion=str(resource.get("conclusion") or ""),
        source="fhir",
        external_id=external,
        sending_facility=str(facility.uuid) if facility is not None else "",
    )


def _check_category(resource: dict[str, Any]) -> None:
    categories = {
        str(category)
        for concept in resource.get("category") or []
        for coding in (concept or {}).get("coding") or []
        for category in [
            CATEGORY_OF_SECTION.get(coding.get("code"))
            or CATEGORY_OF_SNOMED.get(coding.get("code"))
            or (coding.get("code") if coding.get("code") in ("laboratory", "imaging") else None)
        ]
        if category
    }
    if "imaging" in categories:
        raise business_rule(
            "An imaging report is written and signed by the radiologist in FarCare; FHIR "
            "delivers laboratory reports.",
            [f"{REPORT}.category"],
        )


def _patient_ref(subject: dict[str, Any], path: str) -> PatientRef:
    ident = referenced(str(subject.get("reference") or ""), "Patient")
    if ident:
        return PatientRef(uuid=ident)
    identifier = subject.get("identifier") or {}
    if identifier.get("value"):
        system = str(identifier.get("system") or "")
        name = IDENTIFIER_NAMES.get(system, system)
        return PatientRef(identifiers=((name, str(identifier["value"])),))
    raise business_rule(
        "Name the patient as Patient/<id>, or by an identifier (SNILS, OMS).", [path]
    )


def _loinc(concept: dict[str, Any], path: str) -> tuple[str, str]:
    for coding in concept.get("coding") or []:
        if coding.get("system") == systems.LOINC and coding.get("code"):
            return str(coding["code"]), str(coding.get("display") or concept.get("text") or "")
    raise business_rule("Code it in LOINC (http://loinc.org).", [path])


def _placer_number(resource: dict[str, Any]) -> str:
    for index, based_on in enumerate(resource.get("basedOn") or []):
        identifier = based_on.get("identifier") or {}
        if identifier.get("system") == PLACER_NUMBER and identifier.get("value"):
            return str(identifier["value"])
        ident = referenced(str(based_on.get("reference") or ""), "ServiceRequest")
        order = DiagnosticOrder.objects.filter(uuid=ident).first() if ident else None
        if order is None:
            raise business_rule(
                "basedOn names the order: ServiceRequest/<id> of a FarCare diagnostic order, or "
                f"its placer number ({PLACER_NUMBER}).",
                [f"{REPORT}.basedOn[{index}]"],
            )
        return order.placer_number
    return ""


def _filler_number(identifiers: list[dict[str, Any]]) -> str:
    for item in identifiers:
        codes = {c.get("code") for c in (item.get("type") or {}).get("coding") or []}
        if item.get("system") == FILLER_NUMBER or (
            "FILL" in codes
            and any(
                c.get("system") == IDENTIFIER_TYPE
                for c in (item.get("type") or {}).get("coding") or []
            )
        ):
            return str(item.get("value") or "")
    return ""


def _moment(raw: Any, path: str) -> datetime | None:
    if not raw:
        return None
    try:
        moment = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    except ValueError as error:
        raise business_rule(f"{raw!r} is not a FHIR dateTime.", [path]) from error
    if moment.tzinfo is None:
        if "T" in str(raw):
            raise business_rule("Give the time with its zone.", [path])
        moment = moment.replace(tzinfo=UTC)
    return moment


def _result(
    position: int, observation: dict[str, Any], report: dict[str, Any], patient: PatientRef
) -> ResultIn:
    path = f"{REPORT}.contained[{observation.get('id')}]"
    validated("Observation", {**observation, "resourceType": "Observation"})
    subject = observation.get("subject")
    if subject and subject != report.get("subject"):
        raise business_rule("Each Observation is about the report's patient.", [f"{path}.subject"])
    code, display = _loinc(observation.get("code") or {}, f"{path}.code")
    value_type, value, unit = _value(observation, path)
    performer = next(
        (
            str(item.get("display") or item.get("reference") or "")
            for item in observation.get("performer") or []
        ),
        "",
    )
    return ResultIn(
        sequence=position,
        code=code,
        display=display,
        value_type=value_type,
        value=value,
        unit=unit,
        reference_range=_range(observation.get("referenceRange") or []),
        flags=_flags(observation.get("interpretation") or []),
        status=str(observation.get("status") or ""),
        effective_at=_moment(
            observation.get("effectiveDateTime")
            or (observation.get("effectivePeriod") or {}).get("start"),
            f"{path}.effective[x]",
        ),
        performer=performer,
    )


def _value(observation: dict[str, Any], path: str) -> tuple[str, str, str]:
    quantity = observation.get("valueQuantity")
    if quantity is not None:
        if quantity.get("value") is None:
            raise business_rule("valueQuantity needs a value.", [f"{path}.valueQuantity.value"])
        system = quantity.get("system")
        if system and system != systems.UCUM:
            raise business_rule(
                f"Units are UCUM ({systems.UCUM}).", [f"{path}.valueQuantity.system"]
            )
        unit = str(quantity.get("code") or quantity.get("unit") or "")
        comparator = str(quantity.get("comparator") or "")
        if comparator:
            # "<0.01" is not 0.01: kept as the text it is (as HL7 SN with a comparator is), so
            # no range, critical limit or troponin rule reads it as an exact number.
            return "ST", f"{comparator}{_decimal_text(quantity['value'])}", unit
        return "NM", _decimal_text(quantity["value"]), unit
    if observation.get("valueString") is not None:
        return "ST", str(observation["valueString"]), ""
    concept = observation.get("valueCodeableConcept")
    if concept is not None:
        text = concept.get("text") or next(
            (
                str(c.get("display") or c.get("code"))
                for c in concept.get("coding") or []
                if c.get("display") or c.get("code")
            ),
            "",
        )
        return "CE", str(text), ""
    for kind in ("valueInteger", "valueDecimal"):
        if observation.get(kind) is not None:
            return "NM", _decimal_text(observation[kind]), ""
    if observation.get("status") in ("cancelled", "entered-in-error"):
        return "ST", "", ""
    raise business_rule(
        "Give the value as valueQuantity (UCUM), valueString or valueCodeableConcept.",
        [f"{path}.value[x]"],
    )


def _decimal_text(value: Any) -> str:
    return str(value)


def _range(ranges: list[dict[str, Any]]) -> str:
    if not ranges:
        return ""
    first = ranges[0]
    low = (first.get("low") or {}).get("value")
    high = (first.get("high") or {}).get("value")
    if low is not None and high is not None:
        return f"{low}-{high}"
    if high is not None:
        return f"<{high}"
    if low is not None:
        return f">{low}"
    return str(first.get("text") or "")


def _flags(interpretations: list[dict[str, Any]]) -> tuple[str, ...]:
    return tuple(
        str(coding["code"])
        for concept in interpretations
        for coding in (concept or {}).get("coding") or []
        if coding.get("system") in (INTERPRETATION, V2_FLAGS, None) and coding.get("code")
    )
