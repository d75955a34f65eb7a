from __future__ import annotations

import base64
import hashlib
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests
from django.test import Client, TestCase
from django.utils import translation

from farcare.accounts.models import User
from farcare.consults.models import Consultation

# The consultation story of tests/consults: a submitted request, its feldsher, the consultants.
from ..consults.conftest import Scene, scene  # noqa: F401
from ..fhir.conftest import issue_token

OFFSET_STREAM = "application/offset+octet-stream"
CHUNK = 32 * 1024


def pdf(size: int, seed: int = 7) -> bytes:
    """A file that passes the content check of a PDF, with bytes that do not compress."""
    header = b"%PDF-1.4\n"
    return header + random.Random(seed).randbytes(size - len(header))


def digest(algorithm: str, data: bytes) -> str:
    return f"{algorithm} {base64.b64encode(hashlib.new(algorithm, data).digest()).decode()}"


def encode_metadata(**values: str) -> str:
    return ",".join(
        f"{key} {base64.b64encode(value.encode()).decode()}" for key, value in values.items()
    )


def attachment_metadata(
    consultation: Any, filename: str = "ecg.pdf", **more: str
) -> dict[str, str]:
    return {
        "purpose": "consult-attachment",
        "consultation": str(consultation.uuid if hasattr(consultation, "uuid") else consultation),
        "filename": filename,
        **more,
    }


IN_PROCESS = "http://testserver"


def send(method: str, url: str, data: bytes | None, headers: dict[str, str]) -> Any:
    """One HTTP request: through Django's test client when `url` is the test server's (the
    whole middleware stack, in this test's transaction: no live server, no database flush),
    else over the network to a live server. Both answers have status_code, headers and text."""
    if not url.startswith(IN_PROCESS):
        return requests.request(method, url, data=data, headers=headers, timeout=30)
    headers = dict(headers)
    content_type = headers.pop("Content-Type", None)
    # An empty body keeps its declared type (the client drops it otherwise).
    environ = {"CONTENT_TYPE": content_type} if content_type else {}
    # What a request does after its commit (part files removed, previews made) happens here
    # too, as it would when the request's own transaction commits; the language it chose is
    # the request's, not the test's.
    with (
        TestCase.captureOnCommitCallbacks(execute=True),
        translation.override(translation.get_language()),
    ):
        return Client().generic(
            method,
            url,
            data=data or b"",
            content_type=content_type or "application/octet-stream",
            headers=headers,
            **environ,
        )


class Tus:
    """A hand-driven tus client: one request at a time, as the tests want to see them."""

    def __init__(self, base_url: str, token: str | None = None, **headers: str) -> None:
        self.collection = f"{base_url}/uploads/"
        self.headers = {"Tus-Resumable": "1.0.0", **headers}
        if token:
            self.headers["Authorization"] = f"Bearer {token}"

    def options(self) -> Any:
        return send("OPTIONS", self.collection, None, {})

    def create(
        self,
        length: int,
        metadata: dict[str, str],
        *,
        data: bytes | None = None,
        checksum: str | None = None,
        **headers: str,
    ) -> Any:
        sent = {
            **self.headers,
            "Upload-Length": str(length),
            "Upload-Metadata": encode_metadata(**metadata),
        }
        if data is not None:  # creation-with-upload
            sent["Content-Type"] = OFFSET_STREAM
        if checksum:
            sent["Upload-Checksum"] = checksum
        sent.update(headers)
        return send("POST", self.collection, data, sent)

    def created(self, length: int, metadata: dict[str, str]) -> str:
        response = self.create(length, metadata)
        assert response.status_code == 201, response.text
        return response.headers["Location"]

    def head(self, location: str) -> Any:
        return send("HEAD", location, None, self.headers)

    def offset(self, location: str) -> int:
        response = self.head(location)
        assert response.status_code == 200, response.status_code
        return int(response.headers["Upload-Offset"])

    def patch(
        self,
        location: str,
        offset: int,
        data: bytes,
        *,
        checksum: str | None = None,
        **headers: str,
    ) -> Any:
        sent = {**self.headers, "Upload-Offset": str(offset), "Content-Type": OFFSET_STREAM}
        if checksum:
            sent["Upload-Checksum"] = checksum
        sent.update(headers)
        return send("PATCH", location, data, sent)

    def delete(self, location: str) -> Any:
        return send("DELETE", location, None, self.headers)


@dataclass
class Case:
    """An open consultation, its requester and its consultant, served in-process or by the
    live server."""

    url: str
    scene: Scene
    consultation: Consultation

    @property
    def feldsher(self) -> User:
        return self.scene.feldsher

    @property
    def consultant(self) -> User:
        return self.consultation.assignments.get(ended_at__isnull=True).consultant

    def tus(self, user: User | None = None, **headers: str) -> Tus:
        return Tus(
            self.url, issue_token(user or self.feldsher, "user/*.read user/*.write"), **headers
        )


@pytest.fixture
def parts(settings: Any, tmp_path: Path) -> Path:
    """The folder of the bytes of unfinished uploads, one per test."""
    settings.FARCARE_UPLOAD_DIR = tmp_path / "parts"
    return Path(settings.FARCARE_UPLOAD_DIR)


@pytest.fixture
def case(scene: Scene, parts: Path) -> Case:  # noqa: F811
    """Served in-process: the protocol's rules need no sockets."""
    return Case(IN_PROCESS, scene, scene.submit())


@pytest.fixture
def live_case(live_server: Any, scene: Scene, parts: Path) -> Case:  # noqa: F811
    """Served by a live server on loopback, for what needs two requests at once or a real
    client library."""
    return Case(live_server.url, scene, scene.submit())
