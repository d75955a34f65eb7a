"""Bearer tokens, one way for every API: how one is made, how it is stored (only its SHA-256, so
a copy of the database opens nothing), how a request's token is read, and who it stands for.

Two kinds exist today, each owned by the app that issues it: the FHIR API's access tokens (a
user's personal token or a system client's, with SMART scopes) and an enrolled station's token
(sync). Each app registers a resolver in its `AppConfig.ready()`; a caller that accepts either
(uploads) asks `find()` and never imports the issuing app."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from farcare.accounts.models import User


def new_token() -> str:
    """A fresh secret to hand out once (256 bits, URL-safe)."""
    return secrets.token_urlsafe(32)


def token_digest(token: str) -> str:
    """What is stored and looked up instead of the token itself."""
    return hashlib.sha256(token.encode()).hexdigest()


def bearer_token(request: HttpRequest) -> str | None:
    """The token of an `Authorization: Bearer …` header, or None when there is none."""
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer "):
        return None
    return header[7:].strip() or None


@dataclass(frozen=True)
class Bearer:
    """Who a valid token stands for.

    `user` is the account it acts as; None for a station, which names the member of its staff
    acting on each request. `facility_id` is the station's post. `allows(type, interaction)`
    says whether the token may do that to a FHIR resource type (a station's token is not a
    FHIR token and allows nothing there). `subject` is the issuing app's own row."""

    kind: str
    user: User | None
    facility_id: int | None
    allows: Callable[[str, str], bool]
    subject: Any


Resolver = Callable[[str], Bearer | None]
_resolvers: dict[str, Resolver] = {}


def register(kind: str, resolver: Resolver) -> None:
    """Called by the issuing app at start-up; registering a kind again replaces it."""
    _resolvers[kind] = resolver


def find(token: str) -> Bearer | None:
    """The live credential behind a token (unknown, expired, revoked or disabled: None)."""
    for resolver in _resolvers.values():
        found = resolver(token)
        if found is not None:
            return found
    return None
