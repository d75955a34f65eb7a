"""Transfers and evacuations (issue 16) as FHIR R4, each a part of a type FarCare already serves
(registry.register_part), so a client sees one ServiceRequest, Task, Encounter and Location type.

- ServiceRequest (id = the transfer's UUID): the transfer request. category SNOMED CT 107724000
  (patient transfer); orderDetail the condition (urn:farcare:transfer-condition: stemi,
  ischaemic_stroke, emergency, urgent, planned); priority stat (STEMI, stroke), asap (emergency),
  urgent, routine (planned); status active while open, on-hold while held, completed once
  handed over, revoked when cancelled, treated locally or the patient died; performer the
  receiving Organization, locationReference its Location; basedOn the consultation.
- Task (same id): the state machine. status requested (requested), accepted (bed confirmed),
  ready (transport assigned), in-progress (dispatched, on board, arrived), on-hold (held: the
  hold's reason in statusReason), completed (handed over), cancelled (cancelled; treated locally
  with statusReason), failed (the patient died); businessStatus our exact state
  (urn:farcare:transfer-status); focus the ServiceRequest.
- Encounter (same id): the stay at the receiving hospital. class EMER for STEMI, stroke and other
  emergencies, IMP otherwise; status planned until arrival, arrived, in-progress once handed over
  (FarCare does not record the discharge), cancelled when the patient never came;
  hospitalization.origin the sending facility's Location, admitSource hosp-trans;
  location[0] the receiving hospital's Location (R4's hospitalization.destination is where the
  patient goes AFTER the stay, so it is not used for the receiving hospital); period from arrival.
- Location (id = the base's UUID): an air-ambulance base (type urn:farcare:location-kind
  air-ambulance-base), its aircraft in an extension. Facilities stay Locations of network.py.
- Composition/<transfer id>/$document: the transfer summary as a document Bundle
  (`document_bundle`), assembled by `farcare.evacuation.handover` like the PDF.

Every resource names its patient, so like the consultation's resources it is scoped by
`visible_patients` (the receiving hospital's clinicians reach the patient by the policy); a
consultant abroad sees none of it.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from farcare.access.policy import visible_patients
from farcare.consults.models import VitalObservation
from farcare.evacuation.handover import (
    Handover,
    read_handover,
    stated_diagnoses,
    transfer_related,
)
from farcare.evacuation.models import (
    Aircraft,
    Transfer,
    TransferCondition,
    TransferStatus,
    TransportBase,
)
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .. import systems
from ..auth import Principal, authenticate
from ..errors import not_found
from ..registry import Handler, Include, SearchParam, register_part
from .clinical import _vital_resource
from .consultation.common import _organisation, _person, _when
from .network import folded

T = TransferStatus
TRANSFER_STATUS = "urn:farcare:transfer-status"
TRANSFER_CONDITION = "urn:farcare:transfer-condition"
LOCATION_KIND = "urn:farcare:location-kind"
AIRCRAFT_EXTENSION = "urn:farcare:extension:base-aircraft"
TRANSFER_CODE = {"system": systems.SNOMED, "code": "107724000", "display": "Patient transfer"}
TASK_CODE = "http://hl7.org/fhir/CodeSystem/task-code"
ACT_PRIORITY = "http://terminology.hl7.org/CodeSystem/v3-ActPriority"
ADMIT_SOURCE = "http://terminology.hl7.org/CodeSystem/admit-source"
LOINC_DOC = {"system": systems.LOINC, "code": "18761-7", "display": "Transfer summary note"}

SERVICE_REQUEST_STATUS: dict[str, str] = {
    T.REQUESTED: "active",
    T.ACCEPTED: "active",
    T.TRANSPORT_ASSIGNED: "active",
    T.DISPATCHED: "active",
    T.ON_BOARD: "active",
    T.ARRIVED: "active",
    T.HELD: "on-hold",
    T.HANDED_OVER: "completed",
    T.CANCELLED: "revoked",
    T.TREATED_LOCALLY: "revoked",
    T.DIED: "revoked",
}
TASK_STATUS: dict[str, str] = {
    T.REQUESTED: "requested",
    T.ACCEPTED: "accepted",
    T.TRANSPORT_ASSIGNED: "ready",
    T.DISPATCHED: "in-progress",
    T.ON_BOARD: "in-progress",
    T.ARRIVED: "in-progress",
    T.HELD: "on-hold",
    T.HANDED_OVER: "completed",
    T.CANCELLED: "cancelled",
    T.TREATED_LOCALLY: "cancelled",
    T.DIED: "failed",
}
ENCOUNTER_STATUS: dict[str, str] = {
    T.REQUESTED: "planned",
    T.ACCEPTED: "planned",
    T.TRANSPORT_ASSIGNED: "planned",
    T.DISPATCHED: "planned",
    T.ON_BOARD: "planned",
    T.HELD: "planned",
    T.ARRIVED: "arrived",
    T.HANDED_OVER: "in-progress",
    T.CANCELLED: "cancelled",
    T.TREATED_LOCALLY: "cancelled",
    T.DIED: "cancelled",
}
PRIORITY = {
    TransferCondition.STEMI: "stat",
    TransferCondition.ISCHAEMIC_STROKE: "stat",
    TransferCondition.EMERGENCY: "asap",
    TransferCondition.URGENT: "urgent",
    TransferCondition.PLANNED: "routine",
}
ACT_PRIORITY_OF = {"stat": "EM", "asap": "EM", "urgent": "UR", "routine": "R"}
EMERGENCIES = (
    TransferCondition.STEMI,
    TransferCondition.ISCHAEMIC_STROKE,
    TransferCondition.EMERGENCY,
)


def _mapped(mapping: dict[str, str]) -> Callable[[str, str, str], Q]:
    """A token over a FHIR status several of our states share."""

    def to_q(modifier: str, system: str, code: str) -> Q:
        statuses = [status for status, mapped in mapping.items() if mapped == code]
        condition = Q(status__in=statuses) if statuses else Q(pk__in=[])
        return ~condition if modifier == "not" else condition

    return to_q


def _business_status_q(modifier: str, system: str, code: str) -> Q:
    known = (not system or system == TRANSFER_STATUS) and code in T.values
    condition = Q(status=code) if known else Q(pk__in=[])
    return ~condition if modifier == "not" else condition


def _fixed(code_system: str, code: str) -> Callable[[str, str, str], Q]:
    def to_q(modifier: str, system: str, value: str) -> Q:
        matches = (not system or system == code_system) and value == code
        condition = Q() if matches else Q(pk__in=[])
        return ~condition if modifier == "not" else condition

    return to_q


def _class_q(modifier: str, system: str, code: str) -> Q:
    if system and system != systems.V3_ACT_CODE:
        condition = Q(pk__in=[])
    elif code == "EMER":
        condition = Q(condition__in=EMERGENCIES)
    elif code == "IMP":
        condition = ~Q(condition__in=EMERGENCIES)
    else:
        condition = Q(pk__in=[])
    return ~condition if modifier == "not" else condition


def _location(facility: Facility) -> dict[str, Any]:
    return {"reference": f"Location/{facility.uuid}", "display": facility.name_en}


def _patient_ref(obj: Transfer) -> dict[str, Any]:
    return {"reference": f"Patient/{obj.patient.uuid}"}


def _status_label(status: str) -> str:
    # Codes and displays of the API stay English whatever the client's language.
    with translation.override("en"):
        return str(T(status).label)


class TransferPart(Handler):
    """What the transfer's ServiceRequest, Task and Encounter share: the row and its scope."""

    model = Transfer
    updated_field = "updated_at"

    def all_objects(self) -> QuerySet[Any]:
        return Transfer.objects.select_related(
            "patient",
            "origin__organisation",
            "destination__organisation",
            "requested_by__practitioner",
            "consultation",
            "conclusion",
            "aircraft",
        )

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user))

    def patient_of(self, obj: Transfer) -> Patient | None:
        return obj.patient


