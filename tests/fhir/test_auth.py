"""OAuth 2.0 for the FHIR API: discovery, the token endpoint for system clients (shared secret or
signed JWT assertion), personal tokens of users, the `fhir-client` console command, and what a
system client's service account may reach under the access policy."""

from __future__ import annotations

import base64
import io
import json
import re
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.core.cache import cache
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, RequestFactory
from django.urls import include, path
from django.utils import timezone

import farcare.urls
from farcare.access.models import BreakGlassGrant
from farcare.access.policy import (
    Action,
    decide,
    facilities_for_registration,
    may_break_glass,
    may_register_patients,
    visible_patients,
)
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.fhir import oauth
from farcare.fhir.auth import authenticate
from farcare.fhir.errors import FhirError
from farcare.fhir.models import AccessToken, SystemClient
from farcare.fhir.oauth import grantable_scopes, system_client_create, valid_scope
from farcare.fhir.scopes import Scope

from ..audit.test_chain import database_env
from ..conftest import logged_in, make_user
from ..factories import PatientFactory

# This module is its own URLconf: the token views under fhir/, then the whole project.
urlpatterns = [path("fhir/", include(oauth.urlpatterns)), *farcare.urls.urlpatterns]
pytestmark = pytest.mark.urls(__name__)

TOKEN_URL = "/fhir/auth/token"
AUDIENCE = "http://testserver/fhir/auth/token"
USER_TOKEN_URL = "/fhir/auth/user-token"


@pytest.fixture(autouse=True)
def fresh_cache():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def rhis(chain):
    """A regional health information system of Chukotka with a shared secret."""
    return system_client_create(
        name="Chukotka RHIS",
        scopes="system/*.read system/Patient.write",
        facility=chain.hub,
    )


def basic(client_id: str, secret: str) -> str:
    return "Basic " + base64.b64encode(f"{client_id}:{secret}".encode()).decode()


def request_token(data: dict[str, str], **headers: str):
    return Client().post(TOKEN_URL, data, **headers)


def bearer(token: str):
    return RequestFactory().get("/fhir/Patient", HTTP_AUTHORIZATION=f"Bearer {token}")


def assert_oauth_error(response, status: int, error: str) -> None:
    assert response.status_code == status, response.content
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == error
    assert body["error_description"]


# --- Discovery ------------------------------------------------------------------------------


def test_the_smart_configuration_points_to_the_token_endpoint(db):
    response = Client().get("/fhir/.well-known/smart-configuration")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    document = response.json()
    assert document["token_endpoint"] == AUDIENCE
    assert document["issuer"] == "http://testserver/fhir"
    assert document["token_endpoint_auth_methods_supported"] == [
        "private_key_jwt",
        "client_secret_basic",
        "client_secret_post",
    ]
    assert document["token_endpoint_auth_signing_alg_values_supported"] == ["RS384", "ES384"]
    assert document["grant_types_supported"] == ["client_credentials"]
    assert {"system/*.read", "system/*.write", "system/*.rs", "user/*.read", "user/*.write"} <= set(
        document["scopes_supported"]
    )
    assert "system/Patient.read" in document["scopes_supported"]
    assert set(document["capabilities"]) == {
        "client-confidential-asymmetric",
        "client-confidential-symmetric",
        "permission-v2",
        "permission-v1",
    }


# --- Client credentials with a secret -------------------------------------------------------


def test_client_secret_basic_gives_a_token_that_authenticates(rhis):
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert response.status_code == 200, response.content
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 900
    assert body["scope"] == "system/*.read"
    principal = authenticate(bearer(body["access_token"]))
    assert principal.user == rhis.client.account
    assert principal.user.role == Role.SYSTEM
    assert principal.client == rhis.client
    assert principal.scopes == frozenset({Scope("system", "*", "read")})
    stored = AccessToken.objects.get(client=rhis.client)
    assert stored.token_hash != body["access_token"]
    assert timedelta(minutes=14) < stored.expires_at - timezone.now() <= timedelta(minutes=15)
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN, actor_uuid=rhis.client.account.uuid, channel="fhir"
    ).exists()


