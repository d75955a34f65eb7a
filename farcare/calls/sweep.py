"""The sweep of calls nobody hung up: a browser that vanished without its socket's close or its
pagehide beacon (a crash, a power cut at the post, a server restart) leaves its presence, and so
its call, open. Browsers report their link's quality every ~5 s; a presence silent for more than
FARCARE_CALL_SILENT_SECONDS is left as of when it was last seen, through the same path as
leaving by hand (`call_leave_silent`), so the last one out ends the call on the timeline and a
consilium's Janus room is destroyed after the commit. Run by `farcare calls sweep`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from farcare.audit.services import Accessor

from .consilium import destroy_room_if_ended
from .models import Call, CallKind, CallParticipant
from .services import call_leave_silent

SYSTEM = Accessor(None, None, "system")


@dataclass
class SweepReport:
    # "<call uuid> <username>" of each presence left, and the uuid of each call ended.
    left: list[str] = field(default_factory=list)
    ended: list[str] = field(default_factory=list)


def silent_since(now: datetime, silent_seconds: int) -> datetime:
    """Presences last seen before this moment are gone."""
    return now - timedelta(seconds=silent_seconds)


def is_silent(
    *, last_seen_at: datetime | None, joined_at: datetime, now: datetime, silent_seconds: int
) -> bool:
    """The rule: no sign of life (the join, or a quality report) for more than the limit."""
    return (last_seen_at or joined_at) < silent_since(now, silent_seconds)


def sweep_calls(now: datetime | None = None, silent_seconds: int | None = None) -> SweepReport:
    now = now or timezone.now()
    limit = settings.FARCARE_CALL_SILENT_SECONDS if silent_seconds is None else silent_seconds
    cutoff = silent_since(now, limit)
    report = SweepReport()
    candidates = (
        CallParticipant.objects.filter(left_at__isnull=True, call__ended_at__isnull=True)
        .select_related("call", "user")
        .order_by("call_id", "pk")
    )
    for presence in list(candidates):
        if not is_silent(
            last_seen_at=presence.last_seen_at,
            joined_at=presence.joined_at,
            now=now,
            silent_seconds=limit,
        ):
            continue
        call = presence.call
        if not call_leave_silent(
            accessor=SYSTEM, call=call, user_id=presence.user_id, seen_before=cutoff
        ):
            continue
        report.left.append(f"{call.uuid} {presence.user.username}")
        if call.kind == CallKind.CONSILIUM:
            destroy_room_if_ended(call)
        if Call.objects.filter(pk=call.pk, ended_at__isnull=False).exists():
            report.ended.append(str(call.uuid))
    return report
