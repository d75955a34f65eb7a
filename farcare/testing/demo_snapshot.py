"""The demo network for tests, loaded once per test process and copied into each test.

`load_demo()` builds the network the way `make run` does (the settlements file, 41 people,
their patients, signed conclusions): 4-7 s, most of it in the services that sign, audit and
route. Page and browser tests need that network as data, not the building of it, so a test
process builds it once, inside a transaction it then rolls back, and keeps its rows; a test
gets them back with one bulk insert per table (a fraction of a second) on SQLite and on
PostgreSQL alike, inside the test's own transaction or into a live server's database.

    snapshot = take_demo_snapshot()   # once per process: the real load_demo(), rolled back
    restore_demo(snapshot)            # per test: the same rows, primary keys and all

Why rows and not a template database: the test database stays the one pytest-django made
(its live server and connections stay open), the copy works inside a test's transaction
(`db`) as well as after a flush (`transactional_db`), and one piece of code serves both
databases. `tests/core/test_demo_snapshot.py` checks that a copy is what load_demo() makes.

What the copy leaves out, on purpose: the rows `migrate` makes (content types, permissions),
which a flush re-creates with other keys, so the demo must not point at them (checked when the
snapshot is taken); side effects after commit (notifications), which a rolled-back load never
sends; and the files the demo writes (conclusion PDFs), which stay in the media folder where
the copied rows find them.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from django.apps import apps
from django.core.management.color import no_style
from django.db import connections, transaction
from django.db.models import Model


@dataclass(frozen=True)
class DemoSnapshot:
    """The demo's rows, table by table."""

    tables: tuple[tuple[type[Model], tuple[dict[str, Any], ...]], ...]

    @property
    def row_count(self) -> int:
        return sum(len(rows) for _model, rows in self.tables)


def _models() -> list[type[Model]]:
    """Every table once: concrete models and the through tables of many-to-many fields."""
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy and model._meta.managed
    ]


def _counts(models: list[type[Model]], using: str) -> dict[type[Model], int]:
    return {model: model._base_manager.using(using).count() for model in models}


# Rows that migrate (post_migrate) makes and a flush makes again under other keys.
_ROWS_OF_MIGRATE = frozenset({"contenttypes.ContentType", "auth.Permission"})


def _points_at_migrate_rows(model: type[Model], rows: tuple[dict[str, Any], ...]) -> str:
    for field in model._meta.concrete_fields:
        related = field.related_model
        if not isinstance(related, type) or related._meta.label not in _ROWS_OF_MIGRATE:
            continue
        if any(row[field.attname] is not None for row in rows):
            return f"{model._meta.label}.{field.name} -> {related._meta.label}"
    return ""


def take_demo_snapshot(using: str = "default") -> DemoSnapshot:
    """Run the real load_demo() in a transaction, keep every row it made, roll it back."""
    from farcare.demo.loader import load_demo

    models = _models()
    with transaction.atomic(using=using):
        before = _counts(models, using)
        load_demo(analytics=False)
        after = _counts(models, using)
        tables: list[tuple[type[Model], tuple[dict[str, Any], ...]]] = []
        for model in models:
            if after[model] == before[model]:
                continue
            if before[model]:
                raise RuntimeError(
                    f"load_demo() added to {model._meta.label}, which held rows before it ran; "
                    "a snapshot copies whole tables and would duplicate them"
                )
            attnames = [field.attname for field in model._meta.concrete_fields]
            rows = tuple(
                model._base_manager.using(using).order_by("pk").values(*attnames).iterator()
            )
            problem = _points_at_migrate_rows(model, rows)
            if problem:
                raise RuntimeError(f"the demo points at rows migrate makes: {problem}")
            tables.append((model, rows))
        transaction.set_rollback(True, using=using)
    return DemoSnapshot(tables=tuple(tables))


def restore_demo(snapshot: DemoSnapshot, using: str = "default") -> None:
    """Put the demo's rows into the (empty) database."""
    connection = connections[using]
    with transaction.atomic(using=using):
        # Foreign keys are deferred to the end of the transaction on both databases, so the
        # tables go in in any order.
        for model, rows in snapshot.tables:
            model._base_manager.using(using).bulk_create(
                [model(**copy.deepcopy(row)) for row in rows], batch_size=500
            )
        # Rows came with their keys: the next key a test's own rows get must be past them.
        statements = connection.ops.sequence_reset_sql(
            no_style(), [model for model, _rows in snapshot.tables]
        )
        if statements:
            with connection.cursor() as cursor:
                for statement in statements:
                    cursor.execute(statement)
