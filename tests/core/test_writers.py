"""Eight writers at once against a real server (issue 19's "Show"): FHIR clients creating
patients one by one and in transaction bundles of ten, stations pushing their registrations,
feldshers registering patients through the page, all for a few seconds. Whatever the database
(the one the suite runs on: SQLite, or PostgreSQL in CI), no answer is a server error other than
503 with Retry-After, a client that follows Retry-After gets every write through, every write
acknowledged is in the database exactly once, and nothing refused is half-written.

The server is uvicorn with two worker processes on the suite's own test database
(farcare.testing.server); the clients resend a refused write as it was, with the idempotency
the API offers (If-None-Exist and ifNoneExist on FHIR, the op id of a push, the unique SNILS of
a page registration). Figures are printed: requests, 503s, runs the server served again."""

from __future__ import annotations

import itertools
import re
import secrets
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import requests
from django.db import connection
from django.db.models import Count
from django.utils import timezone

from farcare.accounts.models import User
from farcare.core.bearer import token_digest
from farcare.fhir import systems
from farcare.fhir.models import AccessToken
from farcare.patients.models import Patient
from farcare.testing.server import ServerProcess, suite_database_url

from ..factories import valid_snils

WRITERS = 8
WRITING_SECONDS = 8.0
# A write refused this many times in a row is given up (and then must have left nothing).
MOST_SENDS = 30
FAMILY = "Писарева"  # every patient of this test, and no other
DEMO_PASSWORD = "farcare-demo"


@dataclass
class Write:
    kind: str
    snils: list[str]
    statuses: list[int] = field(default_factory=list)
    acknowledged: bool = False


@dataclass
class Hub:
    url: str
    fhir_token: str
    station_token: str
    feldsher: str
    facility: str
    settlement: str
    organisation: str


@pytest.fixture
def server(transactional_db: None, demo_network: None, tmp_path: Path) -> Iterator[ServerProcess]:
    with ServerProcess(
        tmp_path / "server",
        database_url=suite_database_url(),
        workers=2,
        env={"FARCARE_RETRY_AFTER_SECONDS": "1", "FARCARE_LOG_LEVEL": "WARNING"},
    ) as started:
        started.start()
        yield started


def hub_of(server: ServerProcess) -> Hub:
    feldsher = User.objects.select_related("facility__organisation", "facility__settlement").get(
        username="feldsher"
    )
    token = secrets.token_urlsafe(24)
    AccessToken.objects.create(
        token_hash=token_digest(token),
        user=feldsher,
        scopes="user/*.read user/*.write",
        expires_at=timezone.now() + timedelta(hours=1),
    )
    enrolled = requests.post(
        f"{server.url}/api/sync/enrol",
        json={"username": "feldsher", "password": DEMO_PASSWORD, "name": "Writers' laptop"},
        timeout=60,
    )
    assert enrolled.status_code == 200, enrolled.text
    facility = feldsher.facility
    assert facility is not None and facility.settlement is not None
    return Hub(
        url=server.url,
        fhir_token=token,
        station_token=enrolled.json()["token"],
        feldsher=str(feldsher.uuid),
        facility=str(facility.uuid),
        settlement=str(facility.settlement.uuid),
        organisation=str(facility.organisation.uuid),
    )


# --- what each kind of writer sends ---------------------------------------------------------


def fhir_patient(hub: Hub, snils: str, n: int) -> dict[str, Any]:
    return {
        "resourceType": "Patient",
        "identifier": [{"system": systems.SNILS, "value": snils}],
        "name": [{"family": FAMILY, "given": [f"Вера {n}"]}],
        "gender": "female",
        "birthDate": "1980-05-06",
        "managingOrganization": {"reference": f"Organization/{hub.organisation}"},
    }


class Numbers:
    """Numbers of patients (their SNILS), each handed out once across the writers' threads."""

    def __init__(self, start: int) -> None:
        self._next = itertools.count(start)
        self._lock = threading.Lock()

    def __iter__(self) -> Numbers:
        return self

    def __next__(self) -> int:
        with self._lock:
            return next(self._next)


