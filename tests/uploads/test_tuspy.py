"""A real tus client (tuspy) against the live server: a whole file in chunks with checksums, a
resumed upload, and a drop of the satellite link in the middle of a file."""

from __future__ import annotations

import hashlib
import io
from typing import Any

import pytest
from tusclient.client import TusClient

from farcare.consults.models import Attachment
from farcare.testing.weaklink import WeakLink

from ..fhir.conftest import issue_token
from .conftest import CHUNK, Case, Tus, attachment_metadata, pdf

HEADERS_PER_REQUEST = 1024  # a generous bound for one request's line and headers


@pytest.fixture
def case(live_case: Case) -> Case:
    """tuspy is a real client library: it talks to a live server over sockets."""
    return live_case


def tus_client(case: Case, base_url: str | None = None) -> TusClient:
    token = issue_token(case.feldsher, "user/*.read user/*.write")
    return TusClient(
        f"{base_url or case.url}/uploads/", headers={"Authorization": f"Bearer {token}"}
    )


def uploader(client: TusClient, data: bytes, case: Case, **options: Any) -> Any:
    return client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=CHUNK,
        metadata=attachment_metadata(case.consultation, "echo.pdf"),
        upload_checksum=True,  # sha1 of every chunk
        **options,
    )


def stored(result: str) -> bytes:
    attachment = Attachment.objects.get(uuid=result)
    with attachment.file.open("rb") as handle:
        return handle.read()


def test_tuspy_uploads_a_file_in_chunks_with_checksums(case: Case):
    data = pdf(300_000)
    upload = uploader(tus_client(case), data, case)
    upload.upload()
    assert upload.offset == len(data)
    result = upload.request.response_headers["farcare-upload-result"]
    assert stored(result) == data
    assert Attachment.objects.get(uuid=result).consultation == case.consultation


@pytest.mark.weaklink
def test_a_resumed_upload_sends_only_the_missing_bytes(case: Case, live_server: Any):
    data = pdf(300_000)
    with WeakLink("127.0.0.1", live_server.thread.port, rate_bps=50_000_000, rtt_ms=0) as link:
        client = tus_client(case, f"http://127.0.0.1:{link.port}")
        first = uploader(client, data, case)
        first.upload(stop_at=5 * CHUNK)
        assert Tus(case.url, issue_token(case.feldsher, "user/*.write")).offset(first.url) == (
            5 * CHUNK
        )

        before_bytes, before_connections = link.counters.up, link.counters.connections
        # Another run of the station's client: it knows only the URL it saved.
        resumed = uploader(client, data, case, url=first.url)
        assert resumed.offset == 5 * CHUNK  # asked with HEAD
        resumed.upload()
        sent = link.counters.up - before_bytes
        requests_made = link.counters.connections - before_connections

    missing = len(data) - 5 * CHUNK
    assert missing <= sent <= missing + requests_made * HEADERS_PER_REQUEST
    assert stored(resumed.request.response_headers["farcare-upload-result"]) == data


@pytest.mark.weaklink
def test_a_drop_in_the_middle_costs_at_most_one_chunk(case: Case, live_server: Any):
    data = pdf(300_000)
    with WeakLink("127.0.0.1", live_server.thread.port, rate_bps=8_000_000, rtt_ms=20) as link:
        client = tus_client(case, f"http://127.0.0.1:{link.port}")
        upload = uploader(client, data, case, retries=5, retry_delay=0)
        link.cut_after(150_000)  # in the middle of a chunk, half-way through the file
        upload.upload()  # tuspy asks for the offset (HEAD) after the drop and goes on
        assert link.counters.cuts == 1

    result = upload.request.response_headers["farcare-upload-result"]
    assert hashlib.sha256(stored(result)).digest() == hashlib.sha256(data).digest()
    overhead = link.counters.up - len(data)
    assert 0 < overhead <= CHUNK + link.counters.connections * HEADERS_PER_REQUEST
