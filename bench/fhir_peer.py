"""FarCare's FHIR API against a peer FHIR server, under the same load, in one run.

Servers, each measured alone (one after another, never at once):

* **FarCare PG**: production mode, ``gunicorn -c deploy/gunicorn.conf.py
  farcare.asgi:application`` (2 uvicorn workers; until that file exists the same from the
  command line), ``farcare.settings.production``, a temporary PostgreSQL database on
  ``postgres://postgres@127.0.0.1:5432`` (``peer_bench_<random>``, dropped afterwards),
  persistent connections (``FARCARE_DB_CONN_MAX_AGE=600``), Redis (db 5, emptied first).
* **FarCare SQLite**: what ``make run`` serves, one uvicorn process on a SQLite file,
  ``farcare.settings.dev``.
* **Medplum**: the peer, Medplum's FHIR router (``@medplum/fhir-router``, the versions pinned in
  ``bench/peer/package.json``; installed into ``bench/peer/node_modules`` with ``npm ci`` on
  the first run) on its in-memory repository, behind Node's ``http`` server
  (``bench/peer/server.mjs``). One Node process: JavaScript runs on one thread, and the
  ``MemoryRepository`` lives in that process, so Node's cluster could not share it between
  workers. It has no authentication, access control, audit trail, validation or database.

Data: FarCare is migrated, the demo network loaded, then ``--patients`` patients are made in
bulk with their stored FHIR versions by ``bench/fhir_throughput.py``'s generator (fixed seed:
the same families and SNILS on both FarCare databases) and a system client token
(``system/*.read system/*.write``) issued. The same patients (FarCare PostgreSQL's resources,
ids included) are put into the peer through its API in batch bundles before timing.
Before timing, each server must create a patient, read it back and find it by SNILS; what fails
is counted as errors.

Load: ``wrk -t 2 -c 8 --latency`` (a C load generator: a Python client would take the CPU the
servers need on 2 cores) with ``bench/wrk/fhir.lua``, which draws every request at random
among request lines written beforehand (patient ids, SNILS, family names, create bodies; each
create gets a new valid SNILS). Scenarios: read ``Patient/<id>``; search
``Patient?identifier=<SNILS system>|<SNILS>``; search ``Patient?family=<name>&_count=20``;
create ``Patient``; the mix 70 % reads, 20 % searches (identifier and family, half each),
10 % creates. Per scenario and server a warm-up, then ``--seconds`` measured. No
``Accept-Encoding``: both answer uncompressed JSON.

Run from the project root::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/fhir_peer.py \\
        [--seconds 15] [--patients 10000] [--clients 8] [--skip-sqlite] [--skip-peer]

Prints a table per server, the ratios FarCare / peer and the issue's targets for FarCare on
PostgreSQL, met or not: figures, never asserted. Exit status 0 when every figure was
measured, 1 when something could not be set up or wrk gave no figure.
"""

from __future__ import annotations

import argparse
import http.client
import json
import math
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from harness import POSTGRES_SERVER, ROOT, load, postgres_admin

BENCH = ROOT / "bench"
PEER_DIR = BENCH / "peer"
LUA = BENCH / "wrk" / "fhir.lua"
VENV_BIN = Path(sys.executable).parent
WRK = shutil.which("wrk") or "/usr/bin/wrk"
REDIS_URL = "redis://127.0.0.1:6379/5"  # this benchmark's Redis database (the team's contract)
SECONDS = 15.0
WARMUP_SECONDS = 3.0
PATIENTS = 10_000
CLIENTS = 8
THREADS = 2  # wrk threads: one per core of the machine the targets are set for
START_TIMEOUT = 120.0
PEER_BATCH = 500  # patients per batch bundle loading the peer
CREATE_BODIES = 200  # create bodies to draw from (each request gets a fresh SNILS)
SNILS_RUN_BASE = 700_000_000  # first nine digits of the SNILS the wrk runs' creates use …
SNILS_RUN_STEP = 2_000_000  # … a block per run: a million per wrk thread
VERIFY_SNILS = 690_000_000  # the correctness check's patients

