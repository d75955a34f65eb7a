"""A search on the hot path: `GET /fhir/Patient?identifier=…` (or any of the type's search
parameters, `_count`, `_total`) answered as `views.search_bundle` answers it, on an async
connection.

Statements: the token; the page's rows (the parameters' conditions, built by `search.apply_params`
as Django's path builds them, within the reader's scope, which Django's path compiled and this
process remembers: `lean.compiled_scope`); their latest stored versions; the count of every
match when the page does not hold them all (and `_total` is wanted); the audit record with its
links to the patients shown, in one statement. The parameters' conditions are compiled in the
event loop (pure ORM, no database: the connection wrapper used for compiling was opened once in a
thread, its features read there).

`search()` answers None — Django's path then answers — for anything the hot path does not do: a
control parameter other than `_count` and `_total` (`_sort`, `_cursor`, `_include`, `_summary`,
`_format`, …), a parameter the search refuses (its 400 comes from Django's path), a row without a
current servable version (Django's path renders it), a reader whose scope is not remembered."""

from __future__ import annotations

import functools
import json
import secrets
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import TextField
from django.db.models.functions import Cast
from django.http import HttpRequest
from django.utils import timezone
from psycopg import AsyncConnection

from farcare.audit.models import AuditAction
from farcare.audit.services import Audited

from .. import lean
from .. import search as searching
from ..registry import Handler
from ..scopes import allows
from ..views import _audited, _params, _url
from .generation import GENERATION
from .reads import TokenRow, actor_of, reader, scopes_of
from .search_sql import Shapes, Statement, texts_of
from .statements import Statements

# The control parameters the hot path answers itself; with any other Django's path answers.
_CONTROLS = frozenset({"_count", "_total"})
_STAND_IN = f"hot-entry-{secrets.token_hex(12)}"
_SHAPES = Shapes()


@dataclass(frozen=True)
class Page:
    body: bytes


async def search(
    connection: AsyncConnection,
    statements: Statements,
    handler: Handler,
    request: HttpRequest,
    raw_token: str,
) -> Page | None:
    if not handler.hot_search_scope or len(handler.parts) > 1 or "__" in handler.default_sort:
        return None
    params = _params(request.GET)
    if any(key in searching.CONTROL and key not in _CONTROLS for key, _value in params):
        return None
    token = await reader(connection, statements, raw_token)
    if token is None or not allows(scopes_of(token.scopes), handler.resource_type, "search"):
        return None
    if token.facility_id is not None and token.country != settings.FARCARE_HOME_COUNTRY:
        return None  # abroad: nobody to find, and Django's path says so
    scope = await _scope(token)
    if scope is None:
        return None
    try:
        count = searching.count_of(params)
        conditions = searching.conditions(handler, params)
    except Exception:  # a refused parameter: its OperationOutcome comes from Django's path
        return None
    base = request.build_absolute_uri("/fhir").rstrip("/")  # DisallowedHost: Django's path
    wrapper = statements.wrapper
    compiled = _SHAPES.statements(handler, conditions, scope, count, wrapper)
    texts = texts_of(conditions)
    escape = wrapper.ops.prep_for_like_query
    now = timezone.now()
    rows = await _run(connection, compiled.page, texts, escape, statements, now)
    more = len(rows) > count
    rows = rows[:count]
    ids = [str(row[0]) for row in rows]
    versions = await _versions(connection, handler, ids, wrapper) if ids else {}
    if any(not _servable(versions.get(logical_id)) for logical_id in ids):
        return None  # a row to render: Django's path renders and stores it
    wants_total = dict(params).get("_total") != "none"
    total: int | None
    if not wants_total:
        total = None
    elif not more:
        total = len(rows)
    else:
        counted = await _run(connection, compiled.count, texts, escape, statements, now)
        total = int(counted[0][0]) if counted else 0
    patients = [str(versions[logical_id][2]) for logical_id in ids]
    await _audit(connection, statements, token, handler, params, patients, request)
    links = [{"relation": "self", "url": _url(base, handler.resource_type, params)}]
    if more and rows:
        last = rows[-1]
        following = [
            *[(k, v) for k, v in params if k != "_cursor"],
            ("_cursor", searching.encode_cursor([last[2], last[1]])),
        ]
        links.append({"relation": "next", "url": _url(base, handler.resource_type, following)})
    return Page(_bundle(handler, base, total, links, ids, versions))


