"""The analytics at a million consultations (issue 18): the nightly computation's time (full,
then incremental after a day's 1,000 new consultations, then with nothing new), and the
dashboard's region and settlement tables and the map, served over real HTTP to a logged-in
analyst: median and p95, SQL statements per request, bytes per page; against the same pages
on 1,000 consultations, measured in the same run, and the analyst's home page.

How it measures:

* A fresh temporary directory holds the files; the databases are two SQLite files there, or,
  when FARCARE_DATABASE_URL names PostgreSQL (``postgres://…``), two temporary databases on
  ``postgres://postgres@127.0.0.1:5432`` created for the run and dropped afterwards. The first
  is migrated and the demo network loaded (``load_demo()``: the settlements of
  ``far_east_settlements.csv``, their facilities and links, the routing table, the accounts).
* Volume is written in bulk from a fixed seed, not through the services (those are for
  correctness; this is volume): patients living in the Far East's settlements in proportion to
  their population (one per 20 consultations); ``--consultations`` consultations (default
  1,000,000) received over the past 36 months, requested from the patient's own post or
  hospital, routed by the demo's routing table (8 % of the partner specialties to the Korean
  partners, for patients who consented), mostly completed (85 %: accepted, signed within a
  log-normal share of the form's deadline, a slower one over a slower link; late ones breached),
  the rest cancelled, rejected or failed; some past half their deadline or declined and
  re-routed. Each has its timeline (submitted, routed, accepted, the escalations, closed:
  about 4.3 transitions) and, when answered, its signed conclusion and a signature row (random
  bytes: volume, not evidence; numbers left empty). Rows are written with ``executemany`` on
  SQLite and ``COPY`` on PostgreSQL in chunks of 20,000 consultations; PostgreSQL is ANALYZEd
  afterwards, as autovacuum would.
* Small data set: the demo plus 1,000 consultations; computed (``refresh(full=True)``), the
  analyst logged in (``force_login``: the session row is in the database), then the database
  is copied and the copy topped up to ``--consultations``.
* The computation on the full data set: ``refresh(full=True)`` (every fact and cell), then a
  day's ``--day`` (1,000) new consultations received since yesterday with their events, then
  ``refresh()`` (incremental: the sources changed since the last run; the runs so far are
  moved a day back first, as if they had run last night, and the generated patients two days,
  as if registered before it), then ``refresh()`` again with
  nothing new. Wall clock of each, with the facts and cells it wrote.
* Pages: ``farcare.wsgi.application`` served by Django's threaded WSGI server on a loopback
  port (as ``fhir_throughput.py``: real HTTP, keep-alive, one request at a time, TCP_NODELAY),
  the analyst's session cookie, ``Accept-Encoding: gzip``; the database connection per request
  (``FARCARE_DB_CONN_MAX_AGE`` as deployed). Per page and data set: 3 warm-up requests, 3 that
  count the SQL statements in the server thread, then ``--runs`` (40) timed ones in blocks of 5
  alternating between the small and the full database, so whatever else the machine does
  weighs on both alike. The month shown is the last whole month (the most figures).
  Bytes: the body as sent (gzip) and decoded.

Run from the project root (``make bench-analytics``)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/analytics.py
    FARCARE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_analytics \\
        DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/analytics.py

Nothing is asserted about time. Exit status 0 when every figure was measured, 1 otherwise."""

from __future__ import annotations

import argparse
import base64
import gzip
import http.client
import json
import math
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from fhir_throughput import CAPTURES, GENERATED_SNILS, person, snils, start_server
from harness import (
    Databases,
    load,
    median,
    p95,
    postgres_databases,
    ratio,
    setup_django,
    sqlite_databases,
)

