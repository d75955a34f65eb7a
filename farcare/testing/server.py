"""FarCare served by a real server process on a database the caller names, for tests of what
several processes writing at once do to it (tests/core/test_writers.py): uvicorn with N worker
processes, on loopback, against the test suite's own database (SQLite file or PostgreSQL), so
the test prepares the data and checks the outcome with the ORM, and the suite's flush cleans up.

    with ServerProcess(tmp_path / "server", database_url=suite_database_url(), workers=2) as s:
        s.start()
        requests.post(f"{s.url}/fhir/Patient", ...)

Unlike farcare.testing.hub it is not another machine: it shares the suite's database and its
settings module (DJANGO_SETTINGS_MODULE of the test run). Stop it before the test's database is
flushed (a fixture that depends on the data fixture is torn down first)."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import quote

from django.db import DEFAULT_DB_ALIAS, connections

from .hub import HubProcess


def suite_database_url(alias: str = DEFAULT_DB_ALIAS) -> str:
    """The URL of the database the test suite is running on (its test database, once set up)."""
    settings = connections[alias].settings_dict
    engine = settings["ENGINE"]
    if engine.endswith("sqlite3"):
        return f"sqlite:///{Path(settings['NAME']).resolve()}"
    if "postgresql" in engine:
        user = quote(settings.get("USER") or "", safe="")
        password = quote(settings.get("PASSWORD") or "", safe="")
        credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
        host = settings.get("HOST") or "127.0.0.1"
        port = f":{settings['PORT']}" if settings.get("PORT") else ""
        return f"postgres://{credentials}{host}{port}/{quote(settings['NAME'], safe='')}"
    raise ValueError(f"no URL for a database of {engine}")


class ServerProcess(HubProcess):
    def __init__(
        self,
        directory: Path,
        *,
        database_url: str,
        workers: int = 2,
        port: int | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        """`env`: more FARCARE_* settings (they win over the defaults)."""
        super().__init__(
            directory,
            port=port,
            env={
                "DJANGO_SETTINGS_MODULE": os.environ.get(
                    "DJANGO_SETTINGS_MODULE", "farcare.settings.test"
                ),
                "FARCARE_DATABASE_URL": database_url,
                **(env or {}),
            },
        )
        self.workers = workers

    def command(self) -> list[str]:
        return [*super().command(), "--workers", str(self.workers)]

    def prepare(self, template: Path | None = None) -> None:
        raise RuntimeError("a ServerProcess serves the suite's database: the test makes its data")
