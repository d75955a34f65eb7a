"""A consultant in New York publishes a weekly pattern over the nights the clocks change: every
slot lasts exactly its minutes and follows the one before with no hole, the hour skipped in
March yields no slot, the hour shown twice in November yields slots twice (the consultant is at
work through both), and a date no calendar holds is refused in the consultant's language."""

from __future__ import annotations

import itertools
import zoneinfo
from datetime import timedelta

import pytest

from farcare.scheduling.models import Slot

from ..conftest import logged_in

NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def publish_sundays(live, start: str, end: str, first_day: str, weeks: int = 1):
    return logged_in(live.consultant).post(
        f"/appointments/availability/{live.consultant.uuid}/weekly/",
        {
            "weekdays": ["6"],
            "start": start,
            "end": end,
            "minutes": "30",
            "first_day": first_day,
            "weeks": str(weeks),
            "zone": "America/New_York",
        },
    )


def new_york_slots() -> list[Slot]:
    return list(Slot.objects.filter(zone="America/New_York").order_by("starts_at"))


def local_starts(slots: list[Slot]) -> list[str]:
    return [s.starts_at.astimezone(NEW_YORK).strftime("%H:%M %Z") for s in slots]


def assert_thirty_minutes_each_without_holes(slots: list[Slot]) -> None:
    assert slots
    assert all(s.ends_at - s.starts_at == timedelta(minutes=30) for s in slots)
    assert all(a.ends_at == b.starts_at for a, b in itertools.pairwise(slots))


def test_the_night_clocks_move_forward_has_no_slot_in_the_skipped_hour(live):
    # Sunday 8 March 2026: at 02:00 New York's clocks jump to 03:00.
    response = publish_sundays(live, "01:00", "04:00", "2026-03-02")
    assert response.status_code == 302, response.content
    slots = new_york_slots()
    assert local_starts(slots) == ["01:00 EST", "01:30 EST", "03:00 EDT", "03:30 EDT"]
    assert_thirty_minutes_each_without_holes(slots)


def test_a_pattern_starting_in_the_skipped_hour_starts_when_the_clocks_jump(live):
    response = publish_sundays(live, "02:30", "04:00", "2026-03-02")
    assert response.status_code == 302, response.content
    assert local_starts(new_york_slots()) == ["03:00 EDT", "03:30 EDT"]


def test_the_night_clocks_move_back_publishes_the_repeated_hour_twice(live):
    # Sunday 1 November 2026: at 02:00 New York's clocks go back to 01:00.
    response = publish_sundays(live, "00:30", "03:00", "2026-10-26")
    assert response.status_code == 302, response.content
    slots = new_york_slots()
    assert local_starts(slots) == [
        "00:30 EDT",
        "01:00 EDT",
        "01:30 EDT",
        "01:00 EST",
        "01:30 EST",
        "02:00 EST",
        "02:30 EST",
    ]
    assert_thirty_minutes_each_without_holes(slots)


def test_a_single_slot_in_the_skipped_hour_is_refused(live):
    response = logged_in(live.consultant).post(
        f"/appointments/availability/{live.consultant.uuid}/single/",
        {"day": "2026-03-08", "start": "02:30", "minutes": "30", "zone": "America/New_York"},
    )
    assert response.status_code == 422
    assert "does not exist in America/New_York that day" in response.text
    assert not new_york_slots()


WITHIN_A_YEAR = {
    "ru": "Выберите дату в пределах ближайшего года.",
    "ko": "앞으로 1년 이내의 날짜를 선택하세요.",
    "en": "Choose a date within the next year.",
}


@pytest.mark.parametrize("language", ["ru", "ko", "en"])
@pytest.mark.parametrize(
    ("day", "zone"),
    [
        ("0001-01-01", "Asia/Seoul"),
        ("9999-12-25", "Asia/Seoul"),
        ("9999-12-31", "Pacific/Kiritimati"),
    ],
)
def test_a_date_no_calendar_holds_is_refused_in_the_consultant_s_language(
    live, language, day, zone
):
    live.consultant.language = language
    live.consultant.save(update_fields=["language"])
    client = logged_in(live.consultant, language)
    before = Slot.objects.count()
    weekly = client.post(
        f"/appointments/availability/{live.consultant.uuid}/weekly/",
        {
            "weekdays": ["0", "1", "2", "3", "4", "5", "6"],
            "start": "00:00",
            "end": "23:30",
            "minutes": "30",
            "first_day": day,
            "weeks": "2",
            "zone": zone,
        },
    )
    single = client.post(
        f"/appointments/availability/{live.consultant.uuid}/single/",
        {"day": day, "start": "23:30", "minutes": "90", "zone": zone},
    )
    for response in (weekly, single):
        assert response.status_code == 422
        assert WITHIN_A_YEAR[language] in response.text
    assert Slot.objects.count() == before
