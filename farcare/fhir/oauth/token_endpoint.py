"""`POST auth/token`: client credentials (a shared secret or a signed JWT assertion) answered with
a bearer token of 15 minutes.

Replayed assertions: the `jti` of every accepted JWT assertion is remembered in Django's cache
until the assertion expires. The default cache is local to one process, so a deployment that
runs several worker processes must configure a shared cache (CACHES, e.g. Redis or the database
cache); otherwise an assertion could be replayed once against each process."""

from __future__ import annotations

import base64
import binascii
import hashlib
import time
from collections.abc import Iterable
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import jwt
from django.conf import settings
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.exceptions import SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.bearer import new_token, token_digest

from ..models import AccessToken, SystemClient
from .grants import grantable_scopes

CLIENT_TOKEN_LIFETIME = timedelta(minutes=15)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS384", "ES384")
# SMART Backend Services: an assertion expires no more than five minutes after it is made.
ASSERTION_MAX_LIFETIME = 300
# Clocks of remote stations drift; this much is forgiven on exp, nbf and iat.
CLOCK_SKEW = 60


class OAuthError(Exception):
    """An error answer of the token endpoint (RFC 6749 §5.2)."""

    def __init__(
        self, error: str, description: str, status: int = 400, *, basic: bool = False
    ) -> None:
        super().__init__(description)
        self.error = error
        self.description = description
        self.status = status
        self.basic = basic

    def response(self) -> HttpResponse:
        response = _no_store(
            JsonResponse(
                {"error": self.error, "error_description": self.description}, status=self.status
            )
        )
        if self.status == 401:
            scheme = "Basic" if self.basic else "Bearer"
            response["WWW-Authenticate"] = f'{scheme} realm="FarCare FHIR", error="{self.error}"'
        return response


def _invalid_client(description: str, *, basic: bool = False) -> OAuthError:
    return OAuthError("invalid_client", description, 401, basic=basic)


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    response["Pragma"] = "no-cache"
    return response


def method_not_allowed(allowed: str) -> HttpResponse:
    response = JsonResponse(
        {"error": "invalid_request", "error_description": f"Use {allowed}."}, status=405
    )
    response["Allow"] = allowed
    return response


def _token_endpoint_urls(request: HttpRequest) -> list[str]:
    """The URLs the token endpoint answers at: the one the request came to, and the one behind
    FARCARE_SITE_URL (the public address when a proxy rewrites the host)."""
    urls = [request.build_absolute_uri(request.path)]
    site = getattr(settings, "FARCARE_SITE_URL", "")
    if site:
        urls.append(site.rstrip("/") + request.path)
    return urls


def _single(request: HttpRequest, name: str) -> str:
    values = request.POST.getlist(name)
    if len(values) > 1:
        raise OAuthError("invalid_request", f"The parameter {name} is repeated.")
    return values[0] if values else ""


def _active_client(client_id: str, *, basic: bool = False) -> SystemClient:
    client = SystemClient.objects.select_related("account").filter(client_id=client_id).first()
    if client is None:
        raise _invalid_client("Unknown client.", basic=basic)
    if not client.active or not client.account.is_active:
        raise _invalid_client("The client is disabled.", basic=basic)
    return client