SEED = 20_261_218
CONSULTATIONS = 1_000_000
SMALL = 1_000
DAY = 1_000
MONTHS = 36
CHUNK = 20_000
PER_PATIENT = 20  # consultations per patient over the three years
WARMUPS = 3
COUNTED = 3
RUNS = 40
BLOCK = 5
ABROAD_SHARE = 0.08  # of the partner specialties' requests, for patients who consented
FORMS = (("emergency", 0.12), ("urgent", 0.43), ("planned", 0.45))
OUTCOMES = (("completed", 0.85), ("cancelled", 0.06), ("rejected", 0.03), ("failed", 0.03))
SLOWER_OVER = {64: 1.7, 128: 1.3, 256: 0.9, 512: 1.05}
ANSWER_SHARE = {"emergency": 0.40, "urgent": 0.30, "planned": 0.25}
USER_AGENT = "FarCare bench/analytics"


# --------------------------------------------------------------------------------------------
# Writing rows fast
# --------------------------------------------------------------------------------------------


class Writer:
    """Rows of one table: the `varying` columns given per row (already adapted for the
    database, see `Adapt`), every other column its field's default, adapted once. SQLite gets
    ``executemany``, PostgreSQL ``COPY``."""

    def __init__(self, model: Any, varying: Sequence[str]) -> None:
        from django.db import connection

        # The key is left to the database unless given (a transition's).
        fields = {
            f.attname: f
            for f in model._meta.concrete_fields
            if f.attname in varying or not f.primary_key
        }
        unknown = set(varying) - set(fields)
        assert not unknown, f"{model.__name__} has no {unknown}"
        constant = [name for name in fields if name not in varying]
        self.constants = tuple(
            fields[name].get_db_prep_save(fields[name].get_default(), connection)
            for name in constant
        )
        quote = connection.ops.quote_name
        self.table = quote(model._meta.db_table)
        self.columns = ", ".join(quote(fields[name].column) for name in (*varying, *constant))
        self.width = len(varying) + len(constant)
        self.model = model

    def write(self, rows: list[tuple[Any, ...]]) -> None:
        from django.db import connection

        if not rows:
            return
        if connection.vendor == "postgresql":
            connection.ensure_connection()
            raw = connection.connection
            assert raw is not None
            with raw.cursor() as cursor:
                statement = f"COPY {self.table} ({self.columns}) FROM STDIN"
                with cursor.copy(statement.encode()) as copy:
                    for row in rows:
                        copy.write_row((*row, *self.constants))
            return
        marks = ", ".join(["%s"] * self.width)
        statement = f"INSERT INTO {self.table} ({self.columns}) VALUES ({marks})"  # noqa: S608
        with connection.cursor() as cursor:
            cursor.executemany(statement, [(*row, *self.constants) for row in rows])


class Adapt:
    """Values as the database driver takes them, the way Django adapts them."""

    def __init__(self) -> None:
        from django.db import connection

        self.sqlite = connection.vendor == "sqlite"
        self.ops = connection.ops

    def uid(self, value: uuid.UUID) -> Any:
        return value.hex if self.sqlite else value

    def at(self, value: datetime | None) -> Any:
        if value is None:
            return None
        return self.ops.adapt_datetimefield_value(value) if self.sqlite else value

    def json(self, value: Any) -> Any:
        if self.sqlite:
            return json.dumps(value)
        from psycopg.types.json import Jsonb

        return Jsonb(value)


def next_id(model: Any) -> int:
    from django.db.models import Max

    return (model.objects.aggregate(top=Max("pk"))["top"] or 0) + 1


def reset_sequences(models: Sequence[Any]) -> None:
    """After rows written with their own keys: the next key PostgreSQL gives is past them."""
    from django.core.management.color import no_style
    from django.db import connection

    with connection.cursor() as cursor:
        for statement in connection.ops.sequence_reset_sql(no_style(), list(models)):
            cursor.execute(statement)


# --------------------------------------------------------------------------------------------
# The network, and volume
# --------------------------------------------------------------------------------------------


@dataclass
class Place:
    settlement: int
    facility: int  # the settlement's lowest-level facility: where its residents are seen
    region: str
    population: int
    bandwidth: int


