"""A read on the hot path: the same decisions as `lean.read`, on an async connection.

Three statements: the token (with its user, facility and client), the latest stored version
with the access policy's answer beside it (lean.py's query, compiled by Django's path for this
reader and graph generation), the audit record. `read()` answers None whenever the lean read
would not serve the stored version, or when this process does not hold what the hot path may
not build itself (the reader's compiled query, a fresh graph generation): Django's path then
answers, and compiles and remembers what the next read needs."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.utils import timezone
from psycopg import AsyncConnection

from farcare.accounts.models import User
from farcare.audit.models import AuditAction, Purpose
from farcare.audit.services import Accessor, Audited
from farcare.core.bearer import token_digest

from .. import lean
from ..registry import Handler
from ..scopes import allows, parse_scopes
from .generation import GENERATION
from .statements import Statements, TokenRow

# The version query's columns this path reads, by name from lean's compiled query.
_VERSION_COLUMNS = (
    '"version_id", "last_updated", "deleted", "patient_uuid", '
    '"lean_in_scope", "lean_glass", "lean_stale", "content"::text'
)


@dataclass(frozen=True)
class Served:
    """What the answer is made of: the stored JSON as PostgreSQL keeps it, its version."""

    content: str
    version_id: int
    last_updated: datetime


@functools.lru_cache(maxsize=256)
def scopes_of(text: str) -> Any:
    return parse_scopes(text)


def actor_of(token: TokenRow, ip_address: str | None) -> Accessor:
    """Who the audit trail names: the token's user (the fields it keeps of them), through FHIR."""
    user = User(pk=token.user_id, uuid=token.user_uuid, username=token.username, role=token.role)
    return Accessor(user, ip_address, "fhir")


async def reader(
    connection: AsyncConnection, statements: Statements, raw_token: str
) -> TokenRow | None:
    """The token's row when it is live, not revoked, its account and client enabled."""
    async with connection.cursor() as cursor:
        await cursor.execute(statements.token.sql, statements.token.params(token_digest(raw_token)))
        row = await cursor.fetchone()
    if row is None:
        return None
    token = TokenRow(*row)
    if token.expires_at <= timezone.now() or not token.user_active:
        return None
    if token.client_id is not None and not token.client_active:
        return None
    return token


async def read(
    connection: AsyncConnection,
    statements: Statements,
    handler: Handler,
    logical_id: str,
    raw_token: str,
    ip_address: str | None,
) -> Served | None:
    if not handler.lean_read:
        return None
    token = await reader(connection, statements, raw_token)
    if token is None or not allows(scopes_of(token.scopes), handler.resource_type, "read"):
        return None
    if token.facility_id is not None and token.country != settings.FARCARE_HOME_COUNTRY:
        return None  # abroad: the pseudonymised path
    generation = await GENERATION.current()
    if generation is None:
        return None
    key = lean.compiled_key(
        "default",
        handler.resource_type,
        lean.Reader(token.user_id, token.role, token.facility_id, token.region, token.country),
        generation,
    )
    compiled = lean.compiled_read(key)
    if compiled is None:
        return None
    sql, template = compiled
    now = timezone.now()
    async with connection.cursor() as cursor:
        await cursor.execute(
            f"SELECT {_VERSION_COLUMNS} FROM ({sql}) AS lean",  # noqa: S608 (our compiled SQL)
            lean.bound(template, statements.adapt_datetime, logical_id, now),
        )
        row = await cursor.fetchone()
    if row is None:
        return None
    version_id, last_updated, deleted, patient_uuid, in_scope, glass, stale, content = row
    if deleted or patient_uuid is None or not in_scope or glass or stale:
        return None
    await _audit(connection, statements, token, handler, logical_id, patient_uuid, ip_address)
    return Served(content, version_id, last_updated.astimezone(UTC))


async def _audit(
    connection: AsyncConnection,
    statements: Statements,
    token: TokenRow,
    handler: Handler,
    logical_id: str,
    patient_uuid: Any,
    ip_address: str | None,
) -> None:
    """The record `lean.read` appends: a view of this patient's record, for the normal purpose,
    by the token's user through the FHIR channel."""
    event, _shown = Audited(
        accessor=actor_of(token, ip_address),
        action=AuditAction.VIEW,
        patient_uuid=patient_uuid,
        record=lean.recorded(handler.model.__name__, logical_id),
        purpose=Purpose.NORMAL,
    ).event()
    async with connection.cursor() as cursor:
        await cursor.execute(statements.audit.sql, statements.audit.params(event))
