"""The clinical mix as locust users (bench/load_test.py runs them through bench/load/runner.py).

It reads the plan bench/load/prepare.py wrote (path in FARCARE_LOAD_PLAN): who logs in, the
patients each may open, the FHIR system token, the stations' tokens. Django is never imported
here: locust's gevent patches the standard library first, and this process only speaks HTTP and
WebSocket to the server, as browsers, stations and FHIR clients do.

Users and why they are weighted so (a regional network: ~2,000 posts, each with a laptop
station; a few hundred clinicians at pages at once; tens of consultants; a few integrations):

* ``Station`` (fixed population, FARCARE_LOAD_STATIONS, default 500): each pulls every
  FARCARE_LOAD_STATION_SECONDS (default 30, the stations' own FARCARE_STATION_SYNC_SECONDS) with
  the cursor of its last pull, and on one pass in ten first pushes one small change: a home
  blood pressure reading where its post monitors someone for hypertension, otherwise a new
  patient. They start spread over one interval, as stations switched on through a day are.
* ``Requester`` (weight 6: most people at pages are feldshers and district doctors): logs in
  once (CSRF), then every 2-8 s opens the home page, the worklist, a patient's page, a request
  from the worklist (reading the answer), or the request form, from which one in three sends
  an emergency request with its vital signs.
* ``Consultant`` (weight 3): every 3-10 s the worklist, a case from it, and now and then a
  message on a case (where the case page offers the message form).
* Both hold a live worklist: each visit of the worklist opens the page's WebSocket
  (/ws/worklist/, its connect time measured) and keeps it open until the next visit, like a tab
  left open; a change announced on it is timed from the write that made it ("ws event", the
  writes made by this load) and, as the page's script does, reloads the list ("worklist
  refresh"); with no event for 60 s the list reloads too (the page's ``every 60s``).
* ``FhirClient`` (weight 1: integrations of regional systems): with the system token, every
  0.2-1 s reads a Patient by id (7 in 10), searches by SNILS or by a family-name prefix (2 in 10)
  or creates a Patient (1 in 10).
"""

from __future__ import annotations

import contextlib
import itertools
import json
import os
import random
import re
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import gevent
import locust  # noqa: F401 - gevent's patches before websocket-client imports ssl
import websocket
from locust import HttpUser, between, constant_pacing, events, task
from requests.cookies import RequestsCookieJar

PLAN: dict[str, Any] = json.loads(open(os.environ["FARCARE_LOAD_PLAN"], encoding="utf-8").read())  # noqa: SIM115
STATION_SECONDS = float(os.environ.get("FARCARE_LOAD_STATION_SECONDS", "30"))
STATIONS = int(os.environ.get("FARCARE_LOAD_STATIONS", str(len(PLAN["stations"]))))
PUSH_SHARE = 0.1  # passes in which a station first pushes a change
SUBMIT_SHARE = 1 / 3  # visits of the request form that send a request
PASSWORD = PLAN["password"]
SNILS_SYSTEM = "urn:oid:1.2.643.100.3"

CASE_LINK = re.compile(r'href="/consultations/([0-9a-f-]{36})/"')
CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
MESSAGE_FORM = re.compile(r'action="(/consultations/[0-9a-f-]{36}/message/)"')

FAMILIES = ["Иванов", "Петров", "Тынетегин", "Кергинто", "Винокуров", "Слепцов", "Ким", "Пак"]
GIVEN = ["Анна", "Иван", "Семён", "Ольга", "Айсен", "Сардана", "Павел", "Мария"]


# --- shared state of the locust process -------------------------------------------------------


class LoginCount:
    """Page users logged in so far: the runner waits for a step's newcomers before measuring."""

    done = 0


class ChangeClock:
    """From a write to its announcement on the live worklists. The write's answer names the
    consultation after the event may already have arrived, so either side can come first."""

    sent: dict[str, float] = {}
    early: dict[str, list[float]] = {}

    @classmethod
    def written(cls, consultation: str, sent_at: float) -> None:
        cls.sent[consultation] = sent_at
        for arrived in cls.early.pop(consultation, []):
            _fire_delivery(arrived - sent_at)

    @classmethod
    def arrived(cls, consultation: str) -> None:
        now = time.perf_counter()
        if consultation in cls.sent:
            _fire_delivery(now - cls.sent[consultation])
        elif len(cls.early) < 10_000:  # changes made by others (the demo, stations) are not ours
            cls.early.setdefault(consultation, []).append(now)


