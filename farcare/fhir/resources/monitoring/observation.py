"""Observation ↔ monitoring.HomeReading (issue 17): a reading taken at home, a part of the
Observation type beside vital signs and laboratory values (registry.register_part).

Rendered with category vital-signs (and urn:farcare:observation-category|home-monitoring), the
LOINC code of domain.md §11, the blood pressure as the 85354-9 panel with systolic 8480-6 and
diastolic 8462-4 components, device (display), how it came (urn:farcare:extension:reading-source),
the sender's identifier (which makes a resubmission harmless: the same reading comes back).

Which POSTed Observations are this part's (`claims`): those with no consultation or order context
(no basedOn, encounter or partOf; not category laboratory) whose code is a home measure and which
say they come from home: they name a device, carry the home-monitoring category, or their code is
one only home monitoring records on its own (the 85354-9 panel, body weight 29463-7, glucometer
glucose 14743-9). A pulse, an SpO2 or a temperature without a device or that category stays a
vital sign a station sends before its request (clinical.py), as before.

A create goes through `monitoring.services.readings.reading_record`, the service the pages, the
SMS webhook and the stations use: plausibility, idempotency, the plan's rules and their alerts.
A bad unit, an implausible value or a missing component is a 422 naming the element."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.accounts.models import Role
from farcare.monitoring.measures import (
    MEASURES,
    PANELS,
    READING_CODES,
    Code,
    check,
    glucose_mmol_per_l,
    quantities,
)
from farcare.monitoring.models import HomeReading, ReadingSource, ReadingStatus
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import FhirError, business_rule
from ...registry import Handler, Include, SearchParam, register_part
from ...validation import validated
from ..clinical import _effective, _patient_of_reference
from ..consultation.common import _person
from ..diagnostics.common import negated, nothing, number, patient_reference, when
from ..diagnostics.observation import is_laboratory
from .common import (
    CONVERTED_EXTENSION,
    HOME_CATEGORY_SYSTEM,
    SOURCE_EXTENSION,
    SOURCE_ID_SYSTEM,
)

VITAL_SIGNS = {"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}
HOME_CATEGORY = {"system": HOME_CATEGORY_SYSTEM, "code": "home-monitoring"}
OBSERVATION_CATEGORIES = [
    {"coding": [{**VITAL_SIGNS, "display": "Vital Signs"}]},
    {"coding": [{**HOME_CATEGORY, "display": "Home monitoring"}]},
]
# Codes only home monitoring records on their own: the vital-sign part refuses them.
HOME_ONLY_CODES = frozenset({Code.BP_PANEL, Code.WEIGHT, Code.GLUCOSE})
# Units a sender may write for a measure besides its UCUM unit (all mean the same quantity).
UNIT_ALIASES: dict[Code, frozenset[str]] = {
    Code.HEART_RATE: frozenset({"/min", "{beats}/min"}),
    Code.SYSTOLIC: frozenset({"mm[Hg]"}),
    Code.DIASTOLIC: frozenset({"mm[Hg]"}),
}
MG_PER_DL = "mg/dL"
# What a reading's POST consumes into the record; everything else is kept (remainder).
CONSUMED = frozenset(
    {
        "resourceType",
        "id",
        "meta",
        "status",
        "category",
        "code",
        "subject",
        "effectiveDateTime",
        "valueQuantity",
        "component",
        "device",
        "identifier",
    }
)


def _home_code_q(modifier: str, system: str, code: str) -> Q:
    if system and system != systems.LOINC:
        return negated(nothing(), modifier)
    return negated(Q(code=code), modifier)


def _component_code_q(modifier: str, system: str, code: str) -> Q:
    if system and system != systems.LOINC:
        return negated(nothing(), modifier)
    panels = [panel.value for panel, parts in PANELS.items() if code in parts]
    return negated(Q(code__in=panels) if panels else nothing(), modifier)


def _home_category_q(modifier: str, system: str, code: str) -> Q:
    matches = (code == "vital-signs" and system in ("", systems.OBSERVATION_CATEGORY)) or (
        code == "home-monitoring" and system in ("", HOME_CATEGORY_SYSTEM)
    )
    return negated(Q() if matches else nothing(), modifier)


def _reading_status_q(modifier: str, system: str, code: str) -> Q:
    statuses = {"final": ReadingStatus.FINAL, "entered-in-error": ReadingStatus.ENTERED_IN_ERROR}
    return negated(Q(status=statuses[code]) if code in statuses else nothing(), modifier)


def _identifier_q(modifier: str, system: str, value: str) -> Q:
    if system == SOURCE_ID_SYSTEM:
        condition = Q(source_id=value)
    elif system:
        condition = Q(source_id=f"{system}|{value}")
    else:
        condition = Q(source_id=value) | Q(source_id__endswith=f"|{value}")
    return negated(condition, modifier)


def _codes_of(resource: dict[str, Any]) -> list[str]:
    code = resource.get("code") if isinstance(resource.get("code"), dict) else {}
    return [
        str(coding.get("code"))
        for coding in (code or {}).get("coding") or []
        if isinstance(coding, dict) and coding.get("system") == systems.LOINC
    ]


def _has_home_category(resource: dict[str, Any]) -> bool:
    return any(
        isinstance(coding, dict)
        and coding.get("system") == HOME_CATEGORY_SYSTEM
        and coding.get("code") == "home-monitoring"
        for concept in resource.get("category") or []
        if isinstance(concept, dict)
        for coding in concept.get("coding") or []
    )


def is_home_reading(resource: dict[str, Any]) -> bool:
    """Whether a posted Observation is a home reading (see the module's docstring)."""
    if any(resource.get(key) for key in ("basedOn", "encounter", "partOf")):
        return False
    if is_laboratory(resource):
        return False
    codes = {code for code in _codes_of(resource) if code in {c.value for c in READING_CODES}}
    if not codes:
        return False
    if resource.get("device") or _has_home_category(resource):
        return True
    return bool(codes & {c.value for c in HOME_ONLY_CODES})


def _identifier(source_id: str) -> dict[str, str]:
    if "|" in source_id:
        system, value = source_id.split("|", 1)
        if system:
            return {"system": system, "value": value}
        return {"value": value}
    return {"system": SOURCE_ID_SYSTEM, "value": source_id}


def _quantity(code: Code, value: Decimal) -> dict[str, Any]:
    unit = MEASURES[code].unit
    return {"value": number(value), "unit": unit, "system": systems.UCUM, "code": unit}


def _code_concept(code: Code) -> dict[str, Any]:
    display = "Blood pressure panel" if code == Code.BP_PANEL else MEASURES[code].display
    return {
        "coding": [{"system": systems.LOINC, "code": code.value, "display": display}],
        "text": display,
    }


def reading_resource(obj: HomeReading) -> dict[str, Any]:
    code = Code(obj.code)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(obj.uuid),
        "status": "final" if obj.status == ReadingStatus.FINAL else "entered-in-error",
        "category": OBSERVATION_CATEGORIES,
        "code": _code_concept(code),
        "subject": patient_reference(obj.patient),
        "effectiveDateTime": when(obj.taken_at),
        "issued": when(obj.received_at),
    }
    if obj.source_id:
        resource["identifier"] = [_identifier(obj.source_id)]
    if code in PANELS:
        systolic, diastolic = PANELS[code]
        resource["component"] = [
            {"code": _code_concept(systolic), "valueQuantity": _quantity(systolic, obj.value)},
            {
                "code": _code_concept(diastolic),
                "valueQuantity": _quantity(diastolic, obj.value_2 or Decimal(0)),
            },
        ]
    else:
        resource["valueQuantity"] = _quantity(code, obj.value)
    if obj.device:
        resource["device"] = {"display": obj.device}
    if obj.source == ReadingSource.PATIENT:
        resource["performer"] = [patient_reference(obj.patient)]
    elif obj.entered_by is not None and obj.entered_by.role != Role.SYSTEM:
        resource["performer"] = [_person(obj.entered_by, None)]
    if obj.note:
        resource["note"] = [{"text": obj.note}]
    extensions = [{"url": SOURCE_EXTENSION, "valueCode": obj.source}]
    if obj.converted_from:
        extensions.append({"url": CONVERTED_EXTENSION, "valueString": obj.converted_from})
    resource["extension"] = extensions
    return resource


