"""The clocks of a transfer (issue 16, point 6), with fixed times: first contact → decision →
departure → arrival → handover; a weather hold stops the clock without holds and the resume
starts it again, while the wall clock (what the patient lived) runs on; and a region's share
of emergencies hospitalised within 24 hours against the 90 % target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from farcare.audit.services import Accessor
from farcare.evacuation.clocks import TARGET_SHARE, clock, region_summary
from farcare.evacuation.services import transfer_move

from .world import World, world  # noqa: F401

T0 = datetime(2026, 2, 3, 0, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


@dataclass
class Times:
    """A transfer's timestamps, as the clocks read them."""

    first_contact_at: datetime = T0
    decided_at: datetime = T0 + timedelta(minutes=20)
    departed_at: datetime | None = None
    arrived_at: datetime | None = None
    handed_over_at: datetime | None = None
    ended_at: datetime | None = None
    held_seconds: int = 0
    held_since: datetime | None = None


def test_segments_of_a_finished_transfer():
    times = Times(departed_at=at(140), arrived_at=at(260), handed_over_at=at(275), ended_at=at(275))
    state = clock(times, now=at(1000))
    assert [(s.name, s.minutes) for s in state.segments] == [
        ("to_decision", 20),
        ("to_departure", 120),
        ("to_arrival", 120),
        ("to_handover", 15),
    ]
    assert state.elapsed_minutes == 260  # to the hospital door; later "now" changes nothing
    assert not state.running and state.arrived
    assert state.within_target() is True
    assert state.within_target(hours=4) is False


def test_a_running_segment_counts_up_to_now():
    state = clock(Times(departed_at=at(60)), now=at(90))
    assert state.segment("to_arrival").running
    assert state.segment("to_arrival").minutes == 30
    assert state.segment("to_handover").minutes is None
    assert state.elapsed_minutes == 90
    assert state.within_target() is None  # still inside the 24 hours


def test_a_weather_hold_stops_the_clock_without_holds_and_the_resume_restarts_it():
    # Held since minute 60: at minute 180 two hours were lost to the weather.
    held = Times(held_since=at(60))
    during = clock(held, now=at(180))
    assert during.stopped_by_hold
    assert during.elapsed_minutes == 180
    assert during.elapsed_without_holds_minutes == 60
    # Later in the hold the clock without holds stands still.
    assert clock(held, now=at(240)).elapsed_without_holds_minutes == 60
    # Resumed at minute 240: the 3-hour hold is closed and the clock runs again.
    resumed = Times(held_seconds=180 * 60)
    after = clock(resumed, now=at(300))
    assert not after.stopped_by_hold
    assert after.held_minutes == 180
    assert after.elapsed_without_holds_minutes == 120
    assert clock(resumed, now=at(330)).elapsed_without_holds_minutes == 150


def test_overdue_without_arrival_misses_the_target():
    state = clock(Times(held_since=at(60)), now=at(25 * 60))
    assert state.within_target() is False


def test_an_ended_transfer_without_arrival_is_not_counted_against_the_target():
    state = clock(Times(ended_at=at(90)), now=at(30 * 60))
    assert not state.running and state.elapsed_minutes == 90
    assert state.within_target() is None


def test_region_summary_against_the_national_target():
    rows = [
        *(Times(departed_at=at(100), arrived_at=at(200)) for _ in range(8)),
        Times(departed_at=at(1200), arrived_at=at(26 * 60), held_seconds=600 * 60),  # a storm
        Times(ended_at=at(50)),  # treated locally: no hospitalisation to count
        Times(),  # still running, minute 20 — not known yet
    ]
    summary = region_summary(rows, now=at(60))
    assert summary.count == 11
    assert summary.counted == 9
    assert summary.within_target == 8
    assert summary.share_within_target == pytest.approx(8 / 9)
    assert summary.target_share == TARGET_SHARE
    assert summary.meets_target is False
    assert summary.median_minutes["to_decision"] == 20
    assert summary.median_minutes["to_arrival"] == 100
    assert summary.median_elapsed_minutes == 200
    assert summary.median_held_minutes == 0
    assert region_summary([]).share_within_target is None


@pytest.mark.django_db
def test_a_hold_through_the_services_with_fixed_times(world: World):  # noqa: F811
    coordinator = Accessor(world.coordinator)
    with time_machine.travel(T0, tick=False) as travel:
        transfer = world.open(first_contact_at=T0 - timedelta(minutes=30))
        transfer = transfer_move(
            accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept"
        )
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8
        )
        travel.shift(timedelta(minutes=10))
        transfer = transfer_move(
            accessor=coordinator,
            transfer=transfer,
            event="hold",
            reason="Blizzard over the Chukotka range",
            expected_until=T0 + timedelta(hours=5),
        )
        travel.shift(timedelta(hours=3))
        assert clock(transfer, now=at(190)).elapsed_without_holds_minutes == 40
        transfer = transfer_move(accessor=coordinator, transfer=transfer, event="resume")
        travel.shift(timedelta(minutes=20))
        transfer = transfer_move(accessor=coordinator, transfer=transfer, event="dispatch")
    state = clock(transfer, now=at(210))
    assert transfer.held_seconds == 3 * 3600
    assert state.elapsed_minutes == 240
    assert state.elapsed_without_holds_minutes == 60