# The issue's targets for FarCare on PostgreSQL with 2 workers on 2 cores (requests/s).
TARGETS = {"read": 1_000.0, "identifier": 800.0, "create": 300.0, "mix": 450.0}


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    weights: str  # fhir.lua's WEIGHTS


SCENARIOS = (
    Scenario("read", "read Patient/<id>", "read:100"),
    Scenario("identifier", "search identifier=SNILS", "identifier:100"),
    Scenario("family", "search family=<name>", "family:100"),
    Scenario("create", "create Patient", "create:100"),
    Scenario("mix", "mix 70/20/10", "read:70,identifier:10,family:10,create:10"),
)


# --------------------------------------------------------------------------------------------
# FarCare's data, made in a child process per database (Django is set up there, never here:
# one process cannot hold both a PostgreSQL and a SQLite default database).
# --------------------------------------------------------------------------------------------


def prepare(database_url: str, workdir: Path, patients: int, out: Path) -> None:
    """Migrate, load the demo, add ``patients`` generated patients and the system client; write
    what the requests need to ``out`` (JSON)."""
    from fhir_throughput import SEED, accounts_and_refs, add_patients
    from harness import setup_django

    setup_django(workdir, database_url)
    from django.db import connection

    from farcare.fhir.models import ResourceVersion
    from farcare.patients.models import Patient

    refs = accounts_and_refs()
    add_patients(refs, random.Random(SEED), patients)
    if connection.vendor == "postgresql":
        # As after any bulk load: statistics for the planner, the visibility map for
        # index-only scans.
        with connection.cursor() as cursor:
            cursor.execute("VACUUM ANALYZE")
    # The generated ones: their SNILS are 300 000 007 … (fhir_throughput.GENERATED_SNILS).
    generated = list(
        Patient.objects.filter(snils__gte="30000000000", snils__lt="40000000000")
        .order_by("pk")
        .values_list("uuid", "snils")
    )
    contents = dict(
        ResourceVersion.objects.filter(
            resource_type="Patient", patient_uuid__in=[u for u, _s in generated]
        ).values_list("logical_id", "content")
    )
    resources = []
    for patient_uuid, _snils in generated:
        content = dict(contents[str(patient_uuid)])
        content.pop("meta", None)  # the peer keeps its own versions
        resources.append(content)
    data = {
        "token": refs.system_token,
        "organisations": refs.organisations,
        "all_patients": Patient.objects.count(),
        "patients": [[str(u), s] for u, s in generated],
        "resources": resources,
    }
    out.write_text(json.dumps(data, ensure_ascii=False))


@dataclass
class Prepared:
    token: str
    organisations: list[str]
    all_patients: int
    ids: list[str]
    snils: list[str]
    resources: list[dict[str, Any]]
    seconds: float


def run_prepare(database_url: str, workdir: Path, patients: int) -> Prepared:
    workdir.mkdir(parents=True, exist_ok=True)
    out = workdir / "prepared.json"
    started = time.monotonic()
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "farcare.settings.test"}
    command = [sys.executable, __file__, "--prepare", database_url, "--workdir", str(workdir)]
    done = subprocess.run(
        [*command, "--patients", str(patients), "--out", str(out)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SetupError(f"preparing {database_url} failed:\n{tail(done.stdout + done.stderr)}")
    data = json.loads(out.read_text())
    out.unlink()
    return Prepared(
        token=data["token"],
        organisations=data["organisations"],
        all_patients=data["all_patients"],
        ids=[u for u, _s in data["patients"]],
        snils=[s for _u, s in data["patients"]],
        resources=data["resources"],
        seconds=time.monotonic() - started,
    )


class SetupError(Exception):
    pass


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


# --------------------------------------------------------------------------------------------
# Servers.
# --------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    key: str  # "pg", "sqlite", "peer"
    name: str  # in the tables
    base: str  # the FHIR base path, with a trailing slash
    token: str  # "" for none
    description: str = ""
    process: subprocess.Popen[bytes] | None = None
    port: int = 0
    log: Path | None = None
    lines: Path | None = None  # fhir.lua's request lines
    organisation: str = ""  # the managing organisation of the correctness check's patient
    production: Any = None  # farcare.testing.production.ProductionServer (FarCare PG)
    sealer: subprocess.Popen[str] | None = None  # `farcare audit seal --loop 2` beside it
    verify_errors: list[str] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)
    # FarCare PG: per scenario, the audit records its requests left unsealed when it ended,
    # and the seconds the sequencer took to seal them before the next scenario began.
    sealing: dict[str, tuple[int, float]] = field(default_factory=dict)

    def stop(self) -> None:
        """The production server as `systemctl stop` stops it; the others with SIGTERM to their
        own process group (each was started in a new session), SIGKILL after 30 s."""
        if self.sealer is not None and self.sealer.poll() is None:
            self.sealer.terminate()
            try:
                self.sealer.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                self.sealer.kill()
                self.sealer.communicate()
        if self.production is not None:
            self.production.stop()
        if self.process is None or self.process.poll() is not None:
            return
        with suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            with suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


def spawn(command: list[str], env: dict[str, str], log: Path, cwd: Path = ROOT) -> Any:
    with log.open("ab") as out:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group: stopped with its workers
        )