def _decimal(value: Any, path: str) -> Decimal:
    try:
        number_ = Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise business_rule(f"{value!r} is not a number.", [path]) from error
    if not number_.is_finite():
        raise business_rule(f"{value!r} is not a number.", [path])
    # A device that writes 120.0 means 120: trailing zeros are not precision (measures.check
    # refuses more decimals than a home device shows, which catches a misplaced comma).
    if number_ == number_.to_integral_value():
        return number_.quantize(Decimal(1))
    return number_.normalize()


def _value(code: Code, quantity: dict[str, Any] | None, path: str) -> tuple[Decimal, str]:
    """The value in the measure's unit, and the unit it was converted from ("" if none)."""
    measure = MEASURES[code]
    if not isinstance(quantity, dict) or quantity.get("value") is None:
        raise business_rule(
            f"Give {measure.display.lower()} as valueQuantity in {measure.unit}.",
            [f"{path}.value"],
        )
    value = _decimal(quantity["value"], f"{path}.value")
    system = quantity.get("system")
    unit = quantity.get("code") or quantity.get("unit") or ""
    if system and system != systems.UCUM:
        raise business_rule(
            f"{measure.display} is recorded in UCUM ({systems.UCUM}), not {system}.",
            [f"{path}.system"],
        )
    allowed = UNIT_ALIASES.get(code, frozenset({measure.unit}))
    if code == Code.GLUCOSE and unit == MG_PER_DL:
        return glucose_mmol_per_l(value), MG_PER_DL
    if unit not in allowed:
        accepted = " or ".join(sorted(allowed | ({MG_PER_DL} if code == Code.GLUCOSE else set())))
        raise business_rule(
            f"{measure.display} is recorded in {accepted}, not {unit or 'no unit'}.",
            [f"{path}.code"],
        )
    return value, ""


