"""The hot path's statements, compiled once from the ORM (so a renamed column or table changes
them too) in a thread at the worker's first hot request, then run with their parameters put in:

- the bearer token with what the read needs of its user, facility and client;
- the audit record's INSERT, with the parameters Django's save would send for the same row.

The version read with its access decision is lean.py's own compiled query."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model
from django.db.models.fields import Field
from django.db.models.sql import InsertQuery
from django.db.models.sql.compiler import SQLInsertCompiler

from farcare.audit.models import AuditEvent, AuditEventPatient
from farcare.core.db.precompiled import put, slots_of, stand_ins

from ..models import AccessToken

TOKEN_COLUMNS = (
    "expires_at",
    "scopes",
    "user_id",
    "user__uuid",
    "user__username",
    "user__role",
    "user__is_active",
    "user__facility_id",
    "user__facility__region",
    "user__facility__country",
    "client_id",
    "client__active",
)


@dataclass(frozen=True)
class TokenRow:
    """One row of the token statement, by TOKEN_COLUMNS."""

    expires_at: datetime
    scopes: str
    user_id: int
    user_uuid: Any
    username: str
    role: str
    user_active: bool
    facility_id: int | None
    region: str | None
    country: str | None
    client_id: int | None
    client_active: bool | None


class TokenStatement:
    def __init__(self, wrapper: BaseDatabaseWrapper) -> None:
        digest = stand_ins(1)
        queryset = AccessToken.objects.filter(token_hash=digest[0], revoked=False)
        query = queryset.values_list(*TOKEN_COLUMNS)[:1].query
        sql, params = query.get_compiler(connection=wrapper).as_sql()
        self.sql = sql
        self._params = list(params)
        self._slots = slots_of(self._params, digest, "the token statement")

    def params(self, digest: str) -> list[Any]:
        return put(self._params, self._slots, (digest,))


class InsertStatement:
    """The INSERT of one row of `model` as `Model.save(force_insert=True)` sends it (the
    automatic primary key left to the database), compiled once."""

    def __init__(self, model: type[Model], wrapper: BaseDatabaseWrapper) -> None:
        meta = model._meta
        self.fields: list[Field[Any, Any]] = [
            field
            for field in meta.local_concrete_fields
            if field is not meta.auto_field and not field.generated
        ]
        self._compiler = self._compile(model, wrapper, model())
        [(self.sql, _params)] = self._compiler.as_sql()

    def _compile(self, model: type[Model], wrapper: BaseDatabaseWrapper, obj: Model) -> Any:
        query = InsertQuery(model)
        query.insert_values(self.fields, [obj])
        compiler: SQLInsertCompiler = query.get_compiler(connection=wrapper)
        return compiler

    def params(self, obj: Model) -> list[Any]:
        compiler = self._compiler
        return [
            compiler.prepare_value(field, compiler.pre_save_val(field, obj))
            for field in self.fields
        ]


@dataclass(frozen=True)
class Statements:
    token: TokenStatement
    audit: InsertStatement
    # The database's ops.adapt_datetimefield_value.
    adapt_datetime: Any
    # A connection wrapper of this process's own, for compiling queries in the event loop: its
    # server version read once (the compiler asks the features), then closed for good.
    wrapper: BaseDatabaseWrapper

    def audit_with_links(self, event: Model, shown: list[str]) -> tuple[str, list[Any]]:
        """The audit record's INSERT and, when it showed patients, its links in the same
        statement (`audit_record` writes both in one transaction)."""
        params = self.audit.params(event)
        if not shown:
            return self.audit.sql, params
        quote = self.wrapper.ops.quote_name
        link_table = quote(AuditEventPatient._meta.db_table)
        event_column = quote(AuditEventPatient._meta.get_field("event").get_attname_column()[1])
        patient_column = quote(
            AuditEventPatient._meta.get_field("patient_uuid").get_attname_column()[1]
        )
        event_id = quote(AuditEvent._meta.get_field("id").get_attname_column()[1])
        sql = (
            f"WITH appended AS ({self.audit.sql} RETURNING {event_id}) "  # noqa: S608 (compiled)
            f"INSERT INTO {link_table} ({event_column}, {patient_column}) "
            f"SELECT appended.{event_id}, shown.patient FROM appended, "
            "unnest(%s::uuid[]) AS shown(patient)"
        )
        return sql, [*params, [uuid.UUID(value) for value in shown]]


def compile_statements(alias: str = "default") -> Statements:
    """Run in a thread: the wrapper connects once there, for the server's version."""
    wrapper = connections.create_connection(alias)
    try:
        wrapper.ensure_connection()
        _ = wrapper.pg_version  # type: ignore[attr-defined]  # kept: the features read it
        statements = Statements(
            token=TokenStatement(wrapper),
            audit=InsertStatement(AuditEvent, wrapper),
            adapt_datetime=wrapper.ops.adapt_datetimefield_value,
            wrapper=wrapper,
        )
    finally:
        wrapper.close()
    return statements
