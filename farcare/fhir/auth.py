"""Who calls the FHIR API: a bearer token issued by our token endpoint (`tokens.py`), acting
for a user or for a system client's service account. Every interaction checks the token's
scopes here, then the one access policy for the patient data it touches."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.services import Accessor

from .errors import forbidden, unauthorized
from .models import AccessToken, SystemClient
from .scopes import Scope, allows, parse_scopes


@dataclass(frozen=True)
class Principal:
    user: User
    client: SystemClient | None
    scopes: frozenset[Scope]
    ip_address: str | None

    @property
    def accessor(self) -> Accessor:
        return Accessor(self.user, self.ip_address, "fhir")

    def require(self, resource_type: str, interaction: str) -> None:
        if not allows(self.scopes, resource_type, interaction):
            raise forbidden(f"The token's scopes do not allow {interaction} of {resource_type}.")


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def authenticate(request: HttpRequest) -> Principal:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        raise unauthorized(
            "A bearer token is required (see /fhir/.well-known/smart-configuration)."
        )
    token = (
        AccessToken.objects.select_related("user", "user__facility", "client")
        .filter(token_hash=token_digest(header[7:].strip()), revoked=False)
        .first()
    )
    if token is None or token.expires_at <= timezone.now():
        raise unauthorized("The bearer token is unknown or has expired.")
    if not token.user.is_active or (token.client is not None and not token.client.active):
        raise unauthorized("The account behind this token is disabled.")
    return Principal(
        user=token.user,
        client=token.client,
        scopes=parse_scopes(token.scopes),
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
