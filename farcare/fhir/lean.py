"""The lean path: a read or a search page served from the stored current versions
(versioning.py) instead of rendering every resource again.

A read asks one query: the latest stored version of the resource, with the access policy's
answer for its patient beside it (`visible_patients`, and whether a break-glass grant is what
opens the record) and whether a change of something renderings read beyond their own rows came
after its last confirmation (the render epoch). When everything is ordinary — a version exists,
not deleted, the patient in the user's normal scope, not stale — the read is audited exactly as
the full path audits it and the stored content is served. Anything else (no version yet, a
refusal, break-glass, a user abroad, a deletion, a stale version, a type whose scope is narrower
than its patient's) returns None, and the caller takes the full path, which writes the audited
refusal, answers 403/404/410, or renders and stores a fresh version.

A search page fetches the latest versions of all its rows in one query; a row without a current
version (data written before versioning, or a stale one) is rendered and stored then."""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from django.conf import settings
from django.core.exceptions import EmptyResultSet
from django.db import connections, router
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from farcare.access.models import BreakGlassGrant
from farcare.access.policy import BREAK_GLASS_ROLES, is_abroad, visible_patients
from farcare.audit.models import AuditAction, Purpose
from farcare.audit.services import audit_record
from farcare.network.selectors import graph_generation

from .auth import Principal
from .models import ResourceVersion
from .registry import Handler
from .versioning import latest_of, pending, stale_condition


def read(principal: Principal, handler: Handler, logical_id: str) -> ResourceVersion | None:
    """The stored current version of `Type/logical_id`, audited as a read, or None when the
    full path must answer."""
    if not handler.lean_read:
        return None
    user = principal.user
    if not user.is_active or is_abroad(user):
        return None
    if any(key[0] == handler.resource_type for key in pending()):
        return None  # changed in this transaction, versioned only at its commit
    version = _latest_with_access(user, handler, logical_id)
    if (
        version is None
        or version.deleted
        or version.patient_uuid is None
        # The query's annotations (raw SQL columns, unknown to the model's type).
        or not getattr(version, "lean_in_scope")  # noqa: B009
        or getattr(version, "lean_glass")  # noqa: B009
        or getattr(version, "lean_stale")  # noqa: B009
    ):
        return None
    # The record the full path writes (access.services.authorise): a view of this patient's
    # record, for the normal purpose.
    audit_record(
        accessor=principal.accessor,
        action=AuditAction.VIEW,
        patient_uuid=version.patient_uuid,
        record=_Recorded.of(handler.model.__name__, logical_id),
        purpose=Purpose.NORMAL,
    )
    return version


def recorded(model_name: str, identifier: str) -> Any:
    """The record the audit trail names for `model_name` `identifier`, without loading it."""
    return _Recorded.of(model_name, identifier)


class _Recorded:
    """What the audit trail names of a record (its class's name and its `uuid`) when the record
    itself was not loaded."""

    uuid: str
    _kinds: dict[str, type[_Recorded]] = {}

    @classmethod
    def of(cls, model_name: str, identifier: str) -> _Recorded:
        kind = cls._kinds.get(model_name)
        if kind is None:
            kind = cls._kinds[model_name] = type(model_name, (cls,), {})
        record = kind()
        record.uuid = identifier
        return record


def _read_queryset(
    user: Any, handler: Handler, logical_id: str, now: datetime
) -> QuerySet[ResourceVersion]:
    patient = OuterRef("patient_uuid")
    return (
        ResourceVersion.objects.filter(resource_type=handler.resource_type, logical_id=logical_id)
        .annotate(
            lean_in_scope=Exists(visible_patients(user, now=now).filter(uuid=patient)),
            # Reached through a grant: the full path audits it as emergency access.
            lean_glass=Exists(
                BreakGlassGrant.objects.filter(user=user, patient__uuid=patient, expires_at__gt=now)
            ),
            lean_stale=stale_condition(),
        )
        .order_by("-version_id")[:1]
    )


# Building and compiling that query (the policy's scope as subqueries) costs more of a read's
# time than running it. Its SQL depends only on who asks and on the referral graph, so it is
# compiled once per reader and graph generation with stand-ins for the resource's id and the
# moment, which are put in its parameters at each read. Everything the scope's SQL is built
# from is in the key: the user's role and facility, the facility's region and country, the
# graph's generation; an entry also ages out after COMPILED_SECONDS as a backstop.
COMPILED_SECONDS = 60.0
COMPILED_MAX = 2048
_ID_STAND_IN = f"lean-{secrets.token_hex(16)}"
_NOW_STAND_IN = datetime(2001, 2, 3, 4, 5, 6, 789012, tzinfo=UTC)
_compiled: OrderedDict[tuple[Any, ...], tuple[float, str, tuple[Any, ...]]] = OrderedDict()
_compiling = threading.Lock()


def _latest_with_access(user: Any, handler: Handler, logical_id: str) -> ResourceVersion | None:
    now = timezone.now()
    generation = graph_generation()
    if generation is None:  # this transaction changes the graph: nothing kept from it
        return _read_queryset(user, handler, logical_id, now).first()
    db = router.db_for_read(ResourceVersion)
    key = compiled_key(db, handler.resource_type, Reader.of(user), generation)
    compiled = _compiled_read(key, user, handler, db)
    if compiled is None:
        return _read_queryset(user, handler, logical_id, now).first()
    sql, template = compiled
    params = bound(template, connections[db].ops.adapt_datetimefield_value, logical_id, now)
    for version in ResourceVersion.objects.db_manager(db).raw(sql, params):
        return version
    return None


