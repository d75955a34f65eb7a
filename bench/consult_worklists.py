"""Render time, SQL queries and compressed size of the consultation worklists at volume.

The consultant's queue and the coordinator's board (``GET /consultations/``) and the same two
accounts' home pages (``GET /``), on 10,000 patients and 50,000 consultations, against a
baseline of 1,000 patients and 5,000 consultations measured in the same run, so that the
ratios say how the pages scale whatever the machine.

Run from the project root (about a minute; ``--postgres`` takes a little longer)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/consult_worklists.py

``--postgres`` runs on two temporary databases created on
``postgres://postgres@127.0.0.1:5432`` and dropped afterwards, instead of SQLite files.

How it measures:

* A fresh temporary directory holds the SQLite files (``FARCARE_DATABASE_URL``), the static
  and the media root; the project's ``var/`` is never touched. The small database is migrated
  and the demo network is loaded (``load_demo()``).
* Volume is made with ``bulk_create`` from a fixed random seed, not through the services
  (those are for correctness; this is volume): patients spread over the Far East facilities,
  each with a valid, unique SNILS and the ``search_name`` that ``Patient.save()`` would
  compute; consultations about them by the demo clinicians, mostly closed (completed,
  cancelled, rejected, failed, a few drafts) over the past three years, 0.8 % open (requested,
  accepted, in progress, on hold), their deadlines running or already breached. Every routed
  consultation has its assignment, closed ones included (a consultant's history is what the
  queue's query has to skip); some open ones also have an ended assignment (declined and
  re-routed) or a consilium member, and some requested ones have nobody assigned. The demo
  cardiologist (Khabarovsk) and the Chukotka coordinator get a realistic share of the open
  cases: on the full data set about 120 and 170 rows, under the worklists' 200-row limit.
* Small data set: 1,000 patients and 5,000 consultations, open ones in the same proportion.
  The accounts are logged in (``force_login``), then the database is copied (sessions
  included) and the copy is topped up to the full size by the same generator. On PostgreSQL
  both are ANALYZEd after loading, as autovacuum would; SQLite is left as FarCare leaves it.
* Pages are fetched with Django's test ``Client``: the whole middleware stack in-process
  (sessions, locale, OTP, GZip...), no network, no connection set-up per request (the test
  client keeps the database connection open). ``Accept-Encoding: gzip`` is sent, so
  ``GZipMiddleware`` compresses as it does in production. Per page and data set: 3 warm-up
  requests, 3 under ``CaptureQueriesContext`` to count the statements, then 30 timed ones
  (wall clock around ``client.get``; median and nearest-rank p95). The timed requests run in
  blocks of 5, alternating between the small and the full database, so whatever else the
  machine does weighs on both alike and the ratios stay meaningful on a busy machine; the
  load average is printed. The size is the response body as sent (gzip) and decoded;
  GZipMiddleware pads with up to 100 random bytes, so it wobbles a little.
* Ratios are full/small, for time and for query count. The query count must not grow with
  the data; if it does, the statements are grouped by their text with parameters stripped and
  those whose count changed, and the most repeated ones, are listed.

Nothing is asserted about time. Exit status: 0 when every figure was measured (whatever they
are), 1 when a page could not be fetched or the data could not be set up.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import math
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections import Counter
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

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
    statement_shape,
)

SEED = 20_240_601
WARMUPS = 3
RUNS = 30
CAPTURES = 3
BLOCK = 5  # timed requests in a row on one data set before switching to the other
SMALL = (1_000, 5_000)  # patients, consultations
FULL = (10_000, 50_000)
OPEN_SHARE = 0.008  # open consultations / all consultations (400 of 50,000)
PAGES = (
    ("cardiologist", "queue", "/consultations/"),
    ("coordinator", "board", "/consultations/"),
    ("cardiologist", "home", "/"),
    ("coordinator", "home", "/"),
)
CASE_ROW_RE = re.compile(rb'data-testid="case-')
HOME_QUEUE_ROW_RE = re.compile(rb'<li class="risk-')

# --------------------------------------------------------------------------------------------
# Volume.
# --------------------------------------------------------------------------------------------

FAMILIES_M = [
    "Иванов", "Петров", "Сидоров", "Кузнецов", "Попов", "Васильев", "Смирнов", "Новиков",
    "Фёдоров", "Морозов", "Волков", "Алексеев", "Лебедев", "Семёнов", "Егоров", "Павлов",
    "Николаев", "Винокуров", "Слепцов", "Готовцев", "Аммосов", "Тынетегин", "Кергинто",
    "Омрынто", "Ранаутагин", "Етылин", "Адуканов", "Громов", "Ким", "Пак", "Цой", "Тен",
]  # fmt: skip
GIVEN_M = [
    "Александр", "Алексей", "Андрей", "Айсен", "Виктор", "Дмитрий", "Егор", "Иван", "Игорь",
    "Михаил", "Николай", "Павел", "Пётр", "Семён", "Сергей", "Юрий", "Ньургун", "Гаврил",
]  # fmt: skip
GIVEN_F = [
    "Анна", "Алёна", "Дарья", "Елена", "Ирина", "Мария", "Наталья", "Ольга", "Светлана",
    "Татьяна", "Юлия", "Сардана", "Туяра", "Галина", "Людмила", "Валентина", "Аграфена",
]  # fmt: skip
FATHERS = [
    "Александр", "Алексе", "Андре", "Виктор", "Дмитри", "Ивано", "Игор", "Михайл", "Никола",
    "Павл", "Петр", "Семён", "Серге", "Юрь", "Гаврил", "Егор",
]  # fmt: skip


def feminine(family: str) -> str:
    return family + "а" if family.endswith(("ов", "ёв", "ев", "ин", "ын")) else family


def patronymic(father: str, sex: str) -> str:
    if father.endswith(("е", "и", "ь")):
        stem = father[:-1] if father.endswith("ь") else father
        return stem + ("евна" if sex == "female" else "евич")
    if father.endswith("о"):
        return father[:-1] + ("овна" if sex == "female" else "ович")
    return father + ("овна" if sex == "female" else "ович")


@dataclass
class Refs:
    """What the generator draws from: the demo network and accounts."""

    facilities: list[Any]  # Far East facilities patients live near
    chukotka_patients: list[int] = field(default_factory=list)
    khabarovsk_patients: list[int] = field(default_factory=list)
    other_patients: list[int] = field(default_factory=list)
    patient_facility: dict[int, int] = field(default_factory=dict)
    clinicians: list[int] = field(default_factory=list)
    clinicians_by_region: dict[str, list[int]] = field(default_factory=dict)
    facility_region: dict[int, str] = field(default_factory=dict)
    consultants: list[tuple[int, int, list[int]]] = field(default_factory=list)
    cardiologist: int = 0
    cardiology: int = 0
    khabarovsk_hub: int = 0
    coordinator: int = 0
    next_serial: int = 1  # patients made so far + 1
    consultations: int = 0  # consultations made so far (the demo's not counted)
    open_cases: int = 0  # of which open


def demo_refs() -> Refs:
    from farcare.accounts.models import Role, User
    from farcare.network.models import Facility, FacilityKind, Practitioner, Specialty
    from farcare.patients.models import Patient

    far_east = list(
        Facility.objects.exclude(
            kind__in=(FacilityKind.FEDERAL_CENTRE, FacilityKind.PARTNER_ABROAD)
        ).order_by("pk")
    )
    refs = Refs(facilities=far_east)
    for pk, facility_id, region in Patient.objects.values_list(
        "pk", "home_facility_id", "home_facility__region"
    ):
        refs.patient_facility[pk] = facility_id
        bucket = {"Chukotka": refs.chukotka_patients, "Khabarovsk": refs.khabarovsk_patients}
        bucket.get(region, refs.other_patients).append(pk)
    refs.facility_region = {f.pk: f.region for f in far_east}
    for pk, region in (
        User.objects.filter(role=Role.CLINICIAN)
        .order_by("pk")
        .values_list("pk", "facility__region")
    ):
        refs.clinicians.append(pk)
        refs.clinicians_by_region.setdefault(region, []).append(pk)
    cardiologist = User.objects.get(username="cardiologist")
    refs.cardiologist = cardiologist.pk
    refs.khabarovsk_hub = cardiologist.facility_id or 0
    refs.cardiology = Specialty.objects.get(code="cardiology").pk
    refs.coordinator = User.objects.get(username="coordinator").pk
    for practitioner in (
        Practitioner.objects.filter(user__role=Role.CONSULTANT, user__facility__isnull=False)
        .exclude(user=cardiologist)
        .select_related("user")
        .prefetch_related("specialties")
        .order_by("pk")
    ):
        specialties = [s.pk for s in practitioner.specialties.all()]
        user = practitioner.user
        if specialties and user is not None and user.facility_id:
            refs.consultants.append((user.pk, user.facility_id, specialties))
    return refs


def snils(serial: int) -> str:
    from farcare.patients.identifiers import snils_check_number

    first_nine = f"{200_000_000 + serial * 37:09d}"  # far from the demo's 112 233 000 + …
    return f"{first_nine}{snils_check_number(first_nine):02d}"


def add_patients(refs: Refs, rng: random.Random, count: int) -> None:
    from farcare.patients.identifiers import normalise_text
    from farcare.patients.models import Patient

    registrar = refs.clinicians[0]
    batch = []
    for _ in range(count):
        serial = refs.next_serial
        refs.next_serial += 1
        sex = rng.choice(("female", "male"))
        family = rng.choice(FAMILIES_M)
        given = rng.choice(GIVEN_F if sex == "female" else GIVEN_M)
        if sex == "female":
            family = feminine(family)
        middle = patronymic(rng.choice(FATHERS), sex)
        facility = rng.choice(refs.facilities)
        batch.append(
            Patient(
                family=family,
                given=given,
                middle=middle,
                sex=sex,
                birth_date=date(1940, 1, 1) + timedelta(days=rng.randrange(30_000)),
                home_settlement_id=facility.settlement_id,
                home_facility_id=facility.pk,
                snils=snils(serial),
                oms_policy=f"{2_790_100_000_000_000 + serial:016d}",
                phone=f"+7 914 {serial // 10_000:03d}-{serial // 100 % 100:02d}-{serial % 100:02d}",
                search_name=normalise_text(f"{family} {given} {middle}"),
                registered_by_id=registrar,
            )
        )
    created = Patient.objects.bulk_create(batch, batch_size=1_000)
    pks = {p.snils: p.pk for p in created if p.pk}
    if len(pks) != len(created):  # backends that do not return keys from bulk inserts
        pks = dict(
            Patient.objects.filter(snils__in=[p.snils for p in created]).values_list("snils", "pk")
        )
    for patient in created:
        pk = pks[patient.snils]
        refs.patient_facility[pk] = patient.home_facility_id
        region = refs.facility_region[patient.home_facility_id]
        bucket = {"Chukotka": refs.chukotka_patients, "Khabarovsk": refs.khabarovsk_patients}
        bucket.get(region, refs.other_patients).append(pk)


FORMS = (("emergency", 0.15), ("urgent", 0.45), ("planned", 0.40))
CLOSED = (
    ("completed", 0.80),
    ("cancelled", 0.12),
    ("rejected", 0.03),
    ("failed", 0.02),
    ("draft", 0.02),
    ("entered-in-error", 0.01),
)
OPEN = (("requested", 0.35), ("accepted", 0.25), ("in-progress", 0.30), ("on-hold", 0.10))


def pick(rng: random.Random, weighted: tuple[tuple[str, float], ...]) -> str:
    return rng.choices([v for v, _w in weighted], [w for _v, w in weighted])[0]


def news2_band(total: int) -> str:
    return "high" if total >= 7 else "medium" if total >= 5 else "low"


@dataclass
class Plan:
    """One consultation to create, and the assignments it gets."""

    consultation: Any
    assignments: list[tuple[int, int, str, datetime | None, datetime | None]]


def add_consultations(refs: Refs, rng: random.Random, count: int, open_count: int) -> None:
    from django.db import connection
    from django.utils import timezone

    from farcare.consults.models import Assignment, Consultation, DeadlinePolicy

    now = timezone.now()
    minutes = {row.form: row.minutes for row in DeadlinePolicy.objects.all()}
    plans: list[Plan] = []
    statuses = ["open"] * open_count + ["closed"] * (count - open_count)
    rng.shuffle(statuses)
    for kind in statuses:
        form = pick(rng, FORMS)
        duration = timedelta(minutes=minutes[form])
        status = pick(rng, OPEN) if kind == "open" else pick(rng, CLOSED)
        # Who consults: the demo cardiologist for about a third of the open cases and a
        # sixth of the history, the other demo consultants for the rest.
        roll = rng.random()
        if kind == "open" and roll < 0.05:
            consultant = None  # requested, nobody on duty accepted: claimable by the hub
            status, specialty, routed = "requested", refs.cardiology, refs.khabarovsk_hub
        elif roll < (0.35 if kind == "open" else 0.15):
            consultant, specialty, routed = refs.cardiologist, refs.cardiology, refs.khabarovsk_hub
        else:
            consultant, routed, specialties = rng.choice(refs.consultants)
            specialty = rng.choice(specialties)
        # Whose patient: Chukotka (the coordinator's region) over-represented among open cases,
        # and Chukotka's cardiology goes to Khabarovsk by agreement.
        region_roll = rng.random()
        chukotka_share = 0.5 if specialty == refs.cardiology else 0.35
        if kind == "closed":
            chukotka_share = 0.2
        if region_roll < chukotka_share:
            patient = rng.choice(refs.chukotka_patients)
        elif region_roll < chukotka_share + 0.15:
            patient = rng.choice(refs.khabarovsk_patients)
        else:
            patient = rng.choice(refs.other_patients)
        if kind == "open":
            received = now - rng.uniform(0.0, 1.3) * duration  # some are already late
        else:
            received = now - timedelta(days=1) - rng.uniform(0.0, 3 * 365.0) * timedelta(days=1)
        draft = status == "draft"
        # A demo clinician of the patient's region asks, where the demo has one.
        region = refs.facility_region[refs.patient_facility[patient]]
        requester = rng.choice(refs.clinicians_by_region.get(region, refs.clinicians))
        total = rng.randrange(13) if rng.random() < 0.7 and not draft else None
        consultation = Consultation(
            client_token=uuid.uuid4(),
            patient_id=patient,
            requester_id=requester,
            requesting_facility_id=refs.patient_facility[patient],
            specialty_id=specialty,
            form=form,
            question="Жалобы, анамнез и данные осмотра во вложении. Что вы посоветуете?",
            summary="",
            status=status,
            news2_total=total,
            news2_band=news2_band(total) if total is not None else "",
            received_at=None if draft else received,
            deadline_at=None if draft else received + duration,
            paused_at=received + (now - received) / 2 if status == "on-hold" else None,
            routed_facility_id=None if draft else routed,
            routing_rank=0 if draft else 1,
        )
        plan = Plan(consultation, [])
        if not draft and consultant is not None:
            facility = routed
            answered = min(duration / 10, (now - received) / 4)
            accepted = received + answered if status not in ("requested", "rejected") else None
            ended = received + duration / 2 if status in ("cancelled", "rejected") else None
            plan.assignments.append((consultant, facility, "primary", accepted, ended))
            if kind == "open" and rng.random() < 0.10:
                # Declined by someone else first, then re-routed here.
                other, other_facility, _s = rng.choice(refs.consultants)
                if other != consultant:
                    plan.assignments.append(
                        (other, other_facility, "primary", None, received + duration / 20)
                    )
            if kind == "open" and consultant != refs.cardiologist and rng.random() < 0.05:
                member, member_facility, _s = rng.choice(refs.consultants)
                if member != consultant:
                    plan.assignments.append((member, member_facility, "member", accepted, None))
        plans.append(plan)

    created = Consultation.objects.bulk_create([p.consultation for p in plans], batch_size=1_000)
    if any(c.pk is None for c in created):  # backends that do not return keys
        pks = dict(
            Consultation.objects.filter(
                client_token__in=[c.client_token for c in created]
            ).values_list("client_token", "pk")
        )
        for c in created:
            c.pk = c.id = pks[c.client_token]
    assignments = [
        Assignment(
            consultation_id=plan.consultation.pk,
            consultant_id=consultant,
            facility_id=facility,
            role=role,
            assigned_by_id=None,
            accepted_at=accepted,
            ended_at=ended,
            end_reason="Declined: outside working hours" if ended else "",
        )
        for plan in plans
        for consultant, facility, role, accepted, ended in plan.assignments
    ]
    Assignment.objects.bulk_create(assignments, batch_size=1_000)
    refs.consultations += count
    refs.open_cases += open_count
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")


@dataclass(frozen=True)
class Volume:
    patients: int
    consultations: int
    open: int
    assignments: int
    queue_open: int  # open cases on the cardiologist's queue, before the 200-row limit
    board_open: int  # open cases on the coordinator's board, before the 200-row limit
    seconds: float


def grow_to(refs: Refs, rng: random.Random, patients: int, consultations: int) -> Volume:
    """Top the database up to ``patients`` and ``consultations`` (the demo's count towards
    neither: they are on top)."""
    from django.db import transaction

    from farcare.accounts.models import User
    from farcare.consults import selectors
    from farcare.consults.models import OPEN_STATUSES, Assignment, Consultation
    from farcare.patients.models import Patient

    started = time.monotonic()
    want_open = round(consultations * OPEN_SHARE)
    with transaction.atomic():
        add_patients(refs, rng, patients - (refs.next_serial - 1))
    with transaction.atomic():
        add_consultations(
            refs, rng, consultations - refs.consultations, want_open - refs.open_cases
        )
    elapsed = time.monotonic() - started
    cardiologist = User.objects.get(pk=refs.cardiologist)
    coordinator = User.objects.select_related("facility").get(pk=refs.coordinator)
    queue = selectors.consultant_queue(cardiologist)
    board = selectors.coordinator_board(coordinator)
    return Volume(
        patients=Patient.objects.count(),
        consultations=Consultation.objects.count(),
        open=Consultation.objects.filter(status__in=OPEN_STATUSES).count(),
        assignments=Assignment.objects.count(),
        queue_open=unlimited_count(queue),
        board_open=unlimited_count(board),
        seconds=elapsed,
    )


def unlimited_count(queryset: Any) -> int:
    """How many rows a worklist's query matches without its display limit."""
    clone = queryset._chain()
    clone.query.clear_limits()
    return int(clone.count())


