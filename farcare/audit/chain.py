"""The hash chain of the audit trail: how a link's hash is computed, how the chain is verified,
and the signed checkpoints that anchor it outside the database."""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

GENESIS_HASH = "0" * 64

# The fields a link's hash covers, in a fixed order.
HASHED_FIELDS = (
    "uuid",
    "seq",
    "created_at",
    "actor_uuid",
    "actor_username",
    "actor_role",
    "patient_uuid",
    "record_type",
    "record_id",
    "action",
    "purpose",
    "outcome",
    "channel",
    "ip_address",
    "details",
    "prev_hash",
)


def _canonical(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str | dict | list):
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def link_hash(fields: dict[str, Any]) -> str:
    payload = {name: _canonical(fields[name]) for name in HASHED_FIELDS}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainProblem:
    seq: int
    reason: str

    def __str__(self) -> str:
        if not self.seq:
            return f"audit trail: {self.reason}"
        return f"audit record #{self.seq}: {self.reason}"


def find_first_break(
    links: Iterable[dict[str, Any]],
    head_seq: int,
    head_hash: str,
    *,
    after_seq: int = 0,
    after_hash: str = GENESIS_HASH,
) -> ChainProblem | None:
    """Walk the links in seq order. Returns the first problem, or None for an intact chain.
    With `after_seq`/`after_hash` (a record already vouched for), the links start after it."""
    expected_seq = after_seq + 1
    prev_hash = after_hash
    for link in links:
        seq = int(link["seq"])
        if seq != expected_seq:
            if seq > expected_seq:
                return ChainProblem(expected_seq, f"missing (the chain jumps to #{seq})")
            return ChainProblem(seq, "duplicate sequence number")
        if link["prev_hash"] != prev_hash:
            return ChainProblem(seq, "does not follow the record before it (removed or inserted)")
        if link_hash(link) != link["hash"]:
            return ChainProblem(seq, "content altered after it was written")
        prev_hash = link["hash"]
        expected_seq += 1
    last_seq = expected_seq - 1
    if last_seq != head_seq:
        return ChainProblem(last_seq + 1, f"missing (the chain should end at #{head_seq})")
    if head_seq > after_seq and prev_hash != head_hash:
        return ChainProblem(head_seq, "does not match the recorded head of the chain")
    return None


# --- checkpoints: the chain anchored outside the database ---------------------------------
#
# The hash chain alone proves that records follow each other; it cannot prove that the newest
# ones are all there, nor that the whole chain was not recomputed, to someone who can write the
# database. A checkpoint is the sequence number and hash of one record, signed (Ed25519) with a
# key that is not in the database and kept where the database's owner cannot rewrite it. Since
# every hash covers all records before it, a checkpoint vouches for the whole chain up to it.

CHECKPOINT_FORMAT = "farcare-audit-checkpoint/1"


@dataclass(frozen=True)
class Checkpoint:
    seq: int
    hash: str
    created_at: str
    key_id: str
    signature: str = ""

    def payload(self) -> bytes:
        """The bytes the signature covers."""
        fields = {
            "format": CHECKPOINT_FORMAT,
            "seq": self.seq,
            "hash": self.hash,
            "created_at": self.created_at,
            "key_id": self.key_id,
        }
        return json.dumps(fields, sort_keys=True, separators=(",", ":")).encode("utf-8")

    def to_json(self) -> str:
        document = json.loads(self.payload())
        document["signature"] = self.signature
        return json.dumps(document, sort_keys=True, indent=1) + "\n"

    @classmethod
    def from_json(cls, text: str) -> Checkpoint:
        """Raises ValueError for a file that is not a checkpoint."""
        try:
            document = json.loads(text)
            if document.get("format") != CHECKPOINT_FORMAT:
                raise ValueError("not a FarCare audit checkpoint")
            return cls(
                seq=int(document["seq"]),
                hash=str(document["hash"]),
                created_at=str(document["created_at"]),
                key_id=str(document["key_id"]),
                signature=str(document["signature"]),
            )
        except (AttributeError, KeyError, TypeError, json.JSONDecodeError) as error:
            raise ValueError(f"not a FarCare audit checkpoint: {error}") from error


def key_id(public_key: Ed25519PublicKey) -> str:
    raw = public_key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign_checkpoint(
    private_key: Ed25519PrivateKey, *, seq: int, hash: str, created_at: str
) -> Checkpoint:
    unsigned = Checkpoint(seq, hash, created_at, key_id(private_key.public_key()))
    signature = base64.b64encode(private_key.sign(unsigned.payload())).decode("ascii")
    return Checkpoint(seq, hash, created_at, unsigned.key_id, signature)


def checkpoint_signature_valid(checkpoint: Checkpoint, public_key: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != key_id(public_key):
        return False
    try:
        public_key.verify(
            base64.b64decode(checkpoint.signature, validate=True), checkpoint.payload()
        )
    except (InvalidSignature, ValueError):
        return False
    return True


def find_checkpoint_problem(
    checkpoints: Iterable[tuple[str, Checkpoint | None]],
    public_key: Ed25519PublicKey,
    hash_at: Callable[[int], str | None],
) -> ChainProblem | None:
    """Each (file name, checkpoint or None for an unreadable file) must carry a valid signature
    of the verify key, and the chain must hold, at its sequence number, exactly its hash.
    `hash_at(seq)` is the stored hash of record #seq, or None when there is none."""
    for name, checkpoint in checkpoints:
        if checkpoint is None:
            return ChainProblem(0, f"checkpoint {name} is not a checkpoint (damaged or forged)")
        if not checkpoint_signature_valid(checkpoint, public_key):
            return ChainProblem(
                checkpoint.seq,
                f"checkpoint {name} does not carry a valid signature (forged or altered)",
            )
        stored = hash_at(checkpoint.seq)
        if stored is None:
            return ChainProblem(
                checkpoint.seq,
                f"missing, but checkpoint {name} of {checkpoint.created_at} vouches for it "
                "(records were removed)",
            )
        if stored != checkpoint.hash:
            return ChainProblem(
                checkpoint.seq,
                f"differs from checkpoint {name} of {checkpoint.created_at} "
                "(records up to it were rewritten)",
            )
    return None
