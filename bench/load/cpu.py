"""Where the CPU goes while the load runs: sampled every second with psutil, per process group
(the web server's processes, this database's PostgreSQL backends with the server's own
background processes, Redis, the locust process) and for the whole machine; and how many of the
database's connections are busy. Other engineers' work on a shared machine shows as "other"
(the machine's total less the groups)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import psutil

GROUPS = ("web", "postgres", "redis", "locust")
INTERVAL = 1.0


@dataclass
class Sample:
    at: float  # Unix time at the end of the interval
    seconds: float  # length of the interval
    busy: dict[int, tuple[str, float]]  # process -> its group, CPU seconds in the interval
    machine: float  # CPU seconds of the whole machine in the interval
    db_active: int = 0  # the database's connections running a statement
    db_connections: int = 0


@dataclass
class Window:
    """CPU % (100 = one core) per group, of its busiest process, and of the machine, over a
    time window; the database's connections on average."""

    percent: dict[str, float]
    busiest: dict[str, float]
    machine: float
    other: float
    db_active: float
    db_connections: float


def _postgres_member(process: psutil.Process, database: str) -> bool:
    """A backend of this database, or one of the server's own processes (checkpointer, WAL
    writer, the postmaster): not another database's backends (other engineers')."""
    title = " ".join(process.cmdline())
    if not title.startswith("postgres: "):
        return True  # the postmaster
    parts = title.split()
    if len(parts) >= 4 and "(" in parts[3]:  # postgres: <user> <database> <host(port)> ...
        return parts[2] == database
    if parts[1:3] == ["autovacuum", "worker"]:
        return database in parts
    return True


@dataclass
class Sampler:
    web_pid: Callable[[], int | None]
    locust_pid: Callable[[], int | None]
    database: str  # PostgreSQL database name ("" on SQLite)
    samples: list[Sample] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="cpu-sampler", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def _members(self) -> dict[int, str]:
        members: dict[int, str] = {}
        for group, pid in (("web", self.web_pid()), ("locust", self.locust_pid())):
            if pid is None:
                continue
            try:
                root = psutil.Process(pid)
                members[pid] = group
                for child in root.children(recursive=True):
                    members[child.pid] = group
            except psutil.NoSuchProcess:
                continue
        for process in psutil.process_iter(["name"]):
            name = process.info["name"] or ""
            try:
                if name == "redis-server":
                    members[process.pid] = "redis"
                elif name == "postgres" and _postgres_member(process, self.database):
                    members[process.pid] = "postgres"
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                continue
        return members

    @staticmethod
    def _cpu(pid: int) -> float | None:
        try:
            times = psutil.Process(pid).cpu_times()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            return None
        return times.user + times.system

    def _connections(self) -> tuple[int, int]:
        if not self.database:
            return 0, 0
        try:
            import psycopg

            with psycopg.connect(
                "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
            ) as admin:
                row = admin.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'), count(*) "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()",
                    (self.database,),
                ).fetchone()
        except Exception:
            return 0, 0
        return (int(row[0]), int(row[1])) if row else (0, 0)

    def _run(self) -> None:
        before: dict[int, tuple[str, float]] = {}
        machine_before = _machine_busy()
        last = time.time()
        while not self._stop.wait(INTERVAL):
            now_members = self._members()
            now: dict[int, tuple[str, float]] = {}
            for pid, group in now_members.items():
                spent = self._cpu(pid)
                if spent is not None:
                    now[pid] = (group, spent)
            busy = {
                pid: (group, max(0.0, spent - before[pid][1]))
                for pid, (group, spent) in now.items()
                if pid in before
            }
            machine_now = _machine_busy()
            at = time.time()
            active, connections = self._connections()
            self.samples.append(
                Sample(
                    at=at,
                    seconds=at - last,
                    busy=busy,
                    machine=machine_now - machine_before,
                    db_active=active,
                    db_connections=connections,
                )
            )
            before, machine_before, last = now, machine_now, at

    def window(self, started: float, ended: float) -> Window:
        inside = [s for s in self.samples if started < s.at <= ended + INTERVAL / 2]
        seconds = sum(s.seconds for s in inside) or 1.0
        per_process: dict[int, tuple[str, float]] = {}
        for sample in inside:
            for pid, (group, spent) in sample.busy.items():
                per_process[pid] = (group, per_process.get(pid, (group, 0.0))[1] + spent)
        percent = dict.fromkeys(GROUPS, 0.0)
        busiest = dict.fromkeys(GROUPS, 0.0)
        for group, spent in per_process.values():
            percent[group] += 100 * spent / seconds
            busiest[group] = max(busiest[group], 100 * spent / seconds)
        machine = 100 * sum(s.machine for s in inside) / seconds
        count = len(inside) or 1
        return Window(
            percent=percent,
            busiest=busiest,
            machine=machine,
            other=max(0.0, machine - sum(percent.values())),
            db_active=sum(s.db_active for s in inside) / count,
            db_connections=sum(s.db_connections for s in inside) / count,
        )


def _machine_busy() -> float:
    """CPU seconds the machine has spent not idle, over all its cores."""
    times = psutil.cpu_times()._asdict()
    # guest time is counted in user time already; idle and I/O wait are not work
    return sum(v for k, v in times.items() if k not in ("idle", "iowait", "guest", "guest_nice"))
