"""Writing to the audit trail. Every read or change of patient data calls `audit_record`."""

from __future__ import annotations

import logging
import re
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from farcare.accounts.models import User

from .anchor import anchor_dir, latest_checkpoint, read_checkpoints, verify_key, write_checkpoint
from .chain import (
    GENESIS_HASH,
    ChainProblem,
    find_checkpoint_problem,
    find_first_break,
    link_hash,
)
from .models import AuditAction, AuditChainHead, AuditEvent, AuditEventPatient, Purpose

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Accessor:
    """Who is acting, from where, through which channel (page, api, fhir, cli)."""

    user: User | None
    ip_address: str | None = None
    channel: str = "page"

    @classmethod
    def from_request(cls, request: HttpRequest, channel: str = "page") -> Accessor:
        user = request.user if request.user.is_authenticated else None
        return cls(user, request.META.get("REMOTE_ADDR") or None, channel)


# A NUL, or a surrogate (in a str, always a lone one: a pair would be one code point).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable(value: Any) -> Any:
    """`value` with every text made storable in any database's JSON: a NUL (which PostgreSQL's
    jsonb refuses) or a lone surrogate (which no UTF-8 encoder takes) becomes U+FFFD. A refused
    request's query is audited as it came, and it may carry either."""
    if isinstance(value, str):
        if "\x00" not in value and value.isascii():
            return value
        return _UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value


def audit_record(
    *,
    accessor: Accessor,
    action: str,
    patient_uuid: uuid.UUID | None = None,
    record: Any = None,
    purpose: str = Purpose.NORMAL,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
    patients: Iterable[uuid.UUID | str] = (),
) -> AuditEvent:
    """Append one record to the chain. `patients` are the patients the action showed besides
    `patient_uuid` (the results of a search, a list): they go into the hashed details as
    "patients_shown" and are linked, so each patient's "who looked at my record" lists it."""
    shown = sorted({str(uuid.UUID(str(value))) for value in patients})
    if shown:
        details = {**(details or {}), "patients_shown": shown}
    record_type = record.__class__.__name__ if record is not None else ""
    record_id = str(getattr(record, "uuid", "") or "") if record is not None else ""
    actor = accessor.user
    actor_user = actor if actor is not None and actor.is_authenticated else None
    with transaction.atomic():
        head, _created = AuditChainHead.objects.select_for_update().get_or_create(
            pk=1, defaults={"seq": 0, "hash": GENESIS_HASH}
        )
        fields: dict[str, Any] = {
            "uuid": uuid.uuid4(),
            "seq": head.seq + 1,
            "created_at": timezone.now(),
            "actor_uuid": actor_user.uuid if actor_user else None,
            "actor_username": actor_user.username if actor_user else "",
            "actor_role": actor_user.role if actor_user else "",
            "patient_uuid": patient_uuid,
            "record_type": record_type,
            "record_id": record_id,
            "action": action,
            "purpose": purpose,
            "outcome": outcome,
            "channel": accessor.channel,
            "ip_address": accessor.ip_address,
            "details": storable(details or {}),
            "prev_hash": head.hash,
        }
        fields["hash"] = link_hash(fields)
        event = AuditEvent.objects.create(**fields)
        AuditEventPatient.objects.bulk_create(
            [AuditEventPatient(event=event, patient_uuid=uuid.UUID(value)) for value in shown]
        )
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
        every = settings.FARCARE_AUDIT_CHECKPOINT_EVERY
        if every and event.seq % every == 0:
            transaction.on_commit(partial(_checkpoint_quietly, event.seq, event.hash))
    return event


def audit_refusal(
    *,
    accessor: Accessor,
    message: str,
    record: Any = None,
    patient_uuid: uuid.UUID | None = None,
    details: dict[str, Any] | None = None,
) -> NoReturn:
    """Record a refusal, linked to the patient when there is one, and raise it as a 403 carrying
    `message`. Called before the refused change's transaction, so the record is never rolled
    back with it."""
    audit_record(
        accessor=accessor,
        action=AuditAction.DENIED,
        patient_uuid=patient_uuid,
        record=record,
        outcome="denied",
        details=details,
    )
    raise PermissionDenied(message)


def _checkpoint_quietly(seq: int, hash: str) -> None:
    """A checkpoint every FARCARE_AUDIT_CHECKPOINT_EVERY records, after the record is committed.
    Failing to write one must not fail the action it follows: the log says so, and the next
    checkpoint (or `farcare audit checkpoint`) covers these records too."""
    try:
        write_checkpoint(seq=seq, hash=hash)
    except Exception:
        logger.exception("audit checkpoint #%s could not be written", seq)


class ChainBroken(Exception):
    def __init__(self, problem: ChainProblem) -> None:
        super().__init__(str(problem))
        self.problem = problem


def _links(**conditions: Any) -> Iterator[dict[str, Any]]:
    return (
        AuditEvent.objects.filter(**conditions)
        .order_by("seq")
        .values(*[f.name for f in AuditEvent._meta.concrete_fields if f.name != "id"])
        .iterator(chunk_size=2000)
    )


def _hash_at(seq: int) -> str | None:
    return AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()


def audit_checkpoint() -> Path | None:
    """Sign the head of the chain into a new checkpoint, after checking the records since the
    latest checkpoint (a broken chain is never vouched for: ChainBroken). None when nothing was
    appended since that checkpoint."""
    head = AuditChainHead.objects.filter(pk=1).first()
    if head is None or head.seq == 0:
        return None
    latest = latest_checkpoint()
    after_seq, after_hash = 0, GENESIS_HASH
    if latest is not None:
        if _hash_at(latest.seq) != latest.hash:
            raise ChainBroken(ChainProblem(latest.seq, "differs from its checkpoint"))
        if latest.seq >= head.seq:
            return None
        after_seq, after_hash = latest.seq, latest.hash
    problem = find_first_break(
        _links(seq__gt=after_seq, seq__lte=head.seq),
        head.seq,
        head.hash,
        after_seq=after_seq,
        after_hash=after_hash,
    )
    if problem is not None:
        raise ChainBroken(problem)
    return write_checkpoint(seq=head.seq, hash=head.hash)


def audit_verify() -> ChainProblem | None:
    """Check the whole chain, then every checkpoint against it; the first problem found, or
    None when it is intact."""
    head = AuditChainHead.objects.filter(pk=1).first()
    problem = find_first_break(
        _links(), head.seq if head else 0, head.hash if head else GENESIS_HASH
    )
    if problem is not None:
        return problem
    checkpoints = list(read_checkpoints())
    if not checkpoints:
        return None
    key = verify_key()
    if key is None:
        return ChainProblem(
            0,
            f"{len(checkpoints)} checkpoints in {anchor_dir()} but no key to verify them "
            "(FARCARE_AUDIT_ANCHOR_PUBLIC_KEY)",
        )
    return find_checkpoint_problem(checkpoints, key, _hash_at)
