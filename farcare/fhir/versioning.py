"""Versions of resources. A resource's content is derived from the domain; whenever it differs
from the last stored version, a new version is written (on commit of every save of the domain
object, and whenever a read renders it), so vread, _history and ETags always describe what was
served, and a read of a type that allows it serves the stored version as it is (lean.py).

What a rendering reads beyond its own rows and beyond `versioned_objects` (a facility's name in
a Patient) is declared by the handler (`render_depends_on`); a change of such a row moves the
render epoch (`RenderEpoch`), and every stored version confirmed before it is rendered once more
before it is served again (confirmed when unchanged, else a new version)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Exists, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.db.models.signals import post_delete, post_save
from django.utils import timezone

from farcare.core.db.inserts import insert_rows
from farcare.core.transactions import on_commit_once

from .models import RenderEpoch, ResourceVersion

logger = logging.getLogger(__name__)


def _comparable(content: dict[str, Any]) -> str:
    body = {key: value for key, value in content.items() if key != "meta"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


def latest(resource_type: str, logical_id: str) -> ResourceVersion | None:
    return (
        ResourceVersion.objects.filter(resource_type=resource_type, logical_id=logical_id)
        .order_by("-version_id")
        .first()
    )


def latest_of(resource_type: str, logical_ids: list[str]) -> QuerySet[ResourceVersion]:
    """The latest version of each of many resources of a type, in one query; each carries
    `lean_stale` (confirmed before the render epoch)."""
    # A correlated MAX per logical id: the (type, id, -version) index answers it on SQLite and
    # PostgreSQL alike, and no "current" flag has to be kept right under concurrent writers.
    newest = (
        ResourceVersion.objects.filter(
            resource_type=resource_type, logical_id=OuterRef("logical_id")
        )
        .order_by("-version_id")
        .values("version_id")[:1]
    )
    return ResourceVersion.objects.filter(
        resource_type=resource_type, logical_id__in=logical_ids, version_id=Subquery(newest)
    ).annotate(lean_stale=stale_condition())


_UNKNOWN: Any = object()


def _new_version(
    resource_type: str,
    logical_id: str,
    content: dict[str, Any],
    version_id: int,
    *,
    now: datetime,
    patient_uuid: Any,
    confirmed_at: datetime | None,
    deleted: bool = False,
) -> ResourceVersion:
    """The unsaved row of a new version: `content` with its meta's versionId and lastUpdated."""
    stored = dict(content)
    stored["meta"] = {
        **content.get("meta", {}),
        "versionId": str(version_id),
        "lastUpdated": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
    }
    return ResourceVersion(
        resource_type=resource_type,
        logical_id=logical_id,
        version_id=version_id,
        last_updated=now,
        deleted=deleted,
        content=stored,
        patient_uuid=patient_uuid,
        confirmed_at=confirmed_at,
    )


def ensure_version(
    resource_type: str,
    logical_id: str,
    content: dict[str, Any],
    *,
    patient_uuid: Any = None,
    deleted: bool = False,
    current: ResourceVersion | None = _UNKNOWN,
    rendered_at: datetime | None = None,
) -> ResourceVersion:
    """The stored version matching `content`, written as a new version if it changed.
    `current`: the latest stored version when the caller already fetched it (None: there is
    none). `rendered_at`: when the rendering of `content` began; an unchanged version is
    confirmed as of then, so that the lean read may serve it again (lean.py)."""
    for attempt in range(3):
        if attempt or current is _UNKNOWN:
            current = latest(resource_type, logical_id)
        if (
            current is not None
            and current.deleted == deleted
            and _comparable(current.content) == _comparable(content)
        ):
            _confirm(current, rendered_at)
            return current
        row = _new_version(
            resource_type,
            logical_id,
            content,
            (current.version_id + 1) if current else 1,
            now=timezone.now(),
            patient_uuid=patient_uuid,
            confirmed_at=rendered_at,
            deleted=deleted,
        )
        try:
            with transaction.atomic():
                row.save(force_insert=True)
                return row
        except IntegrityError:  # a concurrent writer took this version number: look again
            continue
    raise RuntimeError(f"could not version {resource_type}/{logical_id}")


def _confirm(version: ResourceVersion, rendered_at: datetime | None) -> None:
    """Record that a rendering begun at `rendered_at` agreed with `version`, when that is news
    to a lean read: the render epoch moved past its confirmation (one conditional UPDATE)."""
    if rendered_at is None or (version.confirmed_at or version.last_updated) >= rendered_at:
        return
    ResourceVersion.objects.filter(pk=version.pk).filter(stale_condition()).update(
        confirmed_at=rendered_at
    )
    version.confirmed_at = rendered_at