def wait_ready(server: Server, path: str) -> None:
    """Until ``GET path`` answers 200, the process dies or START_TIMEOUT passes."""
    deadline = time.monotonic() + START_TIMEOUT
    last = ""
    assert server.process is not None
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            break
        try:
            status, _headers, _body = fhir_call(server, "GET", path)
            if status == 200:
                return
            last = f"HTTP {status}"
        except OSError as error:
            last = str(error)
        time.sleep(0.5)
    log = tail(server.log.read_text(errors="replace")) if server.log else ""
    raise SetupError(f"{server.name} did not start ({last or 'exited'}):\n{log}")


def farcare_env(workdir: Path, database_url: str, settings: str) -> dict[str, str]:
    """What `make run` has: the settings module, and this run's files and database."""
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith("FARCARE_") and key != "DJANGO_SETTINGS_MODULE"
    }
    (workdir / "static").mkdir(parents=True, exist_ok=True)
    env.update(
        DJANGO_SETTINGS_MODULE=settings,
        FARCARE_DATABASE_URL=database_url,
        FARCARE_VAR_DIR=str(workdir),
        FARCARE_STATIC_ROOT=str(workdir / "static"),
        FARCARE_MEDIA_ROOT=str(workdir / "media"),
        FARCARE_LOG_LEVEL="WARNING",
    )
    return env


def start_farcare_pg(server: Server, workdir: Path, database_url: str) -> Any:
    """gunicorn as farcare.testing.production starts it (deploy/gunicorn.conf.py, production
    settings), after the operator's `farcare audit keygen`; and the audit sequencer beside it
    when that worker exists (`farcare audit seal --loop 2`), as its systemd unit would run it."""
    import redis

    from farcare.testing.production import ProductionServer

    try:
        redis.Redis.from_url(REDIS_URL).flushdb()  # no cache entries of an earlier run's data
    except redis.RedisError as error:
        raise SetupError(f"Redis at {REDIS_URL}: {error}") from error
    production = ProductionServer(
        workdir,
        database_url=database_url,
        workers=2,
        env={
            "FARCARE_SECURE_SSL_REDIRECT": "0",  # plain HTTP on loopback, no nginx in front
            "FARCARE_REDIS_URL": REDIS_URL,
            "FARCARE_DB_CONN_MAX_AGE": "600",  # used only with FARCARE_DB_POOL=0
        },
    )
    keygen = production.farcare("audit", "keygen")
    if keygen.returncode != 0:
        raise SetupError(f"farcare audit keygen failed:\n{tail(keygen.stdout + keygen.stderr)}")
    server.port = production.port
    server.log = workdir / "gunicorn.log"
    try:
        production.start()
    except RuntimeError as error:
        raise SetupError(str(error)) from error
    sealer = None
    if production.farcare("audit", "seal", "--help").returncode == 0:
        sealer = production.worker("audit", "seal", "--loop", "2")
    pool = production.env.get("FARCARE_DB_POOL", "1") not in ("0", "false", "no")
    server.description = (
        "gunicorn -c deploy/gunicorn.conf.py, 2 uvicorn workers, farcare.settings.production, "
        + ("PostgreSQL through psycopg's pool" if pool else "PostgreSQL, CONN_MAX_AGE=600")
        + ", Redis"
        + (", `farcare audit seal --loop 2` beside it" if sealer else "")
    )
    return production, sealer


