"""ServiceRequest: the consultation request (domain.md §6), with its vitals and NEWS2."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.db.models.signals import post_save

from farcare.accounts.models import Role
from farcare.clinical.vitals import VITALS, VitalValue, parse_vitals
from farcare.consults import services
from farcare.consults.models import (
    Consultation,
    ConsultMode,
    Status,
    VitalObservation,
)
from farcare.network.models import (
    Specialty,
)
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import business_rule, conflict, not_allowed
from ...registry import Include, SearchParam, register
from ...validation import validated
from .common import (
    CANCELLED_THROUGH_FHIR,
    CLIENT_TOKEN,
    CONSULT_MODE,
    CONSULTATION,
    FORM_OF_PRIORITY,
    LANGUAGES,
    REQUEST_PATHS,
    SERVICE_REQUEST_STATUS,
    SPECIALTY,
    VITAL,
    VITAL_OF_LOINC,
    ConsultationHandler,
    _consultant,
    _organisation,
    _patient,
    _requester,
    _specialty,
    _when,
    active_assignments,
    as_fhir,
    client_token_q,
    fixed_code,
    is_uuid,
    mapped_status,
    news2_observation_id,
    performer_q,
    person_q,
    priority_q,
    referenced,
)


@dataclass
class _Request:
    """What a ServiceRequest asks for, in the terms of the consults services."""

    status: str
    patient: Patient
    client_token: uuid.UUID | None
    data: services.RequestData
    notes: list[str]
    # Readings posted before the request and named in supportingInfo.
    readings: list[VitalObservation]


def _request_of(resource: dict[str, Any]) -> _Request:
    validated("ServiceRequest", resource)
    status = resource.get("status", "")
    intent = resource.get("intent", "")
    if intent not in ("order", "original-order"):
        raise business_rule(
            "A consultation request is an order: set intent to 'order'.",
            ["ServiceRequest.intent"],
        )
    patient = _subject(resource)
    specialty = _specialty_of(resource)
    priority = resource.get("priority", "")
    if priority and priority not in FORM_OF_PRIORITY:
        raise business_rule(
            "The priority gives the form: stat (emergency), urgent, or routine (planned).",
            ["ServiceRequest.priority"],
        )
    notes = [str(note.get("text") or "") for note in resource.get("note") or []]
    language = str(resource.get("language") or "ru").split("-")[0].lower()
    if language not in LANGUAGES:
        raise business_rule(
            f"FarCare consultations are in {', '.join(LANGUAGES)}.", ["ServiceRequest.language"]
        )
    vitals, readings = _vitals_of(resource, patient, language)
    data = services.RequestData(
        specialty=specialty,
        form=str(FORM_OF_PRIORITY.get(priority, "")),
        question=notes[0] if notes else "",
        summary=notes[1] if len(notes) > 1 else "",
        mode=_mode_of(resource),
        language=language,
        vitals=vitals,
    )
    return _Request(
        status=status,
        patient=patient,
        client_token=_client_token_of(resource),
        data=data,
        notes=notes,
        readings=readings,
    )


def _subject(resource: dict[str, Any]) -> Patient:
    reference = (resource.get("subject") or {}).get("reference", "")
    ident = referenced(reference, "Patient")
    patient = Patient.objects.filter(uuid=ident).first() if ident else None
    if patient is None:
        raise business_rule(
            "subject must name a Patient of FarCare (Patient/<id>).", ["ServiceRequest.subject"]
        )
    return patient


def _specialty_of(resource: dict[str, Any]) -> Specialty:
    for coding in (resource.get("code") or {}).get("coding") or []:
        if coding.get("system") in (SPECIALTY, None) and coding.get("code"):
            specialty = Specialty.objects.filter(code=coding["code"]).first()
            if specialty is not None:
                return specialty
    raise business_rule(
        f"code must give the specialty asked, a code of {SPECIALTY}.", ["ServiceRequest.code"]
    )


def _mode_of(resource: dict[str, Any]) -> str:
    for index, extension in enumerate(resource.get("extension") or []):
        if extension.get("url") == CONSULT_MODE:
            mode = extension.get("valueCode") or extension.get("valueString") or ""
            if mode not in ConsultMode.values:
                raise business_rule(
                    f"The mode is one of {', '.join(ConsultMode.values)}.",
                    [f"ServiceRequest.extension[{index}]"],
                )
            return str(mode)
    return ConsultMode.DEFERRED


def _client_token_of(resource: dict[str, Any]) -> uuid.UUID | None:
    for index, identifier in enumerate(resource.get("identifier") or []):
        if identifier.get("system") == CLIENT_TOKEN:
            value = str(identifier.get("value") or "")
            if not is_uuid(value):
                raise business_rule(
                    "The client token is a UUID chosen by the client for this request.",
                    [f"ServiceRequest.identifier[{index}].value"],
                )
            return uuid.UUID(value)
    return None


def _observation_value(observation: dict[str, Any]) -> str:
    if "valueQuantity" in observation:
        return str(observation["valueQuantity"].get("value", ""))
    if "valueCodeableConcept" in observation:
        concept = observation["valueCodeableConcept"]
        codings = concept.get("coding") or []
        return str(codings[0].get("code", "") if codings else concept.get("text", ""))
    if "valueBoolean" in observation:
        return "true" if observation["valueBoolean"] else "false"
    for key in ("valueString", "valueInteger"):
        if key in observation:
            return str(observation[key])
    return ""


def _vitals_of(
    resource: dict[str, Any], patient: Patient, language: str
) -> tuple[dict[str, VitalValue], list[VitalObservation]]:
    """The vital signs of a request, checked as the request form checks them: readings of the
    patient posted before (named in supportingInfo), then contained Observations (LOINC, or
    `urn:farcare:vital` for those without a LOINC code)."""
    raw: dict[str, str] = {}
    where: dict[str, str] = {}
    readings: list[VitalObservation] = []
    named = [
        _reading_named(info) if isinstance(info, dict) else ""
        for info in resource.get("supportingInfo") or []
    ]
    kept = {
        str(reading.uuid): reading
        for reading in VitalObservation.objects.filter(
            uuid__in={ident for ident in named if ident}
        ).select_related("consultation")
    }
    for index, ident in enumerate(named):
        reading = kept.get(ident)
        if reading is None:  # not a reading FarCare keeps (the NEWS2 total is computed)
            continue
        path = f"ServiceRequest.supportingInfo[{index}]"
        if reading.patient_id != patient.pk:
            raise business_rule("This Observation is about another patient.", [path])
        if reading.key in raw:
            name = VITALS[reading.key].names["en"].lower()
            raise business_rule(
                f"supportingInfo names two readings of {name}: a request takes one of each "
                f"vital sign. Name the one the consultant should see.",
                [path],
            )
        raw[reading.key] = reading.value
        where[reading.key] = path
        readings.append(reading)
        flow = _flow_of(reading)
        if flow is not None and "oxygen_flow" not in raw:
            raw[flow.key] = flow.value
            where[flow.key] = path
            readings.append(flow)
    for index, contained in enumerate(resource.get("contained") or []):
        if contained.get("resourceType") != "Observation":
            continue
        for coding in (contained.get("code") or {}).get("coding") or []:
            system, code = coding.get("system"), coding.get("code", "")
            key = VITAL_OF_LOINC.get(code) if system == systems.LOINC else None
            if system == VITAL and code in VITALS:
                key = code
            if key is not None:
                raw[key] = _observation_value(contained)
                where[key] = f"ServiceRequest.contained[{index}]"
                readings = [reading for reading in readings if reading.key != key]
                break
    values, errors = parse_vitals(raw, language)
    if errors:
        key, message = next(iter(errors.items()))
        raise business_rule(message, [where.get(key, "ServiceRequest.contained")])
    return values, readings


def _reading_named(info: dict[str, Any]) -> str:
    """The id of the Observation a supportingInfo names, in canonical form, or ""."""
    ident = referenced(str(info.get("reference") or ""), "Observation")
    return str(uuid.UUID(ident)) if ident else ""


def _flow_of(reading: VitalObservation) -> VitalObservation | None:
    """The oxygen flow sent as a component of a loose SpO2 reading (stored beside it with the
    same time): it joins the request with the reading it was part of."""
    if reading.key != "spo2" or reading.consultation_id is not None:
        return None
    return VitalObservation.objects.filter(
        patient_id=reading.patient_id,
        consultation__isnull=True,
        key="oxygen_flow",
        recorded_at=reading.recorded_at,
    ).first()


def _check_readings(request: _Request, token: uuid.UUID) -> None:
    """A reading belongs to one request: the one with this client token, or none yet."""
    for reading in request.readings:
        consultation = reading.consultation
        if consultation is not None and consultation.client_token != token:
            raise business_rule(
                f"Observation/{reading.uuid} is part of another request already.",
                ["ServiceRequest.supportingInfo"],
            )


def _adopt(consultation: Consultation, readings: list[VitalObservation]) -> None:
    """The readings posted before the request become its own: they replace the copies the
    service stored of their values (from which it scored NEWS2), so supportingInfo names the
    Observations the client sent."""
    loose = [reading for reading in readings if reading.consultation_id is None]
    if not loose:
        return
    consultation.vitals.filter(key__in=[reading.key for reading in loose]).delete()
    # One UPDATE for all; each reading announced as its own save(update_fields=...) would be,
    # so its version (now with basedOn the request) is written at the commit.
    VitalObservation.objects.filter(pk__in=[reading.pk for reading in loose]).update(
        consultation=consultation
    )
    for reading in loose:
        reading.consultation = consultation
        post_save.send(
            sender=VitalObservation,
            instance=reading,
            created=False,
            update_fields=frozenset({"consultation"}),
            raw=False,
            using=reading._state.db,
        )


def _stored_vitals(consultation: Consultation) -> dict[str, VitalValue]:
    raw = {vital.key: vital.value for vital in consultation.vitals.all()}
    values, _errors = parse_vitals(raw, "en")
    return values


@register
class ServiceRequestHandler(ConsultationHandler):
    resource_type = "ServiceRequest"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update", "delete"}
    )
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=mapped_status(SERVICE_REQUEST_STATUS)),
        "priority": SearchParam("token", to_q=priority_q),
        "category": SearchParam("token", to_q=fixed_code(systems.SNOMED, CONSULTATION["code"])),
        "authored": SearchParam("date", "created_at", sortable=True),
        # References to people match a Practitioner or any of their PractitionerRoles.
        "requester": SearchParam(
            "reference", "requester__practitioner__roles__uuid", to_q=person_q("requester")
        ),
        "performer": SearchParam(
            "reference", "routed_facility__organisation__uuid", to_q=performer_q
        ),
        "code": SearchParam("token", "specialty__code", system=SPECIALTY),
        "identifier": SearchParam("token", to_q=client_token_q),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
    )

    def all_objects(self) -> QuerySet[Consultation]:
        # A draft discarded before it was sent was never a request: it is gone (410 after a
        # DELETE). Its Task and Encounter stay, cancelled.
        return super().all_objects().exclude(status=Status.CANCELLED, received_at__isnull=True)

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        performers = []
        if obj.routed_facility is not None:
            performers.append(_organisation(obj.routed_facility))
        performers += [_consultant(assignment) for assignment in active_assignments(obj)]
        # As clinical.observation_references has it (from the prefetched rows): the coded vital
        # signs are Observations, air/oxygen and the SpO2 scale are parts of the NEWS2 one.
        coded = sorted((v for v in obj.vitals.all() if v.loinc), key=lambda vital: vital.pk)
        supporting = [
            {"reference": f"Observation/{vital.uuid}", "display": VITALS[vital.key].names["en"]}
            if vital.key in VITALS
            else {"reference": f"Observation/{vital.uuid}"}
            for vital in coded
        ]
        if obj.news2_total is not None and coded:
            supporting.append(
                {"reference": f"Observation/{news2_observation_id(obj)}", "display": "NEWS2 total"}
            )
        supporting += [
            {"reference": f"DocumentReference/{document.uuid}", "display": document.original_name}
            for document in obj.attachments.all()
            if document.message_id is None and document.conclusion_id is None
        ]
        notes = [{"text": text} for text in (obj.question, obj.summary) if text.strip()]
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "language": obj.language,
            "extension": [{"url": CONSULT_MODE, "valueCode": obj.mode}],
            "identifier": [{"system": CLIENT_TOKEN, "value": str(obj.client_token)}],
            "status": SERVICE_REQUEST_STATUS[Status(obj.status)],
            "intent": "order",
            "category": [{"coding": [CONSULTATION], "text": "Teleconsultation"}],
            "priority": obj.fhir_priority,
            "code": _specialty(obj.specialty),
            "subject": _patient(obj),
            "authoredOn": _when(obj.created_at),
            "requester": _requester(obj),
            "performer": performers,
            "supportingInfo": supporting,
            "note": notes,
        }
        return {key: value for key, value in resource.items() if value != []}

    # --- writes ------------------------------------------------------------------------------

    def create(self, principal: Principal, resource: dict[str, Any]) -> Consultation:
        request = _request_of(resource)
        if request.status not in ("draft", "active"):
            raise business_rule(
                "A new request is sent as 'active', or kept as a 'draft'.",
                ["ServiceRequest.status"],
            )
        token = request.client_token or uuid.uuid4()
        existing = Consultation.objects.filter(client_token=token).first()
        if existing is not None:
            if existing.patient_id != request.patient.pk or not self.visible(principal, existing):
                raise conflict("This client token belongs to another request; choose a new one.")
            if existing.status != Status.DRAFT:
                return existing  # a retried submission: the request it already made
        return self._save(principal, request, token)

    def _save(self, principal: Principal, request: _Request, token: uuid.UUID) -> Consultation:
        _check_readings(request, token)
        accessor = principal.accessor
        patient, data = request.patient, request.data
        try:
            if request.status == "draft":
                if principal.user.role != Role.CLINICIAN:
                    raise PermissionDenied("Only a requesting clinician asks for a consultation.")
                consultation = services.consult_save_draft(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
            else:
                consultation = services.consult_submit(
                    accessor=accessor, patient=patient, client_token=token, data=data
                )
        except ValidationError as error:
            raise as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error
        _adopt(consultation, request.readings)
        return consultation

    def update(
        self, principal: Principal, obj: Consultation, resource: dict[str, Any]
    ) -> Consultation:
        request = _request_of(resource)
        if request.client_token is not None and request.client_token != obj.client_token:
            raise business_rule(
                "The client token of a request never changes.", ["ServiceRequest.identifier"]
            )
        if request.patient.pk != obj.patient_id:
            raise business_rule(
                "A request stays about the patient it was made for.", ["ServiceRequest.subject"]
            )
        if obj.status == Status.DRAFT:
            return self._update_draft(principal, obj, request)
        current = SERVICE_REQUEST_STATUS[Status(obj.status)]
        if request.status == current:
            if _content_changed(obj, request):
                raise business_rule(
                    "Only a draft can be edited; a sent request is changed through its thread "
                    "(Communication) or cancelled (status revoked).",
                    ["ServiceRequest"],
                )
            return obj
        try:
            if request.status == "revoked":
                return services.consult_cancel(
                    accessor=principal.accessor,
                    consultation=obj,
                    reason=_cancel_reason(obj, request.notes),
                )
            if request.status == "entered-in-error":
                return services.consult_transition(
                    accessor=principal.accessor,
                    consultation=obj,
                    target=Status.ENTERED_IN_ERROR,
                    note=_cancel_reason(obj, request.notes, ""),
                )
        except ValidationError as error:
            raise as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error
        raise business_rule(
            f"A request that is {current} cannot become {request.status or 'that'} here: the "
            "consultant moves it through its Task, and signing the conclusion completes it.",
            ["ServiceRequest.status"],
        )

    def _update_draft(
        self, principal: Principal, obj: Consultation, request: _Request
    ) -> Consultation:
        # The draft's vitals stay: those sent are added or replace a reading of the same sign.
        request.data.vitals = {**_stored_vitals(obj), **request.data.vitals}
        if request.status in ("draft", "active"):
            return self._save(principal, request, obj.client_token)
        if request.status == "revoked":
            raise business_rule(
                f"A draft is discarded with DELETE ServiceRequest/{obj.uuid}.",
                ["ServiceRequest.status"],
            )
        raise business_rule(
            "A draft is edited as 'draft' or sent as 'active'.", ["ServiceRequest.status"]
        )

    def delete(self, principal: Principal, obj: Consultation) -> None:
        if obj.status != Status.DRAFT:
            raise not_allowed(
                "Only a draft can be deleted; a sent request is cancelled (status revoked) "
                "and kept."
            )
        try:
            services.consult_transition(
                accessor=principal.accessor,
                consultation=obj,
                target=Status.CANCELLED,
                note="discarded through FHIR",
            )
        except ValidationError as error:
            raise as_fhir(error, REQUEST_PATHS, "ServiceRequest.status") from error


def _content_changed(obj: Consultation, request: _Request) -> bool:
    data = request.data
    return (
        data.question.strip() != obj.question.strip()
        or data.summary.strip() != obj.summary.strip()
        or data.form != obj.form
        or data.specialty.pk != obj.specialty_id
        or data.mode != obj.mode
    )


def _cancel_reason(
    obj: Consultation, notes: list[str], default: str = CANCELLED_THROUGH_FHIR
) -> str:
    """A note that is neither the question nor the summary says why; else a default."""
    known = {obj.question.strip(), obj.summary.strip(), ""}
    reasons = [note.strip() for note in notes if note.strip() not in known]
    return reasons[-1] if reasons else default
