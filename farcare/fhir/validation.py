"""Validation against the FHIR R4 definitions (fhir.resources' R4B models, which share R4's
structure for every resource FarCare serves): a failure names the offending element's path."""

from __future__ import annotations

import importlib
from typing import Any

from pydantic import ValidationError

from .errors import bad_request

_MODULES = {
    "DocumentReference": "documentreference",
    "PractitionerRole": "practitionerrole",
    "ServiceRequest": "servicerequest",
    "AuditEvent": "auditevent",
    "OperationOutcome": "operationoutcome",
    "CapabilityStatement": "capabilitystatement",
}


def model_class(resource_type: str) -> Any:
    module = _MODULES.get(resource_type, resource_type.lower())
    return getattr(importlib.import_module(f"fhir.resources.R4B.{module}"), resource_type)


def _path(resource_type: str, location: tuple[Any, ...]) -> str:
    text = resource_type
    for part in location:
        if isinstance(part, int):
            text += f"[{part}]"
        elif part not in ("__root__",):
            text += f".{part}"
    return text


def validated(resource_type: str, resource: dict[str, Any]) -> Any:
    if not isinstance(resource, dict) or resource.get("resourceType") != resource_type:
        raise bad_request(f"Expected a {resource_type} resource.", [resource_type])
    try:
        return model_class(resource_type).model_validate(resource)
    except ValidationError as error:
        first = error.errors()[0]
        path = _path(resource_type, tuple(first.get("loc", ())))
        raise bad_request(f"{path}: {first.get('msg', 'invalid')}", [path]) from error
