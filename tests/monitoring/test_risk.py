"""The risk that sorts a programme list: open alerts first, then readings outside their
targets, then readings overdue; the reason is stored as codes and shown in words."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import translation

from farcare.monitoring.risk import Due, describe, score

NOW = datetime(2026, 1, 15, 12, tzinfo=UTC)
ENROLLED = NOW - timedelta(days=10)
DAILY = timedelta(days=1)
TARGETS = {"8480-6": {"low": "100", "high": "135"}, "8462-4": {"low": "60", "high": "85"}}


def risk(alerts=(), latest=None, last_at=NOW - timedelta(hours=2)):
    return score(
        open_alerts=alerts,
        latest=latest or {},
        targets=TARGETS,
        schedules=[Due(DAILY, timedelta(hours=12), last_at)],
        enrolled_at=ENROLLED,
        now=NOW,
    )


def test_a_person_on_target_with_recent_readings_has_no_risk():
    assert risk(latest={"8480-6": Decimal(128), "8462-4": Decimal(80)}) == (0, "")


def test_an_open_critical_alert_outweighs_everything_else():
    critical, _ = risk(alerts=["critical"])
    urgent_and_more, _ = risk(
        alerts=["urgent", "watch"],
        latest={"8480-6": Decimal(170), "8462-4": Decimal(100)},
        last_at=NOW - timedelta(days=4),
    )
    assert critical == 100
    assert urgent_and_more == 60 + 5 + 20 + 25
    assert critical > risk(alerts=["urgent"])[0] > risk(alerts=["watch"])[0]


def test_readings_outside_target_and_overdue_add_up_with_their_reasons():
    points, reason = risk(
        latest={"8480-6": Decimal(150), "8462-4": Decimal(80)}, last_at=NOW - timedelta(hours=40)
    )
    assert points == 10 + 15
    assert reason == "outside_target;overdue"
    with translation.override("en"):
        assert describe(reason) == "latest reading outside target, readings overdue"


def test_never_read_is_counted_from_enrolment():
    points, reason = risk(last_at=None)
    assert reason == "long_overdue" and points == 25


def test_the_reason_is_put_in_words_in_the_viewers_language():
    with translation.override("ru"):
        text = describe("alert_critical")
    assert text and text != "critical alert open"
