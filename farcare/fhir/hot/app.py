"""The hot path's ASGI layer: which requests it may take, the answer through the lean chain's
response middleware, and Django's path for everything else."""

from __future__ import annotations

import io
import logging
import re
from collections.abc import Callable
from typing import Any

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.asgi import ASGIHandler, ASGIRequest
from django.http import HttpRequest, HttpResponse
from django.utils.module_loading import import_string

from ..errors import FHIR_JSON
from ..registry import handler_for
from .connections import HotPool, connection_params
from .reads import Served, read
from .searches import search
from .statements import Statements, compile_statements

logger = logging.getLogger(__name__)

# GET /fhir/<Type>/<id> with a FHIR id (R4: 1–64 of A–Z a–z 0–9 - .); GET /fhir/<Type>?….
_READ = re.compile(r"^/fhir/([A-Z][A-Za-z]{1,39})/([A-Za-z0-9\-.]{1,64})$")
_SEARCH = re.compile(r"^/fhir/([A-Z][A-Za-z]{1,39})$")
# The lean chain's middleware that only matter around database work: the hot path does its own
# (and any failure of it goes to Django's path, where this middleware answers).
_AROUND_THE_DATABASE = {"farcare.core.contention.DatabaseBusyMiddleware"}

ASGIApp = Callable[..., Any]


def _header(scope: dict[str, Any], name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def _takes(scope: dict[str, Any]) -> tuple[str, str, str] | None:
    """(type, id or "" for a search, token) of a request the hot path may answer, else None."""
    if scope.get("method") != "GET" or scope.get("root_path"):
        return None
    path = scope.get("path", "")
    if scope.get("query_string"):
        found = _SEARCH.match(path)
        logical_id = ""
    else:
        found = _READ.match(path)
        logical_id = found.group(2) if found else ""
    if found is None:
        return None
    authorization = _header(scope, b"authorization") or b""
    if not authorization.startswith(b"Bearer "):
        return None
    accept = _header(scope, b"accept") or b""
    if b"xml" in accept:
        return None  # negotiated by Django's path (406 unless JSON is also accepted)
    token = authorization[7:].strip().decode("latin1")
    if not token:
        return None
    return found.group(1), logical_id, token


class HotPath:
    """ASGI application: the hot path in front of `fallback` (Django's API handler)."""

    def __init__(self, fallback: ASGIApp) -> None:
        self.fallback = fallback
        self._pool = HotPool()
        self._statements: Statements | None = None
        self._params: dict[str, Any] | None = None
        self._chain = _response_chain()
        self._sender = ASGIHandler()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        wanted = _takes(scope)
        answer: HttpResponse | None = None
        if wanted is not None:
            try:
                answer = await self._answer(scope, *wanted)
            except Exception:  # Django's path answers, as it would have without this path
                logger.warning("FHIR hot path fell back to Django", exc_info=True)
        if answer is None:
            return await self.fallback(scope, receive, send)
        # Once sending has begun the answer is this one, whatever happens to the connection.
        await self._sender.send_response(answer, send)
        return None

    async def _answer(
        self, scope: dict[str, Any], resource_type: str, logical_id: str, token: str
    ) -> HttpResponse | None:
        handler = handler_for(resource_type)
        interaction = "read" if logical_id else "search-type"
        if handler is None or not handler.lean_read or interaction not in handler.interactions:
            return None
        request = ASGIRequest(scope, io.BytesIO())
        if self._chain.redirects(request):
            return None
        statements = await self._prepared()
        pool = await self._pool.pool(self._params or {})
        response: HttpResponse | None = None
        async with pool.connection() as connection:
            if logical_id:
                served = await read(
                    connection, statements, handler, logical_id, token,
                    request.META.get("REMOTE_ADDR") or None,
                )  # fmt: skip
                response = _response(served) if served is not None else None
            else:
                page = await search(connection, statements, handler, request, token)
                response = HttpResponse(page.body, content_type=FHIR_JSON) if page else None
        if response is None:
            return None
        return self._chain.respond(request, response)

    async def _prepared(self) -> Statements:
        if self._statements is None:
            self._params = await sync_to_async(connection_params, thread_sensitive=False)()
            self._statements = await sync_to_async(compile_statements, thread_sensitive=False)()
        return self._statements

    async def close(self) -> None:
        await self._pool.close()


def _response(served: Served) -> HttpResponse:
    """What `views.instance` answers for a read (`fhir_response` with `_etag`)."""
    response = HttpResponse(served.content.encode(), content_type=FHIR_JSON)
    response["ETag"] = f'W/"{served.version_id}"'
    response["Last-Modified"] = served.last_updated.strftime("%a, %d %b %Y %H:%M:%S GMT")
    return response


class _ResponseChain:
    """The lean chain (FARCARE_API_MIDDLEWARE) around a view that answers the response given."""

    def __init__(self, handler: Callable[[HttpRequest], HttpResponse]):
        self._handler = handler

    def redirects(self, request: HttpRequest) -> bool:
        """Whether SecurityMiddleware might answer before the view with its redirect to HTTPS
        (leaving aside its exempt paths, which only sends more to Django's path): Django's path
        answers that. No other layer of the lean chain answers before the view."""
        return bool(settings.SECURE_SSL_REDIRECT) and not request.is_secure()

    def respond(self, request: HttpRequest, response: HttpResponse) -> HttpResponse:
        request._hot_response = response  # type: ignore[attr-defined]
        answered: HttpResponse = self._handler(request)
        return answered


def _response_chain() -> _ResponseChain:
    def view(request: HttpRequest) -> HttpResponse:
        response: HttpResponse = request._hot_response  # type: ignore[attr-defined]
        return response

    handler: Callable[[HttpRequest], HttpResponse] = view
    for path in reversed(settings.FARCARE_API_MIDDLEWARE):
        if path in _AROUND_THE_DATABASE:
            continue
        try:
            layer = import_string(path)(handler)
        except MiddlewareNotUsed:
            continue
        handler = layer
    return _ResponseChain(handler)


def hot_reads_enabled() -> bool:
    from django.db import connections

    return bool(settings.FARCARE_FHIR_HOT_READS) and connections["default"].vendor == "postgresql"
