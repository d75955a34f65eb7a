"""Where checkpoints of the audit chain live, and the keys that sign and verify them.

- `FARCARE_AUDIT_ANCHOR_KEY`: the Ed25519 private key (PEM) that signs checkpoints. Only the
  process that writes checkpoints needs it; it is never in the database.
- `FARCARE_AUDIT_ANCHOR_PUBLIC_KEY`: the public key (PEM) that verifies them; `audit verify` needs
  only this one. Without the file, it is derived from the private key when that is readable.
- `FARCARE_AUDIT_ANCHOR_DIR`: the checkpoints, one file each, never rewritten. In production a
  directory the database's owner cannot rewrite: WORM storage, another host's append-only mount.
- `FARCARE_AUDIT_ANCHOR_GENERATE`: make a key pair on first use (development and demo, so that
  `make run` needs no configuration); production makes it with `farcare audit keygen`.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.conf import settings

from .chain import Checkpoint, sign_checkpoint

FILE_PREFIX = "checkpoint-"


class AnchorNotConfigured(RuntimeError):
    """No key to sign or verify checkpoints with."""


def anchor_dir() -> Path:
    return Path(settings.FARCARE_AUDIT_ANCHOR_DIR)


def private_key_path() -> Path:
    return Path(settings.FARCARE_AUDIT_ANCHOR_KEY)


def public_key_path() -> Path:
    return Path(settings.FARCARE_AUDIT_ANCHOR_PUBLIC_KEY)


def generate_keys(*, overwrite: bool = False) -> tuple[Path, Path]:
    """A new key pair in the configured files. Refuses to replace a key: the checkpoints it
    signed would no longer verify."""
    private_path, public_path = private_key_path(), public_key_path()
    if not overwrite and (private_path.exists() or public_path.exists()):
        raise FileExistsError(f"a key already exists: {private_path} / {public_path}")
    key = Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    for path, data, mode in ((private_path, private_pem, 0o600), (public_path, public_pem, 0o644)):
        path.parent.mkdir(parents=True, exist_ok=True)
        if overwrite:
            path.unlink(missing_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
    return private_path, public_path


def signing_key() -> Ed25519PrivateKey:
    path = private_key_path()
    if not path.exists():
        if not settings.FARCARE_AUDIT_ANCHOR_GENERATE:
            raise AnchorNotConfigured(
                f"No audit anchor key at {path}: create one with `farcare audit keygen` "
                "(FARCARE_AUDIT_ANCHOR_KEY names the file)."
            )
        with contextlib.suppress(FileExistsError):  # another process made it just now
            generate_keys()
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise AnchorNotConfigured(f"{path} is not an Ed25519 private key.")
    return key


def verify_key() -> Ed25519PublicKey | None:
    """The public key, or None when neither it nor the private key is there."""
    path = public_key_path()
    if path.exists():
        key = serialization.load_pem_public_key(path.read_bytes())
        if not isinstance(key, Ed25519PublicKey):
            raise AnchorNotConfigured(f"{path} is not an Ed25519 public key.")
        return key
    if private_key_path().exists():
        return signing_key().public_key()
    return None


def checkpoint_files() -> list[Path]:
    directory = anchor_dir()
    if not directory.is_dir():
        return []
    return sorted(directory.glob(f"{FILE_PREFIX}*.json"))


def read_checkpoints() -> Iterator[tuple[str, Checkpoint | None]]:
    """Every checkpoint file in sequence order: (its name, the checkpoint or None when the file
    is not one)."""
    for path in checkpoint_files():
        try:
            yield path.name, Checkpoint.from_json(path.read_text(encoding="utf-8"))
        except (ValueError, OSError, UnicodeDecodeError):
            yield path.name, None


def latest_checkpoint() -> Checkpoint | None:
    for _name, checkpoint in reversed(list(read_checkpoints())):
        if checkpoint is not None:
            return checkpoint
    return None


def write_checkpoint(*, seq: int, hash: str) -> Path | None:
    """Sign (seq, hash) and add it to the checkpoints; None when one for this seq exists.
    A file is created once and never rewritten (O_EXCL), then made read-only."""
    checkpoint = sign_checkpoint(
        signing_key(),
        seq=seq,
        hash=hash,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    directory = anchor_dir()
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{FILE_PREFIX}{seq:012d}.json"
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o444)
    except FileExistsError:
        return None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(checkpoint.to_json())
        handle.flush()
        os.fsync(handle.fileno())
    return path
