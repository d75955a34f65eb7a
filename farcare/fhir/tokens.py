"""OAuth 2.0 for the FHIR API (SMART App Launch v2, Backend Services): the discovery document, the
token endpoint for system clients (client credentials with a shared secret or a signed JWT
assertion), and a page where a logged-in user issues a personal token for a sync tool.

Included under `fhir/`:

- `GET  .well-known/smart-configuration`: what a client needs to find the token endpoint;
- `POST auth/token`: `grant_type=client_credentials` answered with a bearer token of 15 minutes;
- `GET|POST auth/user-token`: personal tokens of the logged-in user (issue, list, revoke).

Every token is random; only its SHA-256 is stored (`AccessToken.token_hash`), and
`farcare.fhir.auth.authenticate` finds it again. Client secrets are stored with the project's
password hasher.

Replayed assertions: the `jti` of every accepted JWT assertion is remembered in Django's cache
until the assertion expires. The default cache is local to one process, so a deployment that
runs several worker processes must configure a shared cache (CACHES, e.g. Redis or the database
cache); otherwise an assertion could be replayed once against each process.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import secrets
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import unquote_plus

import jwt
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.hashers import check_password, make_password
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, SuspiciousOperation
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.http.multipartparser import MultiPartParserError
from django.shortcuts import render
from django.urls import path
from django.utils import timezone
from django.utils.text import format_lazy, slugify
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt

from farcare.accounts.models import CLINICAL_ROLES, Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.bearer import new_token, token_digest
from farcare.network.models import Facility

from .models import AccessToken, SystemClient
from .scopes import READ_INTERACTIONS, WRITE_INTERACTIONS, Scope

SMART_CONFIGURATION_PATH = ".well-known/smart-configuration"
TOKEN_PATH = "auth/token"  # noqa: S105 (a URL path, not a secret)
USER_TOKEN_PATH = "auth/user-token"  # noqa: S105

CLIENT_TOKEN_LIFETIME = timedelta(minutes=15)
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ASSERTION_ALGORITHMS = ("RS384", "ES384")
# SMART Backend Services: an assertion expires no more than five minutes after it is made.
ASSERTION_MAX_LIFETIME = 300
# Clocks of remote stations drift; this much is forgiven on exp, nbf and iat.
CLOCK_SKEW = 60
AUTH_METHODS = ("private_key_jwt", "client_secret_basic", "client_secret_post")
CAPABILITIES = (
    "client-confidential-asymmetric",
    "client-confidential-symmetric",
    "permission-v2",
    "permission-v1",
)
EXAMPLE_RESOURCES = ("Patient", "Observation", "ServiceRequest", "Task", "Encounter", "Consent")

# Roles that may hold a personal token: those who work with patient records, and patients and
# administrators. Analysts and trainers never reach a record, and system accounts get their
# tokens from the token endpoint.
USER_TOKEN_ROLES = frozenset({*CLINICAL_ROLES, Role.PATIENT, Role.ADMINISTRATOR})
USER_TOKEN_HOURS = (1, 8, 24)


# --- Scopes ---------------------------------------------------------------------------------

V1_PERMISSIONS = frozenset({"read", "write", "*"})
V2_ORDER = "cruds"
_PROBE_TYPE = "Patient"  # any concrete type: used to compare what two scopes allow


def valid_scope(text: str) -> Scope | None:
    """The scope if it is a well-formed SMART v1 or v2 scope (`system/*.read`,
    `user/Patient.rs`), else None. v2 letters must come in the order c, r, u, d, s."""
    scope = Scope.parse(text)
    if scope is None:
        return None
    if not (scope.resource == "*" or scope.resource.isalpha()):
        return None
    permissions = scope.permissions
    if permissions in V1_PERMISSIONS:
        return scope
    letters = [V2_ORDER.find(letter) for letter in permissions]
    if -1 in letters or letters != sorted(set(letters)):
        return None
    return scope


def _covered(requested: Scope, registered: Iterable[Scope]) -> bool:
    """Whether every interaction `requested` allows is allowed by one of the `registered` scopes
    of the same context that cover its resource type (`system/*.read` covers
    `system/Patient.rs`; `system/Patient.read` and `system/Patient.write` together cover
    `system/Patient.cruds`)."""
    candidates = [
        own
        for own in registered
        if own.context == requested.context and own.resource in ("*", requested.resource)
    ]
    resource_type = _PROBE_TYPE if requested.resource == "*" else requested.resource
    return bool(candidates) and all(
        any(own.allows(resource_type, interaction) for own in candidates)
        for interaction in READ_INTERACTIONS | WRITE_INTERACTIONS
        if requested.allows(resource_type, interaction)
    )


def grantable_scopes(requested: str, registered: str) -> list[str]:
    """The requested scopes that fall within the registered ones, in the order asked. Unknown or
    malformed scopes, and scopes beyond the registration, are left out (RFC 6749 §3.3)."""
    allowed = [scope for part in registered.split() if (scope := valid_scope(part))]
    granted: list[str] = []
    for part in requested.split():
        scope = valid_scope(part)
        if scope is None or str(scope) in granted:
            continue
        if _covered(scope, allowed):
            granted.append(str(scope))
    return granted


# --- System clients -------------------------------------------------------------------------


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
        algorithms = _key_algorithms(key)
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


# --- Discovery ------------------------------------------------------------------------------


def _base_path(request: HttpRequest, suffix: str) -> str:
    """The path this module is mounted under (`/fhir/`), found from the request's own path so
    the views work under whatever prefix the project includes them."""
    return request.path[: -len(suffix)] if request.path.endswith(suffix) else "/"


def smart_configuration(request: HttpRequest) -> HttpResponse:
    if request.method not in ("GET", "HEAD"):
        return _method_not_allowed("GET")
    base = _base_path(request, SMART_CONFIGURATION_PATH)
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


# --- Token endpoint -------------------------------------------------------------------------


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


def _method_not_allowed(allowed: str) -> HttpResponse:
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


def _key_algorithms(key: dict[str, Any]) -> list[str]:
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
        if not isinstance(key, dict) or alg not in _key_algorithms(key):
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
        return _method_not_allowed("POST")
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


# --- Personal tokens ------------------------------------------------------------------------


USER_SCOPES: tuple[tuple[str, Any], ...] = (
    ("user/*.read", gettext_lazy("read every record you may see")),
    ("user/*.write", gettext_lazy("create and change records you may change")),
    ("user/Patient.read", gettext_lazy("read patients")),
    ("user/Patient.write", gettext_lazy("register and update patients")),
    ("user/Observation.read", gettext_lazy("read observations such as vital signs")),
    ("user/Observation.write", gettext_lazy("record observations such as vital signs")),
    ("user/ServiceRequest.read", gettext_lazy("read consultation requests")),
    ("user/ServiceRequest.write", gettext_lazy("send consultation requests")),
    ("user/Task.read", gettext_lazy("read the progress of consultations")),
    ("user/Task.write", gettext_lazy("update the progress of consultations")),
)


def _hours_label(hours: int) -> Any:
    if hours == 1:
        return gettext_lazy("1 hour")
    if hours == 8:
        return gettext_lazy("8 hours")
    return gettext_lazy("24 hours")


class UserTokenForm(forms.Form):
    scopes = forms.MultipleChoiceField(
        label=gettext_lazy("What the token may do"),
        choices=[(scope, format_lazy("{} ({})", text, scope)) for scope, text in USER_SCOPES],
        widget=forms.CheckboxSelectMultiple,
        help_text=gettext_lazy("It never reaches more than you may reach yourself."),
    )
    hours = forms.TypedChoiceField(
        label=gettext_lazy("Valid for"),
        choices=[(str(hours), _hours_label(hours)) for hours in USER_TOKEN_HOURS],
        coerce=int,
        initial="8",
    )


def may_hold_user_token(user: User) -> bool:
    return user.is_active and user.role in USER_TOKEN_ROLES


def _active_user_tokens(user: User) -> list[AccessToken]:
    return list(
        AccessToken.objects.filter(
            user=user, client__isnull=True, revoked=False, expires_at__gt=timezone.now()
        ).order_by("-issued_at")
    )


def _revoke_user_token(request: HttpRequest, user: User, accessor: Accessor, value: str) -> None:
    token_id = int(value) if value.isdigit() else None
    with transaction.atomic():
        revoked = token_id is not None and AccessToken.objects.filter(
            pk=token_id, user=user, client__isnull=True, revoked=False
        ).update(revoked=True)
        if revoked:
            audit_record(
                accessor=accessor,
                action=AuditAction.UPDATE,
                details={"what": "fhir_user_token", "change": "revoked", "token_id": token_id},
            )
    if not revoked:
        messages.error(request, _("No such active token."))
        return
    messages.success(request, _("The token is revoked; it no longer works."))


def revoke_user_tokens(*, user: User, why: str) -> int:
    """Revoke every personal token of `user` (not a system client's) and audit it; how many."""
    with transaction.atomic():
        count = AccessToken.objects.filter(user=user, client__isnull=True, revoked=False).update(
            revoked=True
        )
        if count:
            audit_record(
                accessor=Accessor(None, None, "fhir"),
                action=AuditAction.UPDATE,
                details={
                    "what": "fhir_user_token",
                    "change": "revoked",
                    "why": why,
                    "count": count,
                    "user": str(user.uuid),
                },
            )
    return count


def revoke_on_password_change(sender: object, user: User, **kwargs: Any) -> None:
    """A token issued under the old password must not outlive it (connected in FhirConfig)."""
    revoke_user_tokens(user=user, why="password_changed")


@login_required
@never_cache
def user_tokens(request: HttpRequest) -> HttpResponse:
    user = request.user
    assert isinstance(user, User)
    if not may_hold_user_token(user):
        raise PermissionDenied(_("Your role cannot hold a FHIR access token."))
    accessor = Accessor.from_request(request)
    new_token = ""
    new_record: AccessToken | None = None
    form = UserTokenForm()
    if request.method == "POST" and "revoke" in request.POST:
        _revoke_user_token(request, user, accessor, request.POST["revoke"])
        return HttpResponseRedirect(request.path)
    if request.method == "POST":
        form = UserTokenForm(request.POST)
        if form.is_valid():
            hours: int = form.cleaned_data["hours"]
            scopes = [scope for scope, _text in USER_SCOPES if scope in form.cleaned_data["scopes"]]
            with transaction.atomic():
                new_token, new_record = issue_token(
                    user=user, scopes=scopes, lifetime=timedelta(hours=hours)
                )
                audit_record(
                    accessor=accessor,
                    action=AuditAction.CREATE,
                    details={
                        "what": "fhir_user_token",
                        "token_id": new_record.pk,
                        "scope": new_record.scopes,
                        "hours": hours,
                    },
                )
            form = UserTokenForm()
    elif request.method != "GET":
        return HttpResponse(status=405, headers={"Allow": "GET, POST"})
    return render(
        request,
        "fhir/user_tokens.html",
        {
            "form": form,
            "new_token": new_token,
            "new_record": new_record,
            "tokens": _active_user_tokens(user),
            "fhir_base": request.build_absolute_uri(_base_path(request, USER_TOKEN_PATH)).rstrip(
                "/"
            ),
        },
    )


urlpatterns = [
    path(SMART_CONFIGURATION_PATH, smart_configuration, name="smart_configuration"),
    path(TOKEN_PATH, token_endpoint, name="token"),
    path(USER_TOKEN_PATH, user_tokens, name="user_tokens"),
]

__all__ = [
    "ClientSetupError",
    "NewClient",
    "OAuthError",
    "grantable_scopes",
    "issue_token",
    "system_client_create",
    "system_client_disable",
    "system_client_scopes",
    "urlpatterns",
    "valid_scope",
    "validate_jwks",
]
