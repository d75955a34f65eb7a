"""FHIR requests that reach Django, run on a pool of threads in each ASGI worker.

Under ASGI Django runs every synchronous view of a worker on one thread, one request at a time:
while a FHIR create waits on its twenty round trips to PostgreSQL, the worker's other API
requests queue behind it though the CPU is idle. FHIR requests share no per-request state, so
they go through Django's WSGI handler on the lean chain (`ApiWSGIHandler`, as the WSGI entry
point and the tests' live servers run it) on FARCARE_API_THREADS threads, as a threaded WSGI
server would run them. Not the pages (their views share per-request state with the live
worklists' consumers), nor the stations' pulls: those are CPU-bound, and beside other threads
each of their round trips waited for the GIL's switch interval (the load test served half as
many pulls a second on threads). Each thread has its own
database connection, borrowed from the worker's pool and given back when its request finishes
(Django's request_finished, sent in that thread).

The body is read before the handler runs; the answer is sent from the event loop as the handler
produces it (a file download streams)."""

from __future__ import annotations

import asyncio
import sys
from collections import defaultdict
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from tempfile import SpooledTemporaryFile
from typing import IO, Any

WSGIApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


class ThreadedWSGI:
    """ASGI application: `wsgi` run on `threads` threads of its own."""

    def __init__(self, wsgi: WSGIApp, threads: int) -> None:
        self.wsgi = wsgi
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="farcare-api")

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        loop = asyncio.get_running_loop()
        with SpooledTemporaryFile(max_size=1024 * 1024) as body:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    return  # the client left before sending its request: nothing to answer
                body.write(message.get("body", b""))
                if not message.get("more_body"):
                    break
            body.seek(0)
            environ = _environ(scope, body)

            def sent(message: dict[str, Any]) -> None:
                asyncio.run_coroutine_threadsafe(send(message), loop).result()

            await loop.run_in_executor(self.executor, _run, self.wsgi, environ, sent)


def threads_for(prefix: str, threaded: ThreadedWSGI, otherwise: Any) -> Any:
    """ASGI application: requests under `prefix` to `threaded`, the others to `otherwise`."""

    async def application(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        path = scope.get("path", "")
        chosen = threaded if path == prefix or path.startswith(prefix + "/") else otherwise
        return await chosen(scope, receive, send)

    return application


def _run(wsgi: WSGIApp, environ: dict[str, Any], send: Callable[[dict[str, Any]], None]) -> None:
    started: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> None:
        started["status"] = int(status.split(" ", 1)[0])
        started["headers"] = [
            (name.lower().encode("latin1"), value.encode("latin1")) for name, value in headers
        ]

    result = wsgi(environ, start_response)
    try:
        first = True
        for chunk in result:
            if first:
                send({"type": "http.response.start", **started})
                first = False
            if chunk:
                send({"type": "http.response.body", "body": chunk, "more_body": True})
        if first:
            send({"type": "http.response.start", **started})
        send({"type": "http.response.body", "body": b"", "more_body": False})
    finally:
        # Django sends request_finished here, in this thread: its connection goes back.
        close = getattr(result, "close", None)
        if close is not None:
            close()


def _environ(scope: dict[str, Any], body: IO[bytes]) -> dict[str, Any]:
    """The WSGI environ of an ASGI HTTP scope (as asgiref's WsgiToAsgi builds it)."""
    script_name = scope.get("root_path", "").encode("utf8").decode("latin1")
    path_info = scope["path"].encode("utf8").decode("latin1")
    if path_info.startswith(script_name):
        path_info = path_info[len(script_name) :]
    environ: dict[str, Any] = {
        "REQUEST_METHOD": scope["method"],
        "SCRIPT_NAME": script_name,
        "PATH_INFO": path_info,
        "QUERY_STRING": scope.get("query_string", b"").decode("latin1"),
        "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scope.get("scheme", "http"),
        "wsgi.input": body,
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    server = scope.get("server")
    environ["SERVER_NAME"] = server[0] if server else "localhost"
    environ["SERVER_PORT"] = str(server[1] if server and server[1] is not None else 80)
    if scope.get("client"):
        environ["REMOTE_ADDR"] = scope["client"][0]
    headers: dict[str, list[str]] = defaultdict(list)
    for raw_name, raw_value in scope.get("headers", []):
        name = raw_name.decode("latin1")
        key = {"content-length": "CONTENT_LENGTH", "content-type": "CONTENT_TYPE"}.get(
            name, "HTTP_" + name.upper().replace("-", "_")
        )
        headers[key].append(raw_value.decode("latin1"))
    for key, values in headers.items():
        environ[key] = ",".join(values)
    return environ
