"""Versions of resources. A resource's content is derived from the domain; whenever it differs
from the last stored version, a new version is written (on save of the domain object, and on
read as a safety net), so vread, _history and ETags always describe what was served."""

from __future__ import annotations

import json
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import Model
from django.db.models.signals import post_save
from django.utils import timezone

from .models import ResourceVersion


def _comparable(content: dict[str, Any]) -> str:
    body = {key: value for key, value in content.items() if key != "meta"}
    return json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)


def latest(resource_type: str, logical_id: str) -> ResourceVersion | None:
    return (
        ResourceVersion.objects.filter(resource_type=resource_type, logical_id=logical_id)
        .order_by("-version_id")
        .first()
    )


def ensure_version(
    resource_type: str,
    logical_id: str,
    content: dict[str, Any],
    *,
    patient_uuid: Any = None,
    deleted: bool = False,
) -> ResourceVersion:
    """The stored version matching `content`, written as a new version if it changed."""
    for _attempt in range(3):
        current = latest(resource_type, logical_id)
        if (
            current is not None
            and current.deleted == deleted
            and _comparable(current.content) == _comparable(content)
        ):
            return current
        version_id = (current.version_id + 1) if current else 1
        now = timezone.now()
        stored = dict(content)
        stored["meta"] = {
            **content.get("meta", {}),
            "versionId": str(version_id),
            "lastUpdated": now.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        }
        try:
            with transaction.atomic():
                return ResourceVersion.objects.create(
                    resource_type=resource_type,
                    logical_id=logical_id,
                    version_id=version_id,
                    last_updated=now,
                    deleted=deleted,
                    content=stored,
                    patient_uuid=patient_uuid,
                )
        except IntegrityError:  # a concurrent writer took this version number: look again
            continue
    raise RuntimeError(f"could not version {resource_type}/{logical_id}")


def snapshot(handler: Any, obj: Any) -> ResourceVersion:
    from .remainder import rendered

    patient = handler.patient_of(obj)
    return ensure_version(
        handler.resource_type,
        handler.logical_id(obj),
        rendered(handler, obj),
        patient_uuid=patient.uuid if patient is not None else None,
    )


def _on_save(sender: type[Model], instance: Model, **kwargs: Any) -> None:
    from .registry import REGISTRY, _load

    _load()
    connection = transaction.get_connection()
    queued = {
        getattr(callback, "farcare_version_key", None)
        for _sids, callback, _robust in connection.run_on_commit
    }
    for handler in REGISTRY.values():
        for obj in handler.versioned_objects(instance):
            # One snapshot per resource per transaction, however often its objects are saved.
            key = (handler.resource_type, type(obj).__name__, obj.pk)
            if key in queued:
                continue
            queued.add(key)
            callback = partial(_snapshot_quietly, handler, obj)
            callback.farcare_version_key = key  # type: ignore[attr-defined]
            transaction.on_commit(callback)


def _snapshot_quietly(handler: Any, obj: Any) -> None:
    try:
        fresh = handler.refresh(obj)
        if fresh is not None:
            snapshot(handler, fresh)
    except Exception:  # versioning must never break the change it follows; reads re-check
        import logging

        logging.getLogger(__name__).warning("could not version %s", obj, exc_info=True)


def connect() -> None:
    post_save.connect(_on_save, dispatch_uid="farcare.fhir.versioning")