def _fire_delivery(seconds: float) -> None:
    events.request.fire(
        request_type="WS",
        name="ws event",
        response_time=seconds * 1000,
        response_length=0,
        exception=None,
        context={},
    )


class LoopbackJar(RequestsCookieJar):
    """Production marks the session and CSRF cookies Secure; behind nginx the browser holds
    them over TLS. Here, on loopback without TLS, they are kept as plain cookies and sent."""

    def set_cookie(self, cookie: Any, *args: Any, **kwargs: Any) -> Any:
        cookie.secure = False
        return super().set_cookie(cookie, *args, **kwargs)


# Numbers far from the generated volume's (300 000 007 …) and the demo's, from a random start so
# that a run against a server kept from an earlier one does not repeat them.
_snils_serial = itertools.count(random.randrange(1_000_000))


def new_snils() -> str:
    first_nine = f"{700_000_000 + next(_snils_serial) * 7:09d}"
    total = sum(int(d) * (9 - i) for i, d in enumerate(first_nine))
    check = total if total < 100 else 0 if total in (100, 101) else total % 101 % 100
    return f"{first_nine}{check:02d}"


def new_person() -> dict[str, Any]:
    sex = random.choice(("female", "male"))
    family = random.choice(FAMILIES)
    if sex == "female" and family.endswith(("ов", "ин")):
        family += "а"
    return {
        "family": family,
        "given": random.choice(GIVEN),
        "sex": sex,
        "birth_date": (date(1940, 1, 1) + timedelta(days=random.randrange(30_000))).isoformat(),
    }


# --- people at pages ------------------------------------------------------------------------


class PageUser(HttpUser):
    abstract = True
    accounts: list[dict[str, Any]] = []
    _next = itertools.count()

    def on_start(self) -> None:
        self.account = self.accounts[next(self._next) % len(self.accounts)]
        self.client.cookies = LoopbackJar()
        self.socket: websocket.WebSocket | None = None
        self.listener: gevent.Greenlet | None = None
        self.cases: list[str] = []
        self.login()
        LoginCount.done += 1

    def on_stop(self) -> None:
        self.close_socket()

    def login(self) -> None:
        page = self.client.get("/accounts/login/", name="login page")
        with self.client.post(
            "/accounts/login/",
            data={
                "csrfmiddlewaretoken": _csrf(page.text),
                "username": self.account["username"],
                "password": PASSWORD,
            },
            name="login",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"login of {self.account['username']}: {answer.status_code}")

    # The live worklist: a page that stays open holds its socket until the next visit.

    def worklist(self) -> None:
        page = self.client.get("/consultations/", name="worklist")
        self.cases = CASE_LINK.findall(page.text) or self.cases
        self.open_socket()

    def open_socket(self) -> None:
        self.close_socket()
        cookie = "; ".join(f"{c.name}={c.value}" for c in self.client.cookies)
        url = self.host.replace("http://", "ws://") + "/ws/worklist/"
        started = time.perf_counter()
        try:
            self.socket = websocket.create_connection(
                url, cookie=cookie, origin=self.host, timeout=30
            )
        except Exception as error:
            self.socket = None
            events.request.fire(
                request_type="WS",
                name="ws connect",
                response_time=(time.perf_counter() - started) * 1000,
                response_length=0,
                exception=error,
                context={},
            )
            return
        events.request.fire(
            request_type="WS",
            name="ws connect",
            response_time=(time.perf_counter() - started) * 1000,
            response_length=0,
            exception=None,
            context={},
        )
        self.listener = gevent.spawn(self.listen, self.socket)

    def listen(self, socket: websocket.WebSocket) -> None:
        socket.settimeout(60)
        while True:
            try:
                message = socket.recv()
            except websocket.WebSocketTimeoutException:
                self.refresh()  # the page's own "every 60s"
                continue
            except Exception:
                return
            if not message:
                return
            changed = json.loads(message).get("changed")
            if changed:
                ChangeClock.arrived(str(changed))
            self.refresh()

    def refresh(self) -> None:
        self.client.get("/consultations/", name="worklist refresh", headers={"HX-Request": "true"})

    def close_socket(self) -> None:
        if self.listener is not None:
            self.listener.kill(block=False)
            self.listener = None
        if self.socket is not None:
            with contextlib.suppress(Exception):  # a socket the server already closed
                self.socket.close(timeout=1)
            self.socket = None

    def open_case(self) -> None:
        if not self.cases:
            self.worklist()
        if self.cases:
            self.case_page(random.choice(self.cases))

    def case_page(self, consultation: str) -> str:
        return self.client.get(f"/consultations/{consultation}/", name="case page").text