def start_farcare_sqlite(server: Server, workdir: Path, database_url: str) -> None:
    server.port = free_port()
    env = farcare_env(workdir, database_url, "farcare.settings.dev")
    command = [
        str(VENV_BIN / "uvicorn"),
        "farcare.asgi:application",
        *("--host", "127.0.0.1", "--port", str(server.port), "--timeout-keep-alive", "75"),
    ]
    server.description = "uvicorn, one process, farcare.settings.dev, SQLite (as `make run`)"
    server.log = workdir / "server.log"
    server.process = spawn(command, env, server.log)
    wait_ready(server, "metadata")


def install_peer() -> str:
    """``npm ci`` into bench/peer/node_modules when the router is not there yet."""
    if not (PEER_DIR / "node_modules" / "@medplum" / "fhir-router").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            raise SetupError("npm is not installed (the peer needs Node 20 and npm)")
        verb = "ci" if (PEER_DIR / "package-lock.json").exists() else "install"
        done = subprocess.run(
            [npm, verb, "--no-audit", "--no-fund"],
            cwd=PEER_DIR,
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SetupError(f"npm {verb} in {PEER_DIR} failed:\n{tail(done.stdout + done.stderr)}")
    package = json.loads(
        (PEER_DIR / "node_modules" / "@medplum" / "fhir-router" / "package.json").read_text()
    )
    return str(package["version"])


def start_peer(server: Server, workdir: Path) -> None:
    node = shutil.which("node")
    if node is None:
        raise SetupError("node is not installed (the peer needs Node 20)")
    version = install_peer()
    node_version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, check=True
    ).stdout.strip()
    server.description = (
        f"@medplum/fhir-router {version}, MemoryRepository, Node {node_version} http server, "
        "one process (single-threaded JavaScript; the in-memory repository cannot be shared "
        "by a cluster); no authentication, access control, audit, validation or database; "
        "a search matches every stored Patient in turn (no index)"
    )
    server.log = workdir / "server.log"
    server.port = free_port()
    command = [node, str(PEER_DIR / "server.mjs"), "--host", "127.0.0.1"]
    server.process = spawn([*command, "--port", str(server.port)], dict(os.environ), server.log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline and server.process.poll() is None:
        if '"listening"' in server.log.read_text(errors="replace"):
            return
        time.sleep(0.2)
    raise SetupError(f"the peer did not start:\n{tail(server.log.read_text(errors='replace'))}")


def load_peer(server: Server, resources: list[dict[str, Any]]) -> float:
    """The patients into the peer with their FarCare ids: batch bundles of PUT Patient/<id>."""
    started = time.monotonic()
    for start in range(0, len(resources), PEER_BATCH):
        chunk = resources[start : start + PEER_BATCH]
        bundle = {
            "resourceType": "Bundle",
            "type": "batch",
            "entry": [
                {"resource": r, "request": {"method": "PUT", "url": f"Patient/{r['id']}"}}
                for r in chunk
            ],
        }
        status, _headers, body = fhir_call(server, "POST", "", bundle)
        answers = [e.get("response", {}).get("status", "") for e in body.get("entry", [])]
        bad = [a for a in answers if not str(a).startswith("2")]
        if status != 200 or len(answers) != len(chunk) or bad:
            raise SetupError(
                f"loading the peer: HTTP {status}, {len(bad)} of {len(chunk)} entries refused "
                f"({bad[:3]})"
            )
    return time.monotonic() - started


# --------------------------------------------------------------------------------------------
# Requests.
# --------------------------------------------------------------------------------------------


def fhir_call(
    server: Server, method: str, path: str, body: Any = None
) -> tuple[int, dict[str, str], Any]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=120)
    headers = {"Accept": "application/fhir+json"}
    if server.token:
        headers["Authorization"] = f"Bearer {server.token}"
    data = None
    if body is not None:
        headers["Content-Type"] = "application/fhir+json"
        data = json.dumps(body, ensure_ascii=False).encode()
    try:
        connection.request(method, server.base + path, data, headers)
        response = connection.getresponse()
        raw = response.read()
        answer_headers = {k.lower(): v for k, v in response.getheaders()}
    finally:
        connection.close()
    try:
        parsed = json.loads(raw) if raw else None
    except ValueError:
        parsed = None
    return response.status, answer_headers, parsed