@dataclass
class World:
    places: list[Place]
    weights: list[float]
    routes: dict[tuple[str, int], list[tuple[int, bool]]]  # → (facility, abroad) by rank
    consultants: dict[tuple[int, int], list[int]]  # (facility, specialty) → users
    keys: dict[int, int]  # consultant → signing key
    specialties: list[int]
    specialty_weights: list[float]
    partner_specialties: set[int]
    requesters: dict[str, list[int]]  # region → clinicians (any, where the region has none)
    anyone: list[int]
    clock: dict[str, timedelta]
    patients: list[tuple[int, int]] = field(default_factory=list)  # (patient, place index)
    consented: set[int] = field(default_factory=set)
    next_serial: int = 1
    made: int = 0


def world() -> World:
    from farcare.accounts.models import Role, User
    from farcare.consults.models import DeadlinePolicy, RoutingRule
    from farcare.demo.loader import PARTNER_SPECIALTIES
    from farcare.network.models import (
        Facility,
        FacilityKind,
        PractitionerRole,
        PractitionerRoleKind,
        Specialty,
    )
    from farcare.signatures.signers import get_signer

    places = []
    lowest: dict[int, Any] = {}
    for facility in (
        Facility.objects.filter(country="RU")
        .exclude(kind=FacilityKind.FEDERAL_CENTRE)
        .select_related("settlement")
        .order_by("pk")
    ):
        known = lowest.get(facility.settlement_id)
        if known is None or facility.level < known.level:
            lowest[facility.settlement_id] = facility  # where the residents are seen
    for facility in lowest.values():
        places.append(
            Place(
                facility.settlement_id,
                facility.pk,
                facility.region,
                facility.settlement.population,
                facility.bandwidth_kbps,
            )
        )
    routes: dict[tuple[str, int], list[tuple[int, bool]]] = {}
    for rule in RoutingRule.objects.select_related("facility").order_by("rank"):
        routes.setdefault((rule.region, rule.specialty_id), []).append(
            (rule.facility_id, rule.facility.kind == FacilityKind.PARTNER_ABROAD)
        )
    consultants: dict[tuple[int, int], list[int]] = {}
    for role in PractitionerRole.objects.filter(
        kind=PractitionerRoleKind.CONSULTANT, practitioner__user__isnull=False
    ).prefetch_related("practitioner__specialties"):
        for specialty in role.practitioner.specialties.all():
            key = (role.facility_id, specialty.pk)
            consultants.setdefault(key, []).append(role.practitioner.user_id)
    signer = get_signer()
    keys = {}
    for user in User.objects.filter(pk__in={u for us in consultants.values() for u in us}):
        key, _value = signer.sign(user=user, data=b"bench")  # makes the user's key
        keys[user.pk] = key.pk
    requesters: dict[str, list[int]] = {}
    for pk, region in User.objects.filter(role=Role.CLINICIAN, facility__isnull=False).values_list(
        "pk", "facility__region"
    ):
        requesters.setdefault(region, []).append(pk)
    specialties = dict(Specialty.objects.values_list("code", "pk"))
    weights = {"cardiology": 20, "neurology": 10, "paediatrics": 14, "obstetrics": 7}
    return World(
        places=places,
        weights=[max(p.population, 100) for p in places],
        routes=routes,
        consultants=consultants,
        keys=keys,
        specialties=list(specialties.values()),
        specialty_weights=[weights.get(code, 5) for code in specialties],
        partner_specialties={specialties[c] for c in PARTNER_SPECIALTIES if c in specialties},
        requesters=requesters,
        anyone=[pk for pks in requesters.values() for pk in pks],
        clock={form: DeadlinePolicy.duration(form) for form, _w in FORMS},
    )


