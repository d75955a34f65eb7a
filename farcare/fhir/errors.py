"""Every FHIR error is an OperationOutcome with the right status code, never a 500 page."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from django.http import HttpResponse

FHIR_JSON = "application/fhir+json; charset=utf-8"


class FhirError(Exception):
    def __init__(
        self,
        status: int,
        code: str,
        diagnostics: str,
        *,
        expression: list[str] | None = None,
        severity: str = "error",
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(diagnostics)
        self.status = status
        self.code = code
        self.diagnostics = diagnostics
        self.expression = expression or []
        self.severity = severity
        self.headers = headers or {}

    def outcome(self) -> dict[str, Any]:
        return operation_outcome(self.severity, self.code, self.diagnostics, self.expression)

    def response(self) -> HttpResponse:
        response = HttpResponse(
            json.dumps(self.outcome(), ensure_ascii=False),
            status=self.status,
            content_type=FHIR_JSON,
        )
        for name, value in self.headers.items():
            response[name] = value
        return response


def operation_outcome(
    severity: str, code: str, diagnostics: str, expression: list[str] | None = None
) -> dict[str, Any]:
    issue: dict[str, Any] = {"severity": severity, "code": code, "diagnostics": diagnostics}
    if expression:
        issue["expression"] = expression
    return {"resourceType": "OperationOutcome", "issue": [issue]}


def bad_request(diagnostics: str, expression: list[str] | None = None) -> FhirError:
    return FhirError(400, "invalid", diagnostics, expression=expression)


def refuse_nul(texts: Iterable[str], where: str) -> None:
    """A NUL byte is never part of a FHIR string (the spec forbids control characters other than
    tab and line breaks) and PostgreSQL refuses it in text and JSON columns, so a request holding
    one is a 400 at the door, not a 500 when the audit trail or the query reaches the database."""
    if any("\x00" in text for text in texts):
        raise bad_request(f"{where} contains a NUL (0x00) byte, which FHIR does not allow.")


def not_found(diagnostics: str) -> FhirError:
    return FhirError(404, "not-found", diagnostics)


def forbidden(diagnostics: str) -> FhirError:
    return FhirError(403, "forbidden", diagnostics)


def not_allowed(diagnostics: str) -> FhirError:
    return FhirError(405, "not-supported", diagnostics)


def conflict(diagnostics: str) -> FhirError:
    return FhirError(409, "conflict", diagnostics)


def precondition_failed(diagnostics: str) -> FhirError:
    return FhirError(412, "conflict", diagnostics)


def business_rule(diagnostics: str, expression: list[str] | None = None) -> FhirError:
    return FhirError(422, "business-rule", diagnostics, expression=expression)


def unauthorized(diagnostics: str) -> FhirError:
    return FhirError(
        401, "login", diagnostics, headers={"WWW-Authenticate": 'Bearer realm="FarCare FHIR"'}
    )
