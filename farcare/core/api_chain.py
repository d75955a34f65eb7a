"""Two middleware chains: the pages' (settings.MIDDLEWARE: sessions, CSRF, login, second factor,
messages, static files) and the machine APIs' lean one (FARCARE_API_MIDDLEWARE), which the
bearer-token APIs go through: FHIR at /fhir and the stations' sync at /api/sync/.

A FHIR client sends no cookie and reads no page: the session, authentication, OTP, message and
CSRF middleware do nothing for it but cost time on every request, and at a thousand reads a
second on two cores that time is most of the budget. The lean chain keeps what a FHIR answer
needs — HTTPS and security headers, the database-busy answer (503 with Retry-After), gzip, the
client's language — and the FHIR views authenticate the bearer token themselves. The OAuth
endpoints under /fhir/auth/ log people in with a session and stay on the pages' chain.

Both the ASGI and the WSGI entry points dispatch by path with `uses_api_chain`, so the servers
(uvicorn, gunicorn) and the tests' live servers take the same route."""

from __future__ import annotations

import threading
from collections.abc import Awaitable, Callable
from typing import Any

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from django.core.handlers.wsgi import WSGIHandler

# Loose on purpose: Django's handler, Channels' router and this dispatcher each spell the ASGI
# signature their own way.
ASGIApp = Callable[..., Awaitable[Any]]

# The pages' chain, not the lean one: sessions and logins live here.
_SESSION_PREFIXES = ("/fhir/auth/",)
_loading = threading.Lock()


def uses_api_chain(path: str) -> bool:
    """Whether a request to `path` goes through the lean chain: the FHIR REST API and the
    stations' sync API (a station authenticates with its bearer token, enrols with a password
    in the body)."""
    if path == "/fhir" or path.startswith("/api/sync/"):
        return True
    return path.startswith("/fhir/") and not path.startswith(_SESSION_PREFIXES)


def _with_api_middleware(load: Callable[[], None]) -> None:
    """Build a handler's chain from FARCARE_API_MIDDLEWARE: Django's loader reads
    settings.MIDDLEWARE, so it is pointed at the lean list for the time of the load (once per
    process, at start, under a lock)."""
    with _loading:
        pages = settings.MIDDLEWARE
        settings.MIDDLEWARE = list(settings.FARCARE_API_MIDDLEWARE)
        try:
            load()
        finally:
            settings.MIDDLEWARE = pages


class ApiASGIHandler(ASGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        _with_api_middleware(lambda: super(ApiASGIHandler, self).load_middleware(is_async))


class ApiWSGIHandler(WSGIHandler):
    def load_middleware(self, is_async: bool = False) -> None:
        _with_api_middleware(lambda: super(ApiWSGIHandler, self).load_middleware(is_async))


def asgi_dispatch(pages: ASGIApp, api: ASGIApp) -> ASGIApp:
    async def application(scope: dict[str, Any], receive: Any, send: Any) -> Any:
        path = scope.get("path", "")
        root = scope.get("root_path", "")
        if root and path.startswith(root):
            path = path[len(root) :]
        chosen = api if scope.get("type") == "http" and uses_api_chain(path) else pages
        return await chosen(scope, receive, send)

    return application


def wsgi_dispatch(
    pages: Callable[[dict[str, Any], Any], Any], api: Callable[[dict[str, Any], Any], Any]
) -> Callable[[dict[str, Any], Any], Any]:
    def application(environ: dict[str, Any], start_response: Any) -> Any:
        chosen = api if uses_api_chain(environ.get("PATH_INFO", "")) else pages
        return chosen(environ, start_response)

    return application
