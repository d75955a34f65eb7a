"""A FHIR client goes through the lean middleware chain, the pages through theirs: the same
answers, headers and refusals, without the session and CSRF machinery a bearer token never uses.
Both entry points (ASGI for uvicorn and gunicorn, WSGI for the rest) dispatch the same way."""

from __future__ import annotations

import gzip
import io
import json
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_finished, request_started
from django.db import close_old_connections

from farcare.accounts.models import User
from farcare.core.api_chain import uses_api_chain
from farcare.patients.models import Patient

from ..fhir.conftest import issue_token

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("path", "lean"),
    [
        ("/fhir", True),
        ("/fhir/Patient", True),
        ("/fhir/Patient/0b5c/_history/2", True),
        ("/fhir/metadata", True),
        ("/fhir/auth/token", False),  # OAuth: the pages' chain (a session for user tokens)
        ("/fhir/auth/user-token", False),
        ("/fhirx", False),
        ("/", False),
        ("/api/sync/pull", True),
        ("/api/sync/enrol", True),
        ("/api/sms/inbound/", False),
        ("/station/", False),
        ("/accounts/login/", False),
    ],
)
def test_only_the_fhir_rest_api_takes_the_lean_chain(path, lean):
    assert uses_api_chain(path) is lean


def wsgi_get(path: str, headers: dict[str, str]) -> tuple[int, dict[str, str], bytes]:
    from farcare.wsgi import application

    path_info, _, query = path.partition("?")
    environ: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": path_info,
        "QUERY_STRING": query,
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "80",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": io.StringIO(),
        "SERVER_PROTOCOL": "HTTP/1.1",
    }
    for name, value in headers.items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], *exc: Any) -> None:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {name.lower(): value for name, value in response_headers}

    # As Django's test client does: the test's transaction holds the connection, which the
    # handler's signals would otherwise close around the request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        body = b"".join(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return answer["status"], answer["headers"], body


def test_a_fhir_read_through_the_lean_chain_is_answered_gzipped_with_security_headers_and_no_cookie(
    demo_network,
):
    feldsher = User.objects.get(username="feldsher")
    patient = Patient.objects.filter(home_facility=feldsher.facility).first()
    token = issue_token(feldsher, "user/*.read")
    status, headers, body = wsgi_get(
        f"/fhir/Patient/{patient.uuid}",
        {"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip"},
    )
    assert status == 200
    assert headers["content-encoding"] == "gzip"
    resource = json.loads(gzip.decompress(body))
    assert resource["resourceType"] == "Patient"
    assert resource["id"] == str(patient.uuid)
    assert "content-security-policy" in headers
    assert headers["x-content-type-options"] == "nosniff"
    # No session, no CSRF token: nothing of the pages' machinery.
    assert "set-cookie" not in headers


def test_the_lean_chain_answers_in_the_clients_language(demo_network):
    status, headers, body = wsgi_get("/fhir/Patient", {"Accept-Language": "ru"})
    assert status == 401
    assert json.loads(body)["resourceType"] == "OperationOutcome"
    assert headers["content-language"] == "ru"
    _status, headers, _body = wsgi_get("/fhir/Patient", {"Accept-Language": "ko"})
    assert headers["content-language"] == "ko"


def test_pages_keep_their_chain(demo_network):
    status, headers, _body = wsgi_get("/accounts/login/", {})
    assert status == 200
    assert "csrftoken=" in headers.get("set-cookie", "")


@pytest.mark.django_db(transaction=True)
def test_the_asgi_entry_point_dispatches_the_same_way(demo_network):
    from farcare.asgi import application

    feldsher = User.objects.get(username="feldsher")
    patient = Patient.objects.filter(home_facility=feldsher.facility).first()
    token = issue_token(feldsher, "user/*.read")

    async def get(
        path: str, headers: list[tuple[bytes, bytes]]
    ) -> tuple[int, dict[str, str], bytes]:
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 80),
        }
        communicator = ApplicationCommunicator(application, scope)
        await communicator.send_input({"type": "http.request", "body": b"", "more_body": False})
        start = await communicator.receive_output(30)
        body = b""
        while True:
            message = await communicator.receive_output(30)
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        await communicator.wait(5)
        names = {name.decode().lower(): value.decode() for name, value in start["headers"]}
        return start["status"], names, body

    status, headers, body = async_to_sync(get)(
        f"/fhir/Patient/{patient.uuid}", [(b"authorization", f"Bearer {token}".encode())]
    )
    assert status == 200, body[:300]
    assert json.loads(body)["id"] == str(patient.uuid)
    assert "set-cookie" not in headers
    status, headers, _body = async_to_sync(get)("/accounts/login/", [])
    assert status == 200
    assert "csrftoken=" in headers.get("set-cookie", "")