@register_part
class TransferRequestHandler(TransferPart):
    resource_type = "ServiceRequest"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_mapped(SERVICE_REQUEST_STATUS)),
        "category": SearchParam("token", to_q=_fixed(systems.SNOMED, TRANSFER_CODE["code"])),
        "authored": SearchParam("date", "decided_at", sortable=True),
        "performer": SearchParam(
            "reference", "destination__organisation__uuid", target="Organization"
        ),
        "based-on": SearchParam("reference", "consultation__uuid", target="ServiceRequest"),
    }
    includes = (Include("patient", "Patient", "patient"),)

    def to_fhir(self, obj: Transfer) -> dict[str, Any]:
        priority = PRIORITY[TransferCondition(obj.condition)]
        resource: dict[str, Any] = {
            "resourceType": "ServiceRequest",
            "id": str(obj.uuid),
            "status": SERVICE_REQUEST_STATUS[obj.status],
            "intent": "order",
            "category": [{"coding": [TRANSFER_CODE]}],
            "priority": priority,
            "code": {"coding": [TRANSFER_CODE], "text": "Transfer to hospital"},
            "orderDetail": [
                {
                    "coding": [
                        {
                            "system": TRANSFER_CONDITION,
                            "code": obj.condition,
                            "display": TransferCondition(obj.condition).name.lower(),
                        }
                    ]
                }
            ],
            "subject": _patient_ref(obj),
            "authoredOn": _when(obj.decided_at),
            "requester": _person(obj.requested_by, obj.origin),
            "reasonCode": [{"text": obj.reason}],
        }
        stated = stated_diagnoses(obj.conclusion.diagnoses, "en") if obj.conclusion else []
        if stated:
            coding = [{"system": systems.ICD10, "code": d.code, "display": d.name} for d in stated]
            resource["reasonCode"].insert(0, {"coding": coding})
        if obj.destination is not None:
            resource["performer"] = [_organisation(obj.destination)]
            resource["locationReference"] = [_location(obj.destination)]
        if obj.consultation is not None:
            resource["basedOn"] = [{"reference": f"ServiceRequest/{obj.consultation.uuid}"}]
        return resource


