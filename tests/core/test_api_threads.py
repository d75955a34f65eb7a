"""The machine APIs' requests that reach Django run on a worker's threads
(farcare/core/api_threads.py): two slow requests are served at once, bodies and headers cross
both ways, a download streams in order, and Django's own API handler answers through it."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest

from farcare.core.api_chain import ApiWSGIHandler
from farcare.core.api_threads import ThreadedWSGI


def call(app: Any, scopes: list[tuple[dict[str, Any], bytes]]) -> list[list[dict[str, Any]]]:
    """Send every request at once to `app` on one event loop; the messages each got back."""

    async def one(scope: dict[str, Any], body: bytes) -> list[dict[str, Any]]:
        sent: list[dict[str, Any]] = []
        parts = [body[:3], body[3:]]

        async def receive() -> dict[str, Any]:
            part = parts.pop(0)
            return {"type": "http.request", "body": part, "more_body": bool(parts)}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        await app(scope, receive, send)
        return sent

    async def together() -> list[list[dict[str, Any]]]:
        return list(await asyncio.gather(*(one(scope, body) for scope, body in scopes)))

    return asyncio.run(together())


def scope(path: str, method: str = "GET", headers: dict[str, str] | None = None) -> dict:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "query_string": b"a=1",
        "root_path": "",
        "headers": [(k.encode(), v.encode()) for k, v in (headers or {}).items()],
        "client": ("10.9.8.7", 40000),
        "server": ("testserver", 80),
    }


def test_two_slow_requests_are_served_at_once():
    both_in = threading.Barrier(2, timeout=10)

    def slow(environ: dict, start_response: Any) -> list[bytes]:
        both_in.wait()  # each waits for the other: served one after the other, this fails
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [environ["PATH_INFO"].encode()]

    answers = call(ThreadedWSGI(slow, threads=2), [(scope("/one"), b""), (scope("/two"), b"")])
    assert [a[0]["status"] for a in answers] == [200, 200]
    assert [b"".join(m.get("body", b"") for m in a[1:]) for a in answers] == [b"/one", b"/two"]


def test_the_request_and_the_streamed_answer_cross_whole():
    seen: dict[str, Any] = {}

    def echo(environ: dict, start_response: Any) -> Any:
        seen.update(
            body=environ["wsgi.input"].read(),
            query=environ["QUERY_STRING"],
            type=environ["CONTENT_TYPE"],
            token=environ["HTTP_AUTHORIZATION"],
            client=environ["REMOTE_ADDR"],
        )
        start_response("201 Created", [("Content-Type", "application/json"), ("X-Mark", "é")])
        yield b"first,"
        yield b""
        yield b"second"

    headers = {"content-type": "application/json", "authorization": "Bearer abc"}
    request = scope("/api/sync/push", "POST", headers)
    [answer] = call(ThreadedWSGI(echo, threads=1), [(request, b'{"items": []}')])
    assert seen == {
        "body": b'{"items": []}', "query": "a=1", "type": "application/json",
        "token": "Bearer abc", "client": "10.9.8.7",
    }  # fmt: skip
    start, *bodies = answer
    assert start["status"] == 201
    assert (b"x-mark", "é".encode("latin1")) in start["headers"]
    assert [m["body"] for m in bodies] == [b"first,", b"second", b""]
    assert bodies[-1]["more_body"] is False


@pytest.mark.django_db
def test_djangos_api_handler_answers_through_the_threads(demo_network):
    """The lean chain as the ASGI entry point runs it: a FHIR request without a token is
    refused with an OperationOutcome, in the client's language."""
    [answer] = call(
        ThreadedWSGI(ApiWSGIHandler(), threads=2),
        [(scope("/fhir/Patient", headers={"accept-language": "en"}), b"")],
    )
    start, *bodies = answer
    assert start["status"] == 401
    outcome = json.loads(b"".join(m["body"] for m in bodies))
    assert outcome["resourceType"] == "OperationOutcome"


def test_only_fhir_takes_the_threads():
    from farcare.core.api_threads import threads_for

    answered: list[str] = []

    def named(name: str) -> Any:
        async def app(scope: dict, receive: Any, send: Any) -> None:
            answered.append(f"{name} {scope['path']}")
            await send({"type": "http.response.start", "status": 204, "headers": []})
            await send({"type": "http.response.body", "body": b""})

        return app

    router = threads_for("/fhir", named("threads"), named("one thread"))
    call(
        router,
        [(scope(path), b"") for path in ("/fhir", "/fhir/Patient", "/fhirx", "/api/sync/pull")],
    )
    assert answered == [
        "threads /fhir", "threads /fhir/Patient", "one thread /fhirx", "one thread /api/sync/pull",
    ]  # fmt: skip