def test_client_secret_post_gives_a_token(rhis):
    response = request_token(
        {
            "grant_type": "client_credentials",
            "scope": "system/Patient.write",
            "client_id": rhis.client.client_id,
            "client_secret": rhis.secret,
        }
    )
    assert response.status_code == 200, response.content
    principal = authenticate(bearer(response.json()["access_token"]))
    assert principal.client == rhis.client
    assert principal.scopes == frozenset({Scope("system", "Patient", "write")})


def test_the_secret_is_stored_hashed(rhis):
    assert rhis.secret not in rhis.client.secret_hash
    assert rhis.client.secret_hash.startswith("argon2")
    assert not rhis.client.account.has_usable_password()


@pytest.mark.parametrize("how", ["basic", "post"])
def test_a_wrong_secret_is_invalid_client(rhis, how):
    data = {"grant_type": "client_credentials", "scope": "system/*.read"}
    if how == "basic":
        response = request_token(
            data, HTTP_AUTHORIZATION=basic(rhis.client.client_id, "not-the-secret")
        )
        assert response["WWW-Authenticate"].startswith("Basic")
    else:
        data |= {"client_id": rhis.client.client_id, "client_secret": "not-the-secret"}
        response = request_token(data)
    assert_oauth_error(response, 401, "invalid_client")
    assert not AccessToken.objects.exists()


def test_an_unknown_client_is_invalid_client(db):
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic("nobody", "secret"),
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_no_client_authentication_is_invalid_client(db):
    response = request_token({"grant_type": "client_credentials", "scope": "system/*.read"})
    assert_oauth_error(response, 401, "invalid_client")