@register_part
class TransferTaskHandler(TransferPart):
    resource_type = "Task"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_mapped(TASK_STATUS)),
        "business-status": SearchParam("token", to_q=_business_status_q),
        "focus": SearchParam("reference", "uuid", target="ServiceRequest"),
        "authored-on": SearchParam("date", "decided_at", sortable=True),
        # The consultation's Task sorts by its deadline; a transfer's period starts at dispatch.
        "period": SearchParam("date", "dispatched_at", sortable=True),
    }
    includes = (
        Include("focus", "ServiceRequest", ""),
        Include("patient", "Patient", "patient"),
    )

    def to_fhir(self, obj: Transfer) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": str(obj.uuid),
            "status": TASK_STATUS[obj.status],
            "businessStatus": {
                "coding": [
                    {
                        "system": TRANSFER_STATUS,
                        "code": obj.status,
                        "display": _status_label(obj.status),
                    }
                ],
                "text": obj.status,
            },
            "intent": "order",
            "priority": PRIORITY[TransferCondition(obj.condition)],
            "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{obj.uuid}"},
            "for": _patient_ref(obj),
            "authoredOn": _when(obj.decided_at),
            "lastModified": _when(obj.updated_at),
            "requester": _person(obj.requested_by, obj.origin),
        }
        reason = _status_reason(obj)
        if reason:
            resource["statusReason"] = {"text": reason}
        if obj.destination is not None:
            resource["owner"] = _organisation(obj.destination)
        if obj.dispatched_at is not None:
            period = {"start": _when(obj.dispatched_at)}
            end = obj.handed_over_at or obj.ended_at
            if end is not None:
                period["end"] = _when(end)
            resource["executionPeriod"] = period
        return resource


def _status_reason(obj: Transfer) -> str:
    if obj.status == T.HELD:
        reason = obj.hold_reason or "held"
        if obj.hold_expected_until is not None:
            reason += f" (expected to go on {_when(obj.hold_expected_until)})"
        return reason
    if obj.status == T.TREATED_LOCALLY:
        return "treated locally" + (f": {obj.decision_note}" if obj.decision_note else "")
    if obj.status == T.DIED:
        return "the patient died"
    return ""


@register_part
class TransferEncounterHandler(TransferPart):
    resource_type = "Encounter"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_mapped(ENCOUNTER_STATUS)),
        "class": SearchParam("token", to_q=_class_q),
        "date": SearchParam("date", "arrived_at", sortable=True),
        "location": SearchParam("reference", "destination__uuid", target="Location"),
        "based-on": SearchParam("reference", "uuid", target="ServiceRequest"),
    }

    def to_fhir(self, obj: Transfer) -> dict[str, Any]:
        emergency = obj.condition in EMERGENCIES
        priority = ACT_PRIORITY_OF[PRIORITY[TransferCondition(obj.condition)]]
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": str(obj.uuid),
            "status": ENCOUNTER_STATUS[obj.status],
            "class": {
                "system": systems.V3_ACT_CODE,
                "code": "EMER" if emergency else "IMP",
                "display": "emergency" if emergency else "inpatient encounter",
            },
            "priority": {"coding": [{"system": ACT_PRIORITY, "code": priority}]},
            "subject": _patient_ref(obj),
            "basedOn": [{"reference": f"ServiceRequest/{obj.uuid}"}],
            "reasonCode": [{"text": obj.reason}],
            "hospitalization": {
                "origin": _location(obj.origin),
                "admitSource": {"coding": [{"system": ADMIT_SOURCE, "code": "hosp-trans"}]},
            },
        }
        if obj.destination is not None:
            arrived = obj.status in (T.ARRIVED, T.HANDED_OVER) or obj.arrived_at is not None
            resource["location"] = [
                {
                    "location": _location(obj.destination),
                    "status": "active" if arrived else "planned",
                }
            ]
            resource["serviceProvider"] = _organisation(obj.destination)
        if obj.arrived_at is not None:
            resource["period"] = {"start": _when(obj.arrived_at)}
        return resource


