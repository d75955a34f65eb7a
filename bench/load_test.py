"""A realistic load on FarCare: the clinical mix at rising users, where latency bends on this
machine and which resource is saturated there.

Run from the project root (needs ``pip install -e .[bench]``: locust and psutil)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/load_test.py

Options: ``--steps 10,25,50,100,200`` the users at pages and FHIR clients at each step (the
stations come on top); ``--step-seconds 30`` how long each step is measured; ``--stations 500``
the stations; ``--station-seconds 30`` how often each station pulls; ``--patients 10000`` the
patients in the database; ``--database postgres|sqlite``. About 3 minutes of setup and 4 of
load with the defaults.

The server, as deployed (bench/load/server.py on farcare.testing.production): ``--database
postgres`` (the default) is production settings (``farcare.settings.production``) under
gunicorn with 2 uvicorn workers (``deploy/gunicorn.conf.py``), psycopg's pool in each worker,
Redis (db 6) for the cache and the live worklists' channel layer, on a fresh PostgreSQL database
``load_bench_<random>``; ``--database sqlite`` is one uvicorn process on a SQLite file as ``make
run`` serves it, in the same settings (FARCARE_ALLOW_SQLITE=1). Without the redirect to HTTPS
and the second factor: nothing terminates TLS on loopback and nobody types a code. Data: the
production server's own preparation (audit keys, migrate, ``farcare load-demo``, collectstatic),
then bench/load/prepare.py in its settings: patients up to ``--patients`` (bench/
fhir_throughput.py's generator), a FHIR system client's token, and the stations enrolled. The
database is dropped and the Redis database emptied afterwards.

The load (bench/load/locustfile.py, whose docstring gives the users and their weights): a fixed
population of stations pulling every ``--station-seconds`` and pushing a small change on one
pass in ten; and, stepped, people at pages and FHIR clients in the weights 6 requesters
(feldshers and district doctors) : 3 consultants : 1 FHIR client. A regional network has
thousands of posts whose laptops sync all day, a few hundred clinicians at pages, tens of
consultants answering and a few integrations; people wait seconds between clicks, integrations
less. Requesters and consultants log in once, hold the live worklist's WebSocket open and
reload their list when it announces a change, as the page does. Locust runs as a library in
its own process (bench/load/runner.py: gevent, no Django there) with 500 station greenlets
(cheap: each is a few KiB and idle most of the time).

Each step: the users grow to the step's count, the newcomers log in, 3 s settle, then the
statistics are reset and measured for ``--step-seconds``, while the CPU of each process group
is sampled every second (bench/load/cpu.py): the web server's processes (and the busiest of
them), this database's PostgreSQL backends with the server's own processes, Redis, locust, and
the rest of the machine ("other": other people's work on a shared machine); and the database's
busy connections (pg_stat_activity).

It prints a table per step (users, req/s, p50, p95, p99, failures, CPU per group, load
average), the same per request class, then where latency bends (the first step whose p95 is more
than twice the first step's while req/s grew by less than half the growth of users) and which
resource is saturated there (the machine's CPU when it is 90 % busy, else one web process at 90 %
of a core, else the database connections, else the busiest group, named not saturated).

Nothing is asserted about time. Exit status: 0 when every step was measured; 1 when the server
or the load could not be started or a step is missing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE / "load"))

from cpu import Sampler  # noqa: E402
from report import Step, bend, class_table, errors, overall_table, saturated  # noqa: E402
from server import ROOT, LoadServer, load_server  # noqa: E402

STEPS = "10,25,50,100,200"


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", default=STEPS)
    parser.add_argument("--step-seconds", type=float, default=30.0)
    parser.add_argument("--stations", type=int, default=500)
    parser.add_argument("--station-seconds", type=float, default=30.0)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--database", choices=("postgres", "sqlite"), default="postgres")
    parser.add_argument("--workers", type=int, default=2, help="web workers (PostgreSQL)")
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",") if s.strip()]
    if not steps or steps != sorted(set(steps)):
        parser.error("--steps: rising user counts, such as 10,25,50")
    one, five, _ = os.getloadavg()
    print(f"FarCare load test: {args.database}, steps {steps} users, {args.stations} stations")
    print(
        f"machine before: load average {one:.1f} (1 min), {five:.1f} (5 min), {os.cpu_count()} CPUs"
    )
    with tempfile.TemporaryDirectory(prefix="farcare-load-") as temporary:
        started = time.monotonic()
        try:
            with load_server(args.database, Path(temporary), args.workers) as server:
                print(server.load_data(temporary_plan(temporary), **volume(args)))
                server.start()
                print(
                    f"server up at {server.url} after {time.monotonic() - started:.0f} s of setup"
                )
                measured = run_load(server, temporary_plan(temporary), steps, args)
                server_errors = server.exceptions()
                if not server.running:
                    print(
                        f"the server stopped during the load:\n{server.log_tail()}", file=sys.stderr
                    )
                    return 1
        except RuntimeError as error:
            print(f"could not set up the server: {error}", file=sys.stderr)
            return 1
    if measured is None or len(measured) != len(steps):
        return 1
    web_processes = 1 if args.database == "sqlite" else args.workers
    print()
    print("\n".join(overall_table(measured, web_processes)))
    print()
    print("\n".join(class_table(measured)))
    step, where = bend(measured)
    print()
    print(where)
    print(saturated(step or measured[-1], web_processes))
    problems = errors(measured)
    if problems:
        print("errors:")
        print("\n".join(problems))
    if server_errors:
        print("exceptions in the server's log (most frequent first):")
        print("\n".join(f"  {line}" for line in server_errors))
    return 0


def temporary_plan(directory: str) -> Path:
    return Path(directory) / "plan.json"


def volume(args: argparse.Namespace) -> dict[str, int]:
    return {"stations": args.stations, "patients": args.patients}


def run_load(
    server: LoadServer, plan: Path, steps: list[int], args: argparse.Namespace
) -> list[Step] | None:
    env = {
        **os.environ,
        "FARCARE_LOAD_PLAN": str(plan),
        "FARCARE_LOAD_STATIONS": str(args.stations),
        "FARCARE_LOAD_STATION_SECONDS": str(args.station_seconds),
        "PYTHONUNBUFFERED": "1",
    }
    runner = subprocess.Popen(
        [
            sys.executable,
            str(HERE / "load" / "runner.py"),
            "--host",
            server.url,
            "--steps",
            ",".join(map(str, steps)),
            "--step-seconds",
            str(args.step_seconds),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=(server.directory / "locust.log").open("wb"),
        text=True,
    )
    sampler = Sampler(
        web_pid=lambda: server.master_pid if server.running else None,
        locust_pid=lambda: runner.pid if runner.poll() is None else None,
        database=server.database if args.database == "postgres" else "",
    )
    sampler.start()
    measured: list[Step] = []
    try:
        assert runner.stdout is not None
        for line in runner.stdout:
            record = json.loads(line)
            time.sleep(1.5)  # the sampler's last interval of the step
            step = Step(
                users=record["users"],
                record=record,
                cpu=sampler.window(record["started"], record["ended"]),
                load1=os.getloadavg()[0],
            )
            measured.append(step)
            total = record["total"]
            print(
                f"  {step.users:>4} users: {total['rps']:.1f} req/s, p95 {total['p95']} ms, "
                f"{total['failures']} failures, machine CPU {step.cpu.machine:.0f}%",
                flush=True,
            )
        status = runner.wait(timeout=60)
    finally:
        sampler.stop()
        if runner.poll() is None:
            runner.terminate()
            runner.wait(timeout=30)
    if status != 0:
        log = (server.directory / "locust.log").read_text(errors="replace")
        print(f"the load generator failed:\n{log[-3000:]}", file=sys.stderr)
        return None
    return measured


if __name__ == "__main__":
    sys.exit(main())
