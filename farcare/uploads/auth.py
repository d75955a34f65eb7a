"""Who is uploading. An authenticator looks at a request and returns the user it acts for, or
None when the request carries nothing it recognises; `upload_user` asks each in turn.

Extension point: a new way of authenticating (e.g. a station device at a remote post with its
own token) is one more function `(HttpRequest) -> User | None` added to AUTHENTICATORS. An
authenticator must not raise for credentials it does not recognise: the next one may."""

from __future__ import annotations

from collections.abc import Callable

from django.core.exceptions import ValidationError
from django.http import HttpRequest

from farcare.accounts.models import User
from farcare.core.bearer import bearer_token, find

Authenticator = Callable[[HttpRequest], User | None]

# A completed upload becomes a document (today an attachment, a FHIR DocumentReference), so a
# bearer token must be allowed to create one: a read-only token cannot write through uploads.
SCOPE_NEEDED = ("DocumentReference", "create")


def session_user(request: HttpRequest) -> User | None:
    """The user logged in through the pages (the session and second factor are checked by the
    middleware before the view runs)."""
    user = getattr(request, "user", None)
    if isinstance(user, User) and user.is_authenticated and user.is_active:
        return user
    return None


def bearer_token_user(request: HttpRequest) -> User | None:
    """`Authorization: Bearer <token>` of a user acting for themselves (a personal token or a
    system client's, issued by the FHIR token endpoint) that may create documents."""
    raw = bearer_token(request)
    credential = find(raw) if raw else None
    if credential is None or credential.user is None:
        return None
    if not credential.allows(*SCOPE_NEEDED):
        return None
    return credential.user


def station_user(request: HttpRequest) -> User | None:
    """An enrolled station sends its own bearer token and, in `FarCare-Actor`, the UUID of the
    member of its staff who made the file: only staff of its own facility."""
    raw = bearer_token(request)
    actor = request.headers.get("FarCare-Actor", "")
    if raw is None or not actor:
        return None
    station = find(raw)
    if station is None or station.kind != "station" or station.facility_id is None:
        return None
    try:
        return User.objects.filter(
            uuid=actor, facility_id=station.facility_id, is_active=True
        ).first()
    except ValidationError:  # not a UUID
        return None


AUTHENTICATORS: tuple[Authenticator, ...] = (session_user, bearer_token_user, station_user)


def upload_user(request: HttpRequest) -> User | None:
    """The user the request acts for, or None (the view answers 401)."""
    for authenticate in AUTHENTICATORS:
        user = authenticate(request)
        if user is not None:
            return user
    return None
