from __future__ import annotations

import json
import secrets
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from farcare.accounts.models import User
from farcare.core.bearer import token_digest
from farcare.fhir.models import AccessToken
from farcare.network.selectors import bump_graph_generation

# The consultation story of tests/consults (a submitted request, its feldsher, the consultants
# of the routing table), for the FHIR tests that need a whole case.
from ..consults.conftest import scene  # noqa: F401


@pytest.fixture(autouse=True)
def referral_graph_of_this_test():
    """The access policy's referral graph is cached per process (network.selectors); a test's
    database is rolled back, or restored in bulk, behind the signals that keep the cache right,
    so every test starts from its own."""
    bump_graph_generation()


def issue_token(user: User, scopes: str) -> str:
    """A bearer token for `user`, as the token endpoint would issue it."""
    token = secrets.token_urlsafe(24)
    AccessToken.objects.create(
        token_hash=token_digest(token),
        user=user,
        scopes=scopes,
        expires_at=timezone.now() + timedelta(minutes=15),
    )
    return token


class FhirClient:
    """The Django test client speaking FHIR JSON with a bearer token."""

    def __init__(self, token: str) -> None:
        self.client = Client()
        self.headers = {"Authorization": f"Bearer {token}", "Accept": "application/fhir+json"}

    def get(self, path: str, **params: str):
        return self.client.get(f"/fhir/{path}", params, headers=self.headers)

    def post(self, path: str, body: dict, **headers: str):
        return self.client.post(
            f"/fhir/{path}",
            json.dumps(body),
            content_type="application/fhir+json",
            headers={**self.headers, **headers},
        )

    def put(self, path: str, body: dict, **headers: str):
        return self.client.put(
            f"/fhir/{path}",
            json.dumps(body),
            content_type="application/fhir+json",
            headers={**self.headers, **headers},
        )

    def delete(self, path: str):
        return self.client.delete(f"/fhir/{path}", headers=self.headers)


@pytest.fixture
def fhir_as():
    def make(user: User, scopes: str = "user/*.read user/*.write") -> FhirClient:
        return FhirClient(issue_token(user, scopes))

    return make
