"""Where the OAuth endpoints live under `fhir/`, and how a page finds the API's base."""

from __future__ import annotations

from django.http import HttpRequest

SMART_CONFIGURATION_PATH = ".well-known/smart-configuration"
TOKEN_PATH = "auth/token"  # noqa: S105 (a URL path, not a secret)
USER_TOKEN_PATH = "auth/user-token"  # noqa: S105


def base_path(request: HttpRequest, suffix: str) -> str:
    """The path this module is mounted under (`/fhir/`), found from the request's own path so
    the views work under whatever prefix the project includes them."""
    return request.path[: -len(suffix)] if request.path.endswith(suffix) else "/"
