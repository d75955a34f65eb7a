"""A transfer that stopped moving tells its coordinators (issue 16, point 6).

Each open stage has a time it may take without a move: a request waits 30 minutes for a bed, a
confirmed bed 60 minutes for transport, assigned transport 60 minutes for take-off (the regional
services' one-hour target), a dispatched aircraft 120 minutes for the patient to board, a patient
on board the estimate's flight plus an hour (4 hours without one), an arrival 60 minutes for the
handover. A weather hold is not a stall while its expected time has not passed (3 hours without
one). Past it the region's coordinators (of the origin and of the destination) are told once per
stall: `stall_alerted_at` is set, and the next move clears it, so a new stall is counted from
there. `farcare transfers sweep` runs it (`--loop 60` as a worker), at the hub only: at a station it
does nothing and the command refuses.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.db.models import Max, Q, QuerySet
from django.utils import timezone

from .models import FINAL_STATUSES, Transfer, TransferEvent, TransferStatus

T = TransferStatus
STAGE_MINUTES: dict[str, int] = {
    T.REQUESTED: 30,
    T.ACCEPTED: 60,
    T.TRANSPORT_ASSIGNED: 60,
    T.DISPATCHED: 120,
    T.ON_BOARD: 240,
    T.ARRIVED: 60,
    T.HELD: 180,  # a hold without an expected time
}
ON_BOARD_MARGIN_MINUTES = 60
STALLED = "stalled"


def stage_minutes(transfer: Transfer) -> float:
    if transfer.status == T.ON_BOARD:
        flight = (transfer.estimate or {}).get("flight_minutes")
        if isinstance(flight, (int, float)) and flight > 0:
            return float(flight) + ON_BOARD_MARGIN_MINUTES
    return float(STAGE_MINUTES.get(transfer.status, 0))


def last_move_at(transfer: Transfer) -> datetime:
    """The last event that was not a stall alert (annotated by `with_last_move`, or asked)."""
    annotated = getattr(transfer, "last_move_at", None)
    if annotated is not None:
        return annotated
    found = (
        TransferEvent.objects.filter(transfer_id=transfer.pk)
        .exclude(event=STALLED)
        .aggregate(at=Max("at"))["at"]
    )
    return found or transfer.decided_at


def with_last_move(transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    return transfers.annotate(last_move_at=Max("events__at", filter=~Q(events__event=STALLED)))


def stall_reason(transfer: Transfer, now: datetime) -> str:
    """The stalled stage ("requested", "held", ...), or "" when the transfer is moving."""
    if transfer.status in FINAL_STATUSES:
        return ""
    if transfer.status == T.HELD:
        if transfer.hold_expected_until is not None:
            return str(T.HELD) if now > transfer.hold_expected_until else ""
        since = transfer.held_since or last_move_at(transfer)
        return str(T.HELD) if now - since > timedelta(minutes=STAGE_MINUTES[T.HELD]) else ""
    limit = stage_minutes(transfer)
    if limit and now - last_move_at(transfer) > timedelta(minutes=limit):
        return str(transfer.status)
    return ""


@dataclass
class SweepReport:
    alerted: list[str] = field(default_factory=list)  # "uuid: stage"


def sweep(now: datetime | None = None) -> SweepReport:
    """Alert the coordinators of every transfer stalled now and not yet alerted for it."""
    from .services import notices  # the services import this module's neighbours
    from .services._common import at_station

    report = SweepReport()
    if at_station():
        # The station's transfers are the hub's copies: the hub alerts its coordinators once.
        return report
    now = now or timezone.now()
    candidates = with_last_move(
        Transfer.objects.exclude(status__in=[s.value for s in FINAL_STATUSES]).filter(
            stall_alerted_at__isnull=True
        )
    ).select_related("origin", "destination")
    for transfer in candidates:
        stage = stall_reason(transfer, now)
        if not stage:
            continue
        with transaction.atomic():
            locked = (
                Transfer.objects.select_for_update(of=("self",))
                .select_related("origin", "destination")
                .get(pk=transfer.pk)
            )
            # Moved or alerted by someone else since it was read: this stall is not ours.
            if locked.stall_alerted_at is not None or locked.version != transfer.version:
                continue
            data: dict[str, Any] = {
                "stage": stage,
                "since": last_move_at(transfer).isoformat(),
            }
            if stage == T.HELD and locked.hold_expected_until is not None:
                data["expected_until"] = locked.hold_expected_until.isoformat()
            TransferEvent.objects.create(
                transfer=locked,
                from_status=locked.status,
                to_status=locked.status,
                event=STALLED,
                at=now,
                actor=None,
                data=data,
            )
            # Not a move: the version stays, so nobody's open form becomes stale by it.
            locked.stall_alerted_at = now
            locked.save(update_fields=["stall_alerted_at", "updated_at"])
            regions = [locked.origin.region]
            if locked.destination is not None:
                regions.append(locked.destination.region)
            notices.stalled(locked, regions)
        report.alerted.append(f"{locked.uuid}: {stage}")
    return report