PROBLEMS = {
    "out_of_range": "is outside what a home device can measure ({low}–{high} {unit})",
    "unexpected_decimals": "has more decimals than a home device shows ({decimals})",
    "systolic_not_above_diastolic": "has a systolic pressure not above the diastolic",
}


def _plausible(code: Code, values: dict[Code, Decimal], path: str) -> None:
    """measures.quantities' checks with a message naming the measure (422, not a 500)."""
    try:
        quantities(code, values)
    except ValueError as error:
        # The first quantity that is wrong names itself; a swapped pair names the panel.
        wrong = next((part for part in values if check(part, values[part]) is not None), None)
        measure = MEASURES[wrong] if wrong is not None else None
        problem = str(check(wrong, values[wrong])) if wrong is not None else str(error)
        name = measure.display if measure is not None else "Blood pressure"
        text = PROBLEMS.get(problem, problem)
        if measure is not None:
            text = text.format(
                low=measure.low, high=measure.high, unit=measure.unit, decimals=measure.decimals
            )
        shown = "/".join(str(value) for value in values.values())
        raise business_rule(f"{name} {shown} {text}.", [path]) from error


def _readings_in(resource: dict[str, Any]) -> tuple[Code, Decimal, Decimal | None, str]:
    codes = [code for code in _codes_of(resource) if code in {c.value for c in READING_CODES}]
    if not codes:
        known = ", ".join(c.value for c in READING_CODES)
        raise business_rule(
            f"Observation.code must be a home measure: {known}.", ["Observation.code"]
        )
    code = Code(codes[0])
    if code in PANELS:
        if resource.get("valueQuantity") is not None:
            raise business_rule(
                "A blood pressure panel carries its values as components (systolic 8480-6, "
                "diastolic 8462-4), not valueQuantity.",
                ["Observation.valueQuantity"],
            )
        found: dict[Code, Decimal] = {}
        for index, component in enumerate(resource.get("component") or []):
            part = next(
                (Code(c) for c in _codes_of(component) if c in {p.value for p in PANELS[code]}),
                None,
            )
            if part is None:
                continue
            path = f"Observation.component[{index}].valueQuantity"
            found[part], _converted = _value(part, component.get("valueQuantity"), path)
        missing = [MEASURES[part].display for part in PANELS[code] if part not in found]
        if missing:
            raise business_rule(
                f"The blood pressure panel lacks a component: {', '.join(missing)} "
                f"({', '.join(p.value for p in PANELS[code] if p not in found)}).",
                ["Observation.component"],
            )
        _plausible(code, found, "Observation.component")
        systolic, diastolic = (found[part] for part in PANELS[code])
        return code, systolic, diastolic, ""
    value, converted = _value(code, resource.get("valueQuantity"), "Observation.valueQuantity")
    _plausible(code, {code: value}, "Observation.valueQuantity.value")
    return code, value, None, converted