@pytest.mark.parametrize(
    ("requested", "granted"),
    [
        ("system/Patient.read system/Observation.write", "system/Patient.read"),
        ("system/*.read system/*.write", "system/*.read"),
        ("system/Patient.rs system/Patient.cruds", "system/Patient.rs system/Patient.cruds"),
        ("system/Observation.cud system/Task.read", "system/Task.read"),
        ("launch openid system/Patient.read", "system/Patient.read"),
    ],
)
def test_only_the_registered_part_of_the_requested_scopes_is_granted(rhis, requested, granted):
    response = request_token(
        {"grant_type": "client_credentials", "scope": requested},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert response.status_code == 200, response.content
    assert response.json()["scope"] == granted
    assert AccessToken.objects.get().scopes == granted


@pytest.mark.parametrize("requested", ["system/Observation.write", "user/*.read", "", "nonsense"])
def test_scopes_outside_the_registration_are_invalid_scope(rhis, requested):
    response = request_token(
        {"grant_type": "client_credentials", "scope": requested},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert_oauth_error(response, 400, "invalid_scope")
    assert not AccessToken.objects.exists()


def test_another_grant_type_is_unsupported(rhis):
    response = request_token(
        {"grant_type": "password", "username": "x", "password": "y"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert_oauth_error(response, 400, "unsupported_grant_type")


@pytest.mark.parametrize(
    "make",
    [
        lambda c: Client().post(TOKEN_URL, {"scope": "system/*.read"}),  # no grant_type
        lambda c: Client().post(
            TOKEN_URL,
            json.dumps({"grant_type": "client_credentials"}),
            content_type="application/json",
        ),
        lambda c: Client().post(
            TOKEN_URL,
            "grant_type=client_credentials&grant_type=client_credentials&scope=system/*.read",
            content_type="application/x-www-form-urlencoded",
            HTTP_AUTHORIZATION=basic(c.client.client_id, c.secret),
        ),
        lambda c: Client().post(
            TOKEN_URL,
            {
                "grant_type": "client_credentials",
                "scope": "system/*.read",
                "client_id": c.client.client_id,
                "client_secret": c.secret,
            },
            HTTP_AUTHORIZATION=basic(c.client.client_id, c.secret),
        ),
    ],
    ids=["no-grant-type", "json-body", "repeated-parameter", "two-auth-methods"],
)
def test_malformed_requests_are_invalid_request(rhis, make):
    assert_oauth_error(make(rhis), 400, "invalid_request")


@pytest.mark.parametrize(
    "header", ["Basic !!!not-base64!!!", "Basic " + base64.b64encode(b"no-colon").decode()]
)
def test_garbled_basic_credentials_are_invalid_client_not_a_crash(rhis, header):
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"}, HTTP_AUTHORIZATION=header
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_a_broken_form_is_invalid_request_not_a_crash(db):
    response = Client().post(TOKEN_URL, "--x\r\nbroken", content_type="multipart/form-data")
    assert_oauth_error(response, 400, "invalid_request")


def test_the_token_endpoint_answers_get_with_405_json(db):
    response = Client().get(TOKEN_URL)
    assert response.status_code == 405
    assert response.json()["error"] == "invalid_request"


def test_a_disabled_client_gets_no_token_and_its_tokens_stop_working(rhis):
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    token = response.json()["access_token"]
    call_command(
        "fhir_client", "disable", "--client-id", rhis.client.client_id, stdout=io.StringIO()
    )
    refused = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert_oauth_error(refused, 401, "invalid_client")
    with pytest.raises(FhirError) as caught:
        authenticate(bearer(token))
    assert caught.value.status == 401


def test_a_client_made_inactive_only_on_the_model_is_refused_too(rhis):
    SystemClient.objects.filter(pk=rhis.client.pk).update(active=False)
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    assert_oauth_error(response, 401, "invalid_client")


def test_an_expired_token_is_refused_with_401(rhis):
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(rhis.client.client_id, rhis.secret),
    )
    token = response.json()["access_token"]
    AccessToken.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    with pytest.raises(FhirError) as caught:
        authenticate(bearer(token))
    assert caught.value.status == 401
    assert caught.value.response()["WWW-Authenticate"].startswith("Bearer")


# --- Client credentials with a signed JWT assertion -----------------------------------------


class Signer:
    """A client's key pair: the public half registered as a JWK, the private half signing."""

    def __init__(self, alg: str, kid: str) -> None:
        self.alg = alg
        self.kid = kid
        if alg == "RS384":
            self.private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
            public = jwt.algorithms.RSAAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        else:
            self.private = ec.generate_private_key(ec.SECP384R1())
            public = jwt.algorithms.ECAlgorithm.to_jwk(self.private.public_key(), as_dict=True)
        self.jwk = {**public, "kid": kid, "alg": alg, "use": "sig"}

    def assertion(self, client_id: str, **overrides: object) -> str:
        now = int(time.time())
        claims: dict[str, object] = {
            "iss": client_id,
            "sub": client_id,
            "aud": AUDIENCE,
            "exp": now + 240,
            "iat": now,
            "jti": uuid.uuid4().hex,
        }
        claims.update(overrides)
        claims = {key: value for key, value in claims.items() if value is not None}
        return jwt.encode(claims, self.private, algorithm=self.alg, headers={"kid": self.kid})


@pytest.fixture(scope="module")
def rsa_signer():
    return Signer("RS384", "rsa-1")


@pytest.fixture(scope="module")
def ec_signer():
    return Signer("ES384", "ec-1")


@pytest.fixture
def lab(chain, rsa_signer, ec_signer):
    """A laboratory's gateway that signs assertions with an RSA or an EC key."""
    return system_client_create(
        name="Anadyr laboratory",
        scopes="system/Observation.cruds system/Patient.rs",
        facility=chain.hub,
        jwks={"keys": [rsa_signer.jwk, ec_signer.jwk]},
    ).client


def assertion_request(assertion: str, scope: str = "system/Observation.rs", **extra: str):
    return request_token(
        {
            "grant_type": "client_credentials",
            "scope": scope,
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
            **extra,
        }
    )


@pytest.mark.parametrize("signer_name", ["rsa_signer", "ec_signer"])
def test_a_signed_assertion_gives_a_token(lab, request, signer_name):
    signer = request.getfixturevalue(signer_name)
    response = assertion_request(signer.assertion(lab.client_id), client_id=lab.client_id)
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["scope"] == "system/Observation.rs"
    principal = authenticate(bearer(body["access_token"]))
    assert principal.client == lab
    assert principal.user == lab.account


def test_an_assertion_without_kid_finds_the_key_by_algorithm(lab, ec_signer):
    now = int(time.time())
    assertion = jwt.encode(
        {
            "iss": lab.client_id,
            "sub": lab.client_id,
            "aud": AUDIENCE,
            "exp": now + 60,
            "jti": "no-kid",
        },
        ec_signer.private,
        algorithm="ES384",
    )
    assert assertion_request(assertion).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "why"),
    [
        ({"aud": "https://elsewhere.example/token"}, "audience"),
        ({"exp": int(time.time()) - 600}, "expired"),
        ({"exp": int(time.time()) + 3600}, "five minutes"),
        ({"sub": "somebody-else"}, "subject"),
        ({"jti": None}, "jti"),
        ({"exp": None}, "exp"),
    ],
    ids=["wrong-audience", "expired", "too-long", "wrong-subject", "no-jti", "no-exp"],
)
def test_bad_assertions_are_invalid_client(lab, rsa_signer, overrides, why):
    response = assertion_request(rsa_signer.assertion(lab.client_id, **overrides))
    assert_oauth_error(response, 401, "invalid_client")
    assert why in response.json()["error_description"]
    assert not AccessToken.objects.exists()


def test_a_replayed_assertion_is_refused(lab, rsa_signer):
    assertion = rsa_signer.assertion(lab.client_id)
    assert assertion_request(assertion).status_code == 200
    again = assertion_request(assertion)
    assert_oauth_error(again, 401, "invalid_client")
    assert "replayed" in again.json()["error_description"]
    assert AccessToken.objects.count() == 1


def test_an_assertion_signed_by_an_unregistered_key_is_refused(lab):
    stranger = Signer("RS384", "rsa-1")  # the registered kid, another key
    response = assertion_request(stranger.assertion(lab.client_id))
    assert_oauth_error(response, 401, "invalid_client")
    unknown_kid = Signer("ES384", "ec-unknown")
    response = assertion_request(unknown_kid.assertion(lab.client_id))
    assert_oauth_error(response, 401, "invalid_client")


def test_an_assertion_of_an_unknown_client_or_a_weak_algorithm_is_refused(lab, rsa_signer):
    assert_oauth_error(
        assertion_request(rsa_signer.assertion("no-such-client")), 401, "invalid_client"
    )
    now = int(time.time())
    hs256 = jwt.encode(
        {"iss": lab.client_id, "sub": lab.client_id, "aud": AUDIENCE, "exp": now + 60, "jti": "x"},
        "a-shared-key-of-sufficient-length-32b",
        algorithm="HS256",
    )
    assert_oauth_error(assertion_request(hs256), 401, "invalid_client")
    assert_oauth_error(assertion_request("not.a.jwt"), 401, "invalid_client")


def test_broken_registered_keys_verify_nothing_and_crash_nothing(lab, rsa_signer):
    lab.jwks = {"keys": ["junk", {"kty": "RSA", "kid": "rsa-1", "n": "!!"}, {"kty": "EC"}]}
    lab.save()
    response = assertion_request(rsa_signer.assertion(lab.client_id))
    assert_oauth_error(response, 401, "invalid_client")
    lab.jwks = ["not", "a", "set"]
    lab.save()
    assert_oauth_error(
        assertion_request(rsa_signer.assertion(lab.client_id)), 401, "invalid_client"
    )


def test_a_disabled_client_cannot_use_its_key(lab, rsa_signer):
    call_command("fhir_client", "disable", "--client-id", lab.client_id, stdout=io.StringIO())
    response = assertion_request(rsa_signer.assertion(lab.client_id))
    assert_oauth_error(response, 401, "invalid_client")


def test_a_wrong_assertion_type_is_invalid_request(lab, rsa_signer):
    response = request_token(
        {
            "grant_type": "client_credentials",
            "scope": "system/Observation.rs",
            "client_assertion_type": "urn:example:other",
            "client_assertion": rsa_signer.assertion(lab.client_id),
        }
    )
    assert_oauth_error(response, 400, "invalid_request")


def test_a_key_client_has_no_secret_to_guess(lab):
    lab.secret_hash = ""
    lab.save()
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/Patient.rs"},
        HTTP_AUTHORIZATION=basic(lab.client_id, ""),
    )
    assert_oauth_error(response, 401, "invalid_client")


