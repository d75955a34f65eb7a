"""A query asked on every request of a kind, compiled to SQL once instead of at each call.

Compiling a queryset with `select_related` costs Django about as much as the round trip to
PostgreSQL it then makes (half a millisecond for a FHIR token with its user, facility and
client). `Precompiled` builds the queryset once with stand-in values, keeps the compiled SQL
and the compiler's description of its columns, and at each call sends that SQL with the real
values where the stand-ins were, then makes the model instances as the queryset would
(`ModelIterable`: the row's fields through the database's converters, the related objects
`select_related` loaded, annotations set).

What it may hold: a queryset whose values are plain parameters (equality, not `__in` of a
varying length) and whose SQL depends on nothing else of the moment. Compiled once per thread
and database alias: a compiler belongs to the connection of the thread that made it."""

from __future__ import annotations

import secrets
import threading
import uuid
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators  # type: ignore[attr-defined]

M = TypeVar("M", bound=Model)


def stand_ins(count: int) -> list[str]:
    """Values no real call passes, to build a query with before its real values are known
    (fresh UUIDs, so that a UUID column takes them too)."""
    return [str(uuid.UUID(bytes=secrets.token_bytes(16), version=4)) for _ in range(count)]


Slot = tuple[int, int, Callable[[Any], Any]]


def slots_of(params: list[Any], stand_ins: list[str], what: str) -> list[Slot]:
    """Where each stand-in went among a compiled statement's parameters, and in which form (a
    UUID column takes a UUID object on PostgreSQL and 32 hex digits on SQLite): (position,
    which value, how the real value is put there). Raises when one did not become a parameter."""
    slots: list[Slot] = []
    for position, value in enumerate(params):
        for index, stand_in in enumerate(stand_ins):
            form = _form(value, stand_in)
            if form is not None:
                slots.append((position, index, form))
    if sorted({index for _position, index, _form in slots}) != list(range(len(stand_ins))):
        raise RuntimeError(f"a value of {what} is not a parameter")
    return slots


def put(params: list[Any], slots: list[Slot], values: tuple[Any, ...]) -> list[Any]:
    """The compiled statement's parameters with the real values where the stand-ins were."""
    filled = list(params)
    for position, index, form in slots:
        filled[position] = form(values[index])
    return filled


class _Compiled:
    def __init__(self, queryset: QuerySet[Any], stand_ins: list[str], alias: str) -> None:
        compiler = queryset.query.get_compiler(using=alias)
        sql, params = compiler.as_sql()
        self.sql = sql
        self.params = list(params)
        self.slots = slots_of(self.params, stand_ins, f"{queryset.model.__name__}'s query")
        self.compiler = compiler
        klass_info = compiler.klass_info
        if klass_info is None:
            raise RuntimeError("Precompiled takes querysets of model instances")
        self.model = klass_info["model"]
        select = compiler.select
        fields = klass_info["select_fields"]
        self.start, self.end = fields[0], fields[-1] + 1
        self.init_list = [column[0].target.attname for column in select[self.start : self.end]]
        self.related = get_related_populators(klass_info, select, alias)
        self.annotations = dict(compiler.annotation_col_map or {})
        self.alias = alias
        # What `results_iter` would work out again at every call: which columns the database's
        # converters change (a datetime made aware, a UUID from SQLite's text), asked once.
        columns = [column[0] for column in select[: compiler.col_count]]
        if compiler.has_composite_fields(columns):
            raise RuntimeError("Precompiled takes no composite primary keys")
        self.converters = compiler.get_converters(columns)

    def run(self, values: tuple[Any, ...]) -> list[Any]:
        with connections[self.alias].cursor() as cursor:
            cursor.execute(self.sql, put(self.params, self.slots, values))
            rows = cursor.fetchall()
        found = []
        converted = (
            self.compiler.apply_converters(rows, self.converters) if self.converters else rows
        )
        for row in converted:
            obj = self.model.from_db(self.alias, self.init_list, row[self.start : self.end])
            for populator in self.related:
                populator.populate(row, obj)
            for name, column in self.annotations.items():
                setattr(obj, name, row[column])
            found.append(obj)
        return found


def _form(value: Any, stand_in: str) -> Callable[[Any], Any] | None:
    """How a real value takes the stand-in's place, if `value` is that stand-in."""
    if value == stand_in:
        return str
    if isinstance(value, uuid.UUID) and str(value) == stand_in:
        return lambda real: uuid.UUID(str(real))
    if value == uuid.UUID(stand_in).hex:
        return lambda real: uuid.UUID(str(real)).hex
    return None


class Precompiled(Generic[M]):
    """`build(*values)` → a queryset of `M`, compiled once; `run(*values)` → its instances.

    Each value is a string (or what `str()` makes one of: a UUID) compared for equality."""

    def __init__(self, build: Callable[..., QuerySet[M]], arity: int) -> None:
        self._build = build
        self._arity = arity
        self._local = threading.local()

    def _compiled(self, alias: str) -> _Compiled:
        cache: dict[str, _Compiled] = self._local.__dict__.setdefault("cache", {})
        compiled = cache.get(alias)
        if compiled is None:
            values = stand_ins(self._arity)
            compiled = cache[alias] = _Compiled(self._build(*values), values, alias)
        return compiled

    def run(self, *values: Any, using: str = "default") -> list[M]:
        if len(values) != self._arity:
            raise TypeError(f"{self._arity} values expected, {len(values)} given")
        return self._compiled(using).run(values)
