"""How much an enrolled person needs a clinician's eye now, as one number to sort a list of
thousands by (issue 17, point 4). Pure: the services and the watch compute it and keep it on
the enrolment (`Enrolment.risk`, `risk_reason`), so the list sorts on an index.

The score adds up, most weighty first:
- the most severe open alert (critical 100, urgent 60, watch 30), and 5 for each further one;
- each quantity whose latest reading is outside its target band: 10 (at most 30);
- readings overdue against the plan's schedule: 15, and 25 after twice the interval.

The reason is a list of short codes ("alert_critical;outside_target;overdue") kept in the row,
and put into words in the viewer's language by `describe`, so a list shown in Korean does
not read a reason stored in Russian.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.utils.translation import gettext_lazy

from .rules import SEVERITY_ORDER, Severity

ALERT_POINTS: Mapping[Severity, int] = {
    Severity.CRITICAL: 100,
    Severity.URGENT: 60,
    Severity.WATCH: 30,
}
FURTHER_ALERT_POINTS = 5
OUTSIDE_TARGET_POINTS = 10
OUTSIDE_TARGET_MAX = 30
OVERDUE_POINTS = 15
LONG_OVERDUE_POINTS = 25

REASONS = {
    "alert_critical": gettext_lazy("critical alert open"),
    "alert_urgent": gettext_lazy("urgent alert open"),
    "alert_watch": gettext_lazy("alert open"),
    "outside_target": gettext_lazy("latest reading outside target"),
    "overdue": gettext_lazy("readings overdue"),
    "long_overdue": gettext_lazy("no readings for a long time"),
}


@dataclass(frozen=True)
class Due:
    """One schedule of the plan and when its measure was last read (None: never)."""

    every: timedelta
    grace: timedelta
    last_at: datetime | None


def score(
    *,
    open_alerts: Iterable[str],
    latest: Mapping[str, Decimal],
    targets: Mapping[str, Mapping[str, str]],
    schedules: Iterable[Due],
    enrolled_at: datetime,
    now: datetime,
) -> tuple[int, str]:
    """(score, reason codes joined by ";") of one enrolment.

    `open_alerts`: severities of its open or escalated alerts; `latest`: the latest value of each
    quantity (by LOINC code, the panel's parts separately); `targets`: the enrolment's bands."""
    points = 0
    reasons: list[str] = []
    severities = sorted((Severity(s) for s in open_alerts), key=lambda s: -SEVERITY_ORDER[s])
    if severities:
        points += ALERT_POINTS[severities[0]] + FURTHER_ALERT_POINTS * (len(severities) - 1)
        reasons.append(f"alert_{severities[0].value}")
    outside = 0
    for code, band in targets.items():
        value = latest.get(code)
        if value is None:
            continue
        low, high = band.get("low"), band.get("high")
        if (low not in (None, "") and value < Decimal(str(low))) or (
            high not in (None, "") and value > Decimal(str(high))
        ):
            outside += OUTSIDE_TARGET_POINTS
    if outside:
        points += min(outside, OUTSIDE_TARGET_MAX)
        reasons.append("outside_target")
    overdue = ""
    for due in schedules:
        since = due.last_at or enrolled_at
        late = now - (since + due.every)
        if late > due.every + due.grace:
            overdue = "long_overdue"
        elif late > due.grace and not overdue:
            overdue = "overdue"
    if overdue:
        points += LONG_OVERDUE_POINTS if overdue == "long_overdue" else OVERDUE_POINTS
        reasons.append(overdue)
    return points, ";".join(reasons)


def describe(reason: str) -> str:
    """The stored reason codes in words, in the active language."""
    return ", ".join(str(REASONS[code]) for code in reason.split(";") if code in REASONS)