def add_patients(w: World, rng: random.Random, count: int) -> None:
    from farcare.accounts.models import User
    from farcare.patients.identifiers import normalise_text
    from farcare.patients.models import Patient

    registrar = User.objects.get(username="feldsher").pk
    for start in range(0, count, 5_000):
        chosen = rng.choices(range(len(w.places)), w.weights, k=min(5_000, count - start))
        batch = []
        for index in chosen:
            who = person(rng)
            place = w.places[index]
            serial = w.next_serial
            w.next_serial += 1
            batch.append(
                Patient(
                    family=who.family,
                    given=who.given,
                    middle=who.middle,
                    sex=who.sex,
                    birth_date=who.birth_date,
                    home_settlement_id=place.settlement,
                    home_facility_id=place.facility,
                    snils=snils(serial, GENERATED_SNILS),
                    oms_policy=f"{2_790_500_000_000_000 + serial:016d}",
                    search_name=normalise_text(f"{who.family} {who.given} {who.middle}"),
                    registered_by_id=registrar,
                )
            )
        Patient.objects.bulk_create(batch, batch_size=1_000)
        made = Patient.objects.filter(snils__in=[p.snils for p in batch]).values_list("pk", "snils")
        by_snils = dict((s, pk) for pk, s in made)
        for patient, index in zip(batch, chosen, strict=True):
            pk = by_snils[patient.snils]
            w.patients.append((pk, index))
            if rng.random() < 0.3:
                w.consented.add(pk)


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]


@dataclass
class Batch:
    consultations: list[tuple[Any, ...]] = field(default_factory=list)
    transitions: list[tuple[Any, ...]] = field(default_factory=list)
    conclusions: list[tuple[Any, ...]] = field(default_factory=list)
    signatures: list[tuple[Any, ...]] = field(default_factory=list)


CONSULT_COLUMNS = (
    "id", "uuid", "client_token", "patient_id", "requester_id", "requesting_facility_id",
    "specialty_id", "form", "language", "question", "status", "created_at", "updated_at",
    "received_at", "deadline_at", "half_alert_at", "breached_at", "routed_facility_id",
    "routing_rank", "version",
)  # fmt: skip
TRANSITION_COLUMNS = ("uuid", "consultation_id", "from_status", "to_status", "event", "at",
                      "actor_id", "note")  # fmt: skip
CONCLUSION_COLUMNS = ("id", "uuid", "consultation_id", "author_id", "findings", "diagnoses",
                      "recommendations", "evacuation", "signed_at", "signature_id")  # fmt: skip
SIGNATURE_COLUMNS = ("id", "uuid", "signer_id", "key_id", "algorithm", "signed_at",
                     "document_type", "document_id", "digest", "signature")  # fmt: skip


