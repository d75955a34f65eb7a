"""Locust as a library, stepping the users: started by bench/load_test.py in its own process
(locust's gevent patches the standard library, so it is imported before anything else).

    python bench/load/runner.py --host http://127.0.0.1:8000 --steps 10,25 --step-seconds 30

The stations (a fixed population) start with the first step and stay. At each step the page
users and FHIR clients grow to the step's count; once the newcomers have logged in and a short
settling time has passed, the statistics are reset and measured for ``--step-seconds``. Each
step prints one JSON line on stdout: its window (Unix time), then per request name and in total
the requests, failures, requests per second and the 50th, 95th and 99th percentiles in ms, and
the most frequent errors."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import gevent
import locust  # gevent's patches, before anything opens a socket
from locust.env import Environment
from locust.stats import StatsEntry

sys.path.insert(0, str(Path(__file__).resolve().parent))

import locustfile

SETTLE_SECONDS = 3.0
LOGIN_TIMEOUT = 120.0
SPAWN_RATE = 100.0  # users started per second (stations included)


def figures(entry: StatsEntry, seconds: float) -> dict[str, Any]:
    count = entry.num_requests
    return {
        "requests": count,
        "failures": entry.num_failures,
        "rps": count / seconds if seconds else 0.0,
        "p50": entry.get_response_time_percentile(0.50) if count else None,
        "p95": entry.get_response_time_percentile(0.95) if count else None,
        "p99": entry.get_response_time_percentile(0.99) if count else None,
    }


def emit(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record) + "\n")
    sys.stdout.flush()


def page_users(runner: Any) -> int:
    return sum(
        1
        for user in runner.user_greenlets
        if isinstance(getattr(user, "args", [None])[0], locustfile.PageUser)
    )


def run(host: str, steps: list[int], step_seconds: float) -> int:
    # locust's global events: the WebSocket figures are fired on them (bench/load/locustfile.py)
    env = Environment(user_classes=locustfile.USER_CLASSES, host=host, events=locust.events)
    runner = env.create_local_runner()
    stations = locustfile.STATIONS
    for users in steps:
        runner.start(stations + users, spawn_rate=SPAWN_RATE)
        deadline = time.monotonic() + LOGIN_TIMEOUT
        while runner.spawning_greenlet is not None and not runner.spawning_greenlet.dead:
            gevent.sleep(0.2)
        # The step's newcomers log in (a password hash each) before anything is measured.
        while locustfile.LoginCount.done < page_users(runner) and time.monotonic() < deadline:
            gevent.sleep(0.2)
        gevent.sleep(SETTLE_SECONDS)
        env.stats.reset_all()
        started = time.time()
        gevent.sleep(step_seconds)
        ended = time.time()
        seconds = ended - started
        classes = {
            name: figures(entry, seconds)
            for (name, _method), entry in sorted(env.stats.entries.items())
            if entry.num_requests or entry.num_failures
        }
        errors = sorted(env.stats.errors.values(), key=lambda e: -e.occurrences)[:5]
        emit(
            {
                "users": users,
                "stations": stations,
                "started": started,
                "ended": ended,
                "classes": classes,
                "total": figures(env.stats.total, seconds),
                "errors": [
                    {"name": e.name, "error": str(e.error)[:200], "count": e.occurrences}
                    for e in errors
                ],
                "sockets": sum(
                    1
                    for g in runner.user_greenlets
                    if getattr(getattr(g, "args", [None])[0], "socket", None) is not None
                ),
            }
        )
    runner.quit()
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", required=True)
    parser.add_argument("--steps", required=True)
    parser.add_argument("--step-seconds", type=float, default=30.0)
    args = parser.parse_args()
    steps = [int(s) for s in args.steps.split(",")]
    return run(args.host, steps, args.step_seconds)


if __name__ == "__main__":
    sys.exit(main())