class Writer:
    """One client: its own connection and login, writing until the time is up."""

    def __init__(self, hub: Hub, number: int, numbers: Numbers) -> None:
        self.hub, self.number, self.numbers = hub, number, numbers
        self.http = requests.Session()
        self.writes: list[Write] = []
        self.responses: list[tuple[int, str | None, str]] = []
        self._page: requests.Session | None = None

    # Each send returns the response; `acknowledged` says whether it counts as done.
    def fhir_create(self) -> Write:
        n = next(self.numbers)
        snils = valid_snils(n)
        return self._until_done(
            Write("FHIR create", [snils]),
            lambda: self.http.post(
                f"{self.hub.url}/fhir/Patient",
                json=fhir_patient(self.hub, snils, n),
                headers={
                    "Authorization": f"Bearer {self.hub.fhir_token}",
                    "Content-Type": "application/fhir+json",
                    "If-None-Exist": f"identifier={systems.SNILS}|{snils}",
                },
                timeout=60,
            ),
            lambda response: response.status_code in (200, 201),
        )

    def fhir_bundle(self) -> Write:
        numbers = [next(self.numbers) for _ in range(10)]
        snils = [valid_snils(n) for n in numbers]
        bundle = {
            "resourceType": "Bundle",
            "type": "transaction",
            "entry": [
                {
                    "fullUrl": f"urn:uuid:{uuid.uuid4()}",
                    "resource": fhir_patient(self.hub, value, n),
                    "request": {
                        "method": "POST",
                        "url": "Patient",
                        "ifNoneExist": f"identifier={systems.SNILS}|{value}",
                    },
                }
                for n, value in zip(numbers, snils, strict=True)
            ],
        }
        return self._until_done(
            Write("FHIR transaction of 10", snils),
            lambda: self.http.post(
                f"{self.hub.url}/fhir",
                json=bundle,
                headers={
                    "Authorization": f"Bearer {self.hub.fhir_token}",
                    "Content-Type": "application/fhir+json",
                },
                timeout=60,
            ),
            lambda response: response.status_code == 200,
        )

    def station_push(self) -> Write:
        numbers = [next(self.numbers) for _ in range(5)]
        snils = [valid_snils(n) for n in numbers]
        items = [
            {
                "id": str(uuid.uuid4()),
                "kind": "patient.create",
                "payload": {
                    "actor": self.hub.feldsher,
                    "patient": {
                        "uuid": str(uuid.uuid4()),
                        "family": FAMILY,
                        "given": f"Вера {n}",
                        "sex": "female",
                        "birth_date": "1980-05-06",
                        "home_facility": self.hub.facility,
                        "home_settlement": self.hub.settlement,
                        "snils": value,
                    },
                },
            }
            for n, value in zip(numbers, snils, strict=True)
        ]
        return self._until_done(
            Write("station push of 5", snils),
            lambda: self.http.post(
                f"{self.hub.url}/api/sync/push",
                json={"items": items},
                headers={"Authorization": f"Bearer {self.hub.station_token}"},
                timeout=60,
            ),
            lambda response: (
                response.status_code == 200
                and all(r["status"] in ("applied", "duplicate") for r in response.json()["results"])
            ),
        )

    def page_register(self) -> Write:
        page = self._logged_in()
        n = next(self.numbers)
        snils = valid_snils(n)
        form = {
            "family": FAMILY,
            "given": f"Вера {n}",
            "sex": "female",
            "birth_date": "1980-05-06",
            "home_settlement": self.hub.settlement,
            "home_facility": self.hub.facility,
            "snils": snils,
            "csrfmiddlewaretoken": page.cookies["csrftoken"],
        }
        return self._until_done(
            Write("page registration", [snils]),
            lambda: page.post(
                f"{self.hub.url}/patients/register/",
                data=form,
                headers={"Referer": f"{self.hub.url}/patients/register/"},
                allow_redirects=False,
                timeout=60,
            ),
            lambda response: (
                response.status_code == 302
                and re.match(r"^/patients/[0-9a-f-]{36}/$", response.headers["Location"])
                is not None
            ),
        )

    def _logged_in(self) -> requests.Session:
        if self._page is None:
            page = requests.Session()
            page.headers["Accept-Language"] = "en"
            login = f"{self.hub.url}/accounts/login/"
            self._send(lambda: page.get(login, timeout=60))
            answer = self._send(
                lambda: page.post(
                    login,
                    data={
                        "username": "feldsher",
                        "password": DEMO_PASSWORD,
                        "csrfmiddlewaretoken": page.cookies["csrftoken"],
                    },
                    headers={"Referer": login},
                    allow_redirects=False,
                    timeout=60,
                )
            )
            assert answer.status_code == 302, answer.text[:300]
            self._page = page
        return self._page

    def _send(self, send: Callable[[], requests.Response]) -> requests.Response:
        """Sends until the answer is not 503, waiting as Retry-After says."""
        for _ in range(MOST_SENDS):
            response = send()
            self.responses.append(
                (response.status_code, response.headers.get("Retry-After"), response.text[:300])
            )
            if response.status_code != 503 or not response.headers.get("Retry-After"):
                return response
            time.sleep(float(response.headers["Retry-After"]))
        return response

    def _until_done(
        self,
        write: Write,
        send: Callable[[], requests.Response],
        done: Callable[[requests.Response], bool],
    ) -> Write:
        before = len(self.responses)
        response = self._send(send)
        write.statuses = [status for status, _, _ in self.responses[before:]]
        write.acknowledged = done(response)
        self.writes.append(write)
        return write

    def run(self, until: float) -> None:
        kinds = [self.fhir_create, self.fhir_bundle, self.station_push, self.page_register]
        for turn in itertools.count(self.number):
            if time.monotonic() >= until:
                return
            kinds[turn % len(kinds)]()