def stale_condition() -> Exists:
    """True for a version confirmed before the render epoch (a subquery on the version row)."""
    confirmed = Coalesce(OuterRef("confirmed_at"), OuterRef("last_updated"))
    return Exists(RenderEpoch.objects.filter(changed_at__gt=confirmed))


def snapshot(
    handler: Any,
    obj: Any,
    *,
    current: ResourceVersion | None = _UNKNOWN,
    content: dict[str, Any] | None = None,
    rendered_at: datetime | None = None,
) -> ResourceVersion:
    """The stored version of `obj` as it renders now. `content`: its rendering when the caller
    has just made it (begun at `rendered_at`); `current`: its latest version when fetched."""
    from .remainder import rendered

    if content is None:
        rendered_at = timezone.now()
        content = rendered(handler, obj)
    if not handler.concrete(obj).lean_read:
        rendered_at = None  # nothing serves its stored version unrendered: no confirmation
    patient = handler.patient_of(obj)
    version = ensure_version(
        handler.resource_type,
        handler.logical_id(obj),
        content,
        patient_uuid=patient.uuid if patient is not None else None,
        current=current,
        rendered_at=rendered_at,
    )
    _satisfy(handler, obj)
    return version


def snapshot_many(pairs: list[tuple[Any, Any]]) -> None:
    """`snapshot` of each (handler, object as stored now), for many at once: their remainders
    and latest versions asked once per resource type, the versions that changed written in one
    INSERT. One that fails to render is logged and left out (a read renders it again)."""
    from .remainder import rows_of, with_kept

    rendered_at = timezone.now()
    served: list[tuple[Any, Any, dict[str, Any]]] = []
    for handler, obj in pairs:
        try:
            served.append((handler, obj, handler.to_fhir(obj)))
        except Exception:  # versioning must never break the change it follows
            logger.warning("could not version %s", obj, exc_info=True)
    ids: dict[str, list[str]] = {}
    for handler, obj, _content in served:
        ids.setdefault(handler.resource_type, []).append(handler.logical_id(obj))
    kept = {(kind, i): row for kind, some in ids.items() for i, row in rows_of(kind, some).items()}
    current = {
        (version.resource_type, version.logical_id): version
        for kind, some in ids.items()
        for version in latest_of(kind, some)
    }
    now = timezone.now()
    rows: list[ResourceVersion] = []
    changed: list[tuple[Any, Any, dict[str, Any]]] = []
    for handler, obj, content in served:
        key = (handler.resource_type, handler.logical_id(obj))
        content = with_kept(content, kept.get(key))
        version = current.get(key)
        confirmed = rendered_at if handler.concrete(obj).lean_read else None
        if (
            version is not None
            and not version.deleted
            and _comparable(version.content) == _comparable(content)
        ):
            if version.lean_stale:  # type: ignore[attr-defined]
                _confirm(version, confirmed)
            continue
        patient = handler.patient_of(obj)
        rows.append(
            _new_version(
                *key,
                content,
                version.version_id + 1 if version is not None else 1,
                now=now,
                patient_uuid=patient.uuid if patient is not None else None,
                confirmed_at=confirmed,
            )
        )
        changed.append((handler, obj, content))
    if not rows:
        return
    try:
        with transaction.atomic():
            insert_rows(rows)
    except IntegrityError:  # a concurrent writer took a version number: each on its own
        for handler, obj, content in changed:
            try:
                snapshot(handler, obj, content=content, rendered_at=rendered_at)
            except Exception:
                logger.warning("could not version %s", obj, exc_info=True)


def store_versions(
    handler: Any, created: list[tuple[Any, dict[str, Any]]], *, rendered_at: datetime
) -> list[ResourceVersion]:
    """The first version of each object just created in bulk, from its rendering (begun at
    `rendered_at`): one INSERT for all. A bulk INSERT sends no post_save, so nothing was queued
    for the commit and nothing is looked up: a new resource has no version yet."""
    now = timezone.now()
    rows = []
    for obj, content in created:
        patient = handler.patient_of(obj)
        rows.append(
            _new_version(
                handler.resource_type,
                handler.logical_id(obj),
                content,
                1,
                now=now,
                patient_uuid=patient.uuid if patient is not None else None,
                # As `snapshot` confirms: only what a lean read may serve unrendered.
                confirmed_at=rendered_at if handler.concrete(obj).lean_read else None,
            )
        )
    versions = insert_rows(rows)
    if transaction.get_connection().in_atomic_block:
        queued = _queued()  # once for all: a save of these in this transaction is satisfied
        for obj, _content in created:
            callback = queued.get(_key(handler, obj))
            if callback is not None:
                callback.satisfied = True
    return versions


# --- versions written on commit of every save ------------------------------------------------


def _key(handler: Any, obj: Any) -> tuple[str, str, Any]:
    return (handler.resource_type, type(obj).__name__, obj.pk)


