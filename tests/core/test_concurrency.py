"""Many people write at once to a hub on SQLite: a long FHIR transaction, a feldsher logging in, a
station pulling, a doctor opening pages. Writers wait their turn; a write that cannot wait any
longer is told to come back (503 with Retry-After, in the form its client reads), never a 500.

The hub is a real uvicorn process on loopback with its own SQLite file (farcare.testing.hub);
the long write is a thread of this test holding SQLite's write lock on that file, a bounded and
deterministic stand-in for a transaction of thousands of entries."""

from __future__ import annotations

import contextlib
import re
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import requests

from farcare.fhir import systems
from farcare.testing.hub import HubProcess, running_hub

from ..factories import valid_snils

DEMO_PASSWORD = "farcare-demo"


@dataclass
class Answer:
    who: str
    status: int
    content_type: str
    retry_after: str | None
    body: str

    def __str__(self) -> str:
        return f"{self.who}: {self.status} {self.content_type} {self.body[:200]!r}"


def answer(who: str, response: requests.Response) -> Answer:
    return Answer(
        who,
        response.status_code,
        response.headers.get("Content-Type", ""),
        response.headers.get("Retry-After"),
        response.text,
    )


@contextlib.contextmanager
def write_lock_held(database: Path, seconds: float) -> Iterator[threading.Event]:
    """Another writer holds the database's write lock for `seconds` (as a long transaction
    would); the event is set once the lock is taken."""
    taken = threading.Event()

    def hold() -> None:
        with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as connection:
            connection.execute("BEGIN IMMEDIATE")
            taken.set()
            time.sleep(seconds)
            connection.execute("ROLLBACK")

    holder = threading.Thread(target=hold)
    holder.start()
    assert taken.wait(10), "could not take the write lock"
    try:
        yield taken
    finally:
        holder.join(seconds + 10)


def logged_in_session(hub: HubProcess, username: str, language: str = "en") -> requests.Session:
    session = requests.Session()
    session.headers["Accept-Language"] = language
    form = session.get(f"{hub.url}/accounts/login/", timeout=30)
    assert form.status_code == 200
    response = session.post(
        f"{hub.url}/accounts/login/",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": session.cookies["csrftoken"],
        },
        headers={"Referer": f"{hub.url}/accounts/login/"},
        allow_redirects=False,
        timeout=30,
    )
    assert response.status_code == 302, response.text[:500]
    return session


def login(hub: HubProcess, username: str, language: str = "en") -> requests.Response:
    """A whole login: the form, then the POST (which writes last_login, the session and the
    audit trail)."""
    session = requests.Session()
    session.headers["Accept-Language"] = language
    session.get(f"{hub.url}/accounts/login/", timeout=60)
    return session.post(
        f"{hub.url}/accounts/login/",
        data={
            "username": username,
            "password": DEMO_PASSWORD,
            "csrfmiddlewaretoken": session.cookies.get("csrftoken", ""),
        },
        headers={"Referer": f"{hub.url}/accounts/login/"},
        allow_redirects=False,
        timeout=60,
    )


def patients_bundle(organisation: str, first: int, count: int) -> dict[str, Any]:
    return {
        "resourceType": "Bundle",
        "type": "transaction",
        "entry": [
            {
                "fullUrl": f"urn:uuid:00000000-0000-4000-8000-{first + n:012d}",
                "resource": {
                    "resourceType": "Patient",
                    "identifier": [{"system": systems.SNILS, "value": valid_snils(first + n)}],
                    "name": [{"family": "Ёлкина", "given": [f"Алёна {first + n}"]}],
                    "gender": "female",
                    "birthDate": "1990-10-10",
                    "managingOrganization": {"reference": f"Organization/{organisation}"},
                },
                "request": {"method": "POST", "url": "Patient"},
            }
            for n in range(count)
        ],
    }


@dataclass
class Clients:
    hub: HubProcess
    fhir_token: str
    station_token: str
    organisation: str
    doctor: requests.Session

    def post_bundle(self, first: int, count: int) -> Answer:
        response = requests.post(
            f"{self.hub.url}/fhir",
            json=patients_bundle(self.organisation, first, count),
            headers={
                "Authorization": f"Bearer {self.fhir_token}",
                "Content-Type": "application/fhir+json",
            },
            timeout=120,
        )
        return answer(f"bundle {first}", response)

    def search_patients(self) -> Answer:
        response = requests.get(
            f"{self.hub.url}/fhir/Patient?_count=5",
            headers={"Authorization": f"Bearer {self.fhir_token}"},
            timeout=60,
        )
        return answer("FHIR search", response)

    def pull(self) -> Answer:
        response = requests.get(
            f"{self.hub.url}/api/sync/pull",
            headers={"Authorization": f"Bearer {self.station_token}"},
            timeout=60,
        )
        return answer("station pull", response)

    def home_page(self) -> Answer:
        return answer("doctor's home page", self.doctor.get(f"{self.hub.url}/", timeout=60))

    def login(self, username: str, language: str = "en") -> Answer:
        return answer(f"login {username}", login(self.hub, username, language))


