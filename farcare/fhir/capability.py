"""GET /fhir/metadata: the CapabilityStatement, built from the registry so that it lists exactly
what the server does."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from .registry import REGISTRY, _load
from .search import CONTROL

INTERACTION_CODES = {
    "read": "read",
    "vread": "vread",
    "history-instance": "history-instance",
    "search-type": "search-type",
    "create": "create",
    "update": "update",
    "delete": "delete",
}

# Operations (operations.py): system-level bulk export, and per resource type.
SYSTEM_OPERATIONS = [
    {"name": "export", "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/export"}
]
RESOURCE_OPERATIONS = {
    "Patient": [
        {
            "name": "everything",
            "definition": "http://hl7.org/fhir/OperationDefinition/Patient-everything",
        },
        {
            "name": "export",
            "definition": "http://hl7.org/fhir/uv/bulkdata/OperationDefinition/patient-export",
        },
    ]
}

# What a client needs to know beyond the search parameters, per resource type.
RESOURCE_DOCUMENTATION = {
    "Observation": (
        "Vital signs in LOINC with UCUM units: respiratory rate 9279-1 (/min), SpO2 59408-5 or "
        "2708-6 (%), systolic blood pressure 8480-6 (mm[Hg]), diastolic blood pressure 8462-4 "
        "(mm[Hg], an Observation of its own, not scored by NEWS2), heart rate 8867-4 (/min), body "
        "temperature 8310-5 (Cel), inhaled oxygen flow 3151-8 (L/min), level of consciousness "
        "67775-7 (valueCodeableConcept of urn:farcare:acvpu: A, C, V, P, U). Supplemental oxygen "
        "for NEWS2 is accepted in either standard form: a component coded LOINC 3151-8 with a "
        "valueQuantity in L/min on the SpO2 Observation (FHIR vital-signs profile), or an "
        "Observation coded 3151-8 of its own; a flow above 0 L/min means 'on oxygen' and scores "
        "2. A flow for a patient recorded as breathing air is refused (422). Send basedOn "
        "ServiceRequest/<id> to add a reading to a consultation and have its NEWS2 rescored. "
        "Laboratory values (category laboratory) are read and searched here too: LOINC, "
        "valueQuantity in UCUM, referenceRange, interpretation (v3-ObservationInterpretation "
        "N, L, H, LL, HH, A); a corrected value is a new version of the same Observation "
        "(status corrected, the earlier value in _history). They are created with their "
        "DiagnosticReport, not on their own. Home readings of remote monitoring (issue 17) are "
        "Observations too: a device or gateway POSTs one (status final, subject Patient/<id>, "
        "effectiveDateTime with its zone, a device, or category "
        "urn:farcare:observation-category|home-monitoring, and no basedOn) coded LOINC 85354-9 "
        "(blood pressure panel: components 8480-6 and 8462-4 in mm[Hg]), 8867-4 (/min), 29463-7 "
        "(kg), 14743-9 (mmol/L; mg/dL is converted), 59408-5 (%) or 8310-5 (Cel); 85354-9, "
        "29463-7 and 14743-9 are home readings even without a device. An identifier makes a "
        "resubmission harmless (the same Observation comes back, 200). An implausible value, a "
        "wrong unit or a missing component is refused with 422 naming the element. The plan's "
        "rules run at once: an alert is a DetectedIssue."
    ),
    "CarePlan": (
        "Read and search only: a remote-monitoring enrolment (issue 17). category the programme "
        "(SNOMED CT 38341003, 73211009, 84114007, 77386006, and urn:farcare:monitoring-programme "
        "for all, the only coding of after_discharge); activity one per measure watched, with "
        "its frequency; contributor and the contained CareTeam the responsible feldsher and "
        "doctor; the chart's target bands in urn:farcare:extension:monitoring-target."
    ),
    "DetectedIssue": (
        "Read and search only: an alert of remote monitoring (issue 17). severity high, moderate "
        "or low (critical, urgent, watch); code urn:farcare:monitoring-alert-kind (threshold, "
        "repeated_threshold, trend, missed_reading); implicated the readings; status "
        "preliminary (open or escalated: the exact state in urn:farcare:extension:alert-status), "
        "final once acknowledged (mitigation), cancelled when the enrolment ended first."
    ),
    "ServiceRequest": (
        "A teleconsultation request (category SNOMED CT 11429006), or a diagnostic order: "
        "category 108252007 (laboratory) or 363679005 (imaging), the tests as LOINC in code and "
        "orderDetail, reasonCode.text the reason, priority routine/urgent/asap/stat, an optional "
        "performer Organization (else the network routes it), basedOn the consultation, and a "
        "client token identifier (urn:farcare:client-token) that makes a resubmission harmless. "
        "FarCare gives the placer number (urn:farcare:placer-number). A placed order can "
        "only be cancelled: PUT it unchanged with status revoked and the reason in the "
        "extension http://hl7.org/fhir/StructureDefinition/request-statusReason "
        "(valueCodeableConcept.text) or a new note; the laboratory it was sent to is told "
        "(HL7 ORC-1 CA). Any other change is refused with 422; If-Match is honoured (412)."
    ),
    "DiagnosticReport": (
        "POST a laboratory report with its Observations contained and named in result "
        "(#id), or in a transaction Bundle whose result names the Observation entries by "
        "fullUrl. Patient as Patient/<id> or by SNILS/OMS identifier; basedOn the order "
        "(ServiceRequest/<id> or its placer number); codes LOINC, units UCUM. A report that "
        "cannot be stored is refused with 422 and the reason. Imaging reports are signed by the "
        "radiologist in FarCare and are read here (imagingStudy, conclusion, conclusionCode). "
        "presentedForm is the report as PDF (a released laboratory report, a signed imaging "
        "report): read Binary/<the report's id> with the same token."
    ),
    "Specimen": (
        "Read and search only. status: unavailable (to be collected), available (collected, "
        "shipped, received), unsatisfactory (rejected: the reason in condition). The stage is "
        "in the extension urn:farcare:extension:specimen-stage."
    ),
    "ImagingStudy": (
        "Read and search only. With a PACS configured, endpoint names its DICOMweb (WADO-RS) "
        "service as a contained Endpoint."
    ),
    "Appointment": (
        "A call of a real-time or consilium consultation. POST books a free Slot: status "
        "booked, slot [Slot/<id>], basedOn [ServiceRequest/<consultation id>]; start and end "
        "are the slot's. PUT status cancelled (cancelationReason.text the reason) or noshow "
        "(the other side did not come). A call moved to another time is cancelled with "
        "cancelationReason 'rescheduled'; the new one names it in the extension "
        "urn:farcare:extension:appointment-replaces."
    ),
    "Slot": "Read and search only: status free, busy (booked) or busy-unavailable (removed).",
    "Patient": (
        "FarCare's record holds the official name (family; given[0] the given name, given[1] "
        "the patronymic), gender (male, female, other, unknown), the full birth date "
        "(YYYY-MM-DD; a year or month alone is refused with 422), SNILS and OMS identifiers, "
        "the first phone and managingOrganization (the home organisation). Every other element "
        "sent is kept with the record and returned as sent."
    ),
}
REST_DOCUMENTATION = (
    "Writes keep every element sent: what FarCare's record holds is mapped into it (values it "
    "normalises or derives, such as displays, are returned in FarCare's form); everything else "
    "is kept with the resource, versioned with it, and returned on read, search and history. "
    "An element the record owns and cannot honour is refused with 422 naming it. A request "
    "body is limited in size and nesting (413, 400); a transaction or batch Bundle carries at "
    "most FARCARE_FHIR_MAX_BUNDLE_ENTRIES entries (413 beyond)."
)


def capability_statement(base: str) -> dict[str, Any]:
    _load()
    resources = []
    for resource_type in sorted(REGISTRY):
        handler = REGISTRY[resource_type]
        entry: dict[str, Any] = {
            "type": resource_type,
            "interaction": [
                {"code": INTERACTION_CODES[name]}
                for name in sorted(handler.interactions)
                if name in INTERACTION_CODES
            ],
            "versioning": "versioned-update",
            "readHistory": True,
            "updateCreate": False,
            "conditionalCreate": "create" in handler.interactions,
            "conditionalUpdate": False,
            "conditionalDelete": "not-supported",
            "searchParam": [
                {"name": name, "type": param.type}
                for name, param in sorted(handler.search_params.items())
            ]
            + [{"name": "_id", "type": "token"}]
            + ([{"name": "_lastUpdated", "type": "date"}] if handler.updated_field else []),
        }
        if resource_type in RESOURCE_DOCUMENTATION:
            entry["documentation"] = RESOURCE_DOCUMENTATION[resource_type]
        if resource_type in RESOURCE_OPERATIONS:
            entry["operation"] = RESOURCE_OPERATIONS[resource_type]
        if handler.includes:
            entry["searchInclude"] = [f"{resource_type}:{i.param}" for i in handler.includes]
        revincludes = [
            f"{other.resource_type}:{i.param}"
            for other in REGISTRY.values()
            for i in other.includes
            if i.target == resource_type
        ]
        if revincludes:
            entry["searchRevInclude"] = sorted(revincludes)
        resources.append(entry)
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": timezone.now().date().isoformat(),
        "kind": "instance",
        "software": {"name": "FarCare"},
        "implementation": {"description": "FarCare FHIR R4 API", "url": base},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "rest": [
            {
                "mode": "server",
                "documentation": REST_DOCUMENTATION,
                "security": {
                    "cors": False,
                    "service": [
                        {
                            "coding": [
                                {
                                    "system": "http://terminology.hl7.org/CodeSystem/restful-security-service",
                                    "code": "SMART-on-FHIR",
                                }
                            ]
                        }
                    ],
                    "extension": [
                        {
                            "url": "http://fhir-registry.smarthealthit.org/StructureDefinition/oauth-uris",
                            "extension": [{"url": "token", "valueUri": f"{base}/auth/token"}],
                        }
                    ],
                },
                "resource": resources,
                "interaction": [{"code": "transaction"}, {"code": "batch"}],
                "operation": SYSTEM_OPERATIONS,
                "searchParam": [
                    {"name": name, "type": "special" if name != "_count" else "number"}
                    for name in sorted(
                        CONTROL & {"_count", "_sort", "_include", "_revinclude", "_summary"}
                    )
                ],
            }
        ],
    }


def metadata(request: HttpRequest) -> HttpResponse:
    from .views import base_url, fhir_endpoint, fhir_response

    @fhir_endpoint
    def view(request: HttpRequest) -> HttpResponse:
        return fhir_response(capability_statement(base_url(request)))

    return view(request)
