"""A write that waited too long for the database answers 503 with Retry-After, never a 500.

Writers queue: on SQLite one at a time (IMMEDIATE transactions, a busy timeout), on PostgreSQL
behind row locks (lock_timeout). When the wait runs out, the database raises: SQLite "database is
locked", PostgreSQL a lock timeout, a serialization failure or a deadlock. Nothing is wrong with
the request; it only came at a busy moment, so the client is told to send it again later, in the
form it reads: an OperationOutcome on /fhir, JSON on the sync API, a page in the user's language.

Where the error is raised decides who sees it: a view's exception reaches `process_exception`,
but the FHIR endpoints turn every exception into their own 500 OperationOutcome, and the session
is saved by a middleware after the view. So every connection also reports such errors, as they
happen, to the request being served (`connection_created` below), and a 500 answered after one
becomes the 503."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

logger = logging.getLogger(__name__)

# SQLite: SQLITE_BUSY and SQLITE_LOCKED as the sqlite3 module words them.
SQLITE_BUSY_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database schema is locked",
)
# PostgreSQL SQLSTATEs: lock_not_available, serialization_failure, deadlock_detected.
POSTGRESQL_BUSY_STATES = frozenset({"55P03", "40001", "40P01"})

# The busy errors seen while serving the current request (None outside a request).
_seen: ContextVar[list[BaseException] | None] = ContextVar("farcare_db_busy", default=None)


def is_busy(error: BaseException | None) -> bool:
    """Whether the error (or what caused it) is the database refusing to wait any longer for a
    lock, as opposed to a fault of the request or of the code."""
    depth = 0
    while error is not None and depth < 8:
        if getattr(error, "sqlstate", None) in POSTGRESQL_BUSY_STATES:
            return True
        if getattr(error, "pgcode", None) in POSTGRESQL_BUSY_STATES:
            return True
        if error.__class__.__name__ == "OperationalError" and any(
            message in str(error).lower() for message in SQLITE_BUSY_MESSAGES
        ):
            return True
        error = error.__cause__ or error.__context__
        depth += 1
    return False


def retry_after() -> int:
    return max(1, int(settings.FARCARE_RETRY_AFTER_SECONDS))


def busy_message() -> str:
    return _(
        "The server is busy with other changes and could not finish this request. "
        "Please send it again in a few seconds."
    )


def busy_response(request: HttpRequest) -> HttpResponse:
    """503 in the form the client reads, telling it when to come back."""
    path = request.path_info
    language = getattr(request, "LANGUAGE_CODE", None) or translation.get_language()
    with translation.override(language):
        message = busy_message()
        if path == "/fhir" or path.startswith("/fhir/"):
            outcome = {
                "resourceType": "OperationOutcome",
                "issue": [{"severity": "error", "code": "lock-error", "diagnostics": message}],
            }
            response = HttpResponse(
                json.dumps(outcome, ensure_ascii=False),
                status=503,
                content_type="application/fhir+json; charset=utf-8",
            )
        elif path.startswith("/api/"):
            response = HttpResponse(
                json.dumps({"detail": message}, ensure_ascii=False),
                status=503,
                content_type="application/json; charset=utf-8",
            )
        elif path.startswith("/uploads/"):
            response = HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")
            response["Tus-Resumable"] = "1.0.0"
        else:
            response = HttpResponse(_busy_page(request, message), status=503)
    response["Retry-After"] = str(retry_after())
    response["Cache-Control"] = "no-store"
    return response


def _busy_page(request: HttpRequest, message: str) -> str:
    try:
        return render_to_string("503.html", {"message": message}, request=request)
    except Exception:  # the page must come even when its context cannot be built
        logger.exception("the 503 page could not be rendered")
        return f"<!doctype html><title>FarCare</title><p>{escape(message)}</p>"


def _observe(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        seen = _seen.get()
        if seen is not None and is_busy(error):
            seen.append(error)
        raise


@receiver(connection_created)
def _watch_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if _observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(_observe)


class DatabaseBusyMiddleware:
    """Turns a request that failed only because the database stayed busy into a 503."""

    sync_capable = True
    async_capable = True

    def __init__(
        self, get_response: Callable[[HttpRequest], HttpResponseBase | Awaitable[HttpResponseBase]]
    ) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self.__acall__(request)
        seen: list[BaseException] = []
        token = _seen.set(seen)
        try:
            response = self.get_response(request)
        finally:
            _seen.reset(token)
        return self._answer(request, response, seen)  # type: ignore[arg-type]

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # The list is shared with the threads that run the sync parts of this request: they
        # get a copy of this context, holding the same list.
        seen: list[BaseException] = []
        token = _seen.set(seen)
        try:
            response = await self.get_response(request)  # type: ignore[misc]
        finally:
            _seen.reset(token)
        return self._answer(request, response, seen)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_busy(exception):
            logger.warning("database busy: %s %s: %s", request.method, request.path, exception)
            return busy_response(request)
        return None

    def _answer(
        self, request: HttpRequest, response: HttpResponseBase, seen: list[BaseException]
    ) -> HttpResponseBase:
        # 400: a session that could not be saved is reported by Django as "interrupted".
        failed = response.status_code >= 500 or response.status_code == 400
        if failed and response.status_code != 503 and seen:
            logger.warning("database busy: %s %s: %s", request.method, request.path, seen[-1])
            return busy_response(request)
        return response