def identifier_query(snils: str) -> str:
    from fhir_throughput import SNILS_SYSTEM

    return "Patient?" + urlencode({"identifier": f"{SNILS_SYSTEM}|{snils}"})


def create_bodies(organisations: list[str], count: int) -> list[dict[str, Any]]:
    """Patients to create: fhir_throughput's, with ``@SNILS@`` where fhir.lua puts a new SNILS."""
    from fhir_throughput import SEED, patient_resource

    rng = random.Random(f"{SEED}-peer-create")
    bodies = []
    for serial in range(1, count + 1):
        body = patient_resource(rng, serial, rng.choice(organisations))
        body["identifier"][0]["value"] = "@SNILS@"
        bodies.append(body)
    return bodies


def write_lines(path: Path, ids: list[str], snils: list[str], bodies: list[dict[str, Any]]) -> None:
    """fhir.lua's request lines: kind, method, path (relative to the FHIR base), body."""
    from fhir_throughput import FAMILIES

    rows = [("read", "GET", f"Patient/{i}", "") for i in ids]
    rows += [("identifier", "GET", identifier_query(s), "") for s in snils]
    rows += [
        ("family", "GET", "Patient?" + urlencode({"family": f, "_count": "20"}), "")
        for f in FAMILIES
    ]
    rows += [("create", "POST", "Patient", json.dumps(b, ensure_ascii=False)) for b in bodies]
    path.write_text("".join("\t".join(row) + "\n" for row in rows), encoding="utf-8")


def verify(server: Server, organisation: str, serial: int) -> None:
    """A created patient can be read back and is found by its SNILS; what fails is noted."""
    from fhir_throughput import SEED, patient_resource, snils

    value = snils(serial, VERIFY_SNILS)
    body = patient_resource(random.Random(f"{SEED}-verify-{serial}"), serial, organisation)
    body["identifier"][0]["value"] = value
    problems = server.verify_errors
    try:
        status, headers, created = fhir_call(server, "POST", "Patient", body)
        if status != 201:
            problems.append(f"create answered HTTP {status}")
            return
        patient_id = (created or {}).get("id") or location_id(headers.get("location", ""))
        if not patient_id:
            problems.append("create answered no id")
            return
        status, _headers, read = fhir_call(server, "GET", f"Patient/{patient_id}")
        values = [i.get("value") for i in (read or {}).get("identifier", [])]
        if status != 200 or value not in values:
            problems.append(f"read back: HTTP {status}, identifiers {values}")
        status, _headers, found = fhir_call(server, "GET", identifier_query(value))
        ids = [e.get("resource", {}).get("id") for e in (found or {}).get("entry", [])]
        if status != 200 or ids != [patient_id]:
            problems.append(f"search by SNILS: HTTP {status}, found {ids} for {patient_id}")
    except OSError as error:
        problems.append(f"{type(error).__name__}: {error}")


def location_id(location: str) -> str:
    match = re.search(r"Patient/([^/]+)", urlsplit(location).path)
    return match.group(1) if match else ""


# --------------------------------------------------------------------------------------------
# Measuring with wrk.
# --------------------------------------------------------------------------------------------


@dataclass
class Result:
    requests: int = 0
    seconds: float = 0.0
    p50_ms: float = math.nan
    p95_ms: float = math.nan
    socket_errors: int = 0
    non2xx: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    failure: str = ""  # wrk gave no figure

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds if self.seconds else math.nan

    @property
    def errors(self) -> int:
        return self.socket_errors + self.non2xx