@dataclass(frozen=True)
class Reader:
    """What the policy's scope is built from, of the user who reads (the compiled query's key)."""

    user_id: int
    role: str
    facility_id: int | None
    region: str | None
    country: str | None

    @classmethod
    def of(cls, user: Any) -> Reader:
        facility = user.facility if user.facility_id else None
        return cls(
            user.pk,
            user.role,
            user.facility_id,
            facility.region if facility else None,
            facility.country if facility else None,
        )


def compiled_key(db: str, resource_type: str, reader: Reader, generation: str) -> tuple[Any, ...]:
    return (db, resource_type, *astuple(reader), generation)


def compiled_read(key: tuple[Any, ...]) -> tuple[str, tuple[Any, ...]] | None:
    """The read query already compiled for `key` and not aged out, without compiling it (the
    event loop's hot path, which cannot run the ORM: on a miss it lets Django's path compile)."""
    with _compiling:
        hit = _compiled.get(key)
    if hit is None or time.monotonic() - hit[0] >= COMPILED_SECONDS:
        return None
    return hit[1], hit[2]


def bound(
    template: tuple[Any, ...], adapt: Callable[[datetime], Any], logical_id: str, now: datetime
) -> list[Any]:
    """A compiled read's parameters with the resource's id and the moment put in; `adapt`: the
    database's `ops.adapt_datetimefield_value`."""
    stand_in_now = adapt(_NOW_STAND_IN)
    moment = adapt(now)
    return [
        logical_id if value == _ID_STAND_IN else moment if value == stand_in_now else value
        for value in template
    ]


def _compiled_read(
    key: tuple[Any, ...], user: Any, handler: Handler, db: str
) -> tuple[str, tuple[Any, ...]] | None:
    clock = time.monotonic()
    with _compiling:
        hit = _compiled.get(key)
        if hit is not None and clock - hit[0] < COMPILED_SECONDS:
            _compiled.move_to_end(key)
            return hit[1], hit[2]
    queryset = _read_queryset(user, handler, _ID_STAND_IN, _NOW_STAND_IN)
    sql, params = queryset.query.get_compiler(using=db).as_sql()
    stand_in_now = connections[db].ops.adapt_datetimefield_value(_NOW_STAND_IN)
    # The stand-ins must come out as whole parameters (not folded into the SQL or a pattern),
    # the id exactly once; else this reader's reads are built each time, as before.
    if list(params).count(_ID_STAND_IN) != 1 or stand_in_now not in params:
        return None
    with _compiling:
        _compiled[key] = (clock, sql, tuple(params))
        _compiled.move_to_end(key)
        while len(_compiled) > COMPILED_MAX:
            _compiled.popitem(last=False)
    return sql, tuple(params)


# The policy's scope (`visible_patients`) of a reader, compiled the same way for the hot path's
# searches (fhir/hot/searches.py), which put it under their own conditions: Django's search
# path remembers it for each reader it serves (`remember_scope`), the hot path only looks it up.
_SCOPE = "visible_patients"


def remember_scope(user: Any) -> None:
    """Compile `user`'s scope for the hot path's searches, unless it is compiled and fresh."""
    db = router.db_for_read(ResourceVersion)
    if not settings.FARCARE_FHIR_HOT_READS or connections[db].vendor != "postgresql":
        return  # no hot path to serve
    generation = graph_generation()
    if generation is None or not user.is_active or is_abroad(user):
        return
    key = compiled_key(db, _SCOPE, Reader.of(user), generation)
    if compiled_read(key) is not None:
        return
    try:
        # Unordered: an ORDER BY (the model's default) in an IN subquery makes PostgreSQL sort
        # every patient of the scope at each search.
        scope = visible_patients(user, now=_NOW_STAND_IN).order_by().values("pk")
        sql, params = scope.query.get_compiler(using=db).as_sql()
    except EmptyResultSet:
        return  # nobody to find: Django's path answers that reader
    # Break-glass grants live at the moment: its stand-in must come out as a whole parameter
    # (else this reader's searches go through Django's path).
    if user.role in BREAK_GLASS_ROLES and (
        connections[db].ops.adapt_datetimefield_value(_NOW_STAND_IN) not in params
    ):
        return
    with _compiling:
        _compiled[key] = (time.monotonic(), sql, tuple(params))
        _compiled.move_to_end(key)
        while len(_compiled) > COMPILED_MAX:
            _compiled.popitem(last=False)


def compiled_scope(db: str, reader: Reader, generation: str) -> tuple[str, tuple[Any, ...]] | None:
    """A reader's compiled scope (the SQL of the patients' ids and its parameters, the moment's
    stand-in to be put in with `bound`), if Django's path compiled it and it is fresh."""
    return compiled_read(compiled_key(db, _SCOPE, reader, generation))


def forget_compiled_reads() -> None:
    with _compiling:
        _compiled.clear()


def page_versions(handler: Handler, rows: list[Any]) -> dict[tuple[str, str], ResourceVersion]:
    """The latest stored version of each row of a search page, in one query per resource type
    on the page, by (type, logical id). Each carries `lean_stale`."""
    by_type: dict[str, list[str]] = {}
    for row in rows:
        by_type.setdefault(handler.concrete(row).resource_type, []).append(handler.logical_id(row))
    return {
        (version.resource_type, version.logical_id): version
        for resource_type, ids in by_type.items()
        for version in latest_of(resource_type, ids)
    }


def servable(
    handler: Handler, obj: Any, version: ResourceVersion | None, waiting: set[Any]
) -> bool:
    """Whether a search may show `version` of `obj` as it is stored (else the row is rendered);
    `waiting`: versioning.pending() of the request."""
    return (
        version is not None
        and handler.lean_read
        and (handler.resource_type, type(obj).__name__, obj.pk) not in waiting
        and not version.deleted
        and not version.lean_stale  # type: ignore[attr-defined]
    )