class _VersionOnCommit:
    """The snapshot of one resource queued for the commit of the transaction that saved it.
    The snapshots queued by one transaction share a batch: the first the commit calls takes
    all of them at once (`_snapshot_batch`); the others find themselves done."""

    __qualname__ = "versioning.on_commit"

    def __init__(self, handler: Any, obj: Any, batch: list[_VersionOnCommit]) -> None:
        self.handler = handler
        self.obj = obj
        self.farcare_version_key = _key(handler, obj)
        # Set when a snapshot was taken in the transaction after the last save (the API's
        # create and update take one before answering): nothing is left to do at commit.
        self.satisfied = False
        self.batch = batch
        batch.append(self)

    def __call__(self) -> None:
        if self.satisfied:
            return
        # A member whose savepoint was rolled back is still in the batch: taking its snapshot
        # renders what is stored now (nothing, or what another save queued too), so it is
        # harmless, and rare.
        due: dict[Any, _VersionOnCommit] = {}
        for member in self.batch:
            if not member.satisfied:
                member.satisfied = True
                due.setdefault(member.farcare_version_key, member)
        try:
            _snapshot_batch(list(due.values()))
        except Exception:  # versioning must never break the change it follows; reads re-check
            logger.warning("could not version %d resources", len(due), exc_info=True)


def _snapshot_batch(members: list[_VersionOnCommit]) -> None:
    """The objects of the queued snapshots read again (one query per part whose `refresh` is
    the plain one) and versioned together (`snapshot_many`)."""
    from .registry import Handler

    pairs: list[tuple[Any, Any]] = []
    plain: dict[tuple[int, int], tuple[Any, Any, list[Any]]] = {}
    for member in members:
        part = member.handler.concrete(member.obj)
        if type(part).refresh is not Handler.refresh:
            try:
                fresh = member.handler.refresh(member.obj)
            except Exception:
                logger.warning("could not version %s", member.obj, exc_info=True)
                continue
            if fresh is not None:
                pairs.append((member.handler, fresh))
            continue
        group = plain.setdefault((id(member.handler), id(part)), (member.handler, part, []))
        group[2].append(member.obj.pk)
    for handler, part, pks in plain.values():
        pairs += [(handler, fresh) for fresh in part.all_objects().filter(pk__in=pks)]
    snapshot_many(pairs)


def _queued() -> dict[Any, _VersionOnCommit]:
    connection = transaction.get_connection()
    return {
        callback.farcare_version_key: callback
        for _sids, callback, _robust in connection.run_on_commit
        if isinstance(callback, _VersionOnCommit)
    }


def _on_save(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    from .registry import REGISTRY, _load

    _load()
    queued = _queued()
    batch = next((callback.batch for callback in queued.values()), [])
    for handler in REGISTRY.values():
        for obj in handler.versioned_objects(instance):
            # One snapshot per resource per transaction, however often its objects are saved.
            key = _key(handler, obj)
            if key in queued:
                queued[key].satisfied = False  # saved again since a snapshot
                continue
            queued[key] = _VersionOnCommit(handler, obj, batch)
            transaction.on_commit(queued[key])


def pending() -> set[tuple[str, str, Any]]:
    """The resources saved in the open transaction whose version waits for its commit: until
    then their stored version is not what they show (a read renders them)."""
    if not transaction.get_connection().in_atomic_block:
        return set()
    return {key for key, callback in _queued().items() if not callback.satisfied}


def _satisfy(handler: Any, obj: Any) -> None:
    if transaction.get_connection().in_atomic_block:
        callback = _queued().get(_key(handler, obj))
        if callback is not None:
            callback.satisfied = True


# --- the render epoch --------------------------------------------------------------------------


def _epoch_moved(**_kwargs: Any) -> None:
    """post_save / post_delete of a row renderings read: move the epoch once the change commits
    (once per transaction), so that every rendering confirmed before is checked again."""
    on_commit_once("fhir.render-epoch", move_epoch)


def move_epoch() -> None:
    """Every stored version confirmed before now is rendered again before it is served."""
    now = timezone.now()
    if not RenderEpoch.objects.filter(pk=1).update(changed_at=now):
        RenderEpoch.objects.get_or_create(pk=1, defaults={"changed_at": now})


def connect() -> None:
    from .registry import REGISTRY, _load

    post_save.connect(_on_save, dispatch_uid="farcare.fhir.versioning")
    _load()
    watched: set[type[Model]] = set()
    for handler in REGISTRY.values():
        for part in handler.parts:
            watched.update(part.render_depends_on)
    for model in watched:
        for signal in (post_save, post_delete):
            signal.connect(
                _epoch_moved,
                sender=model,
                dispatch_uid=f"farcare.fhir.epoch.{model._meta.label}.{signal is post_save}",
            )