async def _run(
    connection: AsyncConnection,
    statement: Statement,
    texts: list[str],
    escape: Any,
    statements: Statements,
    now: Any,
) -> list[Any]:
    """Run one of a search's compiled statements with this search's texts and moment; a
    statement whose texts are LIKE patterns is planned for them each time (never prepared)."""
    async with connection.cursor() as cursor:
        await cursor.execute(
            statement.sql,
            statement.params(texts, escape, statements.adapt_datetime, now),
            prepare=False if statement.patterned else None,
        )
        return await cursor.fetchall()


async def _scope(token: TokenRow) -> tuple[str, tuple[Any, ...]] | None:
    generation = await GENERATION.current()
    if generation is None:
        return None
    return lean.compiled_scope(
        "default",
        lean.Reader(token.user_id, token.role, token.facility_id, token.region, token.country),
        generation,
    )


def _sql(queryset: Any, wrapper: BaseDatabaseWrapper) -> tuple[str, list[Any]]:
    sql, params = queryset.query.get_compiler(connection=wrapper).as_sql()
    return sql, list(params)


async def _versions(
    connection: AsyncConnection, handler: Handler, ids: list[str], wrapper: BaseDatabaseWrapper
) -> dict[str, tuple[Any, ...]]:
    """logical id → (version_id, deleted, patient_uuid, stale, content as stored JSON text),
    by lean.py's query for a page."""
    sql, template = _versions_query(handler.resource_type, len(ids), wrapper)
    given = dict(zip(_id_stand_ins(len(ids)), ids, strict=True))
    async with connection.cursor() as cursor:
        await cursor.execute(sql, [given.get(value, value) for value in template])
        return {row[0]: row[1:] for row in await cursor.fetchall()}


def _id_stand_ins(size: int) -> list[str]:
    return [f"{_STAND_IN}-id-{index}" for index in range(size)]


@functools.lru_cache(maxsize=256)
def _versions_query(
    resource_type: str, size: int, wrapper: BaseDatabaseWrapper
) -> tuple[str, tuple[Any, ...]]:
    """lean.py's query for a page of `size` rows, compiled once per size with stand-ins for the
    ids (compiling it cost more than the rest of a search)."""
    latest = (
        lean.latest_of(resource_type, _id_stand_ins(size))
        .annotate(stored=Cast("content", output_field=TextField()))
        .values_list("logical_id", "version_id", "deleted", "patient_uuid", "lean_stale", "stored")
    )
    sql, params = _sql(latest, wrapper)
    if sorted(value for value in params if str(value).startswith(_STAND_IN)) != sorted(
        _id_stand_ins(size)
    ):
        raise RuntimeError("The versions query does not take its ids as parameters.")
    return sql, tuple(params)


def _servable(version: tuple[Any, ...] | None) -> bool:
    """`lean.servable` on the columns fetched (nothing of this request is pending: it wrote
    nothing)."""
    if version is None:
        return False
    _version_id, deleted, patient_uuid, stale, _content = version
    return not deleted and not stale and patient_uuid is not None


async def _audit(
    connection: AsyncConnection,
    statements: Statements,
    token: TokenRow,
    handler: Handler,
    params: list[tuple[str, str]],
    patients: list[str],
    request: HttpRequest,
) -> None:
    """The record `search_bundle` appends: a search, what was asked, every patient shown
    linked — the record and its links in one statement (they stand or fall together)."""
    event, shown = Audited(
        accessor=actor_of(token, request.META.get("REMOTE_ADDR") or None),
        action=AuditAction.SEARCH,
        details={"fhir": handler.resource_type, "params": _audited(params)},
        patients=tuple(patients),
    ).event()
    sql, values = statements.audit_with_links(event, shown)
    async with connection.cursor() as cursor:
        await cursor.execute(sql, values)


def _bundle(
    handler: Handler,
    base: str,
    total: int | None,
    links: list[dict[str, str]],
    ids: list[str],
    versions: dict[str, tuple[Any, ...]],
) -> bytes:
    """The searchset as `fhir_response(search_bundle(…))` writes it, byte for byte: the same
    dict through the same `json.dumps`, each entry's resource the stored JSON text (PostgreSQL
    writes jsonb as Python's json.dumps does, as the reads' test shows)."""
    bundle: dict[str, Any] = {"resourceType": "Bundle", "type": "searchset"}
    if total is not None:
        bundle["total"] = total
    bundle["link"] = links
    bundle["entry"] = [
        {
            "fullUrl": f"{base}/{handler.resource_type}/{logical_id}",
            "resource": f"{_STAND_IN}-{index}",
            "search": {"mode": "match"},
        }
        for index, logical_id in enumerate(ids)
    ]
    text = json.dumps(bundle, ensure_ascii=False, default=str)
    for index, logical_id in enumerate(ids):
        text = text.replace(f'"{_STAND_IN}-{index}"', versions[logical_id][4], 1)
    return text.encode()