# --- Scopes ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "valid"),
    [
        ("system/*.read", True),
        ("system/Patient.rs", True),
        ("user/Observation.cruds", True),
        ("patient/*.write", True),
        ("system/Patient.sr", False),
        ("system/Patient.rx", False),
        ("system/Patient.rr", False),
        ("system/Pat-ient.read", False),
        ("clinic/*.read", False),
        ("system/*", False),
    ],
)
def test_valid_scopes(text, valid):
    assert (valid_scope(text) is not None) is valid


def test_granting_keeps_the_asked_order_and_drops_duplicates():
    assert grantable_scopes(
        "system/Patient.rs system/*.read system/Patient.read?x=1", "system/*.read"
    ) == ["system/Patient.rs", "system/*.read", "system/Patient.read"]


# --- The console command --------------------------------------------------------------------


def test_the_console_adds_a_client_and_prints_only_json(chain):
    out = io.StringIO()
    call_command(
        "fhir_client",
        "add",
        "--name",
        "Sakha RHIS",
        "--scope",
        "system/*.read system/Patient.write",
        "--facility",
        chain.other_region_hub.name_en,
        "--bulk-export",
        stdout=out,
    )
    created = json.loads(out.getvalue())
    assert set(created) == {"client_id", "client_secret", "name", "scope"}
    assert created["name"] == "Sakha RHIS"
    assert created["scope"] == "system/*.read system/Patient.write"
    client = SystemClient.objects.get(client_id=created["client_id"])
    assert client.bulk_export
    assert re.fullmatch(r"[0-9a-f]{32}", client.client_id)
    assert client.account.role == Role.SYSTEM
    assert client.account.facility == chain.other_region_hub
    assert client.account.username.startswith("fhir-sakha-rhis-")
    assert not client.account.has_usable_password()
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/Patient.read"},
        HTTP_AUTHORIZATION=basic(created["client_id"], created["client_secret"]),
    )
    assert response.status_code == 200, response.content
    listing = io.StringIO()
    call_command("fhir_client", "list", stdout=listing)
    assert created["client_id"] in listing.getvalue()
    assert created["client_secret"] not in listing.getvalue()


