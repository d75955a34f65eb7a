"""Which database errors mean "busy, come back later", and how each kind of client is told; when
work PostgreSQL rolled back for a conflict is run again, and when it never is. (The same on a
real server with SQLite: tests/core/test_concurrency.py; real deadlocks and serialization
failures on PostgreSQL at the end of this file.)"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import psycopg.errors
import pytest
import requests
from asgiref.sync import async_to_sync
from django.db import IntegrityError, OperationalError, connection, transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.test import RequestFactory
from django.urls import path
from django.views.decorators.csrf import csrf_exempt

from farcare.core import contention
from farcare.core.contention import (
    DatabaseBusyMiddleware,
    busy_response,
    is_busy,
    pause_before,
    retry_on_conflict,
    runs_again,
)
from farcare.core.db import commits


def wrapped(cause: BaseException) -> OperationalError:
    """As Django raises it: its own OperationalError caused by the driver's."""
    try:
        try:
            raise cause
        except Exception as error:
            raise OperationalError(str(error)) from error
    except OperationalError as django_error:
        return django_error


@pytest.mark.parametrize(
    "error",
    [
        sqlite3.OperationalError("database is locked"),
        psycopg.errors.LockNotAvailable("canceling statement due to lock timeout"),
        psycopg.errors.SerializationFailure("could not serialize access"),
        psycopg.errors.DeadlockDetected("deadlock detected"),
    ],
    ids=["sqlite-busy", "pg-lock-timeout", "pg-serialization", "pg-deadlock"],
)
def test_lock_waits_that_ran_out_are_busy(error):
    assert is_busy(wrapped(error))


def test_a_pool_with_every_connection_taken_is_busy():
    from psycopg_pool import PoolTimeout

    assert is_busy(wrapped(PoolTimeout("couldn't get a connection after 10.00 sec")))


@pytest.mark.parametrize(
    "error",
    [
        OperationalError("no such table: patients_patient"),
        IntegrityError("UNIQUE constraint failed"),
        psycopg.errors.QueryCanceled("canceling statement due to statement timeout"),
        ValueError("database is locked"),
    ],
)
def test_other_failures_are_not_busy(error):
    assert not is_busy(error)


def test_each_client_is_told_in_its_own_form(settings):
    settings.FARCARE_RETRY_AFTER_SECONDS = 9
    factory = RequestFactory()

    fhir = busy_response(factory.post("/fhir"))
    assert fhir.status_code == 503
    assert fhir["Retry-After"] == "9"
    assert fhir["Content-Type"].startswith("application/fhir+json")
    issue = json.loads(fhir.content)["issue"][0]
    assert issue["code"] == "lock-error"

    api = busy_response(factory.get("/api/sync/pull"))
    assert api["Content-Type"].startswith("application/json")
    assert "detail" in json.loads(api.content)

    page = busy_response(factory.get("/patients/"))
    assert page["Content-Type"].startswith("text/html")
    assert b"<html" in page.content
    assert page["Retry-After"] == "9"


@pytest.mark.django_db  # pytest-django blocks connecting otherwise (the pool is never reached)
def test_a_request_that_found_every_pooled_connection_taken_answers_503_not_500(settings):
    """The pool is asked before any statement, so no execute wrapper sees its timeout; a FHIR
    view (or the session middleware) turns the error into a 500 of its own, which must still
    become the 503 (found in the load test: 500s at 10 users)."""
    from django.db import connections
    from psycopg_pool import PoolTimeout

    from farcare.core.db.postgresql.base import DatabaseWrapper

    settings.FARCARE_DB_CONFLICT_RETRIES = 0
    borrowed = DatabaseWrapper(dict(connections["default"].settings_dict), alias="pool-probe")

    def pool_exhausted() -> Any:
        raise PoolTimeout("couldn't get a connection after 10.00 sec")

    borrowed.get_new_connection = lambda *args, **kwargs: pool_exhausted()  # type: ignore[method-assign]

    def fhir_view(request: HttpRequest) -> HttpResponse:
        try:
            borrowed.ensure_connection()
        except Exception:  # as farcare.fhir.views.fhir_endpoint does
            return HttpResponse("Internal error; nothing was changed.", status=500)
        return HttpResponse("read")

    answer = DatabaseBusyMiddleware(fhir_view)(RequestFactory().get("/fhir/Patient/x"))
    assert answer.status_code == 503
    assert answer["Retry-After"]
    assert json.loads(answer.content)["resourceType"] == "OperationOutcome"


def test_a_view_that_hit_a_busy_database_answers_503(settings):
    middleware = DatabaseBusyMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().post("/consultations/new/")
    answer = middleware.process_exception(
        request, wrapped(sqlite3.OperationalError("database is locked"))
    )
    assert answer is not None and answer.status_code == 503
    assert middleware.process_exception(request, ValueError("boom")) is None