def _source_id(resource: dict[str, Any]) -> str:
    for identifier in resource.get("identifier") or []:
        if isinstance(identifier, dict) and identifier.get("value"):
            system = identifier.get("system") or ""
            value = str(identifier["value"])
            text = value if system == SOURCE_ID_SYSTEM else f"{system}|{value}"
            if len(text) > 200:
                raise business_rule(
                    "The identifier is longer than 200 characters.", ["Observation.identifier"]
                )
            return text
    return ""


DEVICE_MAX_CHARS = 200  # HomeReading.device


def _device(resource: dict[str, Any]) -> str:
    device = resource.get("device")
    if not isinstance(device, dict):
        return ""
    text = device.get("display") or device.get("reference") or ""
    identifier = device.get("identifier")
    if not text and isinstance(identifier, dict):
        text = identifier.get("value") or ""
    text = str(text)
    if len(text) > DEVICE_MAX_CHARS:
        # Refused, not cut: a cut name may read as another device, and the sender would not know.
        raise business_rule(
            f"The device's name is longer than {DEVICE_MAX_CHARS} characters.",
            ["Observation.device"],
        )
    return text


def _source(principal: Principal, device: str) -> str:
    if device or principal.user.role == Role.SYSTEM:
        return ReadingSource.DEVICE
    if principal.user.role == Role.PATIENT:
        return ReadingSource.PATIENT
    return ReadingSource.CLINICIAN


def _service_error(error: ValidationError) -> FhirError:
    return business_rule(" ".join(error.messages) or "The reading cannot be stored.")


@register_part
class HomeReadingObservationHandler(Handler):
    resource_type = "Observation"
    model = HomeReading
    updated_field = "updated_at"
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "code": SearchParam("token", to_q=_home_code_q),
        "component-code": SearchParam("token", to_q=_component_code_q),
        "category": SearchParam("token", to_q=_home_category_q),
        "date": SearchParam("date", "taken_at", sortable=True),
        "status": SearchParam("token", to_q=_reading_status_q),
        "identifier": SearchParam("token", to_q=_identifier_q),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
    )

    def all_objects(self) -> QuerySet[HomeReading]:
        return HomeReading.objects.select_related("patient", "entered_by__practitioner")

    def queryset(self, principal: Principal) -> QuerySet[HomeReading]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: HomeReading) -> Patient:
        return obj.patient

    def claims(self, resource: dict[str, Any]) -> bool:
        return is_home_reading(resource)

    def to_fhir(self, obj: HomeReading) -> dict[str, Any]:
        return reading_resource(obj)

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        return [instance] if isinstance(instance, HomeReading) else []

    def create(self, principal: Principal, resource: dict[str, Any]) -> HomeReading:
        from farcare.monitoring.services.readings import ReadingIn, reading_record

        observation = validated("Observation", resource)
        if resource.get("status") != "final":
            raise business_rule(
                "FarCare records final readings only: send status 'final'.", ["Observation.status"]
            )
        subject = resource.get("subject") or {}
        patient = _patient_of_reference(str(subject.get("reference") or ""), "Observation.subject")
        code, value, value_2, converted = _readings_in(resource)
        taken_at: datetime = _effective(observation)
        device = _device(resource)
        remainder = {key: value for key, value in resource.items() if key not in CONSUMED}
        try:
            result = reading_record(
                accessor=principal.accessor,
                patient=patient,
                readings=[
                    ReadingIn(
                        code=code.value,
                        value=value,
                        value_2=value_2,
                        taken_at=taken_at,
                        converted_from=converted,
                    )
                ],
                source=ReadingSource(_source(principal, device)),
                device=device,
                source_id=_source_id(resource),
                remainder=remainder or None,
            )
        except ValidationError as error:
            raise _service_error(error) from error
        return self.all_objects().get(pk=result.readings[0].pk)
