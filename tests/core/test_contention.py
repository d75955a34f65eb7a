"""Which database errors mean "busy, come back later", and how each kind of client is told.
(The same on a real server with SQLite: tests/core/test_concurrency.py; PostgreSQL's lock
timeout, serialization failure and deadlock are recognised by their SQLSTATE.)"""

from __future__ import annotations

import json
import sqlite3

import psycopg.errors
import pytest
from django.db import IntegrityError, OperationalError
from django.test import RequestFactory

from farcare.core.contention import DatabaseBusyMiddleware, busy_response, is_busy


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


def test_a_view_that_hit_a_busy_database_answers_503(settings):
    middleware = DatabaseBusyMiddleware(lambda request: None)  # type: ignore[arg-type,return-value]
    request = RequestFactory().post("/consultations/new/")
    answer = middleware.process_exception(
        request, wrapped(sqlite3.OperationalError("database is locked"))
    )
    assert answer is not None and answer.status_code == 503
    assert middleware.process_exception(request, ValueError("boom")) is None
