"""Reads of evacuation for pages and APIs. Every list is cut by `access.visible_transfers`; the
caller audits what it shows (`services.transfer_view` for one transfer, `audit_record` with
`patients=` for a list)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from django.db.models import QuerySet
from django.utils import timezone

from farcare.accounts.models import User

from . import clocks
from .access import may_dispatch, visible_transfers
from .models import (
    FINAL_STATUSES,
    Aircraft,
    Transfer,
    TransferCondition,
    TransferEvent,
    TransferStatus,
    TransportBase,
)
from .stall import stall_reason, with_last_move

# Most urgent first: the condition's window, then how long the patient has waited.
URGENCY = {
    TransferCondition.STEMI: 0,
    TransferCondition.ISCHAEMIC_STROKE: 1,
    TransferCondition.EMERGENCY: 2,
    TransferCondition.URGENT: 3,
    TransferCondition.PLANNED: 4,
}
OPEN_STATUSES = [s.value for s in TransferStatus if s not in FINAL_STATUSES]


def _related(transfers: QuerySet[Transfer]) -> QuerySet[Transfer]:
    return transfers.select_related(
        "patient", "origin", "destination", "aircraft", "aircraft__base", "requested_by"
    )


@dataclass(frozen=True)
class BoardRow:
    transfer: Transfer
    clock: clocks.Clock
    stalled: str  # why it is stalled ("" when not): a stage code from stall.py


@dataclass(frozen=True)
class BaseRow:
    base: TransportBase
    aircraft: Sequence[Aircraft]


@dataclass(frozen=True)
class DispatchBoard:
    transfers: Sequence[BoardRow]
    bases: Sequence[BaseRow]
    now: datetime

    @property
    def patients(self) -> list[uuid.UUID]:
        """For the audit record of the page that shows the board."""
        return [row.transfer.patient.uuid for row in self.transfers]


def open_transfers(user: User | None) -> QuerySet[Transfer]:
    return _related(visible_transfers(user).filter(status__in=OPEN_STATUSES))


def board(user: User | None, *, now: datetime | None = None) -> DispatchBoard:
    """The coordinator's dispatch board: open transfers most urgent first with their clocks and
    stall flag, and the aircraft of every base (own region first) with their status."""
    now = now or timezone.now()
    if not may_dispatch(user):
        return DispatchBoard((), (), now)
    assert user is not None and user.facility is not None
    # The last move annotated: the stall flag without a query per row.
    found = with_last_move(open_transfers(user))
    rows = [BoardRow(t, clocks.clock(t, now), stall_reason(t, now)) for t in found]
    rows.sort(
        key=lambda row: (
            URGENCY.get(TransferCondition(row.transfer.condition), 9),
            -row.clock.elapsed_minutes,
        )
    )
    region = user.facility.region
    bases = sorted(
        TransportBase.objects.prefetch_related("aircraft").select_related("settlement"),
        key=lambda base: (base.region != region, base.region, base.name_en),
    )
    return DispatchBoard(
        transfers=tuple(rows),
        bases=tuple(BaseRow(base, tuple(base.aircraft.all())) for base in bases),
        now=now,
    )


def incoming(user: User | None) -> QuerySet[Transfer]:
    """The receiving hospital's transfers: requested or on their way to the user's facility."""
    if user is None or not user.is_authenticated or not user.facility_id:
        return Transfer.objects.none()
    return _related(
        visible_transfers(user).filter(destination_id=user.facility_id, status__in=OPEN_STATUSES)
    ).order_by("decided_at", "pk")


def transfer_for(user: User | None, transfer_uuid: uuid.UUID | str) -> Transfer | None:
    """The transfer if the user may see it, else None (the caller answers 404 and audits)."""
    try:
        key = uuid.UUID(str(transfer_uuid))
    except ValueError:
        return None
    return _related(visible_transfers(user)).filter(uuid=key).first()


def open_transfer_of(user: User | None, patient_id: int) -> Transfer | None:
    """The patient's open transfer, if the user may see it (the patient's page shows it)."""
    return open_transfers(user).filter(patient_id=patient_id).first()


def timeline(transfer: Transfer) -> list[TransferEvent]:
    return list(transfer.events.select_related("actor").order_by("at", "pk"))