# --------------------------------------------------------------------------------------------
# Measurement.
# --------------------------------------------------------------------------------------------


@dataclass
class PageMeasure:
    account: str
    page: str
    path: str
    times_ms: list[float] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)  # this process's CPU time per request
    queries: list[int] = field(default_factory=list)
    sql_ms: list[float] = field(default_factory=list)
    statements: Counter[str] = field(default_factory=Counter)
    statement_ms: dict[str, float] = field(default_factory=dict)  # least over the requests
    gzip_bytes: int = 0
    raw_bytes: int = 0
    encoding: str = ""
    rows: int | None = None
    error: str = ""

    @property
    def median(self) -> float:
        return median(self.times_ms)

    @property
    def cpu_median(self) -> float:
        return median(self.cpu_ms)

    @property
    def p95(self) -> float:
        return p95(self.times_ms)

    @property
    def query_count(self) -> int:
        return max(self.queries) if self.queries else -1

    @property
    def stable_queries(self) -> bool:
        return len(set(self.queries)) == 1


def fetch(client: Any, path: str) -> Any:
    return client.get(path, HTTP_ACCEPT_ENCODING="gzip")


def count_and_weigh(client: Any, result: PageMeasure) -> None:
    """Query count, SQL time and size of the page; the debug cursor is on only here."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(CAPTURES):
        timer = SqlTimer()
        with connection.execute_wrapper(timer), CaptureQueriesContext(connection) as captured:
            response = fetch(client, result.path)
        result.queries.append(len(captured.captured_queries))
        result.sql_ms.append(timer.seconds * 1000)
        result.statements = Counter(statement_shape(q["sql"]) for q in captured.captured_queries)
        for shape, seconds in timer.by_statement.items():  # the least of the requests
            known = result.statement_ms.get(shape, math.inf)
            result.statement_ms[shape] = min(known, seconds * 1000)
    body = response.content
    result.encoding = response.get("Content-Encoding", "") or "identity"
    result.gzip_bytes = len(body)
    html = gzip.decompress(body) if result.encoding == "gzip" else body
    result.raw_bytes = len(html)
    if result.page in ("queue", "board"):
        result.rows = len(CASE_ROW_RE.findall(html))
    elif result.account == "cardiologist":
        result.rows = len(HOME_QUEUE_ROW_RE.findall(html))


def measure_page(
    databases: Databases, client: Any, account: str, page: str, path: str
) -> tuple[PageMeasure, PageMeasure]:
    """One page on both data sets. The timed requests alternate between the two databases in
    blocks, so that whatever else the machine is doing weighs on both alike."""
    small, full = databases.names
    results = {
        small: PageMeasure(account=account, page=page, path=path),
        full: PageMeasure(account=account, page=page, path=path),
    }
    try:
        for name, result in results.items():
            databases.use(name)
            for _ in range(WARMUPS):
                response = fetch(client, path)
                if response.status_code != 200:
                    where = response.get("Location", "")
                    result.error = f"HTTP {response.status_code} {where}".strip()
                    break
            else:
                count_and_weigh(client, result)
        if any(result.error for result in results.values()):
            return results[small], results[full]
        gc.collect()  # every page starts from the same heap; collections during it count
        for block in range(RUNS // BLOCK):
            order = list(results.items())
            for name, result in order if block % 2 == 0 else reversed(order):
                databases.use(name)
                fetch(client, path)  # untimed: reconnects after the switch
                for _ in range(BLOCK):
                    cpu, started = time.process_time(), time.perf_counter()
                    fetch(client, path)
                    result.times_ms.append((time.perf_counter() - started) * 1000)
                    result.cpu_ms.append((time.process_time() - cpu) * 1000)
    except Exception as error:  # a crash in the view is reported, not raised
        for result in results.values():
            result.error = result.error or f"{type(error).__name__}: {error}"
    return results[small], results[full]


def log_in() -> dict[str, Any]:
    """A test client per account, logged in (the session is stored in the current database)."""
    from django.test import Client

    from farcare.accounts.models import User

    clients: dict[str, Any] = {}
    for account, _page, _path in PAGES:
        if account not in clients:
            clients[account] = Client()
            clients[account].force_login(User.objects.get(username=account))
    return clients


def measure_all(
    databases: Databases, clients: dict[str, Any]
) -> tuple[list[PageMeasure], list[PageMeasure]]:
    small, full = [], []
    for account, page, path in PAGES:
        before, after = measure_page(databases, clients[account], account, page, path)
        small.append(before)
        full.append(after)
    return small, full


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def print_volume(label: str, volume: Volume) -> None:
    print(
        f"{label}: {volume.patients:,} patients, {volume.consultations:,} consultations "
        f"({volume.open:,} open), {volume.assignments:,} assignments; open cases matching the "
        f"cardiologist's queue {volume.queue_open}, the Chukotka board {volume.board_open} "
        f"(pages show at most 200); generated in {volume.seconds:.1f} s"
    )


def print_table(small: list[PageMeasure], full: list[PageMeasure]) -> None:
    header = (
        f"{'page':<20} {'data':<5} {'rows':>4} {'median ms':>9} {'p95 ms':>7} {'cpu ms':>6} "
        f"{'sql ms':>6} {'queries':>7} {'gzip B':>7} {'raw B':>8} {'gz/raw':>6}"
    )
    print(header)
    print("-" * len(header))
    for before, after in zip(small, full, strict=True):
        label = f"{before.account} {before.page}"
        for name, r in (("small", before), ("full", after)):
            if r.error:
                print(f"{label:<20} {name:<5} could not be measured: {r.error}")
                continue
            rows = "-" if r.rows is None else str(r.rows)
            queries = f"{r.query_count}" + ("" if r.stable_queries else "*")
            print(
                f"{label:<20} {name:<5} {rows:>4} {r.median:>9.1f} {r.p95:>7.1f} "
                f"{r.cpu_median:>6.1f} {statistics.median(r.sql_ms):>6.1f} {queries:>7} "
                f"{r.gzip_bytes:>7,} {r.raw_bytes:>8,} {r.gzip_bytes / r.raw_bytes:>6.2f}"
            )
            label = ""
        if not (before.error or after.error):
            print(
                f"{'':<20} {'ratio':<5} {'':>4} {ratio(after.median, before.median):>9} "
                f"{ratio(after.p95, before.p95):>7} "
                f"{ratio(after.cpu_median, before.cpu_median):>6} "
                f"{ratio(statistics.median(after.sql_ms), statistics.median(before.sql_ms)):>6}"
                f" {ratio(after.query_count, before.query_count):>7} "
                f"{ratio(after.gzip_bytes, before.gzip_bytes):>7} "
                f"{ratio(after.raw_bytes, before.raw_bytes):>8}"
            )
    print(
        "rows: consultations listed on the page (worklist rows; the home page's queue list, "
        "at most 20).\ncpu ms: median CPU time of this process per timed request, the figure "
        "least disturbed by other work on the machine (on PostgreSQL the server's share is "
        "not in it).\nsql ms: time inside cursor.execute(), median of the 3 counted requests "
        "(SQLite computes rows lazily, so fetching after the first row is not in it).\n"
        "* the query count varied between the counted requests (the highest shown)."
    )
    print("\nWhat a listed row costs ((median full - median small) / (rows full - rows small)):")
    for before, after in zip(small, full, strict=True):
        if before.error or after.error or before.page not in ("queue", "board"):
            continue
        extra = (after.rows or 0) - (before.rows or 0)
        if extra > 0:
            wall = (after.median - before.median) / extra
            cpu = (after.cpu_median - before.cpu_median) / extra
            print(
                f"  {before.account} {before.page}: {wall:.2f} ms wall clock, {cpu:.2f} ms CPU "
                f"per row ({before.rows} -> {after.rows} rows)"
            )


def brief(shape: str, width: int = 150) -> str:
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


def print_heaviest_statements(small: list[PageMeasure], full: list[PageMeasure]) -> None:
    """The statement that costs the page most on the full data set, against the small one:
    what the query count cannot show (one statement whose cost grows with the data)."""
    print("\nHeaviest statement per page (time in execute(), least of 3 requests):")
    for before, after in zip(small, full, strict=True):
        if before.error or after.error or not after.statement_ms:
            continue
        shape, full_ms = max(after.statement_ms.items(), key=lambda item: item[1])
        small_ms = before.statement_ms.get(shape, math.nan)
        print(
            f"  {before.account} {before.page}: {small_ms:.2f} ms -> {full_ms:.2f} ms "
            f"(x{ratio(full_ms, small_ms)})\n    {brief(shape)}"
        )


def print_query_verdict(small: list[PageMeasure], full: list[PageMeasure]) -> bool:
    """Whether every page ran as many queries on the full data set as on the small one."""
    print("\nSQL queries per request, small vs full (must not grow with the data):")
    all_equal = True
    for before, after in zip(small, full, strict=True):
        label = f"{before.account} {before.page} ({before.path})"
        if before.error or after.error:
            print(f"  {label}: not measured")
            all_equal = False
            continue
        if before.query_count == after.query_count:
            print(f"  {label}: EQUAL, {after.query_count} queries on both data sets")
            continue
        all_equal = False
        print(
            f"  {label}: NOT EQUAL, {before.query_count} queries on the small data set, "
            f"{after.query_count} on the full one; statements whose count changed:"
        )
        shapes = set(before.statements) | set(after.statements)
        changed = sorted(
            (s for s in shapes if before.statements[s] != after.statements[s]),
            key=lambda s: after.statements[s] - before.statements[s],
            reverse=True,
        )
        for shape in changed[:8]:
            text = shape if len(shape) <= 300 else shape[:297] + "..."
            print(f"    {before.statements[shape]:>4} -> {after.statements[shape]:<4} {text}")
        print("    top repeats in one full-size request:")
        for shape, count in after.statements.most_common(5):
            if count > 1:
                text = shape if len(shape) <= 300 else shape[:297] + "..."
                print(f"    {count:>4}x {text}")
    return all_equal


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--postgres",
        action="store_true",
        help=f"use temporary databases on {POSTGRES_SERVER} instead of SQLite files",
    )
    options = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="farcare-bench-") as tmp:
        workdir = Path(tmp)
        if options.postgres:
            with postgres_databases(["small", "full"]) as databases:
                return run(workdir, databases, started)
        files = sqlite_databases(workdir, ["small", "full"])
        return run(workdir, files, started)


def run(workdir: Path, databases: Databases, started: float) -> int:
    try:
        small_name, full_name = databases.names
        setup_django(workdir, databases.url(small_name), test_client=True)
        rng = random.Random(SEED)
        refs = demo_refs()
        small_volume = grow_to(refs, rng, *SMALL)
        clients = log_in()
        databases.copy(small_name, full_name)
        databases.use(full_name)
        full_volume = grow_to(refs, rng, *FULL)
        load_before = load()
        small, full = measure_all(databases, clients)
        load_after = load()
    except Exception as error:
        print(f"could not set up the data: {type(error).__name__}: {error}")
        return 1
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()

    backend = "PostgreSQL" if databases.vendor == "postgresql" else "SQLite"
    print(
        f"FarCare worklists at volume on {backend}: per page and data set {WARMUPS} warm-up + "
        f"{RUNS} timed requests (blocks of {BLOCK}, alternating between the two data sets), "
        f"{CAPTURES} more to count SQL; Django test Client, full middleware, "
        f"Accept-Encoding: gzip"
    )
    print_volume("small", small_volume)
    print_volume("full ", full_volume)
    print(f"Machine: {load_before} before measuring, {load_after} after.")
    print()
    print_table(small, full)
    print_heaviest_statements(small, full)
    equal = print_query_verdict(small, full)
    measured = not any(r.error for r in small + full)
    print(
        f"\nQuery counts: {'EQUAL on every page' if equal else 'NOT EQUAL (see above)'}."
        f" Times and ratios are figures, not a verdict. {time.monotonic() - started:.0f} s."
    )
    return 0 if measured else 1


if __name__ == "__main__":
    sys.exit(main())
