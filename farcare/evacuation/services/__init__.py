"""The writes of evacuation: transfers and the aircraft on the dispatch board (issue 16)."""

from __future__ import annotations

from ._common import AT_STATION, at_station, station_read_only
from .aircraft import aircraft_set_status
from .transfers import (
    AIRCRAFT_TAKEN,
    OPEN_TRANSFER,
    transfer_decline,
    transfer_move,
    transfer_open,
    transfer_record_decision,
    transfer_set_destination,
    transfer_view,
    treatment_add,
)

__all__ = [
    "AIRCRAFT_TAKEN",
    "AT_STATION",
    "OPEN_TRANSFER",
    "aircraft_set_status",
    "at_station",
    "station_read_only",
    "transfer_decline",
    "transfer_move",
    "transfer_open",
    "transfer_record_decision",
    "transfer_set_destination",
    "transfer_view",
    "treatment_add",
]
