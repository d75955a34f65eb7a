"""Observation (vital signs and the NEWS2 total) and Consent.

Observation ↔ consults.VitalObservation: one Observation per vital sign that has a LOINC code
(respiratory rate, SpO2, inhaled oxygen flow, systolic pressure, pulse, consciousness as ACVPU,
temperature). "Air or oxygen" and the SpO2 scale have no standalone LOINC vital-sign code: they
are components of the NEWS2 Observation, whose score they change, and a recorded oxygen flow is
also a 3151-8 component of the SpO2 Observation (as in the FHIR vital-signs profile).

The NEWS2 total of a consultation is a derived Observation with the id
uuid5(consultation uuid, "news2"). It has no row of its own: `find` resolves its id, and search
lists the vital-sign rows only (see `_code_q`).

Consent ↔ patients.Consent: created through consent_record, revoked by an update to status
"inactive" (consent_revoke); never deleted.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone, translation

from farcare.access.policy import Action, Decision, visible_patients
from farcare.access.services import require
from farcare.audit.models import AuditAction
from farcare.audit.services import Audited, audit_record, audit_records
from farcare.clinical.news2 import SNOMED_CT_NEWS2_TOTAL, Risk, news2_score
from farcare.clinical.vitals import (
    VITALS,
    Acvpu,
    VitalKind,
    VitalSpec,
    parse_acvpu,
    parse_boolean,
    parse_vitals,
)
from farcare.consults.models import OPEN_STATUSES, Consultation, Status, VitalObservation
from farcare.core.db.inserts import insert_rows
from farcare.patients import services as patient_services
from farcare.patients.models import Consent, ConsentKind, Patient

from .. import systems
from ..auth import Principal
from ..errors import FhirError, business_rule
from ..registry import Handler, Include, SearchParam, register
from ..validation import validated
from ..versioning import latest

# FarCare's own code systems (no standard code exists for these concepts).
ACVPU_SYSTEM = "urn:farcare:acvpu"
VITAL_SYSTEM = "urn:farcare:vital"  # a vital sign without a LOINC code, by its VITALS key
NEWS2_RISK_SYSTEM = "urn:farcare:news2-risk"
CONSENT_KIND_SYSTEM = "urn:farcare:consent-kind"
REVOCATION_REASON_URL = "urn:farcare:extension:consent-revocation-reason"

CONSENT_SCOPE_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentscope"
CONSENT_ACTION_SYSTEM = "http://terminology.hl7.org/CodeSystem/consentaction"
PURPOSE_OF_USE_SYSTEM = "http://terminology.hl7.org/CodeSystem/v3-ActReason"
CONSENT_DOCUMENT = "59284-0"  # LOINC "Consent Document"
# The vital-signs profile's blood-pressure panel (systolic and diastolic as components).
BP_PANEL_CODE = "85354-9"
SPO2_PROFILE_CODE = "2708-6"  # LOINC "Oxygen saturation in Arterial blood" (vital-signs profile)
NEWS2_DISPLAY = "Royal College of Physicians National Early Warning Score 2 (NEWS2) total score"
VITAL_SIGNS_CATEGORY = {
    "coding": [
        {"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs", "display": "Vital Signs"}
    ]
}
SURVEY_CATEGORY = {
    "coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "survey", "display": "Survey"}]
}
# A reading timestamped this far ahead of the server's clock is a wrong clock, not a reading.
CLOCK_SKEW = timedelta(minutes=5)


def _instant(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _reference_id(reference: str, resource_type: str) -> str:
    """The id in "Type/<id>" (or an absolute URL ending so), or "" for another type."""
    parts = reference.rstrip("/").split("/")
    if len(parts) < 2 or parts[-2] != resource_type:
        return ""
    try:
        return str(uuid.UUID(parts[-1]))
    except ValueError:
        return ""


def _patient_of_reference(reference: str, path: str) -> Patient:
    ident = _reference_id(reference, "Patient")
    patient = Patient.objects.filter(uuid=ident).first() if ident else None
    if patient is None:
        raise business_rule("Name a patient known to FarCare as Patient/<id>.", [path])
    return patient


def _patients_of_references(references: list[str], path: str) -> list[Patient]:
    """`_patient_of_reference` of each of `references`, in one query."""
    idents = [_reference_id(reference, "Patient") for reference in references]
    found = {
        str(patient.uuid): patient
        for patient in Patient.objects.filter(uuid__in={i for i in idents if i}).order_by()
    }
    if not all(ident in found for ident in idents):
        raise business_rule("Name a patient known to FarCare as Patient/<id>.", [path])
    return [found[ident] for ident in idents]


def _number(value: str) -> int | float:
    number = Decimal(value)
    return int(number) if number == number.to_integral_value() else float(number)


# --- Observation ----------------------------------------------------------------------------


def news2_id(consultation: Consultation) -> uuid.UUID:
    """The logical id of the NEWS2 Observation of a consultation."""
    return uuid.uuid5(consultation.uuid, "news2")


@dataclass(frozen=True)
class News2:
    """The NEWS2 total of a consultation as an Observation. Its `pk` is that of its first coded
    vital sign, so the framework's scope checks (`queryset(...).filter(pk=...)`) ask exactly
    whether the principal may see the vital signs it was derived from."""

    consultation: Consultation
    vitals: tuple[VitalObservation, ...]

    @property
    def uuid(self) -> uuid.UUID:
        return news2_id(self.consultation)

    @property
    def pk(self) -> int:
        return next(vital.pk for vital in self.vitals if vital.loinc)

    @property
    def patient(self) -> Patient:
        return self.consultation.patient

    @property
    def recorded_at(self) -> datetime:
        return max(vital.recorded_at for vital in self.vitals)


def news2_of(consultation: Consultation) -> News2 | None:
    """The NEWS2 Observation of a consultation, when a score was computed from coded vitals."""
    if consultation.news2_total is None:
        return None
    vitals = tuple(consultation.vitals.order_by("pk"))
    if not any(vital.loinc for vital in vitals):
        return None
    return News2(consultation, vitals)


def _code_q(modifier: str, system: str, code: str) -> Q:
    """Search lists vital signs: LOINC codes (2708-6 finds the SpO2 readings too). The NEWS2
    total has no row to list; it is read by its id (ServiceRequest.supportingInfo names it), so
    asking search for it is refused rather than answered with a misleading empty bundle."""
    if code == SNOMED_CT_NEWS2_TOTAL and system in ("", systems.SNOMED):
        raise FhirError(
            400,
            "not-supported",
            "NEWS2 totals are not searchable: read Observation/<id> as named in the "
            "consultation's ServiceRequest.supportingInfo. Search lists vital signs.",
            expression=["code"],
        )
    if system and system != systems.LOINC:
        return Q(pk__in=[])
    if code == SPO2_PROFILE_CODE:
        code = VITALS["spo2"].loinc
    condition = Q(loinc=code)
    return ~condition if modifier == "not" else condition


def _category_q(modifier: str, system: str, code: str) -> Q:
    matches = code == "vital-signs" and system in ("", systems.OBSERVATION_CATEGORY)
    if modifier == "not":
        matches = not matches
    return Q(pk__isnull=False) if matches else Q(pk__in=[])


def _final_q(modifier: str, system: str, code: str) -> Q:
    matches = code == "final"
    if modifier == "not":
        matches = not matches
    return Q(pk__isnull=False) if matches else Q(pk__in=[])


def _quantity(spec: VitalSpec, value: str) -> dict[str, Any]:
    return {
        "value": _number(value),
        "unit": spec.units.get("en", spec.ucum),
        "system": systems.UCUM,
        "code": spec.ucum,
    }


def _acvpu_concept(letter: str) -> dict[str, Any]:
    level = parse_acvpu(letter)
    if level is None:
        return {"text": letter}
    with translation.override("en"):
        display = str(level.label)
    return {"coding": [{"system": ACVPU_SYSTEM, "code": level.value, "display": display}]}


def _vital_code(spec: VitalSpec) -> dict[str, Any]:
    codings = [{"system": systems.LOINC, "code": spec.loinc, "display": spec.loinc_display}]
    if spec.key == "spo2":
        codings.append(
            {
                "system": systems.LOINC,
                "code": SPO2_PROFILE_CODE,
                "display": "Oxygen saturation in Arterial blood",
            }
        )
    return {"coding": codings, "text": spec.names["en"]}


def _siblings(vital: VitalObservation) -> dict[str, VitalObservation]:
    if vital.consultation is None:
        return {}
    return {other.key: other for other in vital.consultation.vitals.all()}


@register
class ObservationHandler(Handler):
    resource_type = "Observation"
    model = VitalObservation
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "code": SearchParam("token", to_q=_code_q),
        "category": SearchParam("token", to_q=_category_q),
        "date": SearchParam("date", "recorded_at", sortable=True),
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
        # Every vital sign is recorded final (a laboratory value may be preliminary or corrected).
        "status": SearchParam("token", to_q=_final_q),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
        Include("based-on", "ServiceRequest", "consultation"),
    )

    def all_objects(self) -> QuerySet[VitalObservation]:
        # "Air or oxygen" and the SpO2 scale are parts of other Observations, not their own.
        return (
            VitalObservation.objects.exclude(loinc="")
            .select_related("patient", "consultation__patient")
            .prefetch_related("consultation__vitals")
        )

    def queryset(self, principal: Principal) -> QuerySet[VitalObservation]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def find(self, logical_id: str) -> VitalObservation | News2 | None:
        vital = super().find(logical_id)
        if vital is not None:
            return vital
        consultation = _news2_consultation(uuid.UUID(logical_id))
        return news2_of(consultation) if consultation is not None else None

    def patient_of(self, obj: VitalObservation | News2) -> Patient:
        return obj.patient

    def to_fhir(self, obj: VitalObservation | News2) -> dict[str, Any]:
        if isinstance(obj, News2):
            return _news2_resource(obj)
        return _vital_resource(obj)

    # --- writes ---------------------------------------------------------------------------

    def create(self, principal: Principal, resource: dict[str, Any]) -> VitalObservation:
        observation, spec = _final_reading(resource)
        patient = _patient_of_reference(_subject(observation), "Observation.subject")
        decision = require(accessor=principal.accessor, patient=patient, action=Action.UPDATE)
        value = _value_of(spec, observation)
        recorded_at = _effective(observation)
        flow = _flow_component(spec, observation)
        consultation = _based_on(observation, patient, spec)
        if consultation is not None and flow is not None:
            _check_not_recorded(consultation, VITALS["oxygen_flow"], "Observation.component")
        vital = VitalObservation.objects.create(
            patient=patient,
            consultation=consultation,
            key=spec.key,
            loinc=spec.loinc,
            value=value,
            unit=spec.ucum,
            recorded_at=recorded_at,
        )
        if flow is not None:  # the vital-signs profile's way of saying "on oxygen"
            flow_spec = VITALS["oxygen_flow"]
            VitalObservation.objects.create(
                patient=patient,
                consultation=consultation,
                key=flow_spec.key,
                loinc=flow_spec.loinc,
                value=flow,
                unit=flow_spec.ucum,
                recorded_at=recorded_at,
            )
        if consultation is not None:
            _rescore(consultation, recorded_at)
        audit_record(
            accessor=principal.accessor,
            action=AuditAction.CREATE,
            patient_uuid=patient.uuid,
            record=vital,
            purpose=decision.purpose,
            details={"fhir": "Observation", "vital": spec.key},
        )
        return VitalObservation.objects.select_related("patient", "consultation").get(pk=vital.pk)

    # --- many readings at once (a station's transaction of vital signs) ----------------------

    creates_many = True
    # A reading of no consultation renders from its own fields and its patient, loaded.
    created_as_stored = True

    def creates_at_once(self, resource: dict[str, Any]) -> Handler | None:
        # One by one: a reading for a consultation (it locks the request, which is rescored)
        # and an SpO2 with its oxygen flow (two rows, one resource).
        if resource.get("basedOn") or resource.get("component"):
            return None
        return self

    def create_many(
        self, principal: Principal, resources: list[dict[str, Any]]
    ) -> list[VitalObservation]:
        """`create` of readings of no consultation, in a constant number of statements: the
        patients in one query, the policy asked once per patient, one INSERT of the readings
        and one of their audit records."""
        readings = [_final_reading(resource) for resource in resources]
        patients = _patients_of_references(
            [_subject(observation) for observation, _spec in readings], "Observation.subject"
        )
        decisions: dict[int, Decision] = {}
        for patient in patients:
            if patient.pk not in decisions:
                decisions[patient.pk] = require(
                    accessor=principal.accessor, patient=patient, action=Action.UPDATE
                )
        vitals = [
            VitalObservation(
                patient=patient,
                consultation=None,
                key=spec.key,
                loinc=spec.loinc,
                value=_value_of(spec, observation),
                unit=spec.ucum,
                recorded_at=_effective(observation),
            )
            for (observation, spec), patient in zip(readings, patients, strict=True)
        ]
        insert_rows(vitals)
        audit_records(
            records=[
                Audited(
                    accessor=principal.accessor,
                    action=AuditAction.CREATE,
                    patient_uuid=vital.patient.uuid,
                    record=vital,
                    purpose=decisions[vital.patient.pk].purpose,
                    details={"fhir": "Observation", "vital": vital.key},
                )
                for vital in vitals
            ]
        )
        return vitals


def _news2_consultation(wanted: uuid.UUID) -> Consultation | None:
    """The consultation whose NEWS2 Observation has this id. uuid5 cannot be inverted: the
    stored versions of the resource name its ServiceRequest; a NEWS2 never served before is
    found by computing the ids of the consultations that have a score."""
    scored = Consultation.objects.filter(news2_total__isnull=False).select_related("patient")
    version = latest("Observation", str(wanted))
    if version is not None:
        for based_on in version.content.get("basedOn", []):
            ident = _reference_id(based_on.get("reference", ""), "ServiceRequest")
            consultation = scored.filter(uuid=ident).first() if ident else None
            if consultation is not None and news2_id(consultation) == wanted:
                return consultation
    for pk, consultation_uuid in scored.values_list("pk", "uuid").iterator(chunk_size=2000):
        if uuid.uuid5(consultation_uuid, "news2") == wanted:
            return scored.get(pk=pk)
    return None


def _vital_resource(vital: VitalObservation) -> dict[str, Any]:
    spec = VITALS[vital.key]
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(vital.uuid),
        "status": "final",
        "category": [VITAL_SIGNS_CATEGORY],
        "code": _vital_code(spec),
        "subject": {"reference": f"Patient/{vital.patient.uuid}"},
        "effectiveDateTime": _instant(vital.recorded_at),
    }
    if vital.consultation is not None:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{vital.consultation.uuid}"}]
    if spec.kind is VitalKind.CODED:
        resource["valueCodeableConcept"] = _acvpu_concept(vital.value)
    else:
        resource["valueQuantity"] = _quantity(spec, vital.value)
    flow = _siblings(vital).get("oxygen_flow") if vital.key == "spo2" else None
    if flow is not None:
        flow_spec = VITALS["oxygen_flow"]
        resource["component"] = [
            {"code": _vital_code(flow_spec), "valueQuantity": _quantity(flow_spec, flow.value)}
        ]
    return resource


def _news2_resource(news2: News2) -> dict[str, Any]:
    consultation = news2.consultation
    band = consultation.news2_band
    with translation.override("en"):
        band_display = str(Risk(band).label) if band in Risk.values else band
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": str(news2.uuid),
        "status": "final",
        "category": [SURVEY_CATEGORY],
        "code": {
            "coding": [
                {"system": systems.SNOMED, "code": SNOMED_CT_NEWS2_TOTAL, "display": NEWS2_DISPLAY}
            ],
            "text": "NEWS2 total score",
        },
        "subject": {"reference": f"Patient/{consultation.patient.uuid}"},
        "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
        "effectiveDateTime": _instant(news2.recorded_at),
        "valueInteger": consultation.news2_total,
        "derivedFrom": [
            {"reference": f"Observation/{vital.uuid}"} for vital in news2.vitals if vital.loinc
        ],
    }
    if band:
        resource["interpretation"] = [
            {
                "coding": [{"system": NEWS2_RISK_SYSTEM, "code": band, "display": band_display}],
                "text": f"{band_display} clinical risk",
            }
        ]
    components = []
    for vital in news2.vitals:
        if vital.key == "on_oxygen":
            on_oxygen = parse_boolean(vital.value) is True
            components.append(
                {
                    "code": {
                        "coding": [{"system": VITAL_SYSTEM, "code": "on_oxygen"}],
                        "text": "Supplemental oxygen (NEWS2 'air or oxygen')",
                    },
                    "valueBoolean": on_oxygen,
                }
            )
        elif vital.key == "spo2_scale" and vital.value.isdigit():
            components.append(
                {
                    "code": {
                        "coding": [{"system": VITAL_SYSTEM, "code": "spo2_scale"}],
                        "text": "NEWS2 SpO2 scale",
                    },
                    "valueInteger": int(vital.value),
                }
            )
    if components:
        resource["component"] = components
    missing = _missing_parameters(news2.vitals)
    if missing:
        resource["note"] = [{"text": "Partial score, not measured: " + ", ".join(missing) + "."}]
    return resource


def _missing_parameters(vitals: tuple[VitalObservation, ...]) -> list[str]:
    try:
        result = news2_score({vital.key: vital.value for vital in vitals})
    except ValueError:
        return []
    return [VITALS[key].names["en"] for key in result.missing if key in VITALS]


def _final_reading(resource: dict[str, Any]) -> tuple[Any, VitalSpec]:
    """The validated Observation and the vital sign it records, or the refusal of either."""
    observation = validated("Observation", resource)
    if observation.status != "final":
        raise business_rule(
            "FarCare records final readings only: send status 'final'.", ["Observation.status"]
        )
    return observation, _spec_of(observation)


def _subject(observation: Any) -> str:
    return (observation.subject.reference if observation.subject else "") or ""


def _spec_of(observation: Any) -> VitalSpec:
    codings = observation.code.coding or []
    for coding in codings:
        if coding.system != systems.LOINC:
            continue
        code = VITALS["spo2"].loinc if coding.code == SPO2_PROFILE_CODE else coding.code
        for spec in VITALS.values():
            if spec.loinc and spec.loinc == code:
                return spec
    if any(c.system == systems.LOINC and c.code == BP_PANEL_CODE for c in codings):
        raise business_rule(
            f"FarCare records the blood pressure as two Observations, not a panel: send the "
            f"systolic ({VITALS['systolic_bp'].loinc}) and the diastolic "
            f"({VITALS['diastolic_bp'].loinc}) each as its own Observation (in one transaction "
            f"Bundle to keep them together); the {BP_PANEL_CODE} panel is not stored.",
            ["Observation.code"],
        )
    known = ", ".join(
        f"{spec.loinc} ({spec.names['en']})" for spec in VITALS.values() if spec.loinc
    )
    raise business_rule(
        f"Observation.code must be a vital sign FarCare records, as LOINC: {known}.",
        ["Observation.code"],
    )


def _value_of(spec: VitalSpec, observation: Any) -> str:
    """The value as VitalObservation stores it, checked against what a living patient can have
    (clinical.vitals) so that a typo never reaches the consultant or the NEWS2 score."""
    language = translation.get_language() or "en"
    if spec.kind is VitalKind.CODED:
        concept = observation.valueCodeableConcept
        letters = []
        if concept is not None:
            letters = [c.code for c in concept.coding or [] if c.system in (ACVPU_SYSTEM, None)]
            letters += [concept.text] if concept.text else []
        level: Acvpu | None = next(
            (found for letter in letters if letter and (found := parse_acvpu(letter))), None
        )
        if level is None:
            raise business_rule(
                f"Give the level of consciousness as valueCodeableConcept with a code of "
                f"{ACVPU_SYSTEM}: A, C, V, P or U.",
                ["Observation.valueCodeableConcept"],
            )
        return str(level.value)
    quantity = observation.valueQuantity
    if quantity is None or quantity.value is None:
        raise business_rule(
            f"Give {spec.names['en'].lower()} as valueQuantity in {spec.ucum}.",
            ["Observation.valueQuantity.value"],
        )
    if (quantity.system and quantity.system != systems.UCUM) or (
        quantity.code and quantity.code != spec.ucum
    ):
        raise business_rule(
            f"{spec.names['en']} is recorded in {spec.ucum} ({systems.UCUM}).",
            ["Observation.valueQuantity.code"],
        )
    values, errors = parse_vitals({spec.key: str(quantity.value)}, language)
    if spec.key in errors:
        raise business_rule(errors[spec.key], ["Observation.valueQuantity.value"])
    return str(values[spec.key])


def _effective(observation: Any) -> datetime:
    moment = observation.effectiveDateTime
    if moment is None:
        if observation.effectivePeriod or observation.effectiveInstant:
            raise business_rule(
                "Give the time of the reading as effectiveDateTime.",
                ["Observation.effectiveDateTime"],
            )
        return timezone.now()
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise business_rule(
            "effectiveDateTime needs a time with its zone, such as 2025-01-20T07:30:00+12:00.",
            ["Observation.effectiveDateTime"],
        )
    if moment > timezone.now() + CLOCK_SKEW:
        raise business_rule(
            "effectiveDateTime is in the future: check the device's clock.",
            ["Observation.effectiveDateTime"],
        )
    return moment


def _based_on(observation: Any, patient: Patient, spec: VitalSpec) -> Consultation | None:
    references = [ref.reference for ref in observation.basedOn or [] if ref.reference]
    if not references:
        return None
    path = ["Observation.basedOn[0]"]
    ident = _reference_id(references[0], "ServiceRequest")
    consultation = (
        Consultation.objects.select_for_update(of=("self",))
        .select_related("patient")
        .filter(uuid=ident)
        .first()
        if ident
        else None
    )
    if consultation is None or consultation.patient_id != patient.pk:
        raise business_rule(
            "basedOn must name a consultation request (ServiceRequest) of the same patient.", path
        )
    if consultation.status not in (Status.DRAFT, *OPEN_STATUSES):
        raise business_rule(
            "This consultation is closed: vital signs can no longer be added to it.", path
        )
    _check_not_recorded(consultation, spec, path[0])
    return consultation


def _check_not_recorded(consultation: Consultation, spec: VitalSpec, path: str) -> None:
    if consultation.vitals.filter(key=spec.key).exists():
        raise business_rule(
            f"{spec.names['en']} is already recorded for this consultation.", [path]
        )


def _flow_component(spec: VitalSpec, observation: Any) -> str | None:
    """The inhaled oxygen flow (LOINC 3151-8) given as a component of an SpO2 reading, as the
    FHIR vital-signs profile has it; None when there is none."""
    if spec.key != "spo2":
        return None
    flow_spec = VITALS["oxygen_flow"]
    for index, component in enumerate(observation.component or []):
        codings = component.code.coding or [] if component.code else []
        if not any(c.system == systems.LOINC and c.code == flow_spec.loinc for c in codings):
            continue
        path = f"Observation.component[{index}].valueQuantity"
        quantity = component.valueQuantity
        if quantity is None or quantity.value is None:
            raise business_rule("Give the oxygen flow as valueQuantity in L/min.", [path])
        if (quantity.system and quantity.system != systems.UCUM) or (
            quantity.code and quantity.code != flow_spec.ucum
        ):
            raise business_rule(
                f"The oxygen flow is recorded in {flow_spec.ucum} ({systems.UCUM}).",
                [f"{path}.code"],
            )
        language = translation.get_language() or "en"
        values, errors = parse_vitals({"oxygen_flow": str(quantity.value)}, language)
        if errors:
            raise business_rule(errors["oxygen_flow"], [f"{path}.value"])
        return str(values["oxygen_flow"])
    return None


def _rescore(consultation: Consultation, recorded_at: datetime) -> None:
    """NEWS2 of the consultation again, now that a vital sign was added to it. An oxygen flow
    above 0 means the patient is on oxygen (as on the request form); a flow recorded for a
    patient marked as breathing air is a contradiction to resolve, not to score."""
    raw = {vital.key: vital.value for vital in consultation.vitals.all()}
    values, errors = parse_vitals(raw, translation.get_language() or "en")
    if "on_oxygen" in errors:
        raise business_rule(errors["on_oxygen"], ["Observation"])
    if values.get("on_oxygen") is True and "on_oxygen" not in raw:
        VitalObservation.objects.create(
            patient=consultation.patient,
            consultation=consultation,
            key="on_oxygen",
            value=str(True),  # as consults.services stores it
            recorded_at=recorded_at,
        )
    result = news2_score({vital.key: vital.value for vital in consultation.vitals.all()})
    scored = bool(result.parameters_scored)
    consultation.news2_total = result.total if scored else None
    consultation.news2_band = str(result.band) if scored else ""
    consultation.suggested_form = str(result.suggested_form) if scored else ""
    consultation.save(update_fields=["news2_total", "news2_band", "suggested_form", "updated_at"])


# --- Consent --------------------------------------------------------------------------------

CONSENT_SCOPE: dict[str, tuple[str, str]] = {
    ConsentKind.TREATMENT: ("treatment", "Treatment"),
    ConsentKind.TELECONSULTATION: ("treatment", "Treatment"),
    ConsentKind.TRANSFER_ABROAD: ("patient-privacy", "Privacy Consent"),
}
# What each kind permits: (consent action, purpose of use).
CONSENT_PROVISION: dict[str, tuple[str, str]] = {
    ConsentKind.TREATMENT: ("use", "TREAT"),
    ConsentKind.TELECONSULTATION: ("disclose", "TREAT"),
    ConsentKind.TRANSFER_ABROAD: ("disclose", "TREAT"),
}


def _status_q(modifier: str, system: str, code: str) -> Q:
    if code == "active":
        condition = Q(revoked_at__isnull=True)
    elif code == "inactive":
        condition = Q(revoked_at__isnull=False)
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


def _consent_category_q(modifier: str, system: str, code: str) -> Q:
    if system in ("", systems.LOINC) and code == CONSENT_DOCUMENT:
        condition = Q(pk__isnull=False)
    elif system in ("", CONSENT_KIND_SYSTEM) and code in ConsentKind.values:
        condition = Q(kind=code)
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


@register
class ConsentHandler(Handler):
    resource_type = "Consent"
    model = Consent
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update"}
    )
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_status_q),
        "category": SearchParam("token", to_q=_consent_category_q),
        "date": SearchParam("date", "granted_at", sortable=True),
    }
    includes = (Include("patient", "Patient", "patient"),)

    def all_objects(self) -> QuerySet[Consent]:
        return Consent.objects.select_related(
            "patient", "recorded_by__facility__organisation", "revoked_by"
        )

    def queryset(self, principal: Principal) -> QuerySet[Consent]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: Consent) -> Patient:
        return obj.patient

    def to_fhir(self, obj: Consent) -> dict[str, Any]:
        scope_code, scope_display = CONSENT_SCOPE.get(obj.kind, ("treatment", "Treatment"))
        action, purpose = CONSENT_PROVISION.get(obj.kind, ("use", "TREAT"))
        with translation.override("en"):
            kind_display = (
                str(ConsentKind(obj.kind).label) if obj.kind in ConsentKind.values else ""
            )
        period: dict[str, str] = {"start": _instant(obj.granted_at)}
        if obj.revoked_at is not None:
            period["end"] = _instant(obj.revoked_at)
        resource: dict[str, Any] = {
            "resourceType": "Consent",
            "id": str(obj.uuid),
            "status": "active" if obj.is_active else "inactive",
            "scope": {
                "coding": [
                    {"system": CONSENT_SCOPE_SYSTEM, "code": scope_code, "display": scope_display}
                ],
                "text": obj.scope,
            },
            "category": [
                {
                    "coding": [
                        {
                            "system": systems.LOINC,
                            "code": CONSENT_DOCUMENT,
                            "display": "Consent Document",
                        }
                    ]
                },
                {
                    "coding": [
                        {"system": CONSENT_KIND_SYSTEM, "code": obj.kind, "display": kind_display}
                    ]
                },
            ],
            "patient": {"reference": f"Patient/{obj.patient.uuid}"},
            "dateTime": _instant(obj.granted_at),
            # The patient is the one who agrees (R4: "who is agreeing to the policy").
            "performer": [{"reference": f"Patient/{obj.patient.uuid}"}],
            "policyRule": {
                "coding": [{"system": systems.V3_ACT_CODE, "code": "OPTIN", "display": "opt-in"}]
            },
            "provision": {
                "type": "permit",
                "period": period,
                "action": [{"coding": [{"system": CONSENT_ACTION_SYSTEM, "code": action}]}],
                "purpose": [{"system": PURPOSE_OF_USE_SYSTEM, "code": purpose}],
            },
        }
        facility = obj.recorded_by.facility
        if facility is not None:
            resource["organization"] = [
                {
                    "reference": f"Organization/{facility.organisation.uuid}",
                    "display": facility.name_en,
                }
            ]
        if obj.revocation_reason:
            resource["extension"] = [
                {"url": REVOCATION_REASON_URL, "valueString": obj.revocation_reason}
            ]
        return resource

    # --- writes ---------------------------------------------------------------------------

    def create(self, principal: Principal, resource: dict[str, Any]) -> Consent:
        consent = validated("Consent", resource)
        if consent.status != "active":
            raise business_rule(
                "A new consent is recorded as given: status must be 'active'.", ["Consent.status"]
            )
        reference = consent.patient.reference if consent.patient else ""
        patient = _patient_of_reference(reference or "", "Consent.patient")
        kind = _kind_of(consent)
        scope = (consent.scope.text or "").strip() if consent.scope else ""
        if not scope:
            raise business_rule(
                "Say what the consent covers in Consent.scope.text.", ["Consent.scope.text"]
            )
        try:
            recorded = patient_services.consent_record(
                accessor=principal.accessor, patient=patient, kind=kind, scope=scope
            )
        except ValidationError as error:
            raise _consent_error(error) from error
        return self.all_objects().get(pk=recorded.pk)

    def update(self, principal: Principal, obj: Consent, resource: dict[str, Any]) -> Consent:
        """Only a revocation: status "inactive" (with an optional reason in the FarCare
        revocation-reason extension). Everything else of a consent is the record of what the
        patient agreed to, and stays."""
        consent = validated("Consent", resource)
        reference = consent.patient.reference if consent.patient else ""
        if _reference_id(reference or "", "Patient") != str(obj.patient.uuid):
            raise business_rule("A consent cannot move to another patient.", ["Consent.patient"])
        if consent.status == "active":
            if not obj.is_active:
                raise business_rule(
                    "A revoked consent stays revoked: record a new consent instead.",
                    ["Consent.status"],
                )
            return obj
        if consent.status != "inactive":
            raise business_rule(
                "Revoke a consent by setting status 'inactive'.", ["Consent.status"]
            )
        if not obj.is_active:
            return obj
        reason = next(
            (
                extension.valueString
                for extension in consent.extension or []
                if extension.url == REVOCATION_REASON_URL and extension.valueString
            ),
            "",
        )
        try:
            patient_services.consent_revoke(accessor=principal.accessor, consent=obj, reason=reason)
        except ValidationError as error:
            raise _consent_error(error) from error
        return obj


def _kind_of(consent: Any) -> str:
    for category in consent.category or []:
        for coding in category.coding or []:
            if coding.system == CONSENT_KIND_SYSTEM and coding.code in ConsentKind.values:
                return str(coding.code)
    raise business_rule(
        f"Say which consent this is: a category coding of {CONSENT_KIND_SYSTEM} with "
        f"{', '.join(ConsentKind.values)}.",
        ["Consent.category"],
    )


def _consent_error(error: ValidationError) -> FhirError:
    paths = {"kind": "Consent.category", "scope": "Consent.scope.text"}
    if hasattr(error, "error_dict"):
        field, errors = next(iter(error.error_dict.items()))
        return business_rule(" ".join(errors[0].messages), [paths.get(field, f"Consent.{field}")])
    return business_rule(" ".join(error.messages))


__all__ = [
    "ACVPU_SYSTEM",
    "CONSENT_KIND_SYSTEM",
    "VITAL_SYSTEM",
    "News2",
    "news2_id",
    "news2_of",
]