class Wrk:
    def __init__(self, clients: int) -> None:
        self.clients = clients
        self.threads = min(THREADS, clients)
        self.runs = 0  # each run's creates take a fresh block of SNILS

    def run(self, server: Server, scenario: Scenario, seconds: float) -> Result:
        assert server.lines is not None
        snils_base = SNILS_RUN_BASE + self.runs * SNILS_RUN_STEP
        self.runs += 1
        command = [
            WRK,
            *("-t", str(self.threads), "-c", str(self.clients), "-d", f"{seconds:g}s"),
            *("--timeout", "10s", "--latency", "-s", str(LUA)),
            f"http://127.0.0.1:{server.port}",
            "--",
            *(str(server.lines), server.base, server.token or "-", scenario.weights),
            str(snils_base),
        ]
        done = subprocess.run(
            command, capture_output=True, text=True, check=False, timeout=seconds + 120
        )
        for line in done.stdout.splitlines():
            if line.startswith("WRK_JSON "):
                data = json.loads(line.removeprefix("WRK_JSON "))
                errors = data["errors"]
                return Result(
                    requests=data["requests"],
                    seconds=data["duration_us"] / 1e6,
                    p50_ms=data["p50_us"] / 1000,
                    p95_ms=data["p95_us"] / 1000,
                    socket_errors=sum(errors[k] for k in ("connect", "read", "write", "timeout")),
                    non2xx=data["non2xx"],
                    statuses=data["statuses"],
                )
        return Result(failure=f"wrk exit {done.returncode}: {tail(done.stderr or done.stdout, 5)}")


# --------------------------------------------------------------------------------------------
# Report.
# --------------------------------------------------------------------------------------------


def fmt(value: float, spec: str) -> str:
    return "-" if math.isnan(value) else format(value, spec)


def quotient(value: float, base: float) -> str:
    if math.isnan(value) or math.isnan(base) or not base:
        return "-"
    return f"{value / base:.2f}"


def sealed_before_next(database_url: str, limit: float = 300.0) -> tuple[int, float]:
    """Wait until the audit sequencer beside FarCare PG has sealed every record (at most
    `limit` seconds): its work belongs to the scenario that appended them, and a scenario
    measured while it catches up on the previous one's would be measured on less CPU.
    (unsealed when the scenario ended, seconds to seal them)."""
    import psycopg

    started = time.monotonic()
    backlog = -1
    with psycopg.connect(database_url, autocommit=True) as connection:
        while True:
            row = connection.execute(
                "SELECT count(*) FROM audit_auditevent WHERE seq IS NULL"
            ).fetchone()
            unsealed = int(row[0]) if row else 0
            if backlog < 0:
                backlog = unsealed
            if unsealed == 0 or time.monotonic() - started > limit:
                return backlog, time.monotonic() - started
            time.sleep(0.2)


def print_server(server: Server) -> None:
    print(f"\n{server.name}: {server.description}")
    header = f"  {'scenario':<26} {'req/s':>8} {'p50 ms':>8} {'p95 ms':>8} {'requests':>9} errors"
    print(header)
    print("  " + "-" * (len(header) - 2))
    for scenario in SCENARIOS:
        r = server.results.get(scenario.key)
        if r is None:
            continue
        if r.failure:
            print(f"  {scenario.label:<26} not measured: {r.failure}")
            continue
        errors = f"{r.errors}"
        if r.errors:
            detail = ", ".join(f"HTTP {k}: {v}" for k, v in sorted(r.statuses.items()))
            if r.socket_errors:
                detail = ", ".join(filter(None, [detail, f"socket/timeout: {r.socket_errors}"]))
            errors += f" ({detail})"
        print(
            f"  {scenario.label:<26} {fmt(r.per_second, '8.1f')} {fmt(r.p50_ms, '8.1f')} "
            f"{fmt(r.p95_ms, '8.1f')} {r.requests:>9} {errors}"
        )
    check = "; ".join(server.verify_errors) or "ok"
    print(f"  correctness before timing (create, read back, find by SNILS): {check}")
    if server.sealing:
        sealed = "; ".join(
            f"{key} {count:,} in {seconds:.1f} s"
            for key, (count, seconds) in server.sealing.items()
        )
        print(
            "  audit records left to seal after each scenario (waited for before the next): "
            + sealed
        )