# --- when work PostgreSQL rolled back is run again ------------------------------------------


def attempt_that_met(*errors: BaseException, **flags: bool) -> commits.Attempt:
    attempt = commits.Attempt(**flags)
    for error in errors:
        attempt.busy.append(wrapped(error))
    return attempt


DEADLOCK = psycopg.errors.DeadlockDetected("deadlock detected")
SERIALIZATION = psycopg.errors.SerializationFailure("could not serialize access")
LOCK_TIMEOUT = psycopg.errors.LockNotAvailable("canceling statement due to lock timeout")


@pytest.mark.parametrize("error", [DEADLOCK, SERIALIZATION], ids=["deadlock", "serialization"])
def test_a_request_rolled_back_for_a_conflict_that_committed_nothing_runs_again(error, settings):
    settings.FARCARE_DB_CONFLICT_RETRIES = 3
    attempt = attempt_that_met(error)
    assert runs_again(attempt=attempt, failed=True, runs=1, replayable=True)
    assert runs_again(attempt=attempt, failed=True, runs=3, replayable=True)
    # Run 1 + 3 times: then the client is told to come back.
    assert not runs_again(attempt=attempt, failed=True, runs=4, replayable=True)


@pytest.mark.parametrize(
    ("attempt", "failed", "replayable"),
    [
        (attempt_that_met(DEADLOCK, committed=True), True, True),
        (attempt_that_met(DEADLOCK, untracked=True), True, True),
        (attempt_that_met(LOCK_TIMEOUT), True, True),
        (attempt_that_met(DEADLOCK, LOCK_TIMEOUT), True, True),
        (attempt_that_met(sqlite3.OperationalError("database is locked")), True, True),
        (attempt_that_met(), True, True),
        (attempt_that_met(DEADLOCK), False, True),
        (attempt_that_met(DEADLOCK), True, False),
    ],
    ids=[
        "something-committed",
        "database-cannot-tell",
        "lock-wait-ran-out",
        "last-error-a-lock-wait",
        "sqlite-busy",
        "no-database-error",
        "answered-anyway",
        "body-not-kept",
    ],
)
def test_work_is_never_run_twice_unless_it_is_safe(attempt, failed, replayable):
    assert not runs_again(attempt=attempt, failed=failed, runs=1, replayable=replayable)


def test_pauses_are_short_random_and_growing():
    for run in range(2, 8):
        assert 0.02 <= pause_before(run) <= 0.2
    assert max(pause_before(2) for _ in range(200)) <= 0.06


@pytest.mark.parametrize(
    ("sql", "writes"),
    [
        ("SELECT 1", False),
        ('  SELECT "x" FROM "t" FOR UPDATE', False),
        ("SAVEPOINT s1", False),
        ("SET lock_timeout = 1000", False),
        ('INSERT INTO "t" VALUES (1)', True),
        ('UPDATE "t" SET x = 1', True),
        ('DELETE FROM "t"', True),
        ("WITH gone AS (DELETE FROM t RETURNING *) SELECT 1", True),
        ("CREATE TABLE t (x int)", True),
        ("", True),
    ],
)
def test_which_statements_count_as_writes(sql, writes):
    assert commits.writes(sql) is writes


def test_a_commit_counts_for_every_enclosing_attempt():
    with commits.attempt() as request, commits.attempt() as step:
        commits.committed()
    assert step.committed and request.committed
    with commits.attempt() as request:
        with commits.attempt():
            pass
        assert not request.committed


# --- the middleware, without a database -----------------------------------------------------


class Flaky:
    """A view stack that fails as PostgreSQL makes it fail the first `failures` times."""

    def __init__(self, failures: int, error: BaseException = DEADLOCK, commit: bool = False):
        self.failures, self.error, self.commit = failures, error, commit
        self.bodies: list[bytes] = []
        self.users: list[bool] = []

    def __call__(self, request):
        self.users.append(hasattr(request, "user"))
        request.user = "set by a later middleware"
        self.bodies.append(request.body)
        if len(self.bodies) <= self.failures:
            if self.commit:
                commits.committed()
            commits.busy(wrapped(self.error))
            return HttpResponse("boom", status=500)
        return HttpResponse(b"done: " + request.body)


@pytest.fixture
def replays(monkeypatch, settings):
    settings.FARCARE_DB_CONFLICT_RETRIES = 3
    settings.FARCARE_RETRY_AFTER_SECONDS = 4
    monkeypatch.setattr(contention, "_replays_possible", lambda: True)
    monkeypatch.setattr(contention, "pause_before", lambda run: 0)


