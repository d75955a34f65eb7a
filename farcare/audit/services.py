"""Writing to the audit trail. Every read or change of patient data calls `audit_record`."""

from __future__ import annotations

import logging
import re
import sqlite3
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, NoReturn

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import OperationalError, connection, transaction
from django.http import HttpRequest
from django.utils import timezone

from farcare.accounts.models import User
from farcare.core.db.inserts import insert_rows

from .anchor import anchor_dir, latest_checkpoint, read_checkpoints, verify_key, write_checkpoint
from .chain import (
    GENESIS_HASH,
    HASHED_FIELDS,
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
    """Append one record to the trail, unsealed: one INSERT, no lock, nothing read (and one more
    INSERT for the patient links). `seal` links it into the hash chain later. `patients` are the
    patients the action showed besides `patient_uuid` (the results of a search, a list): they go
    into the hashed details as "patients_shown" and are linked, so each patient's "who looked at
    my record" lists it."""
    event, shown = Audited(
        accessor=accessor,
        action=action,
        patient_uuid=patient_uuid,
        record=record,
        purpose=purpose,
        outcome=outcome,
        details=details,
        patients=tuple(patients),
    ).event()
    if not shown:
        event.save(force_insert=True)
        return event
    # The record and its links stand or fall together (no savepoint: inside a caller's
    # transaction this adds no statement).
    with transaction.atomic(savepoint=False):
        event.save(force_insert=True)
        AuditEventPatient.objects.bulk_create(
            [AuditEventPatient(event=event, patient_uuid=uuid.UUID(value)) for value in shown]
        )
    return event


@dataclass(frozen=True)
class Audited:
    """One record to append: the keywords of `audit_record`, for `audit_records`."""

    accessor: Accessor
    action: str
    patient_uuid: uuid.UUID | None = None
    record: Any = None
    purpose: str = Purpose.NORMAL
    outcome: str = "success"
    details: dict[str, Any] | None = None
    patients: tuple[uuid.UUID | str, ...] = ()

    def event(self) -> tuple[AuditEvent, list[str]]:
        """The unsealed row, and the patients it showed (its links)."""
        shown = sorted({str(uuid.UUID(str(value))) for value in self.patients})
        details = self.details
        if shown:
            details = {**(details or {}), "patients_shown": shown}
        record = self.record
        record_type = record.__class__.__name__ if record is not None else ""
        record_id = str(getattr(record, "uuid", "") or "") if record is not None else ""
        actor = self.accessor.user
        actor_user = actor if actor is not None and actor.is_authenticated else None
        event = AuditEvent(
            uuid=uuid.uuid4(),
            created_at=timezone.now(),
            actor_uuid=actor_user.uuid if actor_user else None,
            actor_username=actor_user.username if actor_user else "",
            actor_role=actor_user.role if actor_user else "",
            patient_uuid=self.patient_uuid,
            record_type=record_type,
            record_id=record_id,
            action=self.action,
            purpose=self.purpose,
            outcome=self.outcome,
            channel=self.accessor.channel,
            ip_address=self.accessor.ip_address,
            details=storable(details or {}),
        )
        return event, shown


def audit_records(*, records: Sequence[Audited]) -> list[AuditEvent]:
    """Append many records at once (a transaction bundle's registrations): one INSERT of all the
    unsealed rows, in the order given, and one of their patient links when any showed patients.
    Each row is exactly the one `audit_record` would append for the same keywords."""
    made = [audited.event() for audited in records]
    if not made:
        return []
    with transaction.atomic(savepoint=False):
        # The ids come back from the INSERT (RETURNING on PostgreSQL and SQLite >= 3.35): the
        # links refer to them.
        events = insert_rows([event for event, _shown in made])
        links = [
            AuditEventPatient(event=event, patient_uuid=uuid.UUID(value))
            for event, (_made, shown) in zip(events, made, strict=True)
            for value in shown
        ]
        if links:
            AuditEventPatient.objects.bulk_create(links)
    return events


# --- sealing: the sequencer that links appended records into the chain -----------------------
#
# Appending used to lock the chain head and hold the lock until the audited request committed:
# every audited request of every web worker queued behind it. Now a request only appends; the
# sequencer takes the head, links the unsealed records in id order, and moves the head, for a
# batch at a time. Chain order is therefore the order in which records were sealed: id
# (insertion) order within a batch, and a record whose transaction committed after a later id
# was sealed comes after it. `created_at` is the writer's clock, so it may disagree slightly
# with the chain's order across processes; the chain, not the clock, is the order of record.

SEAL_BATCH = 2000
# Fields read from an unsealed record to hash it (seq and prev_hash come from the head).
_SEALED_FROM = tuple(name for name in HASHED_FIELDS if name not in ("seq", "prev_hash"))


def seal(*, limit: int | None = None, wait: bool = False) -> int:
    """Link every unsealed record (at most `limit`) into the chain, in id order, a batch per
    transaction; how many were sealed. Another sealer at work: without `wait` this returns at
    once with what it sealed so far (0 on PostgreSQL: the head is taken with SKIP LOCKED);
    with `wait` it waits for the head (a reader that needs the chain complete)."""
    if not AuditEvent.objects.filter(seq__isnull=True).exists():
        return 0
    sealed = 0
    while limit is None or sealed < limit:
        size = SEAL_BATCH if limit is None else min(SEAL_BATCH, limit - sealed)
        done = _seal_batch(size, wait=wait)
        if done is None:
            break
        sealed += done
        if done < size:
            break
    return sealed


def seal_quietly() -> int:
    """Seal before a read that lists records in chain order; a database too busy to seal now
    must not fail the read (unsealed records are listed first anyway, being the newest)."""
    try:
        return seal()
    except OperationalError:
        logger.warning("audit records could not be sealed before a read", exc_info=True)
        return 0


def _seal_batch(size: int, *, wait: bool) -> int | None:
    """Seal up to `size` records in one transaction; None when another sealer holds the head."""
    every = settings.FARCARE_AUDIT_CHECKPOINT_EVERY
    with transaction.atomic():
        head = _lock_head(wait=wait)
        if head is None:
            return None
        rows = list(
            AuditEvent.objects.filter(seq__isnull=True)
            .order_by("id")
            .values("id", *_SEALED_FROM)[:size]
        )
        if not rows:
            return 0
        seq, prev_hash = head.seq, head.hash
        links = []
        for row in rows:
            seq += 1
            row["seq"], row["prev_hash"] = seq, prev_hash
            new_hash = link_hash(row)
            links.append((row["id"], seq, prev_hash, new_hash))
            if every and seq % every == 0:
                transaction.on_commit(partial(_checkpoint_quietly, seq, new_hash))
            prev_hash = new_hash
        _write_links(links)
        AuditChainHead.objects.filter(pk=1).update(seq=seq, hash=prev_hash)
    return len(rows)


# Records per UPDATE: four parameters each, under SQLite's 999.
_LINKS_PER_UPDATE = 200


def _write_links(links: list[tuple[int, int, str, str]]) -> None:
    """Set (seq, prev_hash, hash) of each (id, ...): one UPDATE ... FROM (VALUES ...) per 200
    records. Django's bulk_update builds a CASE per field and row in Python, and took 90% of a
    seal's time; this statement says the same and costs a few milliseconds."""
    if connection.vendor == "sqlite" and sqlite3.sqlite_version_info < (3, 33):
        # No UPDATE ... FROM before SQLite 3.33 (Django 5.2 runs on 3.31).
        AuditEvent.objects.bulk_update(
            [
                AuditEvent(id=pk, seq=seq, prev_hash=prev, hash=digest)
                for pk, seq, prev, digest in links
            ],
            ["seq", "prev_hash", "hash"],
            batch_size=_LINKS_PER_UPDATE,
        )
        return
    table = connection.ops.quote_name(AuditEvent._meta.db_table)
    with connection.cursor() as cursor:
        for start in range(0, len(links), _LINKS_PER_UPDATE):
            chunk = links[start : start + _LINKS_PER_UPDATE]
            values = ", ".join(["(CAST(%s AS BIGINT), CAST(%s AS BIGINT), %s, %s)"] * len(chunk))
            # VALUES names its columns column1..column4 on both PostgreSQL and SQLite. Only
            # the model's own table name and placeholders are formatted in; values are bound.
            cursor.execute(
                f"UPDATE {table} SET seq = v.column2, prev_hash = v.column3, hash = v.column4 "  # noqa: S608
                f"FROM (VALUES {values}) AS v WHERE {table}.id = v.column1",
                [value for link in chunk for value in link],
            )


def _lock_head(*, wait: bool) -> AuditChainHead | None:
    """The chain head, locked for this transaction (created at the genesis on first use); None
    when another transaction holds it and `wait` is off. On SQLite the transaction itself is
    the lock (IMMEDIATE: one writer at a time)."""
    heads = AuditChainHead.objects.select_for_update(skip_locked=not wait).filter(pk=1)
    head = heads.first()
    if head is None:
        if AuditChainHead.objects.filter(pk=1).exists():
            return None  # there, but locked by another sealer
        AuditChainHead.objects.bulk_create(
            [AuditChainHead(pk=1, seq=0, hash=GENESIS_HASH)], ignore_conflicts=True
        )
        head = heads.first()
    return head


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
    """A checkpoint every FARCARE_AUDIT_CHECKPOINT_EVERY records, once their sealing is
    committed. Failing to write one must not fail the sealing it follows: the log says so, and
    the next checkpoint (or `farcare audit checkpoint`) covers these records too."""
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
        AuditEvent.objects.filter(seq__isnull=False, **conditions)
        .order_by("seq")
        .values(*[f.name for f in AuditEvent._meta.concrete_fields if f.name != "id"])
        .iterator(chunk_size=2000)
    )


def _hash_at(seq: int) -> str | None:
    return AuditEvent.objects.filter(seq=seq).values_list("hash", flat=True).first()


def audit_checkpoint() -> Path | None:
    """Sign the head of the chain into a new checkpoint, after checking the records since the
    latest checkpoint (a broken chain is never vouched for: ChainBroken). None when nothing was
    appended since that checkpoint. Seals what was appended first, so it is vouched for too."""
    seal(wait=True)
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
    None when it is intact. Seals what was appended first, so every record is checked."""
    seal(wait=True)
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
