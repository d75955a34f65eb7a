"""Whether a practitioner is at work at a moment. Weekly working windows are kept in the
facility's own time zone (a Chukotka hub and a Moscow centre are nine hours apart, a Korean
partner six), so the moment is read there, never in the reader's zone. No database here: the
windows are anything with a weekday, a start and an end (WorkingHours rows, or test values)."""

from __future__ import annotations

import zoneinfo
from collections.abc import Iterable
from datetime import datetime, time
from typing import Protocol


class Window(Protocol):
    @property
    def weekday(self) -> int: ...  # Monday is 0, as datetime.weekday()

    @property
    def start(self) -> time: ...

    @property
    def end(self) -> time: ...


def at_work(windows: Iterable[Window], zone: str, at: datetime) -> bool:
    """Is `at` inside one of the weekly windows, read in `zone`? A window ends before its end
    (09:00–18:00 is over at 18:00); none crosses midnight (WorkingHours requires start < end)."""
    local = at.astimezone(zoneinfo.ZoneInfo(zone))
    moment = local.time()
    return any(
        window.weekday == local.weekday() and window.start <= moment < window.end
        for window in windows
    )
