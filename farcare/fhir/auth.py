"""Who calls the FHIR API: a bearer token issued by our token endpoint (`oauth/`), acting
for a user or for a system client's service account. Every interaction checks the token's
scopes here, then the one access policy for the patient data it touches."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from django.utils import timezone

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.core.bearer import Bearer, bearer_token, register, token_digest
from farcare.core.db.precompiled import Precompiled

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


# Asked at every FHIR request: compiled once (its select_related cost as much as the query).
_ISSUED: Precompiled[AccessToken] = Precompiled(
    lambda digest: (
        AccessToken.objects.select_related("user", "user__facility", "client")
        .filter(token_hash=digest, revoked=False)
        .order_by("pk")[:1]
    ),
    arity=1,
)


def _issued(raw: str) -> AccessToken | None:
    found = _ISSUED.run(token_digest(raw))
    return found[0] if found else None


def _live(token: AccessToken | None) -> bool:
    return token is not None and token.expires_at > timezone.now()


def _enabled(token: AccessToken) -> bool:
    return token.user.is_active and (token.client is None or token.client.active)


def access_token_for(raw: str) -> Bearer | None:
    """The `core.bearer` resolver for tokens issued by `/fhir/auth/token` and
    `/fhir/auth/user-token`: live, not revoked, its account and client enabled."""
    token = _issued(raw)
    if token is None or not _live(token) or not _enabled(token):
        return None
    scopes = parse_scopes(token.scopes)
    return Bearer(
        kind="fhir",
        user=token.user,
        facility_id=token.user.facility_id,
        allows=lambda resource_type, interaction: allows(scopes, resource_type, interaction),
        subject=token,
    )


def register_resolver() -> None:
    register("fhir", access_token_for)


def authenticate(request: HttpRequest) -> Principal:
    raw = bearer_token(request)
    if raw is None:
        raise unauthorized(
            "A bearer token is required (see /fhir/.well-known/smart-configuration)."
        )
    token = _issued(raw)
    if token is None or not _live(token):
        raise unauthorized("The bearer token is unknown or has expired.")
    if not _enabled(token):
        raise unauthorized("The account behind this token is disabled.")
    return Principal(
        user=token.user,
        client=token.client,
        scopes=parse_scopes(token.scopes),
        ip_address=request.META.get("REMOTE_ADDR") or None,
    )
