"""The hash chain of the audit trail: how a link's hash is computed, and how the chain is
verified."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

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
        return f"audit record #{self.seq}: {self.reason}"


def find_first_break(
    links: Iterable[dict[str, Any]], head_seq: int, head_hash: str
) -> ChainProblem | None:
    """Walk the links in seq order. Returns the first problem, or None for an intact chain."""
    expected_seq = 1
    prev_hash = GENESIS_HASH
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
    if head_seq and prev_hash != head_hash:
        return ChainProblem(head_seq, "does not match the recorded head of the chain")
    return None