# --- air-ambulance bases ----------------------------------------------------------------------


def _base_type_q(modifier: str, system: str, code: str) -> Q:
    matches = (not system or system == LOCATION_KIND) and code == "air-ambulance-base"
    condition = Q() if matches else Q(pk__in=[])
    return ~condition if modifier == "not" else condition


@register_part
class TransportBaseHandler(Handler):
    resource_type = "Location"
    model = TransportBase
    search_params = {
        "name": SearchParam("string", "fhir_name", system="normalised"),
        "address-state": SearchParam("string", "region"),
        "type": SearchParam("token", to_q=_base_type_q),
    }

    def all_objects(self) -> QuerySet[Any]:
        return TransportBase.objects.select_related("settlement").prefetch_related("aircraft")

    def queryset(self, principal: Principal) -> QuerySet[Any]:
        # Where aircraft stand names no patient: any user of the API may read it.
        return self.all_objects().alias(fhir_name=folded("name_en", "name_ru", "name_ko"))

    def to_fhir(self, obj: TransportBase) -> dict[str, Any]:
        aircraft: list[Aircraft] = list(obj.aircraft.all())
        resource: dict[str, Any] = {
            "resourceType": "Location",
            "id": str(obj.uuid),
            "status": "active",
            "name": obj.name_en or obj.name_ru,
            "mode": "instance",
            "type": [
                {
                    "coding": [
                        {
                            "system": LOCATION_KIND,
                            "code": "air-ambulance-base",
                            "display": "Air-ambulance base",
                        }
                    ]
                }
            ],
            "address": {"city": obj.settlement.name_en, "state": obj.region},
            "position": {"latitude": obj.latitude, "longitude": obj.longitude},
        }
        if obj.name_ru and obj.name_ru != resource["name"]:
            resource["alias"] = [obj.name_ru]
        if aircraft:
            resource["extension"] = [
                {
                    "url": AIRCRAFT_EXTENSION,
                    "extension": [
                        {"url": "registration", "valueString": plane.registration},
                        {"url": "type", "valueString": plane.profile},
                        {"url": "status", "valueCode": plane.status},
                    ],
                }
                for plane in aircraft
            ]
        return resource

    def versioned_objects(self, instance: Any) -> list[Any]:
        if isinstance(instance, TransportBase):
            return [instance]
        if isinstance(instance, Aircraft):  # its aircraft are in the extension
            return [instance.base]
        return []


# --- the transfer summary as a document -------------------------------------------------------


