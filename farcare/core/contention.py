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
becomes the 503.

On PostgreSQL a serialization failure or a deadlock is not a long wait but a collision: the
database rolled the whole transaction back, and the same work usually goes through a moment
later. So a request that failed only for that, and had committed nothing yet, is served again
from the start, up to FARCARE_DB_CONFLICT_RETRIES times after a short jittered pause; workers and
commands get the same with `retry_on_conflict`. Whether anything was committed is known from
the database backend (farcare.core.db.postgresql, farcare.core.db.commits); where it cannot
tell, nothing is run twice. A request is served again from what it was when it reached this
middleware (its body kept), so nothing a failed attempt left on it (a cached user, a parsed form,
a session) carries over; what that attempt queued with on_commit was dropped with its rollback."""

from __future__ import annotations

import asyncio
import functools
import io
import json
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any, ParamSpec, TypeVar, overload

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created
from django.db.utils import load_backend
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseBase
from django.template.loader import render_to_string
from django.utils import translation
from django.utils.html import escape
from django.utils.translation import gettext as _

from farcare.core.db import commits

logger = logging.getLogger(__name__)

# SQLite: SQLITE_BUSY and SQLITE_LOCKED as the sqlite3 module words them.
SQLITE_BUSY_MESSAGES = (
    "database is locked",
    "database table is locked",
    "database schema is locked",
)
# PostgreSQL SQLSTATEs: serialization_failure and deadlock_detected (the transaction was rolled
# back: the same work may simply be run again), and lock_not_available (a lock was waited for
# as long as allowed: running again at once would wait as long again).
POSTGRESQL_CONFLICT_STATES = frozenset({"40001", "40P01"})
POSTGRESQL_BUSY_STATES = POSTGRESQL_CONFLICT_STATES | {"55P03"}
# How many times work aborted by a conflict is run again (FARCARE_DB_CONFLICT_RETRIES), and the
# longest pause before a run (each pause is random, so two colliding requests do not collide
# again in step).
DEFAULT_CONFLICT_RETRIES = 3
FIRST_PAUSE_SECONDS = 0.02
LONGEST_PAUSE_SECONDS = 0.2
# A request body up to this size is read before the view, so the request can be served again
# (one already read by the view, as JSON and form posts are, is kept whatever its size).
REPLAYABLE_BODY_BYTES = 1024 * 1024

P = ParamSpec("P")
R = TypeVar("R")


def is_busy(error: BaseException | None) -> bool:
    """Whether the error (or what caused it) is the database refusing to wait any longer for a
    lock, as opposed to a fault of the request or of the code."""
    return _database_says(error, POSTGRESQL_BUSY_STATES, sqlite_busy=True)


def is_conflict(error: BaseException | None) -> bool:
    """Whether the error (or what caused it) is PostgreSQL having rolled back a transaction that
    collided with another (serialization failure, deadlock): the same work may be run again."""
    return _database_says(error, POSTGRESQL_CONFLICT_STATES, sqlite_busy=False)


def _database_says(
    error: BaseException | None, states: frozenset[str], *, sqlite_busy: bool
) -> bool:
    depth = 0
    while error is not None and depth < 8:
        if getattr(error, "sqlstate", None) in states:
            return True
        if getattr(error, "pgcode", None) in states:
            return True
        if (
            sqlite_busy
            and error.__class__.__name__ == "OperationalError"
            and any(message in str(error).lower() for message in SQLITE_BUSY_MESSAGES)
        ):
            return True
        # Every connection of psycopg's pool stayed busy for the pool's timeout: the database is
        # not wrong, only all its connections are taken (Django wraps it in OperationalError).
        if sqlite_busy and error.__class__.__name__ == "PoolTimeout":
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


def conflict_retries() -> int:
    return max(0, int(getattr(settings, "FARCARE_DB_CONFLICT_RETRIES", DEFAULT_CONFLICT_RETRIES)))


def pause_before(run: int) -> float:
    """Seconds to wait before run number `run` (2, 3, ...): random, growing, at most 200 ms."""
    ceiling = min(LONGEST_PAUSE_SECONDS, FIRST_PAUSE_SECONDS * 3 ** (run - 1))
    return random.uniform(FIRST_PAUSE_SECONDS, ceiling)  # jitter, not a secret


def runs_again(*, attempt: commits.Attempt, failed: bool, runs: int, replayable: bool) -> bool:
    """The safety rule: work is run again only when it failed because PostgreSQL rolled it back
    for a conflict (the last lock error it met was a serialization failure or a deadlock, not a
    lock wait that ran out), nothing of it was committed, the database could tell, it can be
    replayed as it came, and it has not yet been run 1 + FARCARE_DB_CONFLICT_RETRIES times."""
    return (
        failed
        and replayable
        and attempt.may_run_again
        and bool(attempt.busy)
        and is_conflict(attempt.busy[-1])
        and runs <= conflict_retries()
    )


# --- every statement -----------------------------------------------------------------------


def _observe(
    execute: Callable[..., Any], sql: str, params: Any, many: bool, context: dict[str, Any]
) -> Any:
    if not getattr(context["connection"], "reports_commits", False):
        commits.untracked()
    try:
        return execute(sql, params, many, context)
    except Exception as error:
        if is_busy(error):
            commits.busy(error)
        raise


@receiver(connection_created)
def _watch_connection(sender: Any, connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    if _observe not in connection.execute_wrappers:
        connection.execute_wrappers.append(_observe)


# --- workers and commands --------------------------------------------------------------------


@overload
def retry_on_conflict(func: Callable[P, R], /) -> Callable[P, R]: ...
@overload
def retry_on_conflict(
    func: None = None, /, *, using: str = DEFAULT_DB_ALIAS
) -> Callable[[Callable[P, R]], Callable[P, R]]: ...
def retry_on_conflict(
    func: Callable[P, R] | None = None, /, *, using: str = DEFAULT_DB_ALIAS
) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
    """Runs the decorated work again when PostgreSQL rolled it back for a conflict, by the same
    rule as requests (`runs_again`). For the outermost transaction of a worker's step or a
    command: inside a transaction opened by its caller it cannot (the caller's transaction is
    the one aborted), and the error goes up.

        @retry_on_conflict
        def _sweep_one(pk: int) -> None:
            with transaction.atomic():
                ...
    """

    def decorate(work: Callable[P, R]) -> Callable[P, R]:
        @functools.wraps(work)
        def run(*args: P.args, **kwargs: P.kwargs) -> R:
            runs = 1
            while True:
                with commits.attempt() as attempt:
                    try:
                        return work(*args, **kwargs)
                    except Exception:
                        if not runs_again(
                            attempt=attempt,
                            failed=True,
                            runs=runs,
                            replayable=not connections[using].in_atomic_block,
                        ):
                            raise
                runs += 1
                logger.warning(
                    "database conflict in %s, running it again (%d of %d): %s",
                    getattr(work, "__qualname__", work),
                    runs,
                    conflict_retries() + 1,
                    attempt.busy[-1],
                )
                time.sleep(pause_before(runs))

        return run

    return decorate(func) if func is not None else decorate


# --- requests --------------------------------------------------------------------------------


class _Replay:
    """A request as it reached the middleware, to serve it again from the start: the later
    middlewares and the view left their marks on the request object (a cached user, a session,
    a parsed form, CSRF notes in META); a new run must not find them."""

    def __init__(self, request: HttpRequest) -> None:
        self._read_body(request)
        self._meta = dict(request.META)
        self._environ_is_meta = request.__dict__.get("environ") is request.META
        self._state = dict(request.__dict__)

    @staticmethod
    def _read_body(request: HttpRequest) -> None:
        """A small body is read now and kept (the view reads it from the copy): a stream read
        once by the view could not be read again."""
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            return
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if 0 < length <= REPLAYABLE_BODY_BYTES and (limit is None or length <= limit):
            try:
                request.body  # noqa: B018 - Django reads and keeps it
            except Exception:  # an unreadable body: the view will meet it and answer
                logger.debug("request body not kept for a replay", exc_info=True)

    @staticmethod
    def replayable(request: HttpRequest) -> bool:
        """Whether the body is kept (or was never touched), so a new run reads it whole."""
        return "_body" in request.__dict__ or not getattr(request, "_read_started", False)

    def restore(self, request: HttpRequest) -> None:
        body = request.__dict__.get("_body")
        request.__dict__.clear()
        request.__dict__.update(self._state)
        request.META = dict(self._meta)
        if self._environ_is_meta:
            request.environ = request.META  # type: ignore[attr-defined]
        if body is not None:
            request._body = body
            request._stream = io.BytesIO(body)
            request._read_started = False  # type: ignore[attr-defined]


def _replays_possible() -> bool:
    """Whether the database's backend reports commits (from the settings: no connection is
    touched, in whatever thread or event loop this runs)."""
    engine = connections.settings[DEFAULT_DB_ALIAS]["ENGINE"]
    wrapper = load_backend(engine).DatabaseWrapper
    return conflict_retries() > 0 and bool(getattr(wrapper, "reports_commits", False))


class DatabaseBusyMiddleware:
    """Serves again a request PostgreSQL rolled back for a conflict, and turns a request that
    failed only because the database stayed busy into a 503."""

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
        replay = _Replay(request) if _replays_possible() else None
        runs = 1
        while True:
            with commits.attempt() as attempt:
                response: HttpResponseBase = self.get_response(request)  # type: ignore[assignment]
            if not self._again(request, response, attempt, replay, runs):
                return self._answer(request, response, attempt)
            runs += 1
            time.sleep(pause_before(runs))
            assert replay is not None
            replay.restore(request)

    async def __acall__(self, request: HttpRequest) -> HttpResponseBase:
        # The threads that run the sync parts of this request get a copy of this context,
        # holding the same Attempt: what they report reaches it.
        replay = _Replay(request) if _replays_possible() else None
        runs = 1
        while True:
            with commits.attempt() as attempt:
                response = await self.get_response(request)  # type: ignore[misc]
            if not self._again(request, response, attempt, replay, runs):
                return self._answer(request, response, attempt)
            runs += 1
            await asyncio.sleep(pause_before(runs))
            assert replay is not None
            replay.restore(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        if is_busy(exception):
            if not is_conflict(exception):
                logger.warning("database busy: %s %s: %s", request.method, request.path, exception)
            return busy_response(request)
        return None

    @staticmethod
    def _failed(response: HttpResponseBase) -> bool:
        # 400: a session that could not be saved is reported by Django as "interrupted".
        return response.status_code >= 500 or response.status_code == 400

    def _again(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        attempt: commits.Attempt,
        replay: _Replay | None,
        runs: int,
    ) -> bool:
        again = runs_again(
            attempt=attempt,
            # A streamed answer may have done its work while streaming: never served twice.
            failed=self._failed(response) and not response.streaming,
            runs=runs,
            replayable=replay is not None and replay.replayable(request),
        )
        if again:
            logger.warning(
                "database conflict, serving again (%d of %d): %s %s: %s",
                runs + 1,
                conflict_retries() + 1,
                request.method,
                request.path,
                attempt.busy[-1],
            )
        elif attempt.busy and self._failed(response) and is_conflict(attempt.busy[-1]):
            why = "something was committed" if attempt.committed else "not replayable"
            if runs > 1 and attempt.may_run_again:
                why = f"still failing after {runs} runs"
            logger.warning(
                "database conflict, not served again (%s): %s %s: %s",
                why,
                request.method,
                request.path,
                attempt.busy[-1],
            )
        return again

    def _answer(
        self, request: HttpRequest, response: HttpResponseBase, attempt: commits.Attempt
    ) -> HttpResponseBase:
        if self._failed(response) and response.status_code != 503 and attempt.busy:
            logger.warning(
                "database busy: %s %s: %s", request.method, request.path, attempt.busy[-1]
            )
            return busy_response(request)
        return response
