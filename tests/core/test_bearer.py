"""One way to read a bearer token and find who it stands for, whichever app issued it: a FHIR
token of a user or a system client, or a station's token. Only digests are stored."""

from __future__ import annotations

from datetime import timedelta

from django.test import RequestFactory
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.core.bearer import bearer_token, find, new_token, token_digest
from farcare.fhir.models import AccessToken
from farcare.sync.models import Station

from ..conftest import make_user


def fhir_token(user, scopes="user/DocumentReference.write", **extra):
    token = new_token()
    AccessToken.objects.create(
        token_hash=token_digest(token),
        user=user,
        scopes=scopes,
        expires_at=extra.pop("expires_at", timezone.now() + timedelta(hours=1)),
        **extra,
    )
    return token


def test_a_request_carries_its_token_in_the_authorization_header():
    factory = RequestFactory()
    assert bearer_token(factory.get("/", HTTP_AUTHORIZATION="Bearer abc.def ")) == "abc.def"
    assert bearer_token(factory.get("/", HTTP_AUTHORIZATION="Basic abc")) is None
    assert bearer_token(factory.get("/", HTTP_AUTHORIZATION="Bearer ")) is None
    assert bearer_token(factory.get("/")) is None


def test_a_users_fhir_token_stands_for_the_user_with_its_scopes(chain, feldsher):
    token = fhir_token(feldsher)
    found = find(token)
    assert found is not None and found.kind == "fhir" and found.user == feldsher
    assert found.allows("DocumentReference", "create")
    assert not found.allows("Patient", "read")
    # Only the digest is stored: the table alone opens nothing.
    assert not AccessToken.objects.filter(token_hash=token).exists()


def test_an_expired_revoked_or_disabled_token_stands_for_nobody(chain, feldsher):
    expired = fhir_token(feldsher, expires_at=timezone.now() - timedelta(seconds=1))
    revoked = fhir_token(feldsher, revoked=True)
    colleague = make_user(Role.CLINICIAN, chain.post, is_active=False)
    disabled = fhir_token(colleague)
    assert [find(t) for t in (expired, revoked, disabled, "never-issued")] == [None] * 4


def test_a_stations_token_stands_for_its_post_and_allows_no_fhir(chain, feldsher):
    token = new_token()
    Station.objects.create(
        name="Uelen laptop",
        facility=chain.post,
        token_hash=token_digest(token),
        enrolled_by=feldsher,
    )
    found = find(token)
    assert found is not None and found.kind == "station"
    assert found.user is None and found.facility_id == chain.post.pk
    assert not found.allows("DocumentReference", "create")
    Station.objects.update(revoked_at=timezone.now())
    assert find(token) is None