def test_the_console_registers_public_keys_from_a_file(db, tmp_path, rsa_signer):
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [rsa_signer.jwk]}))
    out = io.StringIO()
    call_command(
        "fhir_client", "add", "--name", "Lab", "--scope", "system/*.rs", "--jwks-file", str(keys),
        stdout=out,
    )  # fmt: skip
    client_id = json.loads(out.getvalue())["client_id"]
    client = SystemClient.objects.get(client_id=client_id)
    assert client.account.facility is None
    response = assertion_request(rsa_signer.assertion(client_id), scope="system/Task.rs")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize(
    ("scope", "named"),
    [
        ("system/*.read system/Patient.frobnicate", "system/Patient.frobnicate"),
        ("system/*.read Patient.read", "Patient.read"),
        ("user/*.read", "user/*.read"),
    ],
)
def test_the_console_refuses_a_bad_scope_and_names_it(db, scope, named):
    with pytest.raises(CommandError, match=re.escape(named)):
        call_command("fhir_client", "add", "--name", "Bad", "--scope", scope, stdout=io.StringIO())
    assert not SystemClient.objects.exists()
    assert not User.objects.filter(role=Role.SYSTEM).exists()


def test_the_console_refuses_a_private_key(db, tmp_path, rsa_signer):
    numbers = rsa_signer.private.private_numbers()
    private = {**rsa_signer.jwk, "d": base64.urlsafe_b64encode(str(numbers.d).encode()).decode()}
    keys = tmp_path / "jwks.json"
    keys.write_text(json.dumps({"keys": [private]}))
    with pytest.raises(CommandError, match="private"):
        call_command(
            "fhir_client", "add", "--name", "Lab", "--scope", "system/*.rs",
            "--jwks-file", str(keys), stdout=io.StringIO(),
        )  # fmt: skip