def _entry(base: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": f"{base}/{resource['resourceType']}/{resource['id']}", "resource": resource}


def document_bundle(handover: Handover, base: str) -> dict[str, Any]:
    """The handover as a FHIR document: Composition first, then every resource it names."""
    from .patient import PatientHandler

    obj = handover.transfer
    patient = obj.patient
    patient_ref = {"reference": f"Patient/{patient.uuid}"}
    entries: list[dict[str, Any]] = [_entry(base, PatientHandler().to_fhir(patient))]
    entries.append(_entry(base, TransferRequestHandler().to_fhir(obj)))
    entries.append(_entry(base, TransferEncounterHandler().to_fhir(obj)))
    facilities = [f for f in (obj.origin, obj.destination) if f is not None]
    from .network import LocationHandler

    for facility in facilities:
        entries.append(_entry(base, LocationHandler().to_fhir(facility)))
    wanted = [v.uuid for v in handover.vital_values]
    vitals = VitalObservation.objects.filter(uuid__in=wanted).select_related(
        "patient", "consultation"
    )
    observations = []
    for vital in sorted(vitals, key=lambda v: (v.recorded_at, v.pk), reverse=True):
        try:
            observations.append(_vital_resource(vital))
        except KeyError:  # a reading of a kind FarCare no longer maps is left to the chart
            continue
    procedures = [
        {
            "resourceType": "Procedure",
            "id": t.uuid,
            "status": "completed",
            "code": {"text": t.description},
            "subject": patient_ref,
            "encounter": {"reference": f"Encounter/{obj.uuid}"},
            "performedDateTime": _when(t.given_at),
            "note": [{"text": f"by {t.by}"}] if t.by else [],
        }
        for t in handover.treatments
    ]
    for procedure in procedures:
        if not procedure["note"]:
            del procedure["note"]
    entries += [_entry(base, o) for o in observations]
    entries += [_entry(base, p) for p in procedures]

    def section(title: str, code: str, refs: list[str], text: str = "") -> dict[str, Any]:
        result: dict[str, Any] = {
            "title": title,
            "code": {"coding": [{"system": systems.LOINC, "code": code}]},
        }
        if refs:
            result["entry"] = [{"reference": ref} for ref in refs]
        elif not text:
            result["emptyReason"] = {
                "coding": [
                    {
                        "system": "http://terminology.hl7.org/CodeSystem/list-empty-reason",
                        "code": "nilknown",
                    }
                ]
            }
        if text:
            result["text"] = {"status": "generated", "div": _div(text)}
        return result

    conclusion = handover.conclusion
    conclusion_text = ""
    if conclusion is not None:
        diagnoses = "; ".join(f"{d.code} {d.name}" for d in conclusion.diagnoses)
        conclusion_text = (
            f"{diagnoses}\n{conclusion.findings}\n{conclusion.recommendations}\n"
            f"{conclusion.evacuation} — {conclusion.signer}"
        )
    files_text = "\n".join(
        f"{f.name} ({f.size} bytes)" + (f" {f.url}" if f.url else "") for f in handover.files
    )
    times = "\n".join(f"{m.label}: {_when(m.at) if m.at else '—'}" for m in handover.moments)
    if handover.estimate_minutes is not None:
        times = f"estimate {handover.estimate_minutes} min\n" + times
    sections = [
        section(
            "Reason for transfer",
            "42349-1",
            [f"ServiceRequest/{obj.uuid}"],
            f"{handover.condition}: {handover.reason}",
        ),
        section("Conclusion", "11488-4", [], conclusion_text),
        section("Vital signs", "8716-3", [f"Observation/{o['id']}" for o in observations]),
        section("Treatment given", "29549-3", [f"Procedure/{p['id']}" for p in procedures]),
        section("Files", "55107-7", [], files_text),
        section("Times", "8653-8", [f"Encounter/{obj.uuid}"], times),
    ]
    composition: dict[str, Any] = {
        "resourceType": "Composition",
        "id": str(obj.uuid),
        "identifier": {"system": "urn:farcare:transfer", "value": str(obj.uuid)},
        "status": "final" if obj.is_final else "preliminary",
        "type": {"coding": [LOINC_DOC]},
        "subject": patient_ref,
        "encounter": {"reference": f"Encounter/{obj.uuid}"},
        "date": _when(timezone.now()),
        # Compiled for the sending facility, from what its staff and consultants recorded.
        "author": [_organisation(obj.origin)],
        "title": f"Transfer summary: {handover.origin} → {handover.destination}",
        "section": sections,
    }
    return {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "identifier": {"system": "urn:ietf:rfc:3986", "value": f"urn:uuid:{uuid.uuid4()}"},
        "type": "document",
        "timestamp": _when(timezone.now()),
        "entry": [_entry(base, composition), *entries],
    }


def _div(text: str) -> str:
    from xml.sax.saxutils import escape

    lines = "<br/>".join(escape(line) for line in text.splitlines() if line.strip())
    return f'<div xmlns="http://www.w3.org/1999/xhtml">{lines or "—"}</div>'


def document(request: HttpRequest, logical_id: str) -> HttpResponse:
    """GET /fhir/Composition/<transfer id>/$document: the transfer summary as a document."""
    from ..views import base_url, fhir_endpoint, fhir_response

    @fhir_endpoint
    def view(request: HttpRequest) -> HttpResponse:
        principal = authenticate(request)
        principal.require("ServiceRequest", "read")
        transfer = (
            Transfer.objects.select_related(*transfer_related()).filter(uuid=logical_id).first()
            if _is_uuid(logical_id)
            else None
        )
        if transfer is None:
            raise not_found(f"Composition/{logical_id} is not known.")
        handover = read_handover(
            accessor=principal.accessor,
            transfer=transfer,
            language="en",
            channel_detail="fhir document",
        )
        return fhir_response(document_bundle(handover, base_url(request)))

    return view(request)


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True
