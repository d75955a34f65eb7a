"""`GET .well-known/smart-configuration`: what a client needs to find the token endpoint."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse

from .paths import SMART_CONFIGURATION_PATH, TOKEN_PATH, base_path
from .token_endpoint import ASSERTION_ALGORITHMS, method_not_allowed

AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")
CAPABILITIES = (
    "client-confidential-asymmetric",
    "client-confidential-symmetric",
    "permission-v2",
    "permission-v1",
)
EXAMPLE_RESOURCES = ("Patient", "Observation", "ServiceRequest", "Task", "Encounter", "Consent")


def smart_configuration(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return method_not_allowed("GET")
    base = base_path(request, SMART_CONFIGURATION_PATH)
    scopes = ["system/*.read", "system/*.write", "system/*.rs", "user/*.read", "user/*.write"]
    for resource in EXAMPLE_RESOURCES:
        scopes += [f"system/{resource}.read", f"system/{resource}.rs", f"user/{resource}.read"]
    scopes += ["system/Patient.write", "system/Observation.write", "user/Observation.write"]
    document = {
        "issuer": request.build_absolute_uri(base).rstrip("/"),
        "token_endpoint": request.build_absolute_uri(base + TOKEN_PATH),
        "token_endpoint_auth_methods_supported": list(AUTH_METHODS),
        "token_endpoint_auth_signing_alg_values_supported": list(ASSERTION_ALGORITHMS),
        "grant_types_supported": ["client_credentials"],
        "scopes_supported": scopes,
        "capabilities": list(CAPABILITIES),
    }
    response = JsonResponse(document)
    response["Cache-Control"] = "public, max-age=3600"
    return response
