"""The reading's rules (pure): how soon a study must be read for its priority, the order of a
worklist, and the moves of a reading as data (as consultations' `workflow.py`)."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils.translation import gettext as _

__all__ = [
    "MOVES",
    "PRIORITY_RANK",
    "IllegalReadingMove",
    "next_reading_status",
    "reading_due",
    "worklist_key",
]

# diagnostics.Priority, most pressing first.
PRIORITY_RANK = {"stat": 0, "asap": 1, "urgent": 2, "routine": 3}

# Hours a hub has to read a study of each priority when its order gives no deadline
# (FARCARE_IMAGING_READ_HOURS overrides any of them).
READ_HOURS = {"stat": 1, "asap": 4, "urgent": 24, "routine": 72}

# (reading status, event) → next reading status. A study is claimed by one reader; signing a
# report ends the reading; a reader may give a claimed study back to the worklist.
MOVES: dict[tuple[str, str], str] = {
    ("waiting", "claim"): "reading",
    ("reading", "release"): "waiting",
    ("reading", "sign"): "reported",
}


class IllegalReadingMove(ValueError):
    pass


def next_reading_status(current: str, event: str) -> str:
    try:
        return MOVES[(current, event)]
    except KeyError:
        messages = {
            "claim": _("This study is already being read or is reported."),
            "sign": _("Start reading the study before you sign its report."),
            "release": _("This study is not being read."),
        }
        raise IllegalReadingMove(
            messages.get(event, _("This cannot be done to the study now."))
        ) from None


def reading_due(priority: str, start: datetime, hours: dict[str, int] | None = None) -> datetime:
    table = {**READ_HOURS, **(hours or {})}
    return start + timedelta(hours=table.get(priority, table["routine"]))


def worklist_key(
    priority: str, due_at: datetime | None, created_at: datetime
) -> tuple[int, float, float]:
    """Most pressing priority first, then the nearest deadline, then the oldest."""
    return (
        PRIORITY_RANK.get(priority, len(PRIORITY_RANK)),
        due_at.timestamp() if due_at else float("inf"),
        created_at.timestamp(),
    )