def test_the_farcare_command_prints_parseable_json(transactional_db):
    result = subprocess.run(
        [sys.executable, "-m", "farcare.cli", "fhir-client", "add", "--name", "Magadan RHIS",
         "--scope", "system/*.read"],
        capture_output=True, text=True, env=database_env(), check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    created = json.loads(result.stdout)
    response = request_token(
        {"grant_type": "client_credentials", "scope": "system/*.read"},
        HTTP_AUTHORIZATION=basic(created["client_id"], created["client_secret"]),
    )
    assert response.status_code == 200, response.content


# --- Personal tokens ------------------------------------------------------------------------


NEW_TOKEN = re.compile(r'id="new-token-value"[^>]*value="([^"]+)"')


def test_the_user_token_page_issues_a_token_shown_once(chain, feldsher):
    page = logged_in(feldsher)
    form = page.get(USER_TOKEN_URL)
    assert form.status_code == 200
    html = form.content.decode()
    assert 'value="user/Patient.read"' in html
    assert 'value="user/Observation.write"' in html
    assert "<label" in html
    assert 'for="id_hours"' in html
    response = page.post(
        USER_TOKEN_URL, {"scopes": ["user/Patient.read", "user/Observation.write"], "hours": "8"}
    )
    assert response.status_code == 200
    assert "no-store" in response["Cache-Control"]
    token = NEW_TOKEN.search(response.content.decode()).group(1)
    principal = authenticate(bearer(token))
    assert principal.user == feldsher
    assert principal.client is None
    assert principal.scopes == frozenset(
        {Scope("user", "Patient", "read"), Scope("user", "Observation", "write")}
    )
    stored = AccessToken.objects.get(user=feldsher)
    assert timedelta(hours=7, minutes=59) < stored.expires_at - timezone.now() <= timedelta(hours=8)
    created = AuditEvent.objects.get(action=AuditAction.CREATE, actor_uuid=feldsher.uuid)
    assert created.details["what"] == "fhir_user_token"
    assert created.patient_uuid is None
    again = page.get(USER_TOKEN_URL).content.decode()
    assert token not in again
    assert "user/Patient.read user/Observation.write" in again


def test_a_user_revokes_a_token(chain, feldsher):
    page = logged_in(feldsher)
    response = page.post(USER_TOKEN_URL, {"scopes": ["user/*.read"], "hours": "1"})
    token = NEW_TOKEN.search(response.content.decode()).group(1)
    stored = AccessToken.objects.get(user=feldsher)
    revoked = page.post(USER_TOKEN_URL, {"revoke": str(stored.pk)})
    assert revoked.status_code == 302
    with pytest.raises(FhirError) as caught:
        authenticate(bearer(token))
    assert caught.value.status == 401
    assert AuditEvent.objects.filter(
        action=AuditAction.UPDATE, actor_uuid=feldsher.uuid, details__change="revoked"
    ).exists()
    assert "You have no active tokens." in page.get(USER_TOKEN_URL).content.decode()


def test_nobody_revokes_another_users_token(chain, feldsher):
    other = make_user(Role.CLINICIAN, chain.post)
    response = logged_in(other).post(USER_TOKEN_URL, {"scopes": ["user/*.read"], "hours": "1"})
    token = NEW_TOKEN.search(response.content.decode()).group(1)
    stored = AccessToken.objects.get(user=other)
    logged_in(feldsher).post(USER_TOKEN_URL, {"revoke": str(stored.pk)})
    assert authenticate(bearer(token)).user == other


@pytest.mark.parametrize(
    "data",
    [{"scopes": ["user/*.read"], "hours": "48"}, {"scopes": [], "hours": "1"}, {"hours": "1"}],
)
def test_the_user_token_form_refuses_bad_choices(chain, feldsher, data):
    response = logged_in(feldsher).post(USER_TOKEN_URL, data)
    assert response.status_code == 200
    assert not NEW_TOKEN.search(response.content.decode())
    assert not AccessToken.objects.exists()


@pytest.mark.parametrize(
    ("role", "status"),
    [
        (Role.ANALYST, 403),
        (Role.TRAINER, 403),
        (Role.COORDINATOR, 200),
        (Role.CONSULTANT, 200),
        (Role.PATIENT, 200),
        (Role.ADMINISTRATOR, 200),
    ],
)
def test_who_may_hold_a_personal_token(chain, role, status):
    user = make_user(role, chain.hub if role != Role.PATIENT else None)
    page = logged_in(user)
    assert page.get(USER_TOKEN_URL).status_code == status
    response = page.post(USER_TOKEN_URL, {"scopes": ["user/*.read"], "hours": "1"})
    assert response.status_code == status
    assert AccessToken.objects.filter(user=user).exists() is (status == 200)


def test_the_user_token_page_needs_a_login(db):
    response = Client().get(USER_TOKEN_URL)
    assert response.status_code == 302
    assert "/accounts/login" in response["Location"]


def test_the_user_token_page_in_russian(chain):
    user = make_user(Role.CLINICIAN, chain.post, language="")
    page = logged_in(user, "ru")
    assert page.get(USER_TOKEN_URL).status_code == 200


# --- The access policy for system clients ---------------------------------------------------


@pytest.fixture
def patients(chain):
    return {
        "chukotka": PatientFactory(home_facility=chain.post),
        "sakha": PatientFactory(home_facility=chain.other_region_post),
    }


def system_account(facility=None) -> User:
    return make_user(Role.SYSTEM, facility)


@pytest.mark.parametrize(
    ("where", "reaches"),
    [("hub", {"chukotka"}), ("other_region_hub", {"sakha"}), (None, {"chukotka", "sakha"})],
)
def test_a_system_client_reaches_its_region_or_the_whole_deployment(
    chain, patients, where, reaches
):
    account = system_account(getattr(chain, where) if where else None)
    for name, patient in patients.items():
        for action in (Action.VIEW, Action.UPDATE, Action.MANAGE_CONSENT, Action.REVOKE_CONSENT):
            assert bool(decide(account, action, patient)) is (name in reaches)
        assert not decide(account, Action.VIEW_ACCESS_LOG, patient)
    assert {p.pk for p in visible_patients(account)} == {patients[name].pk for name in reaches}


def test_a_system_client_registers_patients_in_its_scope(chain):
    regional = system_account(chain.hub)
    facilities = set(facilities_for_registration(regional))
    assert {chain.post, chain.district, chain.hub, chain.sibling_post} <= facilities
    assert chain.other_region_post not in facilities
    national = system_account()
    assert chain.other_region_post in set(facilities_for_registration(national))
    assert may_register_patients(national)


def test_a_system_client_never_breaks_the_glass(chain, patients):
    account = system_account(chain.hub)
    assert not may_break_glass(account)
    BreakGlassGrant.objects.create(
        user=account,
        patient=patients["sakha"],
        reason="should never count",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    assert not decide(account, Action.VIEW, patients["sakha"])
    assert patients["sakha"] not in visible_patients(account)


def test_a_disabled_system_account_reaches_nobody(chain, patients):
    account = system_account()
    account.is_active = False
    account.save()
    assert not decide(account, Action.VIEW, patients["chukotka"])
    assert not visible_patients(account).exists()
    assert not facilities_for_registration(account).exists()
