"""Throughput and latency of the FHIR API at 10,000 and 100,000 patients.

Reads (``GET Patient/<id>``), searches (by name prefix, by birth date, by SNILS), creates
(``POST Patient``) and the latency of a whole-consultation transaction bundle (``POST /fhir``),
over real HTTP, on a data set of each size; the smallest size is the baseline, measured in the
same run, so the ratios say how the API scales whatever the machine.

Run from the project root (about three minutes on SQLite, a little more with ``--postgres``)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/fhir_throughput.py

Options: ``--postgres`` runs on temporary databases created on
``postgres://postgres@127.0.0.1:5432`` and dropped afterwards, instead of SQLite files;
``--sizes 10000,100000`` the data set sizes in patients (the first is the baseline);
``--seconds 5`` how long each figure is measured, per data set.

How it measures:

* A fresh temporary directory holds the SQLite files, the static and the media root; the
  project's ``var/`` is never touched. The first database is migrated and the demo network is
  loaded (``load_demo()``); a FHIR system client is registered with a service account that has
  no facility (it sees every patient), and two bearer tokens are issued the way the token
  endpoint stores them: the system client's (``system/*.read system/*.write``) and the demo
  feldsher's at the Uelen post (``user/*.read user/*.write``).
* Volume is made with ``bulk_create`` from a fixed random seed: patients spread over the Far
  East facilities, each with a valid, unique SNILS and the ``search_name`` ``Patient.save()``
  would compute; 5 % of them at the Uelen post, the feldsher's share. Each gets the stored
  FHIR version (``ResourceVersion``) it would have had if it had been registered through the
  services, so reads find the steady state rather than writing a first version.
  The smallest data set is built first; each larger one starts as a copy of it (tokens
  included) and is topped up by the same generator. On PostgreSQL every database is ANALYZEd
  after loading and again after each figure's first (priming) requests (see
  ``Bench.analyze``), as autovacuum would; SQLite is left as FarCare leaves it.
* ``farcare.wsgi.application`` is served by Django's threaded WSGI server (HTTP/1.1,
  keep-alive) on a free loopback port, in a thread of this process, with the settings as
  deployed (``FARCARE_DB_CONN_MAX_AGE``, by default 0: a database connection per request).
  The benchmark talks to it through one ``http.client`` keep-alive connection, one request at
  a time, with ``Accept-Encoding: gzip``; so requests/s is 1000 / mean latency in ms, and the
  client's own work (in the same process) is part of it, equally on every data set.
* Per figure and data set: one priming request, then 3 warm-up requests in which the server
  counts the SQL statements and their time in ``cursor.execute()`` (the only requests so
  instrumented), then timed requests for ``--seconds`` seconds in blocks, alternating between
  the data sets (a fresh HTTP connection, and an untimed first request, after each switch), so
  whatever else the machine does weighs on all alike; the load average is printed.
* Each figure is measured for both callers. Reads pick a random patient among those the
  caller may see; searches ``Patient?name=<4 letters>&_count=20`` (a random family-name
  prefix), ``Patient?birthdate=ge1980-01-01&_count=20`` and ``Patient?identifier=<SNILS
  system>|<a visible patient's SNILS>``; creates post a new patient with a new valid SNILS
  (the feldsher at the Uelen post, the system client anywhere). "search (mix)" is derived:
  one of each search in turn. The TCP_NODELAY of the server's sockets is set, as uvicorn's
  are in production (otherwise each response waits ~40 ms for a delayed ACK).
* The consultation bundle (feldsher only): a ``transaction`` Bundle with a conditional Patient
  (``request.ifNoneExist`` on the SNILS of an existing Uelen patient), 5 vital-sign
  Observations, a ServiceRequest (identifier ``urn:farcare:client-token``, supportingInfo the
  Observations by ``urn:uuid``) and a Task whose focus is the ServiceRequest. When the server
  answers 404 or 405, the transaction endpoint does not exist yet: the figure is reported as
  not available.
* Ratios are each data set against the first. The SQL query count per request must not grow
  with the data; the statement costing most on the largest data set is printed against the
  baseline, which is what a growing time usually comes from.

Nothing is asserted about time. Exit status: 0 when every figure was measured (a transaction
endpoint that does not exist yet counts as measured: "not available"), 1 when a request failed
or the data could not be set up.
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import json
import logging
import math
import random
import secrets
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness import (
    POSTGRES_SERVER,
    Databases,
    SqlTimer,
    load,
    median,
    p95,
    postgres_databases,
    ratio,
    setup_django,
    sqlite_databases,
)

SEED = 20_250_301
SIZES = (10_000, 100_000)
SECONDS = 5.0
BLOCKS = 5  # timed blocks per figure and data set, alternating between the data sets
WARMUPS = 3  # untimed requests per figure and data set, the server counting SQL statements
UELEN_SHARE = 0.05  # generated patients at the feldsher's post
SNILS_SYSTEM = "urn:oid:1.2.643.100.3"
IDEMPOTENCY_SYSTEM = "urn:farcare:client-token"
SYSTEM_SCOPES = "system/*.read system/*.write"
USER_SCOPES = "user/*.read user/*.write"
USER_AGENT = "FarCare-fhir-throughput/1.0"

# --------------------------------------------------------------------------------------------
# Accounts, tokens and volume.
# --------------------------------------------------------------------------------------------

FAMILIES = [
    "Иванов", "Петров", "Сидоров", "Кузнецов", "Попов", "Васильев", "Смирнов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов",
    "Николаев", "Винокуров", "Слепцов", "Готовцев", "Аммосов", "Тынетегин", "Кергинто",
    "Омрынто", "Ранаутагин", "Етылин", "Адуканов", "Громов", "Ким", "Пак", "Цой", "Тен",
]  # fmt: skip
GIVEN = {
    "male": [
        "Александр", "Алексей", "Андрей", "Айсен", "Виктор", "Дмитрий", "Егор", "Иван",
        "Игорь", "Михаил", "Николай", "Павел", "Пётр", "Семён", "Сергей", "Юрий", "Ньургун",
    ],
    "female": [
        "Анна", "Алёна", "Дарья", "Елена", "Ирина", "Мария", "Наталья", "Ольга", "Светлана",
        "Татьяна", "Юлия", "Сардана", "Туяра", "Галина", "Людмила", "Валентина", "Аграфена",
    ],
}  # fmt: skip
MIDDLE = {
    "male": ["Александрович", "Иванович", "Петрович", "Сергеевич", "Николаевич", "Егорович"],
    "female": ["Александровна", "Ивановна", "Петровна", "Сергеевна", "Николаевна", "Егоровна"],
}
# What a clinician types into the name field: the first four letters of a family name.
NAME_PREFIXES = sorted({family[:4] for family in FAMILIES if len(family) >= 4})


def feminine(family: str) -> str:
    return family + "а" if family.endswith(("ов", "ёв", "ев", "ин", "ын")) else family


@dataclass
class Person:
    family: str
    given: str
    middle: str
    sex: str
    birth_date: date


def person(rng: random.Random) -> Person:
    sex = rng.choice(("female", "male"))
    family = rng.choice(FAMILIES)
    return Person(
        family=feminine(family) if sex == "female" else family,
        given=rng.choice(GIVEN[sex]),
        middle=rng.choice(MIDDLE[sex]),
        sex=sex,
        birth_date=date(1935, 1, 1) + timedelta(days=rng.randrange(32_000)),
    )


def snils(serial: int, base: int) -> str:
    from farcare.patients.identifiers import snils_check_number

    first_nine = f"{base + serial * 7:09d}"
    return f"{first_nine}{snils_check_number(first_nine):02d}"


GENERATED_SNILS = 300_000_000  # generated volume: 300 000 007 … (far from the demo's 112 233 …)
CREATED_SNILS = 600_000_000  # patients the benchmark creates over the API


@dataclass
class Refs:
    """What the generator and the requests draw from: the demo network, accounts and tokens."""

    facilities: list[Any]  # Far East facilities other than the feldsher's post
    uelen: Any  # the feldsher's post
    registrar: int
    system_token: str
    feldsher_token: str
    feldsher_practitioner: str
    uelen_organisation: str
    organisations: list[str]  # every Far East organisation, for the system client's creates
    next_serial: int = 1
    bundle_path: str = "/fhir"  # where transactions are posted: the FHIR base


def accounts_and_refs() -> Refs:
    """The system client (its service account has no facility) and the two tokens."""
    from django.utils import timezone

    from farcare.accounts.models import Role, User
    from farcare.fhir.auth import token_digest
    from farcare.fhir.models import AccessToken, SystemClient
    from farcare.network.models import Facility, FacilityKind
    from farcare.network.selectors import facilities_served_by

    feldsher = User.objects.select_related("facility__organisation").get(username="feldsher")
    assert feldsher.facility is not None
    account = User.objects.create(username="bench-rhis", role=Role.SYSTEM, facility=None)
    account.set_unusable_password()
    account.save()
    client = SystemClient.objects.create(
        client_id="bench-rhis", name="Benchmark RHIS", scopes=SYSTEM_SCOPES, account=account
    )
    expires = timezone.now() + timedelta(days=1)
    tokens = {"system": secrets.token_urlsafe(24), "feldsher": secrets.token_urlsafe(24)}
    AccessToken.objects.create(
        token_hash=token_digest(tokens["system"]),
        user=account,
        client=client,
        scopes=SYSTEM_SCOPES,
        expires_at=expires,
    )
    AccessToken.objects.create(
        token_hash=token_digest(tokens["feldsher"]),
        user=feldsher,
        scopes=USER_SCOPES,
        expires_at=expires,
    )
    served = facilities_served_by(feldsher.facility.pk)
    far_east = list(
        Facility.objects.exclude(
            kind__in=(FacilityKind.FEDERAL_CENTRE, FacilityKind.PARTNER_ABROAD)
        )
        .select_related("organisation")
        .order_by("pk")
    )
    practitioner = getattr(feldsher, "practitioner", None)
    return Refs(
        facilities=[f for f in far_east if f.pk not in served],
        uelen=feldsher.facility,
        registrar=feldsher.pk,
        system_token=tokens["system"],
        feldsher_token=tokens["feldsher"],
        feldsher_practitioner=str(practitioner.uuid) if practitioner is not None else "",
        uelen_organisation=str(feldsher.facility.organisation.uuid),
        organisations=sorted({str(f.organisation.uuid) for f in far_east}),
    )


def add_patients(refs: Refs, rng: random.Random, count: int) -> None:
    """``count`` patients by bulk insert, each with the FHIR version the services would store."""
    from django.db import transaction

    from farcare.patients.identifiers import normalise_text
    from farcare.patients.models import Patient

    for start in range(0, count, 2_000):
        batch = []
        for _ in range(min(2_000, count - start)):
            serial = refs.next_serial
            refs.next_serial += 1
            who = person(rng)
            facility = refs.uelen if rng.random() < UELEN_SHARE else rng.choice(refs.facilities)
            batch.append(
                Patient(
                    family=who.family,
                    given=who.given,
                    middle=who.middle,
                    sex=who.sex,
                    birth_date=who.birth_date,
                    home_settlement_id=facility.settlement_id,
                    home_facility_id=facility.pk,
                    snils=snils(serial, GENERATED_SNILS),
                    oms_policy=f"{2_790_200_000_000_000 + serial:016d}",
                    phone=f"+7 924 {serial // 10_000:03d}-{serial // 100 % 100:02d}-"
                    f"{serial % 100:02d}",
                    search_name=normalise_text(f"{who.family} {who.given} {who.middle}"),
                    registered_by_id=refs.registrar,
                    # updated_at is set on insert (auto_now), as a save would
                )
            )
        with transaction.atomic():
            Patient.objects.bulk_create(batch)
            add_versions([p.uuid for p in batch])


def add_versions(uuids: list[uuid.UUID]) -> None:
    """Version 1 of each patient's resource, exactly as ``versioning.snapshot`` writes it."""
    from django.utils import timezone

    from farcare.fhir.models import ResourceVersion
    from farcare.fhir.registry import handler_for

    handler = handler_for("Patient")
    assert handler is not None
    now = timezone.now()
    meta = {
        "versionId": "1",
        "lastUpdated": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    versions = []
    for patient in (
        handler.all_objects()
        .filter(uuid__in=uuids)
        .select_related("home_facility__organisation", "home_settlement")
    ):
        content = handler.to_fhir(patient)
        versions.append(
            ResourceVersion(
                resource_type="Patient",
                logical_id=str(patient.uuid),
                version_id=1,
                last_updated=now,
                content={**content, "meta": meta},
                patient_uuid=patient.uuid,
            )
        )
    ResourceVersion.objects.bulk_create(versions, batch_size=1_000)


@dataclass
class DataSet:
    """One database and what the requests pick from in it."""

    name: str
    size: int
    seconds: float = 0.0  # spent generating it
    patients: int = 0
    visible: dict[str, list[str]] = field(default_factory=dict)  # caller -> patient UUIDs
    snils: dict[str, list[str]] = field(default_factory=dict)  # caller -> their SNILS
    uelen_snils: list[str] = field(default_factory=list)  # for the consultation bundle


def grow_to(refs: Refs, rng: random.Random, dataset: DataSet) -> None:
    """Top the current database up to ``dataset.size`` patients (the demo's included)."""
    from django.db import connection

    from farcare.access.policy import visible_patients
    from farcare.accounts.models import User
    from farcare.patients.models import Patient

    started = time.monotonic()
    add_patients(refs, rng, dataset.size - Patient.objects.count())
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    dataset.seconds = time.monotonic() - started
    dataset.patients = Patient.objects.count()
    callers = {
        "system": User.objects.get(username="bench-rhis"),
        "feldsher": User.objects.get(username="feldsher"),
    }
    for caller, user in callers.items():
        rows = list(visible_patients(user).exclude(snils="").values_list("uuid", "snils"))
        dataset.visible[caller] = [str(u) for u, _s in rows]
        dataset.snils[caller] = [s for _u, s in rows]
    dataset.uelen_snils = list(
        Patient.objects.filter(home_facility=refs.uelen)
        .exclude(snils="")
        .values_list("snils", flat=True)
    )


# --------------------------------------------------------------------------------------------
# The server, with SQL counting on the warm-up requests only.
# --------------------------------------------------------------------------------------------

CAPTURES: dict[str, SqlTimer] = {}  # X-Bench-Capture header value -> what that request ran


def counting(application: Callable[..., Any]) -> Callable[..., Any]:
    """The WSGI application, counting SQL for requests that carry ``X-Bench-Capture``."""

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        key = environ.get("HTTP_X_BENCH_CAPTURE", "")
        if not key:
            return application(environ, start_response)
        from django.db import connection

        timer = SqlTimer()
        with connection.execute_wrapper(timer):  # this server thread's connection
            result = application(environ, start_response)
        CAPTURES[key] = timer
        return result

    return app


def start_server() -> tuple[Any, int]:
    """Serve the real WSGI application on a free loopback port, in a daemon thread."""
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler

    from farcare.wsgi import application

    class QuietHandler(WSGIRequestHandler):
        # TCP_NODELAY, as uvicorn (asyncio) sets it in production: without it the status line
        # and the body go out as separate small segments and every response waits ~40 ms for
        # the client's delayed ACK (Nagle's algorithm), which would be all this measured.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:
            pass

    # After the application is built (building it configures logging again): expected 4xx
    # answers, such as probing for the transaction endpoint, are reported, not logged.
    logging.getLogger("django.request").setLevel(logging.ERROR)
    server = ThreadedWSGIServer(("127.0.0.1", 0), QuietHandler, allow_reuse_address=False)
    server.set_app(counting(application))
    threading.Thread(target=server.serve_forever, name="bench-server", daemon=True).start()
    return server, server.server_port


# --------------------------------------------------------------------------------------------
# The client and what it asks.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    body: bytes | None = None


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    encoding: str
    location: str

    def json(self) -> Any:
        data = gzip.decompress(self.body) if self.encoding == "gzip" else self.body
        return json.loads(data or b"null")

    def brief(self) -> str:
        """The status and, for an OperationOutcome, its first issue."""
        try:
            body = self.json()
        except ValueError:
            return f"HTTP {self.status}"
        if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
            issue = (body.get("issue") or [{}])[0]
            where = ",".join(issue.get("expression") or [])
            text = f"HTTP {self.status} {issue.get('code', '')}: {issue.get('diagnostics', '')}"
            return text + (f" [{where}]" if where else "")
        return f"HTTP {self.status}"


class FhirConnection:
    """One keep-alive HTTP connection speaking FHIR JSON with a bearer token."""

    def __init__(self, port: int, token: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
        self.headers = {
            "Authorization": f"Bearer {token}",
            "Accept": "application/fhir+json",
            "Accept-Encoding": "gzip",
            "User-Agent": USER_AGENT,
        }

    def send(self, call: Call, capture: str = "") -> Answer:
        headers = dict(self.headers)
        if call.body is not None:
            headers["Content-Type"] = "application/fhir+json"
        if capture:
            headers["X-Bench-Capture"] = capture
        self.connection.request(call.method, call.path, call.body, headers)
        response = self.connection.getresponse()
        body = response.read()  # all of it, so that the connection can be reused
        return Answer(
            status=response.status,
            body=body,
            encoding=(response.getheader("Content-Encoding") or "").strip().lower(),
            location=response.getheader("Location") or "",
        )

    def close(self) -> None:
        self.connection.close()


@dataclass
class Probe:
    """One figure: who asks, what, and which status means it worked."""

    label: str
    caller: str  # "system" or "feldsher"
    expect: tuple[int, ...]
    make: Callable[[random.Random, DataSet], Call]
    counts_matches: bool = False


def patient_resource(rng: random.Random, serial: int, organisation: str) -> dict[str, Any]:
    who = person(rng)
    return {
        "resourceType": "Patient",
        "identifier": [{"system": SNILS_SYSTEM, "value": snils(serial, CREATED_SNILS)}],
        "name": [{"family": who.family, "given": [who.given, who.middle]}],
        "gender": who.sex,
        "birthDate": who.birth_date.isoformat(),
        "telecom": [{"system": "phone", "value": f"+7 914 {serial % 1000:03d}-00-00"}],
        "managingOrganization": {"reference": f"Organization/{organisation}"},
    }


def consultation_bundle(rng: random.Random, refs: Refs, patient_snils: str) -> dict[str, Any]:
    """A whole consultation request in one transaction (domain.md §6)."""
    from farcare.clinical.vitals import VITALS
    from farcare.fhir import systems

    now = datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
    patient_url = f"urn:uuid:{uuid.uuid4()}"
    request_url = f"urn:uuid:{uuid.uuid4()}"
    who = person(rng)
    entries: list[dict[str, Any]] = [
        {
            "fullUrl": patient_url,
            "resource": {
                "resourceType": "Patient",
                "identifier": [{"system": SNILS_SYSTEM, "value": patient_snils}],
                "name": [{"family": who.family, "given": [who.given, who.middle]}],
                "gender": who.sex,
                "birthDate": who.birth_date.isoformat(),
                "managingOrganization": {"reference": f"Organization/{refs.uelen_organisation}"},
            },
            "request": {
                "method": "POST",
                "url": "Patient",
                "ifNoneExist": f"identifier={SNILS_SYSTEM}|{patient_snils}",
            },
        }
    ]
    readings = {
        "respiratory_rate": rng.randrange(14, 26),
        "spo2": rng.randrange(90, 99),
        "systolic_bp": rng.randrange(95, 170),
        "heart_rate": rng.randrange(55, 125),
        "temperature": round(rng.uniform(36.0, 39.0), 1),
    }
    observations = []
    for key, value in readings.items():
        spec = VITALS[key]
        url = f"urn:uuid:{uuid.uuid4()}"
        observations.append(url)
        entries.append(
            {
                "fullUrl": url,
                "resource": {
                    "resourceType": "Observation",
                    "status": "final",
                    "category": [
                        {
                            "coding": [
                                {
                                    "system": systems.OBSERVATION_CATEGORY,
                                    "code": "vital-signs",
                                    "display": "Vital Signs",
                                }
                            ]
                        }
                    ],
                    "code": {
                        "coding": [
                            {
                                "system": systems.LOINC,
                                "code": spec.loinc,
                                "display": spec.loinc_display,
                            }
                        ]
                    },
                    "subject": {"reference": patient_url},
                    "effectiveDateTime": now,
                    "valueQuantity": {
                        "value": value,
                        "unit": spec.ucum,
                        "system": systems.UCUM,
                        "code": spec.ucum,
                    },
                },
                "request": {"method": "POST", "url": "Observation"},
            }
        )
    requester = (
        {"requester": {"reference": f"Practitioner/{refs.feldsher_practitioner}"}}
        if refs.feldsher_practitioner
        else {}
    )
    entries.append(
        {
            "fullUrl": request_url,
            "resource": {
                "resourceType": "ServiceRequest",
                "identifier": [{"system": IDEMPOTENCY_SYSTEM, "value": str(uuid.uuid4())}],
                "status": "active",
                "intent": "order",
                "category": [
                    {
                        "coding": [
                            {
                                "system": systems.SNOMED,
                                "code": "11429006",
                                "display": "Consultation",
                            }
                        ]
                    }
                ],
                "priority": "urgent",
                "subject": {"reference": patient_url},
                "authoredOn": now,
                **requester,
                "code": {"coding": [{"system": "urn:farcare:specialty", "code": "cardiology"}]},
                "reasonCode": [{"text": "Давящие боли за грудиной, одышка при нагрузке"}],
                "note": [
                    {
                        "text": "Боли за грудиной с утра, ЭКГ во вложении. Нужна ли эвакуация "
                        "в Анадырь?"
                    }
                ],
                "supportingInfo": [{"reference": url} for url in observations],
            },
            "request": {"method": "POST", "url": "ServiceRequest"},
        }
    )
    entries.append(
        {
            "fullUrl": f"urn:uuid:{uuid.uuid4()}",
            "resource": {
                "resourceType": "Task",
                "status": "requested",
                "intent": "order",
                "priority": "urgent",
                "focus": {"reference": request_url},
                "for": {"reference": patient_url},
                "authoredOn": now,
                **requester,
            },
            "request": {"method": "POST", "url": "Task"},
        }
    )
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def probes(refs: Refs) -> list[Probe]:
    created = iter(range(1, 10_000_000))  # one SNILS series across every data set

    def read(caller: str) -> Callable[[random.Random, DataSet], Call]:
        return lambda rng, ds: Call("GET", f"/fhir/Patient/{rng.choice(ds.visible[caller])}")

    def by_name(rng: random.Random, ds: DataSet) -> Call:
        query = urlencode({"name": rng.choice(NAME_PREFIXES), "_count": "20"})
        return Call("GET", f"/fhir/Patient?{query}")

    def by_birthdate(rng: random.Random, ds: DataSet) -> Call:
        return Call("GET", "/fhir/Patient?birthdate=ge1980-01-01&_count=20")

    def by_identifier(caller: str) -> Callable[[random.Random, DataSet], Call]:
        def make(rng: random.Random, ds: DataSet) -> Call:
            query = urlencode({"identifier": f"{SNILS_SYSTEM}|{rng.choice(ds.snils[caller])}"})
            return Call("GET", f"/fhir/Patient?{query}")

        return make

    def create(caller: str) -> Callable[[random.Random, DataSet], Call]:
        def make(rng: random.Random, ds: DataSet) -> Call:
            organisation = (
                refs.uelen_organisation if caller == "feldsher" else rng.choice(refs.organisations)
            )
            body = patient_resource(rng, next(created), organisation)
            return Call("POST", "/fhir/Patient", json.dumps(body, ensure_ascii=False).encode())

        return make

    def bundle(rng: random.Random, ds: DataSet) -> Call:
        body = consultation_bundle(rng, refs, rng.choice(ds.uelen_snils))
        return Call("POST", refs.bundle_path, json.dumps(body, ensure_ascii=False).encode())

    found: list[Probe] = []
    for caller in ("system", "feldsher"):
        found += [
            Probe("read Patient/<id>", caller, (200,), read(caller)),
            Probe("search name=<prefix>", caller, (200,), by_name, counts_matches=True),
            Probe("search birthdate=ge1980", caller, (200,), by_birthdate, counts_matches=True),
            Probe(
                "search identifier=SNILS",
                caller,
                (200,),
                by_identifier(caller),
                counts_matches=True,
            ),
            Probe("create Patient", caller, (201,), create(caller)),
        ]
    found.append(Probe("consultation bundle", "feldsher", (200,), bundle))
    return found


# --------------------------------------------------------------------------------------------
# Measurement.
# --------------------------------------------------------------------------------------------


@dataclass
class Measure:
    probe: Probe
    dataset: DataSet
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statements: Counter[str] = field(default_factory=Counter)
    statement_ms: dict[str, float] = field(default_factory=dict)  # least over the warm-ups
    matches: int | None = None
    rows: list[int] = field(default_factory=list)  # entries on the page, per warm-up request
    error: str = ""

    @property
    def per_second(self) -> float:
        return 1000 * len(self.times_ms) / sum(self.times_ms) if self.times_ms else math.nan

    @property
    def median(self) -> float:
        return median(self.times_ms)

    @property
    def p95(self) -> float:
        return p95(self.times_ms)

    @property
    def query_count(self) -> int:
        return max(self.queries) if self.queries else -1

    @property
    def stable_queries(self) -> bool:
        return len(set(self.queries)) == 1


class Bench:
    def __init__(
        self, databases: Databases, datasets: list[DataSet], refs: Refs, port: int
    ) -> None:
        self.databases = databases
        self.datasets = datasets
        self.refs = refs
        self.port = port

    def token(self, caller: str) -> str:
        return self.refs.system_token if caller == "system" else self.refs.feldsher_token

    def connect(self, dataset: DataSet, caller: str) -> FhirConnection:
        """A fresh HTTP connection, hence a fresh server thread and database connection."""
        self.databases.use(dataset.name)
        return FhirConnection(self.port, self.token(caller))

    def prime(self, probe: Probe, result: Measure, rng: random.Random) -> None:
        """One untimed, uncounted request: does it work at all (and its writes, if any, are
        in the statistics ``analyze`` gathers next)."""
        connection = self.connect(result.dataset, probe.caller)
        try:
            answer = connection.send(probe.make(rng, result.dataset))
            if answer.status not in probe.expect:
                result.error = answer.brief()
        finally:
            connection.close()

    def warm_up(self, probe: Probe, result: Measure, rng: random.Random) -> None:
        connection = self.connect(result.dataset, probe.caller)
        try:
            for _ in range(WARMUPS):
                key = uuid.uuid4().hex
                answer = connection.send(probe.make(rng, result.dataset), capture=key)
                if answer.status not in probe.expect:
                    result.error = answer.brief()
                    return
                timer = CAPTURES.pop(key, None)
                if timer is not None:
                    result.queries.append(timer.count)
                    result.sql_ms.append(timer.seconds * 1000)
                    result.statements = timer.statements
                    for shape, seconds in timer.by_statement.items():  # the least of the runs
                        known = result.statement_ms.get(shape, math.inf)
                        result.statement_ms[shape] = min(known, seconds * 1000)
                if probe.counts_matches:
                    page = answer.json()
                    result.matches = page.get("total")
                    result.rows.append(
                        sum(
                            1
                            for entry in page.get("entry") or []
                            if entry.get("search", {}).get("mode") == "match"
                        )
                    )
        finally:
            connection.close()

    def timed_block(
        self, probe: Probe, result: Measure, rng: random.Random, seconds: float
    ) -> None:
        connection = self.connect(result.dataset, probe.caller)
        try:
            connection.send(probe.make(rng, result.dataset))  # untimed: opens the connection
            deadline = time.perf_counter() + seconds
            while time.perf_counter() < deadline:
                call = probe.make(rng, result.dataset)
                started = time.perf_counter()
                answer = connection.send(call)
                result.times_ms.append((time.perf_counter() - started) * 1000)
                if answer.status not in probe.expect:
                    result.error = answer.brief()
                    return
        finally:
            connection.close()

    def analyze(self) -> None:
        """On PostgreSQL, fresh planner statistics after the priming requests' writes, as autovacuum
        would give them once a table has changed enough. Without this, the first consultations
        and vitals of patients beyond the ones ANALYZE saw make the planner walk the patients'
        primary key (a merge join) on every lookup of a new vital: a transient that depends on
        when autovacuum wakes up, not on the code."""
        if self.databases.vendor != "postgresql":
            return
        from django.db import connection

        for dataset in self.datasets:
            self.databases.use(dataset.name)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
            connection.close()

    def measure(self, probe: Probe, seconds: float) -> list[Measure]:
        rng = random.Random(f"{SEED}-{probe.caller}-{probe.label}")
        results = [Measure(probe, dataset) for dataset in self.datasets]
        try:
            for result in results:
                self.prime(probe, result, rng)
            if any(r.error for r in results):
                return results
            self.analyze()
            for result in results:
                self.warm_up(probe, result, rng)
            if any(r.error for r in results):
                return results
            for block in range(BLOCKS):
                order = results if block % 2 == 0 else results[::-1]
                for result in order:
                    self.timed_block(probe, result, rng, seconds / BLOCKS)
                    if result.error:
                        return results
        except Exception as error:  # a broken connection is reported, not raised
            for result in results:
                result.error = result.error or f"{type(error).__name__}: {error}"
        return results


def find_bundle_endpoint(bench: Bench, probe: Probe) -> str:
    """Point ``refs.bundle_path`` at the transaction endpoint (the FHIR base, ``/fhir``), or
    say why it is not there: one real bundle is posted; 404 or 405 mean no endpoint yet."""
    dataset = bench.datasets[0]
    for _attempt in range(2):
        connection = bench.connect(dataset, probe.caller)
        try:
            answer = connection.send(probe.make(random.Random(SEED), dataset))
        finally:
            connection.close()
        path = bench.refs.bundle_path
        if answer.status in (301, 307, 308) and answer.location:
            bench.refs.bundle_path = urlsplit(answer.location).path  # /fhir -> /fhir/
            continue
        if answer.status in (404, 405):
            return f"not available (POST {path} answers HTTP {answer.status})"
        return ""
    return f"not available (POST {bench.refs.bundle_path} keeps redirecting)"


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def mix(results: list[Measure]) -> tuple[float, float]:
    """One of each search in turn: requests/s and the mean latency of the three."""
    if any(not r.times_ms for r in results):
        return math.nan, math.nan
    mean_ms = statistics.fmean(statistics.fmean(r.times_ms) for r in results)
    return 1000 / mean_ms, mean_ms


def size_label(dataset: DataSet) -> str:
    return f"{dataset.size:,}"


def print_table(table: list[list[Measure]], unavailable: str) -> None:
    header = (
        f"{'caller':<8} {'figure':<26} {'patients':>8} {'req/s':>7} {'median ms':>9} "
        f"{'p95 ms':>8} {'n':>5} {'queries':>7} {'sql ms':>7} {'matches':>8}"
    )
    print(header)
    print("-" * len(header))
    for results in table:
        probe = results[0].probe
        label = f"{probe.caller:<8} {probe.label:<26}"
        if unavailable and probe.label == "consultation bundle":
            print(f"{label} {unavailable}")
            continue
        base = results[0]
        for r in results:
            if r.error:
                print(f"{label} {size_label(r.dataset):>8} could not be measured: {r.error}")
                label = " " * 35
                continue
            queries = f"{r.query_count}" + ("" if r.stable_queries else "*")
            sql = statistics.median(r.sql_ms) if r.sql_ms else math.nan
            matches = "-" if r.matches is None else f"{r.matches:,}"
            print(
                f"{label} {size_label(r.dataset):>8} {r.per_second:>7.1f} {r.median:>9.1f} "
                f"{r.p95:>8.1f} {len(r.times_ms):>5} {queries:>7} {sql:>7.1f} {matches:>8}"
            )
            label = " " * 35
        for r in results[1:]:
            if r.error or base.error:
                continue
            sql_ratio = ratio(
                statistics.median(r.sql_ms) if r.sql_ms else math.nan,
                statistics.median(base.sql_ms) if base.sql_ms else math.nan,
            )
            name = f"x{r.dataset.size // 1000}k/{base.dataset.size // 1000}k"
            print(
                f"{'':<35} {name:>8} {ratio(r.per_second, base.per_second):>7} "
                f"{ratio(r.median, base.median):>9} {ratio(r.p95, base.p95):>8} {'':>5} "
                f"{ratio(r.query_count, base.query_count):>7} {sql_ratio:>7}"
            )
    print(
        "req/s: timed requests / time spent in them (one request at a time, so 1000 / mean ms)."
        "\nqueries, sql ms: SQL statements per request and time in cursor.execute() on the "
        f"server, from the {WARMUPS} warm-up requests (median time; * the count varied)."
        "\nmatches: the search's Bundle.total for the caller (last warm-up request)."
    )


def print_mix(table: list[list[Measure]]) -> None:
    print("\nsearch (mix), one of each of the three searches in turn:")
    for caller in ("system", "feldsher"):
        searches = [
            results
            for results in table
            if results[0].probe.caller == caller and results[0].probe.label.startswith("search")
        ]
        if not searches:
            continue
        figures = [mix([results[i] for results in searches]) for i in range(len(searches[0]))]
        line = ", ".join(
            f"{size_label(searches[0][i].dataset)}: {rate:.1f} req/s ({mean:.1f} ms mean)"
            for i, (rate, mean) in enumerate(figures)
        )
        if len(figures) > 1:
            line += f"; x{ratio(figures[-1][0], figures[0][0])} req/s"
        print(f"  {caller:<8} {line}")


def brief(shape: str, width: int = 160) -> str:
    """A statement for a report line: the select list elided, cut to ``width``."""
    text = shape
    if text.startswith("SELECT "):
        depth = 0
        for index, char in enumerate(text):
            depth += {"(": 1, ")": -1}.get(char, 0)
            if depth == 0 and text.startswith(" FROM ", index):
                text = "SELECT …" + text[index:]  # the outermost FROM, not a subquery's
                break
    return text if len(text) <= width else text[: width - 1] + "…"


# Transaction control: cheap in itself, but on a busy machine whichever statement waited for
# the CPU looks heaviest; these say nothing about how the data is reached.
CONTROL = ("SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK", "BEGIN", "COMMIT")


def print_heaviest_statements(table: list[list[Measure]]) -> None:
    print(
        "\nHeaviest statement per figure on the largest data set, against the first "
        "(time in execute(), least of the warm-ups):"
    )
    for results in table:
        base, full = results[0], results[-1]
        if base.error or full.error or not full.statement_ms or len(results) < 2:
            continue
        timed = {k: v for k, v in full.statement_ms.items() if not k.startswith(CONTROL)}
        if not timed:
            continue
        shape, full_ms = max(timed.items(), key=lambda item: item[1])
        base_ms = base.statement_ms.get(shape, math.nan)
        print(
            f"  {full.probe.caller} {full.probe.label}: {base_ms:.2f} ms -> {full_ms:.2f} ms "
            f"(x{ratio(full_ms, base_ms)})\n    {brief(shape)}"
        )


def print_query_verdict(table: list[list[Measure]]) -> bool:
    print("\nSQL statements per request across the data sets (must not grow with the data):")
    all_equal = True
    for results in table:
        probe = results[0].probe
        label = f"{probe.caller} {probe.label}"
        if any(r.error or not r.queries for r in results):
            print(f"  {label}: not measured")
            continue
        counts = [r.query_count for r in results]
        if len(set(counts)) == 1:
            print(f"  {label}: EQUAL, {counts[0]} on every data set")
            continue
        pages = [r.rows for r in results]
        if any(page != pages[0] for page in pages):
            # A search runs statements per entry it returns: fewer matches, fewer statements.
            shown = " -> ".join(",".join(map(str, page)) for page in pages)
            print(
                f"  {label}: {' -> '.join(map(str, counts))}, not comparable: the pages held "
                f"different numbers of entries ({shown})"
            )
            continue
        all_equal = False
        base, full = results[0], results[-1]
        print(f"  {label}: NOT EQUAL, {' -> '.join(map(str, counts))}; statements that changed:")
        shapes = set(base.statements) | set(full.statements)
        changed = sorted(
            (s for s in shapes if base.statements[s] != full.statements[s]),
            key=lambda s: full.statements[s] - base.statements[s],
            reverse=True,
        )
        for shape in changed[:6]:
            print(f"    {base.statements[shape]:>4} -> {full.statements[shape]:<4} {brief(shape)}")
    return all_equal


# --------------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------------


def parse_sizes(text: str) -> list[int]:
    try:
        sizes = sorted({int(part.replace("_", "")) for part in text.split(",") if part.strip()})
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not a list of numbers: {text!r}") from error
    if not sizes or sizes[0] < 100:
        raise argparse.ArgumentTypeError("sizes are numbers of patients, at least 100")
    return sizes


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"use temporary databases on {POSTGRES_SERVER} instead of SQLite files",
    )
    parser.add_argument(
        "--sizes",
        type=parse_sizes,
        default=list(SIZES),
        help="data set sizes in patients, comma-separated; the smallest is the baseline "
        "(default: 10000,100000)",
    )
    parser.add_argument(
        "--seconds",
        type=float,
        default=SECONDS,
        help=f"seconds each figure is measured, per data set (default: {SECONDS:g})",
    )
    options = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="farcare-bench-") as tmp:
        workdir = Path(tmp)
        if options.postgres:
            with postgres_databases(options.sizes) as databases:
                return run(workdir, databases, options.sizes, options.seconds, started)
        files = sqlite_databases(workdir, options.sizes)
        return run(workdir, files, options.sizes, options.seconds, started)