# --- the test -----------------------------------------------------------------------------------


@pytest.mark.long(40)
def test_eight_writers_at_once_nothing_lost_and_never_a_server_error(server):
    hub = hub_of(server)
    before = Patient.objects.filter(family=FAMILY).count()
    assert before == 0
    numbers = Numbers(start=500_000)
    writers = [Writer(hub, number, numbers) for number in range(WRITERS)]
    for writer in writers:
        writer._logged_in()  # each also writes through the page: logged in before the clock
    started = time.monotonic()
    with ThreadPoolExecutor(WRITERS) as pool:
        for done in [pool.submit(w.run, started + WRITING_SECONDS) for w in writers]:
            done.result()
    elapsed = time.monotonic() - started

    responses = [r for w in writers for r in w.responses]
    writes = [each for w in writers for each in w.writes]
    statuses = Counter(status for status, _, _ in responses)
    served_again = server.log_tail(100_000).count("serving again")
    print(
        f"\n{connection.vendor}: {WRITERS} writers, {elapsed:.1f} s, {len(writes)} writes, "
        f"{len(responses)} requests ({len(responses) / elapsed:.0f}/s), statuses {dict(statuses)},"
        f" {served_again} runs served again by the server; by kind: "
        f"{dict(Counter(w.kind for w in writes))}"
    )

    # Never a server error: only 503 with Retry-After, which the clients followed.
    errors = [r for r in responses if r[0] >= 500 and not (r[0] == 503 and r[1])]
    assert not errors, errors[:5]
    stored = dict(
        Patient.objects.filter(family=FAMILY)
        .values("snils")
        .annotate(n=Count("id"))
        .values_list("snils", "n")
    )
    sent = [snils for w in writes for snils in w.snils]
    assert len(sent) == len(set(sent))
    # Nothing but what the clients sent, and nothing twice.
    assert set(stored) <= set(sent)
    assert set(stored.values()) <= {1}
    # Every acknowledged write is there.
    acknowledged = {snils for w in writes if w.acknowledged for snils in w.snils}
    assert acknowledged <= set(stored)
    # A write refused in the end left nothing half-written: a transaction bundle all or nothing
    # (a push is one transaction per item: what it applied stays, and is answered "duplicate").
    for write in (w for w in writes if not w.acknowledged and w.kind.startswith("FHIR")):
        assert len({snils in stored for snils in write.snils}) == 1, write
    # And a client that follows Retry-After got every write through.
    refused = [w for w in writes if not w.acknowledged]
    assert not refused, refused[:5]
    assert len(writes) >= WRITERS
