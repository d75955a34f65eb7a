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
