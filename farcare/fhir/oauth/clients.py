"""System clients of the FHIR API: registered with their scopes and keys, acting through a
service account of role `system`."""

from __future__ import annotations

import secrets
import uuid
from dataclasses import dataclass
from typing import Any

import jwt
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils.text import slugify

from farcare.accounts.models import Role, User
from farcare.network.models import Facility

from ..models import AccessToken, SystemClient
from .grants import valid_scope
from .token_endpoint import key_algorithms


class ClientSetupError(ValueError):
    pass


@dataclass(frozen=True)
class NewClient:
    client: SystemClient
    secret: str  # shown once; only its hash is stored


def system_client_scopes(text: str) -> str:
    """The registered scopes of a system client, normalised; ClientSetupError names the first
    scope that is malformed or not a `system/` scope."""
    scopes: list[str] = []
    for part in text.split():
        scope = valid_scope(part)
        if scope is None:
            raise ClientSetupError(f"Not a valid SMART scope: {part!r}")
        if scope.context != "system":
            raise ClientSetupError(f"A system client's scopes start with system/: {part!r}")
        if str(scope) not in scopes:
            scopes.append(str(scope))
    if not scopes:
        raise ClientSetupError("Give at least one scope, e.g. system/*.read")
    return " ".join(scopes)


def validate_jwks(jwks: Any) -> dict[str, Any]:
    """A JWK Set of public signing keys usable with RS384 or ES384."""
    if not isinstance(jwks, dict) or not isinstance(jwks.get("keys"), list) or not jwks["keys"]:
        raise ClientSetupError('A JWK Set is a JSON object {"keys": [...]} with at least one key.')
    for index, key in enumerate(jwks["keys"]):
        if not isinstance(key, dict):
            raise ClientSetupError(f"Key {index} of the JWK Set is not an object.")
        if "d" in key:
            raise ClientSetupError(f"Key {index} is a private key: register only public keys.")
        algorithms = key_algorithms(key)
        if not algorithms:
            raise ClientSetupError(f"Key {index} is neither an RSA key nor an EC P-384 key.")
        try:
            jwt.PyJWK(key, algorithm=algorithms[0])
        except (jwt.PyJWTError, ValueError, TypeError, KeyError) as error:
            raise ClientSetupError(f"Key {index} cannot be read: {error}") from error
    return jwks


@transaction.atomic
def system_client_create(
    *,
    name: str,
    scopes: str,
    facility: Facility | None = None,
    bulk_export: bool = False,
    jwks: dict[str, Any] | None = None,
) -> NewClient:
    """A system client and its service account (role `system`, no usable password). With a
    facility the client reaches the patients of that facility's region; without one, every
    patient of the deployment."""
    name = name.strip()
    if not name:
        raise ClientSetupError("Give the client a name.")
    normalised = system_client_scopes(scopes)
    keys = validate_jwks(jwks) if jwks else {}
    slug = slugify(name)[:40] or "client"
    account = User(
        username=f"fhir-{slug}-{secrets.token_hex(3)}",
        role=Role.SYSTEM,
        facility=facility,
        first_name=name[:150],
    )
    account.set_unusable_password()
    account.save()
    secret = secrets.token_urlsafe(32)
    client = SystemClient.objects.create(
        client_id=uuid.uuid4().hex,
        name=name,
        secret_hash=make_password(secret),
        jwks=keys,
        scopes=normalised,
        account=account,
        bulk_export=bulk_export,
    )
    return NewClient(client, secret)


def system_client_disable(client: SystemClient) -> None:
    """The client can no longer get tokens, and the tokens it holds stop working."""
    client.active = False
    client.save(update_fields=["active"])
    User.objects.filter(pk=client.account_id).update(is_active=False)
    AccessToken.objects.filter(client=client, revoked=False).update(revoked=True)
