"""Writing to the audit trail. Every read or change of patient data calls `audit_record`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from farcare.accounts.models import User

from .chain import GENESIS_HASH, ChainProblem, find_first_break, link_hash
from .models import AuditChainHead, AuditEvent, Purpose


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


def audit_record(
    *,
    accessor: Accessor,
    action: str,
    patient_uuid: uuid.UUID | None = None,
    record: Any = None,
    purpose: str = Purpose.NORMAL,
    outcome: str = "success",
    details: dict[str, Any] | None = None,
) -> AuditEvent:
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
            "details": details or {},
            "prev_hash": head.hash,
        }
        fields["hash"] = link_hash(fields)
        event = AuditEvent.objects.create(**fields)
        head.seq = event.seq
        head.hash = event.hash
        head.save(update_fields=["seq", "hash"])
    return event


def audit_verify() -> ChainProblem | None:
    """Check the whole chain; the first problem found, or None when it is intact."""
    head = AuditChainHead.objects.filter(pk=1).first()
    links = (
        AuditEvent.objects.order_by("seq")
        .values(*[f.name for f in AuditEvent._meta.concrete_fields if f.name != "id"])
        .iterator(chunk_size=2000)
    )
    return find_first_break(links, head.seq if head else 0, head.hash if head else GENESIS_HASH)
