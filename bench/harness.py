"""What every benchmark needs before it measures anything: FarCare pointed at a throwaway
directory and database (the project's ``var/`` is never touched), Django started, the demo
network loaded; databases that can be copied and switched between (SQLite files or temporary
PostgreSQL databases, dropped afterwards); SQL counted and grouped by statement; the figures'
medians, percentiles and ratios; the machine's load; the CSRF token of a page's form.
Benchmarks print figures, never verdicts."""

from __future__ import annotations

import math
import os
import re
import statistics
import sys
import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_SERVER = "postgres://postgres@127.0.0.1:5432"
DEMO_PASSWORD = "farcare-demo"  # noqa: S105 - the documented demo password (farcare.demo.loader)

if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))


# --------------------------------------------------------------------------------------------
# Environment
# --------------------------------------------------------------------------------------------


def point_at(workdir: Path, database_url: str) -> None:
    """FarCare's files and database in ``workdir`` (read by the settings when Django starts)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "farcare.settings.test")
    os.environ["FARCARE_VAR_DIR"] = str(workdir)
    os.environ["FARCARE_DATABASE_URL"] = database_url
    os.environ["FARCARE_STATIC_ROOT"] = str(workdir / "static")
    os.environ["FARCARE_MEDIA_ROOT"] = str(workdir / "media")
    os.environ.setdefault("FARCARE_LOG_LEVEL", "ERROR")
    (workdir / "static").mkdir(parents=True, exist_ok=True)  # WhiteNoise warns without it


def setup_django(
    workdir: Path,
    database_url: str,
    *,
    demo: bool = True,
    test_client: bool = False,
    production_static: bool = False,
) -> None:
    """Point FarCare at ``workdir`` and ``database_url``, start Django and migrate; then load
    the demo network (``demo``), let Django's test client in (``test_client``: its default host
    is not an allowed one), or serve static files as production does, hashed and compressed
    by ``collectstatic`` (``production_static``)."""
    point_at(workdir, database_url)

    import django
    from django.conf import settings

    # The settings module is read here (the FARCARE_* variables above are read at import);
    # what the benchmark changes, it changes before anything is built from it.
    if test_client:
        settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    if production_static:
        settings.STORAGES = {
            **settings.STORAGES,
            "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
        }
        settings.WHITENOISE_USE_FINDERS = False
    django.setup()

    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    if demo:
        from farcare.demo.loader import load_demo

        load_demo()
    if production_static:
        call_command("collectstatic", interactive=False, verbosity=0)


def load() -> str:
    one, five, _fifteen = os.getloadavg()
    return f"load average {one:.1f} (1 min), {five:.1f} (5 min) on {os.cpu_count()} CPUs"


# --------------------------------------------------------------------------------------------
# Databases: one per data set, each a copy of the one before it, then topped up.
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Databases:
    vendor: str  # "sqlite" or "postgresql"
    names: tuple[str, ...]  # the databases' NAME in Django's settings: files or databases

    def url(self, name: str) -> str:
        if self.vendor == "sqlite":
            return f"sqlite:///{name}"
        return f"{POSTGRES_SERVER}/{name}"

    def use(self, name: str) -> None:
        """Point the default database at ``name``. The settings dictionary is shared by every
        thread's connection, so a server thread's next connection opens it too."""
        from django.db import connection

        if connection.settings_dict["NAME"] != name:
            connection.close()
            connection.settings_dict["NAME"] = name

    def copy(self, source: str, target: str) -> None:
        """``target`` becomes a copy of ``source`` (sessions and tokens included)."""
        from django.db import connection

        self.use(source)
        connection.close()
        if self.vendor == "sqlite":
            import sqlite3

            with (
                closing(sqlite3.connect(source)) as origin,
                closing(sqlite3.connect(target)) as copy,
            ):
                origin.backup(copy)  # consistent, WAL included
        else:
            postgres_admin(f'CREATE DATABASE "{target}" TEMPLATE "{source}"')


def sqlite_databases(workdir: Path, labels: Sequence[object]) -> Databases:
    return Databases("sqlite", tuple(str(workdir / f"{label}.sqlite3") for label in labels))


def postgres_admin(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{POSTGRES_SERVER}/postgres", autocommit=True) as admin:
        admin.execute(statement.encode())


@contextmanager
def postgres_databases(labels: Sequence[object]) -> Iterator[Databases]:
    """Fresh databases on the local PostgreSQL server (the first created now, the others as
    copies), dropped afterwards."""
    stem = f"farcare_bench_{uuid.uuid4().hex[:10]}"
    databases = Databases("postgresql", tuple(f"{stem}_{label}" for label in labels))
    postgres_admin(f'CREATE DATABASE "{databases.names[0]}"')
    try:
        yield databases
    finally:
        if "django.db" in sys.modules:
            from django.db import connections

            connections.close_all()
        for name in databases.names:
            postgres_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


# --------------------------------------------------------------------------------------------
# SQL: how many statements, how long, grouped by their shape.
# --------------------------------------------------------------------------------------------

_LITERALS = [
    (re.compile(r"'(?:[^']|'')*'"), "?"),  # string literals (quoted parameters)
    (re.compile(r"\b\d+(?:\.\d+)?\b"), "?"),  # numbers
    (re.compile(r"\(\s*\?(?:\s*,\s*\?)*\s*\)"), "(?…)"),  # IN (?, ?, …) of any length
    # Django 5.2 spells a prefetch on SQLite as (col = ? OR col = ? OR …), of any length
    (re.compile(r"\(([\w\".]+ = \?)(?: OR \1)*\)"), r"(\1 OR …)"),
    (re.compile(r"\s+"), " "),
]


def statement_shape(sql: str) -> str:
    """The SQL with its parameters stripped, so that the same statement groups together."""
    sql = sql.replace("%s", "?")
    for pattern, replacement in _LITERALS:
        sql = pattern.sub(replacement, sql)
    return sql.strip()


class SqlTimer:
    """A database execute wrapper: statements run and time spent in ``cursor.execute()``, in
    all and per statement shape."""

    def __init__(self) -> None:
        self.count = 0
        self.seconds = 0.0
        self.by_statement: dict[str, float] = {}
        self.statements: Counter[str] = Counter()

    def __call__(self, execute: Any, sql: str, params: Any, many: bool, context: Any) -> Any:
        started = time.perf_counter()
        try:
            return execute(sql, params, many, context)
        finally:
            spent = time.perf_counter() - started
            self.count += 1
            self.seconds += spent
            shape = statement_shape(sql)
            self.statements[shape] += 1
            self.by_statement[shape] = self.by_statement.get(shape, 0.0) + spent


# --------------------------------------------------------------------------------------------
# Figures
# --------------------------------------------------------------------------------------------


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def p95(values: Sequence[float]) -> float:
    """The 95th percentile by nearest rank (no interpolation: a time that was measured)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    return ordered[math.ceil(0.95 * len(ordered)) - 1]


def ratio(value: float, base: float) -> str:
    """``value`` against ``base`` to two places, or "-" where there is no figure to divide."""
    if not base or math.isnan(value) or math.isnan(base):
        return "-"
    return f"{value / base:.2f}"


# --------------------------------------------------------------------------------------------
# Pages
# --------------------------------------------------------------------------------------------


def csrf_form_token(html: str) -> str:
    """The token a page's form posts back ("" if the page has none)."""
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', html)
    return match.group(1) if match else ""