def test_a_request_is_served_again_from_scratch_with_its_body(replays):
    view = Flaky(failures=2)
    request = RequestFactory().post("/api/sync/push", {"a": "1"}, content_type="application/json")
    response = DatabaseBusyMiddleware(view)(request)
    assert response.status_code == 200
    assert response.content == b'done: {"a": "1"}'
    assert view.bodies == [b'{"a": "1"}'] * 3
    # Nothing a failed run left on the request reaches the next one.
    assert view.users == [False, False, False]


def test_a_request_that_keeps_colliding_is_told_to_come_back(replays):
    view = Flaky(failures=10, error=SERIALIZATION)
    response = DatabaseBusyMiddleware(view)(RequestFactory().post("/fhir/Patient", {}))
    assert len(view.bodies) == 4
    assert response.status_code == 503
    assert response["Retry-After"] == "4"
    assert response["Content-Type"].startswith("application/fhir+json")


def test_a_request_that_committed_something_is_not_served_again(replays):
    view = Flaky(failures=1, commit=True)
    response = DatabaseBusyMiddleware(view)(RequestFactory().post("/patients/register/", {}))
    assert len(view.bodies) == 1
    assert response.status_code == 503
    assert response["Content-Type"].startswith("text/html")


def test_a_lock_wait_that_ran_out_is_not_served_again(replays):
    view = Flaky(failures=1, error=LOCK_TIMEOUT)
    response = DatabaseBusyMiddleware(view)(RequestFactory().get("/api/sync/pull"))
    assert len(view.bodies) == 1
    assert response.status_code == 503


def test_the_async_path_serves_again_too(replays):
    flaky = Flaky(failures=1)

    async def view(request):
        return flaky(request)

    response = async_to_sync(DatabaseBusyMiddleware(view))(
        RequestFactory().post("/api/sync/push", {"b": 2}, content_type="application/json")
    )
    assert response.status_code == 200
    assert flaky.bodies == [b'{"b": 2}'] * 2


# --- real conflicts on PostgreSQL, through a real server --------------------------------------
#
# Views of this test only (ROOT_URLCONF is this module while they run), on two tables of their
# own: `probe_row` (two rows the requests lock) and `probe_effect` (one row per request done).

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="serialization failures and deadlocks: PostgreSQL"
)
runs: Counter[str] = Counter()
done_on_commit: list[str] = []
both_hold_their_first_row = threading.Barrier(2, timeout=10)


def _sql(statement: str, params: list[Any] | None = None) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _raise(sqlstate: str) -> None:
    """A real error of the server with that SQLSTATE, as the driver raises it."""
    _sql(f"DO $$ BEGIN RAISE EXCEPTION 'probe' USING ERRCODE = '{sqlstate}'; END $$")


def lock_both(request: HttpRequest, first: str, second: str) -> HttpResponse:
    """Updates both rows, `first` then `second`; on its first run it waits, holding `first`,
    until the other request holds its own first row: a deadlock PostgreSQL must break."""
    who = request.GET["who"]
    runs[who] += 1
    with transaction.atomic():
        _sql("UPDATE probe_row SET hits = hits + 1 WHERE name = %s", [first])
        if runs[who] == 1:
            both_hold_their_first_row.wait()
        _sql("UPDATE probe_row SET hits = hits + 1 WHERE name = %s", [second])
        _sql("INSERT INTO probe_effect (who) VALUES (%s)", [who])
        transaction.on_commit(lambda: done_on_commit.append(who))
    return JsonResponse({"who": who, "runs": runs[who]})


def always_collides(request: HttpRequest) -> HttpResponse:
    runs["always"] += 1
    with transaction.atomic():
        _sql("INSERT INTO probe_effect (who) VALUES ('always')")
        _raise("40001")
    return HttpResponse("unreachable")


def commits_then_collides(request: HttpRequest) -> HttpResponse:
    runs["committed"] += 1
    with transaction.atomic():
        _sql("INSERT INTO probe_effect (who) VALUES ('committed')")
    with transaction.atomic():
        _raise("40P01")
    return HttpResponse("unreachable")


def reads_then_collides_once(request: HttpRequest) -> HttpResponse:
    runs["reader"] += 1
    with transaction.atomic():
        _sql("SELECT hits FROM probe_row WHERE name = 'a' FOR UPDATE")
    with transaction.atomic():
        _sql("INSERT INTO probe_effect (who) VALUES ('reader')")
        if runs["reader"] == 1:
            _raise("40P01")
    return HttpResponse("done")