class Requester(PageUser):
    weight = 6
    wait_time = between(2, 8)
    accounts = PLAN["clinicians"]

    @task(3)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(3)
    def visit_worklist(self) -> None:
        self.worklist()

    @task(2)
    def patient_page(self) -> None:
        patient = random.choice(self.account["patients"])
        self.client.get(f"/patients/{patient}/", name="patient page")

    @task(2)
    def read_answer(self) -> None:
        self.open_case()

    @task(2)
    def request_form(self) -> None:
        patient = random.choice(self.account["patients"])
        form = self.client.get(f"/consultations/new/{patient}/", name="request form")
        if form.status_code != 200 or random.random() >= SUBMIT_SHARE:
            return
        sent_at = time.perf_counter()
        with self.client.post(
            f"/consultations/new/{patient}/",
            data=_request_fields(_csrf(form.text)),
            name="submit request",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            location = answer.headers.get("Location", "")
            found = CASE_LINK.search(f'href="{location}"')
            if answer.status_code != 302 or found is None:
                answer.failure(f"request not sent: {answer.status_code}")
                return
        ChangeClock.written(found.group(1), sent_at)
        self.cases.append(found.group(1))
        self.case_page(found.group(1))


def _request_fields(csrf: str) -> dict[str, str]:
    """An emergency request with its vital signs (the fields of consults.forms.RequestForm)."""
    return {
        "csrfmiddlewaretoken": csrf,
        "client_token": str(uuid.uuid4()),
        "specialty": "cardiology",
        "form": "emergency",
        "mode": "deferred",
        "consilium_size": "2",
        "request_language": "ru",
        "question": "Боль за грудиной 40 минут. Тромболизис или эвакуация?",
        "summary": "Мужчина, 61 год, давящая боль, холодный пот.",
        "vital_respiratory_rate": str(random.randint(16, 28)),
        "vital_spo2": str(random.randint(88, 98)),
        "vital_spo2_scale": "1",
        "vital_on_oxygen": "air",
        "vital_systolic_bp": str(random.randint(90, 170)),
        "vital_diastolic_bp": "60",
        "vital_heart_rate": str(random.randint(60, 130)),
        "vital_consciousness": "A",
        "vital_temperature": "36,8",
        "submit": "1",
    }


class Consultant(PageUser):
    weight = 3
    wait_time = between(3, 10)
    accounts = PLAN["consultants"]

    @task(2)
    def home(self) -> None:
        self.client.get("/", name="home")

    @task(4)
    def visit_worklist(self) -> None:
        self.worklist()

    @task(3)
    def read_case(self) -> None:
        self.open_case()

    @task(1)
    def write_message(self) -> None:
        if not self.cases:
            self.worklist()
        if not self.cases:
            return
        consultation = random.choice(self.cases)
        page = self.case_page(consultation)
        action = MESSAGE_FORM.search(page)
        if action is None:
            return  # not a case this consultant answers now
        sent_at = time.perf_counter()
        with self.client.post(
            action.group(1),
            data={
                "csrfmiddlewaretoken": _csrf(page),
                "body": "Нужна ЭКГ в 12 отведениях и тропонин, если есть тест.",
            },
            name="message",
            allow_redirects=False,
            catch_response=True,
        ) as answer:
            if answer.status_code != 302:
                answer.failure(f"message not sent: {answer.status_code}")
                return
        ChangeClock.written(consultation, sent_at)


def _csrf(html: str) -> str:
    found = CSRF.search(html)
    return found.group(1) if found else ""


# --- FHIR clients ---------------------------------------------------------------------------


class FhirClient(HttpUser):
    weight = 1
    wait_time = between(0.2, 1.0)
    fhir = PLAN["fhir"]

    def on_start(self) -> None:
        self.client.headers.update(
            {
                "Authorization": f"Bearer {self.fhir['token']}",
                "Accept": "application/fhir+json",
                "Accept-Encoding": "gzip",
            }
        )

    @task(7)
    def read(self) -> None:
        self.client.get(f"/fhir/Patient/{random.choice(self.fhir['patients'])}", name="fhir read")

    @task(1)
    def search_identifier(self) -> None:
        identifier = f"{SNILS_SYSTEM}|{random.choice(self.fhir['snils'])}"
        self.client.get("/fhir/Patient", params={"identifier": identifier}, name="fhir search")

    @task(1)
    def search_name(self) -> None:
        prefix = random.choice(self.fhir["name_prefixes"])
        self.client.get("/fhir/Patient", params={"name": prefix, "_count": 20}, name="fhir search")

    @task(1)
    def create(self) -> None:
        who = new_person()
        body = {
            "resourceType": "Patient",
            "identifier": [{"system": SNILS_SYSTEM, "value": new_snils()}],
            "name": [{"family": who["family"], "given": [who["given"]]}],
            "gender": who["sex"],
            "birthDate": who["birth_date"],
            "managingOrganization": {
                "reference": f"Organization/{random.choice(self.fhir['organisations'])}"
            },
        }
        self.client.post(
            "/fhir/Patient",
            data=json.dumps(body, ensure_ascii=False).encode(),
            headers={"Content-Type": "application/fhir+json"},
            name="fhir create",
        )


# --- stations -------------------------------------------------------------------------------


class Station(HttpUser):
    fixed_count = STATIONS
    wait_time = constant_pacing(STATION_SECONDS)
    identities = iter(PLAN["stations"])

    def on_start(self) -> None:
        self.identity = next(self.identities)
        self.client.headers.update({"Authorization": f"Bearer {self.identity['token']}"})
        # A station that last synced about one interval ago, switched on at a random moment.
        self.cursor = (datetime.now(UTC) - timedelta(seconds=STATION_SECONDS)).isoformat()
        gevent.sleep(random.uniform(0, STATION_SECONDS))

    @task
    def sync_pass(self) -> None:
        if random.random() < PUSH_SHARE:
            self.push()
        with self.client.get(
            "/api/sync/pull",
            params={"since": self.cursor},
            name="station pull",
            catch_response=True,
        ) as answer:
            if answer.status_code == 200:
                self.cursor = answer.json()["cursor"]

    def push(self) -> None:
        item = self.reading() if self.identity["monitored"] else self.new_patient()
        with self.client.post(
            "/api/sync/push", json={"items": [item]}, name="station push", catch_response=True
        ) as answer:
            if answer.status_code != 200:
                return
            refused = [r for r in answer.json()["results"] if r["status"] == "refused"]
            if refused:
                answer.failure(f"push refused: {refused[0].get('message', '')[:80]}")

    def reading(self) -> dict[str, Any]:
        return {
            "id": str(uuid.uuid4()),
            "kind": "monitoring.reading",
            "payload": {
                "actor": self.identity["actor"],
                "patient": random.choice(self.identity["monitored"]),
                "reading": str(uuid.uuid4()),
                "code": "85354-9",
                "value": random.randint(115, 175),
                "value_2": random.randint(70, 100),
                "taken_at": datetime.now(UTC).isoformat(),
            },
        }

    def new_patient(self) -> dict[str, Any]:
        record = {
            "uuid": str(uuid.uuid4()),
            **new_person(),
            "middle": "",
            "home_settlement": self.identity["settlement"],
            "home_facility": self.identity["facility"],
            "snils": "",
            "oms_policy": "",
            "phone": "",
        }
        return {
            "id": str(uuid.uuid4()),
            "kind": "patient.create",
            "payload": {"actor": self.identity["actor"], "patient": record},
        }


USER_CLASSES = [Station, Requester, Consultant, FhirClient]
