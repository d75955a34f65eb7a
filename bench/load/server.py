"""The server under load, as it is deployed (farcare.testing.production): production settings,
gunicorn with uvicorn workers (deploy/gunicorn.conf.py), psycopg's pool, Redis for the cache and
the channel layer, on a fresh PostgreSQL database (``postgres``); or one uvicorn process on a
SQLite file, as ``make run`` serves it (``sqlite``, in the same settings with
FARCARE_ALLOW_SQLITE=1). Nothing terminates TLS on loopback: no redirect to HTTPS. No Django
is imported in this process; the data are made by the server's own console commands and by
bench/load/prepare.py in its settings. The database is dropped afterwards."""

from __future__ import annotations

import re
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from farcare.testing.production import (  # noqa: E402 - the project on the path first
    START_TIMEOUT,
    ProductionServer,
    recreate_postgres_database,
)

POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/6"  # the load test's Redis database (contract: db 6)
EXCEPTION = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Timeout|Exhausted)\b(:|$)")
LOAD_ENV = {"FARCARE_SECURE_SSL_REDIRECT": "0", "FARCARE_REDIS_URL": REDIS_URL}


class LoadServer(ProductionServer):
    """The production server, or (on SQLite) a single uvicorn process in the same settings."""

    def __init__(self, directory: Path, *, kind: str, database: str, workers: int) -> None:
        url = (
            f"sqlite:///{directory / database}"
            if kind == "sqlite"
            else f"{POSTGRES_SERVER}/{database}"
        )
        super().__init__(directory, database_url=url, workers=workers, env=LOAD_ENV)
        self.kind = kind
        self.database = database

    @property
    def web_processes(self) -> int:
        """Processes that serve (gunicorn's master only supervises)."""
        return 1 if self.kind == "sqlite" else self.workers

    def load_data(self, plan: Path, *, stations: int, patients: int) -> str:
        """The volume, the tokens and the stations, and the plan (bench/load/prepare.py)."""
        result = subprocess.run(
            [
                sys.executable,
                str(ROOT / "bench" / "load" / "prepare.py"),
                str(plan),
                "--stations",
                str(stations),
                "--patients",
                str(patients),
            ],
            env=self.env,
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
            timeout=1_800,
        )
        if result.returncode != 0:
            raise RuntimeError(f"preparing the data failed:\n{result.stderr[-4000:]}")
        return result.stdout.strip().splitlines()[-1]

    def start(self) -> None:
        if self.kind != "sqlite":
            super().start()
            return
        log = (self.directory / "uvicorn.log").open("ab")
        try:
            self._process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "uvicorn",
                    "farcare.asgi:application",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--timeout-keep-alive",
                    "75",
                    "--log-level",
                    "warning",
                ],
                env=self.env,
                cwd=self.directory,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        finally:
            log.close()
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"uvicorn did not start: see {self.directory / 'uvicorn.log'}")
            time.sleep(0.2)

    @property
    def log_path(self) -> Path:
        return self.directory / ("uvicorn.log" if self.kind == "sqlite" else "gunicorn.log")

    def log_tail(self, lines: int = 60) -> str:
        path = self.log_path
        text = path.read_text(errors="replace") if path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])

    def exceptions(self, most: int = 8) -> list[str]:
        """The exceptions the server logged (the last line of each traceback), most frequent
        first, with their counts."""
        path = self.log_path
        text = path.read_text(errors="replace") if path.exists() else ""
        found = Counter(line.strip()[:200] for line in text.splitlines() if EXCEPTION.match(line))
        return [f"{count} x {line}" for line, count in found.most_common(most)]


def _postgres_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(statement.encode())


@contextmanager
def load_server(kind: str, directory: Path, workers: int = 2) -> Iterator[LoadServer]:
    """A server on a fresh database, prepared (keys, migrations, the demo network, static
    files) but neither loaded with the volume nor started; stopped, its database dropped and
    its Redis database emptied on leaving."""
    if kind == "sqlite":
        database = "load.sqlite3"
    else:
        database = f"load_bench_{uuid.uuid4().hex[:10]}"
        recreate_postgres_database(f"{POSTGRES_SERVER}/{database}")
    server = LoadServer(directory, kind=kind, database=database, workers=workers)
    try:
        server.prepare(demo=True)
        yield server
    finally:
        server.stop()
        if kind == "postgres":
            _postgres_admin(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        _flush_redis()


def _flush_redis() -> None:
    """The cache's and the channel layer's leftovers in the load test's own Redis database."""
    with suppress(Exception):
        import redis

        redis.Redis.from_url(REDIS_URL).flushdb()
