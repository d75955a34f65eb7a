"""Resumable uploads, independent of the HTTP protocol that carries them (tus, views.py).

Durability: bytes are appended to the part file and fsynced *before* the new offset is saved,
so a saved offset never points past bytes that a crash could lose. A crash between the two
leaves bytes beyond the saved offset; every append first truncates the part file to the saved
offset, which makes them harmless. The offset is saved, and the upload completed, under a lock
on the upload's row, so two clients appending at the same offset cannot both succeed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.db import transaction
from django.utils import timezone

from farcare.audit.services import Accessor

from .models import Upload
from .purposes import PurposeHandler, handler_for


class UploadExpired(Exception):
    """The unfinished upload has expired: the client must start again."""


class OffsetMismatch(Exception):
    def __init__(self, offset: int) -> None:
        super().__init__(f"the upload is at byte {offset}")
        self.offset = offset


class BeyondLength(Exception):
    """The bytes sent would run past the upload's declared length."""


class UploadRefused(Exception):
    """The upload failed: its purpose refused the complete file (the reason is for the user)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def upload_dir() -> Path:
    return Path(settings.FARCARE_UPLOAD_DIR)


def part_path(upload: Upload) -> Path:
    return upload_dir() / str(upload.uuid)


def _expiry(now: datetime) -> datetime:
    return now + timedelta(hours=int(settings.FARCARE_UPLOAD_EXPIRY_HOURS))


def upload_create(
    *, accessor: Accessor, purpose: str, metadata: Mapping[str, str], length: int
) -> Upload:
    """A new, empty upload, once its purpose has allowed it (PermissionDenied or
    ValidationError otherwise)."""
    user = accessor.user
    assert user is not None
    handler = handler_for(purpose)
    handler.authorise(user=user, accessor=accessor, metadata=metadata, length=length)
    now = timezone.now()
    upload = Upload.objects.create(
        owner=user,
        purpose=purpose,
        metadata=dict(metadata),
        length=length,
        created_at=now,
        updated_at=now,
        expires_at=_expiry(now),
    )
    upload_dir().mkdir(parents=True, exist_ok=True)
    return upload


def upload_append(*, accessor: Accessor, upload: Upload, offset: int, data: bytes) -> Upload:
    """Append `data` at `offset`, which must be the upload's offset. With the last byte the
    upload is completed through its purpose. Returns the upload as saved.

    Raises OffsetMismatch, BeyondLength, UploadExpired, UploadRefused (the purpose refused the
    file: the upload is failed and its bytes are gone), or the purpose's PermissionDenied."""
    user = accessor.user
    assert user is not None
    if upload.failed:
        raise UploadRefused(upload.failed_reason)
    if upload.expired():
        raise UploadExpired
    if upload.offset != offset:
        raise OffsetMismatch(upload.offset)
    end = offset + len(data)
    if end > upload.length:
        raise BeyondLength
    handler = handler_for(upload.purpose)
    if end == upload.length and upload.completed_at is None:
        # Asked again before the last bytes are kept: a file can take hours over a satellite
        # link, and access may have ended meanwhile. Outside the transaction, so that the
        # audit record of a refusal is kept (decisions.md §2).
        try:
            handler.authorise(
                user=user, accessor=accessor, metadata=upload.metadata, length=upload.length
            )
        except ValidationError as error:
            _fail(upload, " ".join(error.messages))
            raise UploadRefused(upload.failed_reason) from error
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        now = timezone.now()
        if locked.failed:
            raise UploadRefused(locked.failed_reason)
        if locked.expired(now):
            raise UploadExpired
        if locked.offset != offset:  # another request got here first
            raise OffsetMismatch(locked.offset)
        if locked.completed_at is not None:
            # A retry of the request that completed it, whose answer the client never got.
            return locked
        path = part_path(locked)
        kept = path.stat().st_size if path.exists() else 0
        if kept < offset:
            # The part file holds less than the offset counts (the disk lost its last writes,
            # or the folder came back from a backup): resume from what is really there rather
            # than leave a hole in the file.
            locked.offset = kept
            locked.save(update_fields=["offset"])
        else:
            _write(path, offset, data)
            locked.offset = end
            locked.updated_at = now
            locked.expires_at = _expiry(now)
            if locked.offset == locked.length:
                _complete(locked, handler, path, accessor)
            locked.save()
    if locked.offset != end:
        raise OffsetMismatch(locked.offset)
    if locked.failed:
        raise UploadRefused(locked.failed_reason)
    return locked


