"""Remote monitoring at 100,000 enrolled people with 4 readings a day (issue 17): home readings
ingested per second over FHIR and over SMS, the time from a reading to its alert, and the risk
list's p95 for a district doctor and for a post's feldsher.

How it measures:

* A fresh temporary directory holds the files; the database is a new SQLite file there, or, when
  FARCARE_DATABASE_URL names PostgreSQL (``postgres://…``), a temporary database created on that
  server and dropped afterwards. Migrated, the demo network loaded (``load_demo()``).
* Volume by ``bulk_create`` from a fixed seed: ``--people`` patients (default 100,000) spread
  over the Far East's feldsher posts (5 % at the Uelen post of the demo's ``feldsher``, 15 % at
  the other posts of the Lavrentiya district of the demo's ``doctor``), each enrolled in one
  programme (hypertension, diabetes, heart failure, pregnancy, after discharge, in turn) with
  the programme's template plan, and ``--days`` days of history (default 3) at 4 readings a day
  of the programme's measure: 1.2 million readings by default, enough for the rules' repeated
  thresholds, three-day weight trends and missed readings to have something to look at. The
  enrolments get the risk and last reading the services would have kept. On PostgreSQL the
  database is ANALYZEd after loading, as autovacuum would.
* ``farcare.wsgi.application`` is served by Django's threaded WSGI server on a loopback port
  in a thread of this process (as ``fhir_throughput.py``: real HTTP, keep-alive, one request at
  a time, TCP_NODELAY as uvicorn sets it); the database connection is per request
  (``FARCARE_DB_CONN_MAX_AGE`` as deployed).
* FHIR: a device gateway (a system client, ``system/Observation.write``) POSTs ``--sample``
  home readings (default 1,000; a sample, not 400,000) as Observations with an identifier, to
  random enrolled people: a blood pressure panel (85354-9 with components) for those with a
  pressure programme, else the programme's measure; in range, so mostly no alert. Baseline, in
  the same run and over the same server: as many POSTs of a loose vital sign (a pulse without a
  device, which the vital-sign part stores without rules). Readings per second is the sample
  over the time its requests took.
* SMS: the gateway's webhook (``POST /api/sms/inbound/`` with its bearer token) receives
  ``--sample`` texts "АД 150/95 П 88" from phones registered to enrolled people; the reply is
  queued (sent later by ``farcare monitoring replies``), not sent here.
* Reading → alert: ``--alerts`` readings over FHIR that cross a threshold (190/115 for a
  hypertension enrolment): from the POST's start until the alert row is visible to another
  database connection (this thread's; the server writes in its own); p50 and p95.
* Risk list: ``selectors.enrolments_for(user)`` as the list page asks it, its first page of 50
  rows with their patients, ``--lists`` times for the district doctor and for the Uelen
  feldsher; p50 and p95. Baseline: the same user's first 50 visible patients by name, the
  patients list every clinician already has.

Run from the project root (a few minutes on each database)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/monitoring.py
    FARCARE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/x \\
        DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/monitoring.py

Nothing is asserted about time. Exit status 0 when every figure was measured, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from fhir_throughput import GENERATED_SNILS, Call, FhirConnection, person, snils, start_server
from harness import load, median, p95, postgres_databases, ratio, setup_django

SEED = 20_261_207
PEOPLE = 100_000
DAYS = 3
SAMPLE = 1_000
ALERTS = 200
LISTS = 50
PAGE = 50
UELEN_SHARE = 0.05
DISTRICT_SHARE = 0.15
SMS_TOKEN = "bench-inbound"  # noqa: S105 - the webhook's token in this run only
IDENTIFIER_SYSTEM = "urn:farcare:bench:gateway"
LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
PROGRAMMES = ("hypertension", "diabetes", "heart_failure", "pregnancy", "after_discharge")
# The measure each programme's people send, and a value in range (not alerting).
MEASURE = {
    "hypertension": "85354-9",
    "pregnancy": "85354-9",
    "diabetes": "14743-9",
    "heart_failure": "29463-7",
    "after_discharge": "8310-5",
}


@dataclass
class World:
    """What the volume and the requests draw from."""

    enrolled: list[tuple[int, str, str]] = field(default_factory=list)  # pk, uuid, programme
    phones: list[str] = field(default_factory=list)
    system_token: str = ""
    feldsher_token: str = ""
    feldsher_patients: list[str] = field(default_factory=list)
    doctor: Any = None
    feldsher: Any = None


# --------------------------------------------------------------------------------------------
# Volume
# --------------------------------------------------------------------------------------------


def value_of(code: str, rng: random.Random) -> tuple[Decimal, Decimal | None]:
    if code == "85354-9":
        return Decimal(rng.randint(118, 150)), Decimal(rng.randint(72, 94))
    if code == "14743-9":
        return Decimal(rng.randint(50, 110)) / 10, None
    if code == "29463-7":
        return Decimal(rng.randint(600, 900)) / 10, None
    return Decimal(rng.randint(360, 372)) / 10, None


def token_for(user: Any, scopes: str, client: Any = None) -> str:
    from django.utils import timezone

    from farcare.core.bearer import token_digest
    from farcare.fhir.models import AccessToken

    raw = secrets.token_urlsafe(24)
    AccessToken.objects.create(
        token_hash=token_digest(raw),
        user=user,
        client=client,
        scopes=scopes,
        expires_at=timezone.now() + timedelta(hours=3),
    )
    return raw


UNITS = {"85354-9": "mm[Hg]", "14743-9": "mmol/L", "29463-7": "kg", "8310-5": "Cel"}


def insert_readings(rows: list[tuple[int, str, Decimal, Decimal | None, datetime]]) -> None:
    """Readings as the services store them, by executemany: a million model instances would
    take longer to build than the rest of the benchmark to run. Each value is adapted as
    Django adapts it for the database (UUIDs, times and decimals differ between the two)."""
    from django.db import connection

    from farcare.monitoring.models import HomeReading

    fields = {f.attname: f for f in HomeReading._meta.concrete_fields}
    ops = connection.ops
    constant = {
        name: fields[name].get_db_prep_save(value, connection)
        for name, value in (
            ("converted_from", ""),
            ("entered_by_id", None),
            ("device", ""),
            ("sms_id", None),
            ("status", "final"),
            ("note", ""),
            ("source_id", ""),
            ("remainder", {}),
            ("version", 1),
            ("source", "patient"),
        )
    }
    names = ["uuid", "patient_id", "code", "value", "value_2", "unit", "taken_at", "received_at"]
    names += [*constant, "updated_at"]
    uuid_field = fields["uuid"]
    now = ops.adapt_datetimefield_value(datetime.now(tz=UTC))

    def decimal(value: Decimal | None) -> Any:
        return None if value is None else ops.adapt_decimalfield_value(value, 7, 2)

    table = connection.ops.quote_name(HomeReading._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(fields[name].column) for name in names)
    marks = ", ".join(["%s"] * len(names))
    values = []
    for patient, code, value, value_2, taken in rows:
        at = ops.adapt_datetimefield_value(taken)
        values.append(
            (
                uuid_field.get_db_prep_value(uuid.uuid4(), connection),
                patient,
                code,
                decimal(value),
                decimal(value_2),
                UNITS[code],
                at,
                at,
                *constant.values(),
                now,
            )
        )
    with connection.cursor() as cursor:
        for start in range(0, len(values), 10_000):
            cursor.executemany(
                f"INSERT INTO {table} ({columns}) VALUES ({marks})",  # noqa: S608 - our names
                values[start : start + 10_000],
            )


def build(people: int, days: int, rng: random.Random) -> World:
    from django.db import connection, transaction
    from django.utils import timezone

    from farcare.accounts.models import Role, User
    from farcare.fhir.oauth.clients import system_client_create
    from farcare.monitoring import plans
    from farcare.monitoring.models import Enrolment, ReadingPhone
    from farcare.network.models import Facility, FacilityKind
    from farcare.network.selectors import facilities_served_by
    from farcare.patients.identifiers import normalise_text
    from farcare.patients.models import Patient

    world = World()
    world.feldsher = User.objects.select_related("facility").get(username="feldsher")
    world.doctor = User.objects.select_related("facility").get(username="doctor")
    uelen = world.feldsher.facility
    district = [
        f
        for f in Facility.objects.filter(
            pk__in=facilities_served_by(world.doctor.facility.pk), kind=FacilityKind.FELDSHER_POST
        )
        if f.pk != uelen.pk
    ]
    others = list(
        Facility.objects.filter(kind=FacilityKind.FELDSHER_POST, country="RU").exclude(
            pk__in=[uelen.pk, *(f.pk for f in district)]
        )
    )
    # The people the other posts' enrolments name: two bench clinicians far from Chukotka.
    far = others[0]
    bench_feldsher = User.objects.create(
        username="bench_feldsher", role=Role.CLINICIAN, facility=far
    )
    bench_doctor = User.objects.create(username="bench_doctor", role=Role.CLINICIAN, facility=far)
    registrar = world.feldsher.pk
    templates = {p: plans.template_json(p) for p in PROGRAMMES}
    targets = {p: plans.default_targets(p) for p in PROGRAMMES}
    now = timezone.now()
    enrolled_at = now - timedelta(days=days + 1)
    started = time.perf_counter()
    for start in range(0, people, 2_000):
        patients = []
        for serial in range(start + 1, min(people, start + 2_000) + 1):
            who = person(rng)
            draw = rng.random()
            if draw < UELEN_SHARE:
                facility = uelen
            elif draw < UELEN_SHARE + DISTRICT_SHARE and district:
                facility = rng.choice(district)
            else:
                facility = rng.choice(others)
            patients.append(
                Patient(
                    family=who.family,
                    given=who.given,
                    middle=who.middle,
                    sex=who.sex,
                    birth_date=who.birth_date,
                    home_settlement_id=facility.settlement_id,
                    home_facility_id=facility.pk,
                    snils=snils(serial, GENERATED_SNILS),
                    oms_policy=f"{2_790_300_000_000_000 + serial:016d}",
                    search_name=normalise_text(f"{who.family} {who.given} {who.middle}"),
                    registered_by_id=registrar,
                )
            )
        with transaction.atomic():
            Patient.objects.bulk_create(patients)
            saved = list(
                Patient.objects.filter(snils__in=[p.snils for p in patients]).values_list(
                    "pk", "uuid", "home_facility_id"
                )
            )
            enrolments, readings, phones = [], [], []
            for index, (pk, patient_uuid, facility_id) in enumerate(saved):
                programme = PROGRAMMES[(start + index) % len(PROGRAMMES)]
                chukotka = facility_id == uelen.pk or facility_id in {f.pk for f in district}
                last = now - timedelta(hours=rng.randint(0, 6))
                enrolments.append(
                    Enrolment(
                        patient_id=pk,
                        programme=programme,
                        facility_id=facility_id,
                        responsible_feldsher=(
                            world.feldsher if facility_id == uelen.pk else bench_feldsher
                        ),
                        responsible_doctor=world.doctor if chukotka else bench_doctor,
                        in_person_visit_on=enrolled_at.date(),
                        plan=templates[programme],
                        targets=targets[programme],
                        zone="Asia/Anadyr",
                        enrolled_at=enrolled_at,
                        risk=rng.choice((0, 0, 0, 5, 10, 15, 25, 40, 60)),
                        last_reading_at=last,
                    )
                )
                code = MEASURE[programme]
                for reading in range(days * 4):
                    value, value_2 = value_of(code, rng)
                    readings.append((pk, code, value, value_2, last - timedelta(hours=6 * reading)))
                world.enrolled.append((pk, str(patient_uuid), programme))
                number = f"+7999{start + index:07d}"
                phones.append(ReadingPhone(patient_id=pk, number=number, registered_at=enrolled_at))
                world.phones.append(number)
                if facility_id == uelen.pk:
                    world.feldsher_patients.append(str(patient_uuid))
            Enrolment.objects.bulk_create(enrolments)
            insert_readings(readings)
            ReadingPhone.objects.bulk_create(phones)
    print(
        f"  {people:,} people enrolled, {people * days * 4:,} readings "
        f"({days} days × 4 a day) in {time.perf_counter() - started:.0f} s",
        flush=True,
    )
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    gateway = system_client_create(name="Bench BP gateway", scopes="system/Observation.write")
    world.system_token = token_for(
        gateway.client.account, "system/Observation.write", gateway.client
    )
    world.feldsher_token = token_for(world.feldsher, "user/*.read user/*.write")
    return world


# --------------------------------------------------------------------------------------------
# Requests
# --------------------------------------------------------------------------------------------


def observation(
    patient_uuid: str,
    code: str,
    value: Decimal,
    value_2: Decimal | None,
    *,
    device: bool = True,
    ago: timedelta = timedelta(minutes=1),
) -> dict[str, Any]:
    from django.utils import timezone

    unit = {"85354-9": "mm[Hg]", "14743-9": "mmol/L", "29463-7": "kg", "8867-4": "/min"}
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "code": {"coding": [{"system": LOINC, "code": code}]},
        "subject": {"reference": f"Patient/{patient_uuid}"},
        "effectiveDateTime": (timezone.now() - ago).isoformat(),
        "identifier": [{"system": IDENTIFIER_SYSTEM, "value": uuid.uuid4().hex}],
    }
    if device:
        resource["device"] = {"display": "Bench gateway"}
    if code == "85354-9":
        resource["component"] = [
            {
                "code": {"coding": [{"system": LOINC, "code": part}]},
                "valueQuantity": {"value": float(v), "system": UCUM, "code": "mm[Hg]"},
            }
            for part, v in (("8480-6", value), ("8462-4", value_2))
        ]
    else:
        resource["valueQuantity"] = {
            "value": float(value),
            "system": UCUM,
            "code": unit.get(code, "Cel"),
        }
    return resource


def fhir_call(resource: dict[str, Any]) -> Call:
    return Call("POST", "/fhir/Observation", json.dumps(resource).encode())


@dataclass
class Timed:
    seconds: list[float] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        total = sum(self.seconds)
        return len(self.seconds) / total if total else float("nan")

    @property
    def ms(self) -> list[float]:
        return [s * 1000 for s in self.seconds]


def timed_posts(
    connection: Any, calls: Iterator[Call], count: int, expect: tuple[int, ...]
) -> Timed:
    result = Timed()
    for _ in range(count):
        call = next(calls)
        started = time.perf_counter()
        answer = connection.send(call)
        result.seconds.append(time.perf_counter() - started)
        if answer.status not in expect:
            result.failures.append(answer.brief())
    return result


def fhir_readings(world: World, rng: random.Random) -> Iterator[Call]:
    while True:
        _pk, patient_uuid, programme = rng.choice(world.enrolled)
        code = MEASURE[programme]
        yield fhir_call(observation(patient_uuid, code, *value_of(code, rng)))


def loose_vitals(world: World, rng: random.Random) -> Iterator[Call]:
    while True:
        patient_uuid = rng.choice(world.feldsher_patients)
        body = observation(patient_uuid, "8867-4", Decimal(rng.randint(60, 90)), None, device=False)
        del body["identifier"]
        yield fhir_call(body)


class SmsConnection(FhirConnection):
    def __init__(self, port: int) -> None:
        super().__init__(port, SMS_TOKEN)
        self.headers["Accept"] = "application/json"


def sms_texts(world: World, rng: random.Random) -> Iterator[Call]:
    while True:
        body = {
            "id": uuid.uuid4().hex,
            "from": rng.choice(world.phones),
            "text": f"АД {rng.randint(120, 150)}/{rng.randint(75, 94)} П {rng.randint(60, 90)}",
        }
        yield Call("POST", "/api/sms/inbound/", json.dumps(body).encode())


def reading_to_alert(connection: Any, world: World, count: int, rng: random.Random) -> Timed:
    """From a crossing reading's POST to its alert row, seen from this thread's connection."""
    from farcare.monitoring.models import MonitoringAlert

    hypertension = [e for e in world.enrolled if e[2] == "hypertension"]
    result = Timed()
    for patient_pk, patient_uuid, _programme in rng.sample(hypertension, count):
        # Taken now: the latest reading of the person, whatever the SMS figure sent before.
        crossing = observation(
            patient_uuid, "85354-9", Decimal(190), Decimal(115), ago=timedelta(0)
        )
        call = fhir_call(crossing)
        started = time.perf_counter()
        answer = connection.send(call)
        if answer.status != 201:
            result.failures.append(answer.brief())
            continue
        reading = answer.json()["id"]
        deadline = started + 30
        while not MonitoringAlert.objects.filter(
            patient_id=patient_pk, readings__uuid=reading
        ).exists():
            if time.perf_counter() > deadline:
                result.failures.append(f"no alert for Observation/{reading}")
                break
            time.sleep(0.001)
        else:
            result.seconds.append(time.perf_counter() - started)
    return result


def list_times(make: Callable[[], list[Any]], count: int) -> list[float]:
    times = []
    make()  # untimed: the first query of a shape primes the caches
    for _ in range(count):
        started = time.perf_counter()
        make()
        times.append((time.perf_counter() - started) * 1000)
    return times


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("FARCARE_DATABASE_URL", "")
    if configured.startswith("postgres"):
        with postgres_databases(["monitoring"]) as databases:
            yield databases.url(databases.names[0])
    else:
        yield f"sqlite:///{workdir / 'monitoring.sqlite3'}"


def row(label: str, values: list[float], base: float | None = None) -> str:
    text = f"  {label:<52} p50 {median(values):8.1f} ms, p95 {p95(values):8.1f} ms"
    if base is not None:
        text += f"  ({ratio(median(values), base)}× the baseline)"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--people", type=int, default=PEOPLE)
    parser.add_argument("--days", type=int, default=DAYS)
    parser.add_argument("--sample", type=int, default=SAMPLE)
    parser.add_argument("--alerts", type=int, default=ALERTS)
    parser.add_argument("--lists", type=int, default=LISTS)
    args = parser.parse_args()
    rng = random.Random(SEED)
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="monitoring-")))
        url = stack.enter_context(database(workdir))
        setup_django(workdir, url, demo=True, test_client=True)
        from django.conf import settings
        from django.db import connection

        settings.FARCARE_SMS_INBOUND_TOKEN = SMS_TOKEN
        print(f"Remote monitoring on {connection.vendor}; {load()}", flush=True)
        world = build(args.people, args.days, rng)
        server, port = start_server()
        stack.callback(server.shutdown)
        failures: list[str] = []

        fhir = FhirConnection(port, world.system_token)
        feldsher = FhirConnection(port, world.feldsher_token)
        sms = SmsConnection(port)
        for conn in (fhir, feldsher, sms):
            stack.callback(conn.close)
        # Warm-up (untimed): the first request of each kind builds caches and connections.
        timed_posts(fhir, fhir_readings(world, rng), 5, (201,))
        timed_posts(feldsher, loose_vitals(world, rng), 5, (201,))
        timed_posts(sms, sms_texts(world, rng), 5, (200,))

        baseline = timed_posts(feldsher, loose_vitals(world, rng), args.sample, (201,))
        home = timed_posts(fhir, fhir_readings(world, rng), args.sample, (201,))
        texts = timed_posts(sms, sms_texts(world, rng), args.sample, (200,))
        alerts = reading_to_alert(fhir, world, args.alerts, rng)
        for label, timed in (
            ("loose vital sign", baseline),
            ("FHIR", home),
            ("SMS", texts),
            ("alert", alerts),
        ):
            failures += [f"{label}: {text}" for text in timed.failures[:3]]

        from farcare.access.policy import visible_patients
        from farcare.monitoring.selectors import enrolments_for

        def risk_list(user: Any) -> Callable[[], list[Any]]:
            return lambda: list(enrolments_for(user)[:PAGE])

        def patients_list(user: Any) -> Callable[[], list[Any]]:
            return lambda: list(visible_patients(user).order_by("search_name", "pk")[:PAGE])

        lists = {
            who: (
                list_times(risk_list(user), args.lists),
                list_times(patients_list(user), args.lists),
                enrolments_for(user).count(),
            )
            for who, user in (("district doctor", world.doctor), ("Uelen feldsher", world.feldsher))
        }

        base = median(baseline.ms)
        print(f" Ingest ({args.sample:,} readings each, one request at a time)")
        print(
            f"  {'loose vital sign over FHIR, no rules (baseline)':<52} "
            f"{baseline.per_second:7.1f} /s"
        )
        print(
            f"  {'home reading over FHIR (device gateway)':<52} {home.per_second:7.1f} /s"
            f"  ({ratio(home.per_second, baseline.per_second)}× the baseline's rate)"
        )
        print(
            f"  {'home reading over SMS (gateway webhook)':<52} {texts.per_second:7.1f} /s"
            f"  ({ratio(texts.per_second, baseline.per_second)}× the baseline's rate)"
        )
        print(row("per FHIR reading", home.ms, base))
        print(row("per SMS", texts.ms, base))
        print(f" Reading → alert ({len(alerts.seconds)} readings of 190/115)")
        print(row("POST → alert row visible to another connection", alerts.ms, base))
        print(f" Risk list (first {PAGE} rows, {args.lists} times)")
        for who, (risk, patients, count) in lists.items():
            print(row(f"{who}: patients list (baseline)", patients))
            print(row(f"{who}: risk list of {count:,} enrolments", risk, median(patients)))
        from farcare.monitoring.models import HomeReading, MonitoringAlert

        print(
            f"  readings stored: {HomeReading.objects.count():,}; "
            f"alerts: {MonitoringAlert.objects.count():,}; {load()}"
        )
        for failure in failures:
            print(f"  failed: {failure}", file=sys.stderr)
        return 1 if failures else 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a figure that could not be measured
        print(f"failed: {error!r}", file=sys.stderr)
        sys.exit(1)