def _basic_credentials(header: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(header[6:].strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as error:
        raise _invalid_client("Malformed Basic credentials.", basic=True) from error
    client_id, colon, secret = decoded.partition(":")
    if not colon or not client_id:
        raise _invalid_client("Malformed Basic credentials.", basic=True)
    # RFC 6749 §2.3.1: both parts are form-urlencoded before they are joined.
    return unquote_plus(client_id), unquote_plus(secret)


def _check_secret(client_id: str, secret: str, *, basic: bool) -> SystemClient:
    client = SystemClient.objects.select_related("account").filter(client_id=client_id).first()
    if client is None:
        make_password(secret)  # the same work as for a known client: no timing oracle
        raise _invalid_client("Unknown client or wrong secret.", basic=basic)
    if not client.secret_hash or not check_password(secret, client.secret_hash):
        raise _invalid_client("Unknown client or wrong secret.", basic=basic)
    return _active_client(client_id, basic=basic)


def key_algorithms(key: dict[str, Any]) -> list[str]:
    """The assertion algorithms a registered key may verify."""
    if key.get("use", "sig") != "sig":
        return []
    if key.get("kty") == "RSA":
        candidates = ["RS384"]
    elif key.get("kty") == "EC" and key.get("crv") == "P-384":
        candidates = ["ES384"]
    else:
        return []
    if "alg" in key:
        candidates = [alg for alg in candidates if alg == key["alg"]]
    return candidates


def _candidate_keys(client: SystemClient, alg: str, kid: str | None) -> list[jwt.PyJWK]:
    jwks = client.jwks if isinstance(client.jwks, dict) else {}
    keys = jwks.get("keys")
    found: list[jwt.PyJWK] = []
    for key in keys if isinstance(keys, list) else []:
        if not isinstance(key, dict) or alg not in key_algorithms(key):
            continue
        if kid is not None and key.get("kid") != kid:
            continue
        try:
            found.append(jwt.PyJWK(key, algorithm=alg))
        except (jwt.PyJWTError, ValueError, TypeError, KeyError):
            continue  # a broken registered key verifies nothing
    return found


def _check_assertion(request: HttpRequest, assertion: str, client_id: str) -> SystemClient:
    """RFC 7523 client authentication as SMART Backend Services profiles it."""
    try:
        header = jwt.get_unverified_header(assertion)
        unverified = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError as error:
        raise _invalid_client("The client assertion is not a JWT.") from error
    alg = header.get("alg")
    if alg not in ASSERTION_ALGORITHMS:
        raise _invalid_client(f"Sign the assertion with {' or '.join(ASSERTION_ALGORITHMS)}.")
    if "jku" in header:
        raise _invalid_client("Keys are taken from the registered JWKS only; drop jku.")
    issuer = unverified.get("iss")
    if not isinstance(issuer, str) or not issuer:
        raise _invalid_client("The assertion has no issuer.")
    if client_id and client_id != issuer:
        raise _invalid_client("client_id differs from the assertion's issuer.")
    client = SystemClient.objects.select_related("account").filter(client_id=issuer).first()
    if client is None:
        raise _invalid_client("Unknown client.")
    kid = header.get("kid")
    keys = _candidate_keys(client, alg, kid if isinstance(kid, str) else None)
    if not keys:
        raise _invalid_client("No registered key of this client matches the assertion.")
    claims: dict[str, Any] | None = None
    problem = "The assertion's signature does not verify."
    for key in keys:
        try:
            claims = jwt.decode(
                assertion,
                key=key,
                algorithms=[alg],
                audience=_token_endpoint_urls(request),
                issuer=client.client_id,
                leeway=CLOCK_SKEW,
                options={"require": ["iss", "sub", "aud", "exp", "jti"]},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.ExpiredSignatureError as error:
            raise _invalid_client("The assertion has expired.") from error
        except jwt.InvalidAudienceError as error:
            raise _invalid_client("The assertion's audience is not this token endpoint.") from error
        except jwt.PyJWTError as error:
            problem = f"The assertion is invalid: {error}"
            break
    if claims is None:
        raise _invalid_client(problem)
    if claims["sub"] != client.client_id:
        raise _invalid_client("The assertion's subject must be the client_id.")
    _active_client(client.client_id)
    now = time.time()
    expires = claims["exp"]
    if not isinstance(expires, int | float) or expires > now + ASSERTION_MAX_LIFETIME + CLOCK_SKEW:
        raise _invalid_client("The assertion must expire within five minutes.")
    jti = claims["jti"]
    if not isinstance(jti, str) or not jti:
        raise _invalid_client("The assertion has no jti.")
    digest = hashlib.sha256(jti.encode()).hexdigest()
    ttl = max(int(expires - now) + CLOCK_SKEW, 1)
    if not cache.add(f"fhir:jti:{client.pk}:{digest}", 1, timeout=ttl):
        raise _invalid_client("This assertion has been used before (jti replayed).")
    return client


def _authenticate_client(request: HttpRequest) -> tuple[SystemClient, str]:
    """The client and the method it authenticated with."""
    header = request.headers.get("Authorization", "")
    client_id = _single(request, "client_id")
    secret = _single(request, "client_secret")
    assertion_type = _single(request, "client_assertion_type")
    assertion = _single(request, "client_assertion")
    uses_basic = header.lower().startswith("basic ")
    methods = sum((uses_basic, bool(secret), bool(assertion_type or assertion)))
    if methods > 1:
        raise OAuthError("invalid_request", "Use exactly one client authentication method.")
    if uses_basic:
        basic_id, basic_secret = _basic_credentials(header)
        if client_id and client_id != basic_id:
            raise OAuthError("invalid_request", "client_id differs from the Basic credentials.")
        return _check_secret(basic_id, basic_secret, basic=True), "client_secret_basic"
    if assertion_type or assertion:
        if assertion_type != ASSERTION_TYPE:
            raise OAuthError("invalid_request", f"client_assertion_type must be {ASSERTION_TYPE}.")
        if not assertion:
            raise OAuthError("invalid_request", "client_assertion is missing.")
        return _check_assertion(request, assertion, client_id), "private_key_jwt"
    if secret:
        if not client_id:
            raise OAuthError("invalid_request", "client_id is missing.")
        return _check_secret(client_id, secret, basic=False), "client_secret_post"
    raise _invalid_client("Client authentication is required.")


def issue_token(
    *, user: User, scopes: Iterable[str], lifetime: timedelta, client: SystemClient | None = None
) -> tuple[str, AccessToken]:
    """A new random bearer token and its stored record (which keeps only the hash)."""
    token = new_token()
    now = timezone.now()
    record = AccessToken.objects.create(
        token_hash=token_digest(token),
        user=user,
        client=client,
        scopes=" ".join(scopes),
        issued_at=now,
        expires_at=now + lifetime,
    )
    return token, record


def _client_credentials(request: HttpRequest) -> HttpResponse:
    if request.method != "POST":
        return method_not_allowed("POST")
    # RFC 6749 asks for application/x-www-form-urlencoded; multipart forms carry the same
    # fields and are accepted too, anything else (JSON) is not a form at all.
    if request.content_type not in ("application/x-www-form-urlencoded", "multipart/form-data"):
        raise OAuthError("invalid_request", "Send the form as application/x-www-form-urlencoded.")
    try:
        request.POST  # noqa: B018 (parse the form now, to answer a broken one in OAuth terms)
    except (MultiPartParserError, SuspiciousOperation) as error:
        raise OAuthError("invalid_request", "The form cannot be read.") from error
    grant_type = _single(request, "grant_type")
    if not grant_type:
        raise OAuthError("invalid_request", "grant_type is missing.")
    if grant_type != "client_credentials":
        raise OAuthError("unsupported_grant_type", "Only client_credentials is supported.")
    requested = _single(request, "scope")
    client, method = _authenticate_client(request)
    if not requested.strip():
        raise OAuthError("invalid_scope", "Ask for scopes, e.g. scope=system/*.read")
    granted = grantable_scopes(requested, client.scopes)
    if not granted:
        raise OAuthError("invalid_scope", "None of the requested scopes is granted to this client.")
    with transaction.atomic():
        token, _record = issue_token(
            user=client.account, client=client, scopes=granted, lifetime=CLIENT_TOKEN_LIFETIME
        )
        audit_record(
            accessor=Accessor(client.account, request.META.get("REMOTE_ADDR") or None, "fhir"),
            action=AuditAction.LOGIN,
            details={"client_id": client.client_id, "method": method, "scope": " ".join(granted)},
        )
    return _no_store(
        JsonResponse(
            {
                "access_token": token,
                "token_type": "bearer",
                "expires_in": int(CLIENT_TOKEN_LIFETIME.total_seconds()),
                "scope": " ".join(granted),
            }
        )
    )


@csrf_exempt
def token_endpoint(request: HttpRequest) -> HttpResponse:
    try:
        return _client_credentials(request)
    except OAuthError as error:
        return error.response()