def _write(path: Path, offset: int, data: bytes) -> None:
    """Durably put `data` at `offset`, dropping whatever lies beyond it (left by a crash)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    created = not path.exists()
    descriptor = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "r+b") as part:
        part.seek(offset)
        part.truncate()
        part.write(data)
        part.flush()
        os.fsync(part.fileno())
    if created:  # the file's name must survive a crash as well as its bytes
        folder = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(folder)
        finally:
            os.close(folder)


def _complete(upload: Upload, handler: PurposeHandler, path: Path, accessor: Accessor) -> None:
    """Hand the complete file to its purpose, in a savepoint: a refusal undoes what the purpose
    made and marks the upload failed; either way the part file goes once this commits."""
    user = accessor.user
    assert user is not None
    try:
        with transaction.atomic(), path.open("rb") as part:
            result = handler.complete(
                upload=upload, file=File(part, name=path.name), user=user, accessor=accessor
            )
    except ValidationError as error:
        upload.failed_reason = " ".join(error.messages) or "refused"
    else:
        upload.completed_at = upload.updated_at
        upload.result_uuid = result
    _remove_after_commit(path)


def _fail(upload: Upload, reason: str) -> None:
    with transaction.atomic():
        locked = Upload.objects.select_for_update().get(pk=upload.pk)
        locked.failed_reason = reason or "refused"
        locked.updated_at = timezone.now()
        locked.save(update_fields=["failed_reason", "updated_at"])
        _remove_after_commit(part_path(locked))
    upload.failed_reason = locked.failed_reason


def upload_terminate(*, upload: Upload) -> None:
    """Forget the upload and its bytes (tus termination). What a completed upload became (an
    attachment) is a clinical record and stays."""
    with transaction.atomic():
        Upload.objects.filter(pk=upload.pk).delete()
        _remove_after_commit(part_path(upload))


@dataclass(frozen=True)
class ExpiryReport:
    uploads: int  # expired unfinished uploads removed with their bytes
    orphans: int  # part files without an upload (left by a crash), removed


def uploads_expire(*, now: datetime | None = None) -> ExpiryReport:
    """Remove unfinished uploads past their expiry, and their part files."""
    moment = now or timezone.now()
    removed = 0
    candidates = Upload.objects.filter(completed_at__isnull=True, expires_at__lte=moment)
    for pk in list(candidates.values_list("pk", flat=True)):
        with transaction.atomic():
            # Under the row lock: a chunk arriving now moves the expiry and keeps the upload.
            locked = (
                Upload.objects.select_for_update()
                .filter(pk=pk, completed_at__isnull=True, expires_at__lte=moment)
                .first()
            )
            if locked is None:
                continue
            _remove_after_commit(part_path(locked))
            locked.delete()
            removed += 1
    return ExpiryReport(uploads=removed, orphans=_remove_orphans(moment))


def _remove_orphans(moment: datetime) -> int:
    """Part files whose upload is gone (a crash between deleting a row and its file), once
    they are older than any upload could be without a chunk."""
    folder = upload_dir()
    if not folder.is_dir():
        return 0
    cutoff = (moment - timedelta(hours=int(settings.FARCARE_UPLOAD_EXPIRY_HOURS))).timestamp()
    removed = 0
    for path in folder.iterdir():
        try:
            key = uuid.UUID(path.name)
        except ValueError:
            continue  # not ours
        if not path.is_file() or path.stat().st_mtime > cutoff:
            continue
        if not Upload.objects.filter(uuid=key, completed_at__isnull=True).exists():
            _remove(path)
            removed += 1
    return removed


def _remove_after_commit(path: Path) -> None:
    # After the commit only: a rollback keeps the row, and so must keep its bytes.
    transaction.on_commit(functools.partial(_remove, path))


def _remove(path: Path) -> None:
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