def clients_of(hub: HubProcess, language: str = "en") -> Clients:
    organisation = hub.python(
        "from farcare.accounts.models import User\n"
        "print(User.objects.get(username='feldsher').facility.organisation.uuid)"
    )
    enrolled = requests.post(
        f"{hub.url}/api/sync/enrol",
        json={"username": "feldsher", "password": DEMO_PASSWORD, "name": "Uelen laptop"},
        timeout=60,
    )
    assert enrolled.status_code == 200, enrolled.text
    return Clients(
        hub=hub,
        fhir_token=hub.user_token("feldsher"),
        station_token=enrolled.json()["token"],
        organisation=organisation,
        doctor=logged_in_session(hub, "doctor", language),
    )


def count_patients(hub: HubProcess) -> int:
    return int(
        hub.python("from farcare.patients.models import Patient; print(Patient.objects.count())")
    )


def all_at_once(calls: list[Callable[[], Answer]]) -> list[Answer]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


def assert_no_server_error(answers: list[Answer]) -> None:
    failures = [str(a) for a in answers if a.status >= 500 and a.status != 503]
    assert not failures, "\n".join(failures)
    untold = [str(a) for a in answers if a.status == 503 and not a.retry_after]
    assert not untold, "503 without Retry-After:\n" + "\n".join(untold)


# --- writers wait their turn ----------------------------------------------------------------


@pytest.mark.long(30)
def test_concurrent_bundles_logins_and_reads_all_succeed_behind_a_long_write(hub):
    clients = clients_of(hub)
    before = count_patients(hub)
    calls: list[Callable[[], Answer]] = [
        (lambda n=n: clients.post_bundle(first=1000 + n * 100, count=20)) for n in range(6)
    ]
    calls += [lambda: clients.login("feldsher"), lambda: clients.login("doctor")]
    calls += [clients.search_patients, clients.pull, clients.home_page, clients.home_page]
    with write_lock_held(hub.database, seconds=3):
        answers = all_at_once(calls)
    assert_no_server_error(answers)
    # The lock was held far shorter than the busy timeout: everyone waited and got through.
    assert [str(a) for a in answers if a.status >= 400] == []
    bundles = [a for a in answers if a.who.startswith("bundle")]
    assert all(a.status == 200 for a in bundles)
    assert count_patients(hub) == before + 6 * 20


# --- a write that cannot wait any longer ---------------------------------------------------


@pytest.fixture
def impatient_hub(hub_template: Path, tmp_path: Path) -> Iterator[HubProcess]:
    """A hub whose writers wait at most one second for the database."""
    with running_hub(
        tmp_path / "hub",
        hub_template,
        env={"FARCARE_DB_BUSY_TIMEOUT_SECONDS": "1", "FARCARE_RETRY_AFTER_SECONDS": "7"},
    ) as started:
        yield started


@pytest.mark.long(15)
def test_a_write_that_cannot_wait_longer_is_told_to_retry_never_a_500(impatient_hub):
    hub = impatient_hub
    clients = clients_of(hub, language="ru")
    calls: list[Callable[[], Answer]] = [
        lambda: clients.post_bundle(first=3000, count=5),
        lambda: clients.login("feldsher", language="ru"),
        clients.pull,
        clients.search_patients,
        clients.home_page,
    ]
    with write_lock_held(hub.database, seconds=6):
        # A pure read does not wait for a writer (WAL).
        started = time.monotonic()
        health = requests.get(f"{hub.url}/health", timeout=10)
        assert health.status_code == 200
        assert time.monotonic() - started < 1
        answers = {a.who: a for a in all_at_once(calls)}
    assert_no_server_error(list(answers.values()))

    bundle = answers["bundle 3000"]
    assert bundle.status == 503, bundle
    assert bundle.retry_after == "7"
    assert bundle.content_type.startswith("application/fhir+json")
    assert '"resourceType": "OperationOutcome"' in bundle.body.replace('":"', '": "')
    assert '"transient"' in bundle.body or '"lock-error"' in bundle.body

    pull = answers["station pull"]
    assert pull.status == 503, pull
    assert pull.content_type.startswith("application/json")
    assert "detail" in pull.body

    page = answers["login feldsher"]
    assert page.status == 503, page
    assert page.content_type.startswith("text/html")
    assert re.search(r'<html lang="ru"', page.body), page.body[:300]

    for who in ("FHIR search", "doctor's home page"):  # reads that write the audit, a session
        assert answers[who].status == 503, answers[who]

    # Nothing was half-written: once the lock is gone the same bundle goes through in full.
    retried = clients.post_bundle(first=3000, count=5)
    assert retried.status == 200, retried