urlpatterns = [
    path("probe/a-then-b/", csrf_exempt(lambda request: lock_both(request, "a", "b"))),
    path("probe/b-then-a/", csrf_exempt(lambda request: lock_both(request, "b", "a"))),
    path("fhir/probe-always/", csrf_exempt(always_collides)),
    path("probe/commits-then-collides/", csrf_exempt(commits_then_collides)),
    path("probe/reads-then-collides-once/", csrf_exempt(reads_then_collides_once)),
]


@pytest.fixture
def probe_server(live_server, transactional_db, settings):
    settings.ROOT_URLCONF = __name__
    settings.FARCARE_DB_CONFLICT_RETRIES = 3
    settings.FARCARE_RETRY_AFTER_SECONDS = 6
    _sql("CREATE TABLE probe_row (name text PRIMARY KEY, hits int NOT NULL)")
    _sql("CREATE TABLE probe_effect (id serial PRIMARY KEY, who text NOT NULL)")
    _sql("INSERT INTO probe_row VALUES ('a', 0), ('b', 0)")
    runs.clear()
    done_on_commit.clear()
    both_hold_their_first_row.reset()
    try:
        yield live_server.url
    finally:
        _sql("DROP TABLE probe_row")
        _sql("DROP TABLE probe_effect")


def effects() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT who FROM probe_effect ORDER BY who")
        return [row[0] for row in cursor.fetchall()]


def hits() -> dict[str, int]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT name, hits FROM probe_row")
        return dict(cursor.fetchall())


@on_postgresql
def test_two_requests_that_deadlock_both_succeed_once(probe_server):
    with ThreadPoolExecutor(2) as pool:
        one = pool.submit(requests.post, f"{probe_server}/probe/a-then-b/?who=one", timeout=60)
        two = pool.submit(requests.post, f"{probe_server}/probe/b-then-a/?who=two", timeout=60)
        answers = [one.result(), two.result()]
    assert [a.status_code for a in answers] == [200, 200], [a.text[:300] for a in answers]
    # PostgreSQL broke the deadlock by rolling one of them back; that one was served again.
    assert sorted(a.json()["runs"] for a in answers) == [1, 2]
    assert effects() == ["one", "two"]
    assert hits() == {"a": 2, "b": 2}
    # What the rolled-back run queued for after its commit never ran.
    assert sorted(done_on_commit) == ["one", "two"]


@on_postgresql
def test_a_request_that_keeps_colliding_is_told_to_come_back_in_its_own_form(probe_server):
    answer = requests.post(f"{probe_server}/fhir/probe-always/", timeout=60)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "6"
    assert answer.headers["Content-Type"].startswith("application/fhir+json")
    assert answer.json()["issue"][0]["code"] == "lock-error"
    assert runs["always"] == 1 + 3
    assert effects() == []


@on_postgresql
def test_a_request_that_committed_before_colliding_is_not_served_again(probe_server):
    answer = requests.post(f"{probe_server}/probe/commits-then-collides/", timeout=60)
    assert answer.status_code == 503
    assert answer.headers["Retry-After"] == "6"
    assert answer.headers["Content-Type"].startswith("text/html")
    assert runs["committed"] == 1
    assert effects() == ["committed"]


@on_postgresql
def test_a_transaction_that_only_read_does_not_stop_a_new_run(probe_server):
    answer = requests.post(f"{probe_server}/probe/reads-then-collides-once/", timeout=60)
    assert answer.status_code == 200
    assert runs["reader"] == 2
    assert effects() == ["reader"]


# --- workers and commands ---------------------------------------------------------------------


@retry_on_conflict
def worker_step(who: str, first: str, second: str, runs_of: Counter[str]) -> None:
    runs_of[who] += 1
    with transaction.atomic():
        _sql("UPDATE probe_row SET hits = hits + 1 WHERE name = %s", [first])
        if runs_of[who] == 1:
            both_hold_their_first_row.wait()
        _sql("UPDATE probe_row SET hits = hits + 1 WHERE name = %s", [second])
        _sql("INSERT INTO probe_effect (who) VALUES (%s)", [who])


@on_postgresql
def test_a_worker_step_that_deadlocks_is_run_again(probe_server):
    steps: Counter[str] = Counter()

    def step(who: str, first: str, second: str) -> None:
        try:
            worker_step(who, first, second, steps)
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        done = [
            pool.submit(step, "one", "a", "b"),
            pool.submit(step, "two", "b", "a"),
        ]
        for each in done:
            each.result()
    assert sorted(steps.values()) == [1, 2]
    assert effects() == ["one", "two"]


@on_postgresql
def test_inside_its_callers_transaction_a_step_cannot_run_again(probe_server):
    calls: Counter[str] = Counter()

    @retry_on_conflict
    def step() -> None:
        calls["step"] += 1
        with transaction.atomic():
            _raise("40P01")

    with pytest.raises(OperationalError), transaction.atomic():
        step()
    assert calls["step"] == 1