def print_ratios(farcare: list[Server], peer: Server) -> None:
    print(
        f"\nRatios FarCare / {peer.name}: req/s (above 1: FarCare serves more), "
        "p50 and p95 (above 1: FarCare is slower)"
    )
    names = "".join(f" {s.name + ' req/s':>24} {'p50':>6} {'p95':>6}" for s in farcare)
    print(f"  {'scenario':<26}{names}")
    for scenario in SCENARIOS:
        base = peer.results.get(scenario.key)
        if base is None:
            continue
        cells = ""
        for server in farcare:
            r = server.results.get(scenario.key, Result(failure="-"))
            cells += (
                f" {quotient(r.per_second, base.per_second):>24} "
                f"{quotient(r.p50_ms, base.p50_ms):>6} {quotient(r.p95_ms, base.p95_ms):>6}"
            )
        print(f"  {scenario.label:<26}{cells}")


def print_targets(server: Server) -> None:
    print(f"\nTargets ({server.name}, 2 workers, 2 cores), reported, not asserted:")
    labels = {s.key: s.label for s in SCENARIOS}
    for key, target in TARGETS.items():
        r = server.results.get(key)
        if r is None or r.failure:
            print(f"  {labels[key]:<26} >= {target:,.0f}/s: not measured")
            continue
        verdict = "met" if r.per_second >= target else "NOT MET"
        print(f"  {labels[key]:<26} >= {target:,.0f}/s: {r.per_second:8.1f}/s  {verdict}")
    errors = sum(r.errors for r in server.results.values()) + len(server.verify_errors)
    print(f"  {'zero errors':<26}           : {errors:8d}    {'met' if not errors else 'NOT MET'}")


# --------------------------------------------------------------------------------------------
# Main.
# --------------------------------------------------------------------------------------------


@contextmanager
def temporary_postgres_database() -> Iterator[str]:
    name = f"peer_bench_{uuid.uuid4().hex[:10]}"
    postgres_admin(f'CREATE DATABASE "{name}"')
    try:
        yield f"{POSTGRES_SERVER}/{name}"
    finally:
        postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--seconds", type=float, default=SECONDS, help="measured per scenario")
    parser.add_argument("--warmup", type=float, default=WARMUP_SECONDS, help="before each")
    parser.add_argument("--patients", type=int, default=PATIENTS, help="generated patients")
    parser.add_argument("--clients", type=int, default=CLIENTS, help="concurrent connections")
    parser.add_argument("--skip-sqlite", action="store_true", help="no FarCare on SQLite")
    parser.add_argument("--skip-peer", action="store_true", help="no Medplum peer")
    # The child process that makes FarCare's data (see prepare()).
    parser.add_argument("--prepare", metavar="DATABASE_URL", help=argparse.SUPPRESS)
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.prepare:
        prepare(options.prepare, options.workdir, options.patients, options.out)
        return 0
    if options.patients < 1 or options.clients < 1 or options.seconds <= 0:
        parser.error("--patients, --clients and --seconds must be positive")
    if not Path(WRK).exists():
        print(f"wrk is not installed ({WRK}): apt-get install wrk")
        return 1
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="farcare-peer-bench-") as tmp:
        try:
            with temporary_postgres_database() as database_url:
                return run(Path(tmp), database_url, options, started)
        except SetupError as error:
            print(f"could not set up: {error}")
            return 1
        except (OSError, ValueError, KeyError, subprocess.SubprocessError) as error:
            print(f"could not set up: {type(error).__name__}: {error}")
            return 1