class Generator:
    """Consultations, their timelines, conclusions and signatures, as rows."""

    def __init__(self, w: World, rng: random.Random) -> None:
        from farcare.consults.models import Conclusion, Consultation, Transition
        from farcare.signatures.models import Signature

        self.w, self.rng, self.adapt = w, rng, Adapt()
        self.writers = (
            Writer(Consultation, CONSULT_COLUMNS),
            Writer(Transition, TRANSITION_COLUMNS),
            Writer(Conclusion, CONCLUSION_COLUMNS),
            Writer(Signature, SIGNATURE_COLUMNS),
        )
        self.models = (Consultation, Conclusion, Signature, Transition)
        self.diagnoses = self.adapt.json([{"code": "I10", "label": "Essential hypertension"}])
        self.uuid_base = rng.getrandbits(128) & ~((1 << 64) - 1)

    def uid(self) -> Any:
        self.uuid_serial = getattr(self, "uuid_serial", 0) + 1
        return self.adapt.uid(uuid.UUID(int=self.uuid_base | self.uuid_serial))

    def add(self, count: int, *, first: datetime, last: datetime, cap: datetime) -> float:
        """`count` consultations received between `first` and `last`, nothing of them later
        than `cap` (an answer due later is given at `cap`); the seconds it took."""
        self.cap = cap
        from django.db import connection, transaction

        started = time.perf_counter()
        consultation_id = next_id(self.models[0])
        conclusion_id = next_id(self.models[1])
        signature_id = next_id(self.models[2])
        span = (last - first).total_seconds()
        for start in range(0, count, CHUNK):
            batch = Batch()
            for _ in range(min(CHUNK, count - start)):
                received = first + timedelta(seconds=self.rng.random() * span)
                answered = self.one(batch, consultation_id, received, conclusion_id, signature_id)
                consultation_id += 1
                if answered:
                    conclusion_id += 1
                    signature_id += 1
            with transaction.atomic():
                consultations, transitions, conclusions, signatures = self.writers
                consultations.write(batch.consultations)
                transitions.write(batch.transitions)
                signatures.write(batch.signatures)
                conclusions.write(batch.conclusions)
            self.w.made += len(batch.consultations)
        if connection.vendor == "postgresql":
            reset_sequences(self.models)
            with connection.cursor() as cursor:
                cursor.execute("ANALYZE")
        return time.perf_counter() - started

    def one(
        self,
        batch: Batch,
        pk: int,
        received: datetime,
        conclusion_id: int,
        signature_id: int,
    ) -> bool:
        w, rng, a = self.w, self.rng, self.adapt
        patient, index = rng.choice(w.patients)
        place = w.places[index]
        table: list[tuple[int, bool]] = []
        while not table:  # a specialty the region's routing table has a consultant for
            specialty = rng.choices(w.specialties, w.specialty_weights)[0]
            table = [
                (facility, abroad)
                for facility, abroad in w.routes.get((place.region, specialty), [])
                if (facility, specialty) in w.consultants and (not abroad or patient in w.consented)
            ]
        rank = 0
        abroad_ranks = [r for r, (_f, abroad) in enumerate(table) if abroad]
        if abroad_ranks and specialty in w.partner_specialties and rng.random() < ABROAD_SHARE:
            rank = rng.choice(abroad_ranks)
        form = pick(rng, FORMS)
        clock = w.clock[form]
        outcome = pick(rng, OUTCOMES)
        requester = rng.choice(w.requesters.get(place.region) or w.anyone)
        facility = table[rank][0]
        consultant = rng.choice(w.consultants[(facility, specialty)])
        share = ANSWER_SHARE[form] * SLOWER_OVER.get(place.bandwidth, 1.0)
        answer = clock * share * math.exp(rng.gauss(0.0, 0.55))
        accept = clock * 0.1 * math.exp(rng.gauss(0.0, 0.9))
        answer = max(answer, accept + clock * 0.05)
        deadline = received + clock
        events: list[tuple[str, str, str, datetime, int | None, str]] = [
            ("submit", "draft", "requested", received, requester, ""),
            ("routed", "requested", "requested", received + timedelta(seconds=2), requester, ""),
        ]
        half = breached = None
        if outcome != "cancelled" and outcome != "rejected" and accept > clock / 2:
            half = deadline - clock / 2
            events.append(("half_deadline", "requested", "requested", half, None, ""))
        if outcome == "cancelled":
            at = received + clock * rng.uniform(0.05, 0.3)
            events.append(("cancel", "requested", "cancelled", at, requester, ""))
        elif outcome == "rejected":
            at = received + clock * rng.uniform(0.05, 0.3)
            events.append(("reject", "requested", "rejected", at, consultant, ""))
        else:
            events.append(("accept", "requested", "accepted", received + accept, consultant, ""))
            if received + answer > deadline:
                breached = deadline + timedelta(seconds=30)
                events.append(("breached", "accepted", "accepted", breached, None, ""))
            done = received + answer
            if outcome == "failed":
                events.append(("fail", "accepted", "failed", done, consultant, ""))
            else:
                events.append(("complete", "accepted", "completed", done, consultant, ""))
        events = [(e, f, t, min(at, self.cap), actor, n) for e, f, t, at, actor, n in events]
        answer = min(answer, self.cap - received)
        status = events[-1][2]
        updated = max(e[3] for e in events)
        batch.consultations.append(
            (
                pk, self.uid(), self.uid(), patient, requester, place.facility, specialty, form,
                "ru", "Жалобы и данные осмотра во вложении. Что вы посоветуете?", status,
                a.at(received - timedelta(minutes=4)), a.at(updated), a.at(received),
                a.at(deadline), a.at(half), a.at(breached), facility, rank, 1 + len(events),
            )
        )  # fmt: skip
        for event, source, target, at, actor, note in events:
            batch.transitions.append((self.uid(), pk, source, target, event, a.at(at), actor, note))
        if status != "completed":
            return False
        signed = a.at(received + answer)
        batch.signatures.append(
            (
                signature_id, self.uid(), consultant, w.keys[consultant], "ed25519", signed,
                "conclusion", f"{pk}/v1", f"{rng.getrandbits(256):064x}",
                base64.b64encode(rng.randbytes(64)).decode("ascii"),
            )
        )  # fmt: skip
        batch.conclusions.append(
            (
                conclusion_id, self.uid(), pk, consultant, "Осмотр и данные изучены.",
                self.diagnoses, "Лечение по месту жительства.", "none", signed, signature_id,
            )
        )  # fmt: skip
        return True


