"""A station reads every answer of the sync API as JSON, errors included, and every status the
API can answer is in its OpenAPI schema: schemathesis sends each operation generated requests
(with a station's token) and checks the answers against the schema."""

from __future__ import annotations

import json
import secrets

import pytest
import schemathesis
from django.test import Client
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from farcare.core.bearer import token_digest
from farcare.sync.api import api
from farcare.sync.models import Station

from ..factories import PatientFactory


def a_station_token(facility, user) -> str:
    token = secrets.token_urlsafe(32)
    Station.objects.create(
        name="Uelen laptop", facility=facility, token_hash=token_digest(token), enrolled_by=user
    )
    return token


def test_a_file_id_that_is_not_a_uuid_is_a_json_error(chain, feldsher):
    token = a_station_token(chain.post, feldsher)
    response = Client().get("/api/sync/files/0", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 422
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["detail"]


def test_an_unknown_file_is_a_json_404(chain, feldsher):
    token = a_station_token(chain.post, feldsher)
    response = Client(HTTP_ACCEPT_LANGUAGE="en").get(
        "/api/sync/files/5b0c9a1e-3a39-4c1e-9d57-0d1c7b8e2f11",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


def test_a_body_that_is_not_json_is_a_json_400(chain, feldsher):
    token = a_station_token(chain.post, feldsher)
    response = Client().post(
        "/api/sync/push",
        b"{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )
    assert response.status_code == 400
    assert response.json()["detail"]


def test_a_bad_cursor_and_a_missing_token_are_json_errors(chain, feldsher):
    token = a_station_token(chain.post, feldsher)
    bad_cursor = Client().get(
        "/api/sync/pull?since=yesterday", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert bad_cursor.status_code == 400
    assert "yesterday" in bad_cursor.json()["detail"]
    anonymous = Client().get("/api/sync/pull")
    assert anonymous.status_code == 401
    assert anonymous["Content-Type"].startswith("application/json")


def test_the_schema_documents_every_error_status(db):
    paths = json.loads(json.dumps(api.get_openapi_schema()))["paths"]
    for path, operations in paths.items():
        for method, operation in operations.items():
            documented = set(operation["responses"])
            assert {"200", "400", "422", "503"} <= documented, (method, path, documented)
            if path.endswith("/files/{attachment_uuid}"):
                assert "404" in documented
            if "security" in operation or path.endswith("/enrol"):
                assert {"401", "403"} <= documented, (method, path, documented)


# --- every operation against its schema --------------------------------------------------------


CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]


@pytest.mark.django_db(transaction=True)
def test_every_operation_answers_as_its_schema_says(live_server, chain, feldsher):
    PatientFactory(home_facility=chain.post)  # a pull has someone to send
    token = a_station_token(chain.post, feldsher)
    schema = schemathesis.openapi.from_dict(json.loads(json.dumps(api.get_openapi_schema())))
    base_url = live_server.url
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 5

    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            derandomize=True,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:
            case.call_and_validate(
                base_url=base_url,
                headers={"Authorization": f"Bearer {token}"},
                checks=CHECKS,
            )

        check()