def run(workdir: Path, database_url: str, options: argparse.Namespace, started: float) -> int:
    pg = Server("pg", "FarCare PG", "/fhir/", "")
    sqlite = Server("sqlite", "FarCare SQLite", "/fhir/", "")
    peer = Server("peer", "Medplum", "/fhir/R4/", "")
    servers = (
        [pg] + ([] if options.skip_sqlite else [sqlite]) + ([] if options.skip_peer else [peer])
    )
    try:
        print(f"Preparing {options.patients:,} patients on PostgreSQL …", flush=True)
        data = {"pg": run_prepare(database_url, workdir / "pg", options.patients)}
        if not options.skip_sqlite:
            print(f"Preparing {options.patients:,} patients on SQLite …", flush=True)
            sqlite_url = f"sqlite:///{workdir / 'sqlite' / 'farcare.sqlite3'}"
            data["sqlite"] = run_prepare(sqlite_url, workdir / "sqlite", options.patients)
        for server in servers:
            # The peer holds FarCare PostgreSQL's patients; each FarCare database has its own
            # ids and organisations (the demo's are made afresh in each).
            source = data["pg" if server.key == "peer" else server.key]
            server.token = "" if server.key == "peer" else source.token
            server.organisation = source.organisations[0]
            (workdir / server.key).mkdir(exist_ok=True)
            server.lines = workdir / server.key / "requests.txt"
            bodies = create_bodies(source.organisations, CREATE_BODIES)
            write_lines(server.lines, source.ids, source.snils, bodies)
        print("Starting the servers …", flush=True)
        pg.production, pg.sealer = start_farcare_pg(pg, workdir / "pg", database_url)
        if not options.skip_sqlite:
            start_farcare_sqlite(sqlite, workdir / "sqlite", sqlite_url)
        peer_load_seconds = math.nan
        if not options.skip_peer:
            start_peer(peer, workdir / "peer")
            peer_load_seconds = load_peer(peer, data["pg"].resources)
        for serial, server in enumerate(servers, start=1):
            verify(server, server.organisation, serial)

        wrk = Wrk(options.clients)
        load_before = load()
        for scenario in sorted(SCENARIOS, key=lambda s: s.key == "create"):
            for server in servers:
                print(f"  {scenario.label} on {server.name} …", flush=True)
                wrk.run(server, scenario, options.warmup)
                if server is pg and pg.sealer is not None:
                    sealed_before_next(database_url)  # the warm-up's records
                server.results[scenario.key] = wrk.run(server, scenario, options.seconds)
                if server is pg and pg.sealer is not None:
                    server.sealing[scenario.key] = sealed_before_next(database_url)
        load_after = load()
    finally:
        for server in servers:
            server.stop()

    print(
        f"\nFHIR API under {options.clients} concurrent keep-alive clients "
        f"(wrk -t {wrk.threads} -c {options.clients} --latency, on this machine too): "
        f"per scenario and server {options.warmup:g} s warm-up, then {options.seconds:g} s "
        "measured; one server at a time, each scenario on every server back to back; creates "
        "last, since they grow the data (at the peer's rate, its linear searches would slow)."
    )
    print(f"Machine: {os.cpu_count()} cores; {load_before} before, {load_after} after.")
    pg_data = data["pg"]
    print(
        f"Data: {options.patients:,} generated patients on every server (the same families and "
        f"SNILS), plus FarCare's demo patients ({pg_data.all_patients - options.patients} more); "
        f"FarCare PostgreSQL prepared in {pg_data.seconds:.0f} s"
        + (f", the peer loaded in {peer_load_seconds:.1f} s" if not options.skip_peer else "")
        + "."
    )
    print(
        "Requests: read a random patient; identifier=<SNILS system>|<a random SNILS>; "
        "family=<one of 32 family names>&_count=20; create with a new valid SNILS; FarCare with "
        "a system client's bearer token (system/*.read system/*.write), the peer without one. "
        "errors: answers outside 2xx and socket errors or timeouts (10 s)."
    )
    for server in servers:
        print_server(server)
    if not options.skip_peer:
        print_ratios([s for s in servers if s is not peer], peer)
    print_targets(pg)
    measured = all(
        scenario.key in server.results and not server.results[scenario.key].failure
        for server in servers
        for scenario in SCENARIOS
    )
    print(f"\nFigures, not a verdict. {time.monotonic() - started:.0f} s.")
    return 0 if measured else 1


if __name__ == "__main__":
    sys.exit(main())