# --------------------------------------------------------------------------------------------
# The computation
# --------------------------------------------------------------------------------------------


@dataclass
class Run:
    label: str
    seconds: float
    facts: int
    cells: int


def compute(label: str, *, full: bool = False) -> Run:
    from farcare.analytics.compute import refresh

    started = time.perf_counter()
    run = refresh(full=full)
    seconds = time.perf_counter() - started
    print(f"  {label}: {seconds:.1f} s", flush=True)
    return Run(label, seconds, run.facts_written, run.cells_written)


# --------------------------------------------------------------------------------------------
# Pages over HTTP
# --------------------------------------------------------------------------------------------


@dataclass
class Page:
    label: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    queries: list[int] = field(default_factory=list)
    gzip_bytes: int = 0
    raw_bytes: int = 0
    error: str = ""


class Browser:
    """One keep-alive HTTP connection with the analyst's session cookie."""

    def __init__(self, port: int, cookie: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        self.headers = {
            "Cookie": cookie,
            "Accept-Encoding": "gzip",
            "Accept-Language": "ru",
            "User-Agent": USER_AGENT,
        }

    def get(self, path: str, capture: str = "") -> tuple[int, bytes, str]:
        headers = dict(self.headers)
        if capture:
            headers["X-Bench-Capture"] = capture
        self.connection.request("GET", path, headers=headers)
        response = self.connection.getresponse()
        body = response.read()
        return response.status, body, (response.getheader("Content-Encoding") or "").lower()

    def close(self) -> None:
        self.connection.close()


def measure(
    browser: Browser, databases: Databases, label: str, path: str, runs: int
) -> tuple[Page, Page]:
    """One page on both data sets: warm-up, SQL counted, then timed in alternating blocks."""
    small, full = databases.names
    pages = {small: Page(label, path), full: Page(label, path)}
    for name, page in pages.items():
        databases.use(name)
        for _ in range(WARMUPS):
            status, body, encoding = browser.get(path)
            if status != 200:
                page.error = f"HTTP {status}"
        for serial in range(COUNTED):
            key = f"{label}-{name}-{serial}"
            _status, body, encoding = browser.get(path, capture=key)
            page.queries.append(CAPTURES.pop(key).count)
        page.gzip_bytes = len(body)
        page.raw_bytes = len(gzip.decompress(body) if encoding == "gzip" else body)
    if any(page.error for page in pages.values()):
        return pages[small], pages[full]
    for block in range(runs // BLOCK):
        order = list(pages.items())
        for name, page in order if block % 2 == 0 else reversed(order):
            databases.use(name)
            browser.get(path)  # untimed: the first request after a switch opens the file
            for _ in range(BLOCK):
                started = time.perf_counter()
                browser.get(path)
                page.times_ms.append((time.perf_counter() - started) * 1000)
    return pages[small], pages[full]


def session_cookie(username: str) -> str:
    from django.conf import settings
    from django.test import Client

    from farcare.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username=username))
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


