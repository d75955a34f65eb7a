"""New rows of one model in one INSERT whose SQL is built once, for the writes every request
makes (a registration, its audit record, its stored version).

`QuerySet.bulk_create` compiles its INSERT anew at every call: for a row of twenty columns that
costs Django about as much Python as the round trip then takes. `insert_rows` builds the
statement once per model, database and number of rows, and at each call only turns each field's
value into its database form, as the compiler would (`pre_save`, then `get_db_prep_save`). The
primary keys come back as bulk_create returns them, and the objects are left as it leaves them
(saved, of that database).

It takes what bulk_create takes without a thought: new objects of a concrete model with an
automatic primary key, every value plain. Anything else — an expression as a value, a field with
a database default, more rows than one statement may carry, a database that cannot return the
new keys — is handed to bulk_create itself, so the answer is always bulk_create's."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any, TypeVar

from django.db import connections, router
from django.db.models import AutoField, Model
from django.db.models.fields import Field
from django.db.models.signals import post_save

M = TypeVar("M", bound=Model)

_local = threading.local()


def insert_rows(objs: Sequence[M], *, using: str | None = None, announce: bool = False) -> list[M]:
    """`type(objs[0]).objects.bulk_create(objs)`, with the INSERT built once. `announce`: each
    object's post_save is then sent as its own `save()` would have sent it (created), for the
    receivers that must hear of every new row (a FHIR resource's version on commit)."""
    if not objs:
        return []
    made = _inserted(objs, using)
    if announce:
        for obj in made:
            post_save.send(
                sender=type(obj),
                instance=obj,
                created=True,
                update_fields=None,
                raw=False,
                using=obj._state.db,
            )
    return made


def _inserted(objs: Sequence[M], using: str | None) -> list[M]:
    model = type(objs[0])
    alias = using or router.db_for_write(model)
    shape = _shape(model, alias)
    if shape is None or not _plain(objs, model, shape.fields):
        return model._default_manager.using(alias).bulk_create(list(objs))
    connection = connections[alias]
    if len(objs) > connection.ops.bulk_batch_size(shape.fields, objs):
        return model._default_manager.using(alias).bulk_create(list(objs))
    for obj in objs:
        obj._prepare_related_fields_for_save(operation_name="bulk_create")  # type: ignore[attr-defined]
    params = [
        field.get_db_prep_save(field.pre_save(obj, True), connection)
        for obj in objs
        for field in shape.fields
    ]
    with connection.cursor() as cursor:
        cursor.execute(shape.sql(len(objs)), params)
        returned = cursor.fetchall()
    if len(returned) != len(objs):
        raise RuntimeError(f"{model.__name__}: {len(objs)} rows inserted, {len(returned)} returned")
    converters = shape.pk.get_db_converters(connection)
    for obj, (pk,) in zip(objs, returned, strict=True):
        for converter in converters:
            pk = converter(pk, shape.pk, connection)
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = alias
    return list(objs)


class _Shape:
    """A model's INSERT on one database: its columns, and the statement for n rows."""

    def __init__(self, model: type[Model], alias: str, fields: list[Field[Any, Any]]) -> None:
        connection = connections[alias]
        quote = connection.ops.quote_name
        self.fields = fields
        self.pk: Any = model._meta.pk
        columns = ", ".join(quote(field.column) for field in fields)
        table = quote(model._meta.db_table)
        self._head = f"INSERT INTO {table} ({columns}) VALUES "  # noqa: S608 - names of the model
        self._row = "(" + ", ".join(["%s"] * len(fields)) + ")"
        self._tail = f" RETURNING {table}.{quote(self.pk.column)}"
        self._sql: dict[int, str] = {}

    def sql(self, rows: int) -> str:
        sql = self._sql.get(rows)
        if sql is None:
            sql = self._sql[rows] = self._head + ", ".join([self._row] * rows) + self._tail
        return sql


def _shape(model: type[Model], alias: str) -> _Shape | None:
    shapes: dict[tuple[type[Model], str], _Shape | None] = _local.__dict__.setdefault("shapes", {})
    key = (model, alias)
    if key not in shapes:
        shapes[key] = _shape_of(model, alias)
    return shapes[key]


def _shape_of(model: type[Model], alias: str) -> _Shape | None:
    """None when bulk_create must do it (see the module's note)."""
    meta = model._meta
    connection = connections[alias]
    if meta.proxy or meta.parents or not isinstance(meta.pk, AutoField):
        return None
    if not connection.features.can_return_rows_from_bulk_insert:
        return None
    fields = [field for field in meta.concrete_fields if field is not meta.pk]
    if any(field.generated or field.has_db_default() for field in fields):  # type: ignore[attr-defined]
        return None
    return _Shape(model, alias, fields)


def _plain(objs: Sequence[Model], model: type[Model], fields: list[Field[Any, Any]]) -> bool:
    """New objects of exactly that model, no primary key set, no expression among the values."""
    for obj in objs:
        if type(obj) is not model or obj.pk is not None or not obj._state.adding:
            return False
        for field in fields:
            if hasattr(getattr(obj, field.attname), "resolve_expression"):
                return False
    return True