def run(
    workdir: Path, databases: Databases, sizes: list[int], seconds: float, started: float
) -> int:
    server = None
    try:
        setup_django(workdir, databases.url(databases.names[0]))
        refs = accounts_and_refs()
        rng = random.Random(SEED)
        datasets = [DataSet(name, size) for name, size in zip(databases.names, sizes, strict=True)]
        for index, dataset in enumerate(datasets):
            if index:
                databases.copy(datasets[index - 1].name, dataset.name)
                databases.use(dataset.name)
            grow_to(refs, rng, dataset)
        from django.conf import settings
        from django.db import connection

        conn_max_age = settings.DATABASES["default"].get("CONN_MAX_AGE", 0)
        connection.close()
        server, port = start_server()
        bench = Bench(databases, datasets, refs, port)
        all_probes = probes(refs)
        bundle_probe = all_probes[-1]
        unavailable = find_bundle_endpoint(bench, bundle_probe)
        load_before = load()
        table = [
            bench.measure(probe, seconds)
            for probe in all_probes
            if probe is not bundle_probe or not unavailable
        ]
        if unavailable:
            table.append([Measure(bundle_probe, dataset) for dataset in datasets])
        load_after = load()
    except Exception as error:
        print(f"could not set up the data: {type(error).__name__}: {error}")
        return 1
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()

    backend = "PostgreSQL" if databases.vendor == "postgresql" else "SQLite"
    print(
        f"FarCare FHIR API throughput on {backend}: per figure and data set 1 priming and "
        f"{WARMUPS} warm-up requests (SQL counted), then {seconds:g} s of timed requests in "
        f"{BLOCKS} blocks "
        f"alternating between the data sets; one keep-alive HTTP connection, one request at a "
        f"time, Accept-Encoding: gzip; Django's threaded WSGI server in this process, "
        f"CONN_MAX_AGE={conn_max_age}."
    )
    for dataset in datasets:
        print(
            f"  {dataset.patients:,} patients ({len(dataset.visible['feldsher']):,} visible to "
            f"the Uelen feldsher, {len(dataset.visible['system']):,} to the system client), "
            f"generated in {dataset.seconds:.1f} s"
        )
    print(f"Machine: {load_before} before measuring, {load_after} after.\n")
    print_table(table, unavailable)
    print_mix(table)
    print_heaviest_statements(table)
    equal = print_query_verdict(table)
    failed = any(r.error for results in table for r in results)
    if unavailable:
        print(f"\nconsultation bundle: {unavailable}.")
    print(
        f"\nSQL statements per request: {'EQUAL everywhere' if equal else 'NOT EQUAL (above)'}."
        f" Times and ratios are figures, not a verdict. {time.monotonic() - started:.0f} s."
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