@contextmanager
def two_databases(workdir: Path) -> Iterator[Databases]:
    if os.environ.get("FARCARE_DATABASE_URL", "").startswith("postgres"):
        with postgres_databases(["small", "full"]) as databases:
            yield databases
    else:
        yield sqlite_databases(workdir, ["small", "full"])


def counts() -> str:
    from farcare.analytics.models import ConsultFact, IndicatorCell
    from farcare.consults.models import Consultation, Transition

    return (
        f"{Consultation.objects.count():,} consultations, {Transition.objects.count():,} "
        f"transitions, {ConsultFact.objects.count():,} facts, "
        f"{IndicatorCell.objects.count():,} cells"
    )


def print_pages(pairs: list[tuple[Page, Page]], sizes: tuple[int, int]) -> None:
    header = (
        f"{'page':<18} {'consultations':>13} {'median ms':>9} {'p95 ms':>8} {'queries':>7} "
        f"{'gzip B':>8} {'raw B':>8}"
    )
    print(header)
    print("-" * len(header))
    for small, full in pairs:
        label = small.label
        for size, page in zip(sizes, (small, full), strict=True):
            if page.error:
                print(f"{label:<18} {size:>13,} could not be measured: {page.error}")
                label = ""
                continue
            queries = f"{max(page.queries)}" + ("" if len(set(page.queries)) == 1 else "*")
            print(
                f"{label:<18} {size:>13,} {median(page.times_ms):>9.1f} "
                f"{p95(page.times_ms):>8.1f} {queries:>7} {page.gzip_bytes:>8,} "
                f"{page.raw_bytes:>8,}"
            )
            label = ""
        if not (small.error or full.error):
            print(
                f"{'':<18} {'ratio':>13} "
                f"{ratio(median(full.times_ms), median(small.times_ms)):>9} "
                f"{ratio(p95(full.times_ms), p95(small.times_ms)):>8} "
                f"{ratio(max(full.queries), max(small.queries)):>7} "
                f"{ratio(full.gzip_bytes, small.gzip_bytes):>8} "
                f"{ratio(full.raw_bytes, small.raw_bytes):>8}"
            )
    home = pairs[0][1]
    if not home.error:
        print(f"At {sizes[1]:,} consultations, p95 against the home page's (the baseline):")
        for _small, full in pairs[1:]:
            if not full.error:
                print(f"  {full.label}: {ratio(p95(full.times_ms), p95(home.times_ms))}x")
    print("ratio: the full data set's figure over the small one's.")
    print("* the statement count varied between the counted requests (the highest shown)")


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--consultations", type=int, default=CONSULTATIONS)
    parser.add_argument(
        "--day", type=int, default=DAY, help="new consultations for the incremental run"
    )
    parser.add_argument(
        "--runs", type=int, default=RUNS, help="timed requests per page and data set"
    )
    args = parser.parse_args()
    rng = random.Random(SEED)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="analytics-")))
        databases = stack.enter_context(two_databases(workdir))
        small_name, full_name = databases.names
        setup_django(workdir, databases.url(small_name), demo=True, test_client=True)
        from django.db import connection
        from django.utils import timezone

        backend = "PostgreSQL" if connection.vendor == "postgresql" else "SQLite"
        print(f"FarCare analytics at volume on {backend}; {load()}", flush=True)
        now = timezone.now()
        # Received up to a week ago: the planned ones' answers (a week's deadline) are in.
        first, last = now - timedelta(days=30 * MONTHS), now - timedelta(days=8)
        w = world()
        generator = Generator(w, rng)
        add_patients(w, rng, max(SMALL // PER_PATIENT, 50))
        generator.add(SMALL, first=first, last=last, cap=now)
        print("Small data set (the demo and 1,000 consultations):", flush=True)
        small_run = compute("full computation", full=True)
        print(f"  {counts()}", flush=True)
        cookie = session_cookie("analyst")
        databases.copy(small_name, full_name)
        databases.use(full_name)

        print(f"Full data set ({args.consultations:,} consultations):", flush=True)
        started = time.perf_counter()
        add_patients(w, rng, args.consultations // PER_PATIENT - len(w.patients))
        patients_seconds = time.perf_counter() - started
        generated = generator.add(args.consultations - SMALL, first=first, last=last, cap=now)
        per_100k = generated / max(args.consultations - SMALL, 1) * 100_000
        print(
            f"  {len(w.patients):,} patients in {patients_seconds:.0f} s; "
            f"{args.consultations - SMALL:,} consultations with their timelines, conclusions "
            f"and signatures in {generated:.0f} s ({per_100k:.1f} s per 100,000)",
            flush=True,
        )
        runs = [compute("full computation", full=True)]
        print(f"  {counts()}", flush=True)
        # As if the runs so far had been last night: a day's consultations are newer.
        from django.db.models import F

        from farcare.analytics.models import ComputeRun
        from farcare.patients.models import Patient

        ComputeRun.objects.update(
            started_at=F("started_at") - timedelta(days=1),
            finished_at=F("finished_at") - timedelta(days=1),
        )
        # The generated patients were registered before that night too (written in bulk just
        # now, their `updated_at` would read as a day's moves of every patient, and the night
        # would look at all their consultations again).
        Patient.objects.update(updated_at=F("updated_at") - timedelta(days=2))
        today = timezone.now()
        day = generator.add(args.day, first=today - timedelta(days=1), last=today, cap=today)
        print(f"  a day's {args.day:,} new consultations written in {day:.1f} s", flush=True)
        runs.append(compute(f"incremental after {args.day:,} new"))
        runs.append(compute("incremental, nothing new"))

        from farcare.analytics import selectors

        months = selectors.months_available()
        month = months[1] if len(months) > 1 else months[0]
        query = f"month={month:%Y-%m}"
        server, port = start_server()
        stack.callback(server.shutdown)
        browser = Browser(port, cookie)
        stack.callback(browser.close)
        paths = (
            ("home (baseline)", "/"),
            ("region table", f"/analytics/?{query}&dimension=region"),
            ("settlement table", f"/analytics/?{query}&dimension=settlement"),
            ("map", f"/analytics/map/?{query}"),
        )
        load_before = load()
        pairs = [measure(browser, databases, label, path, args.runs) for label, path in paths]
        load_after = load()

        print()
        print(f"The nightly computation on {backend} (wall clock; facts and cells written):")
        print(
            f"  {'1,000 consultations, full':<44} {small_run.seconds:>8.1f} s "
            f"{small_run.facts:>10,} facts {small_run.cells:>9,}"
        )
        for run in runs:
            label = f"{args.consultations:,}: {run.label}"
            print(
                f"  {label:<44} {run.seconds:>8.1f} s {run.facts:>10,} facts {run.cells:>9,} cells"
            )
        print(
            f"  incremental after a day / full: {ratio(runs[1].seconds, runs[0].seconds)}; "
            f"full at {args.consultations:,} / full at 1,000: "
            f"{ratio(runs[0].seconds, small_run.seconds)}"
        )
        print()
        print(
            f"Pages over HTTP, analyst, month {month:%Y-%m}: {WARMUPS} warm-up + {COUNTED} "
            f"counted + {args.runs} timed requests per page and data set; {load_before} "
            f"before, {load_after} after."
        )
        print_pages(pairs, (SMALL, args.consultations))
        failed = [p for pair in pairs for p in pair if p.error]
        return 1 if failed else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a figure that could not be measured
        print(f"failed: {error!r}", file=sys.stderr)
        raise
