"""A trainer mistypes a session's date or time: a year no calendar can hold, a series running
off the end of it, or a time the clocks skip that night. Each is refused on the page with the
reason under the field, and no session is made or moved."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.training.models import Session

from ..conftest import logged_in
from .conftest import Course

pytestmark = pytest.mark.django_db


def add_series(course: Course, day: str, start: str, zone: str, count: int):
    return logged_in(course.trainer).post(
        reverse("training:sessions_add", args=[course.programme.uuid]),
        {
            "title": "Night shift ECG",
            "day": day,
            "start": start,
            "zone": zone,
            "count": count,
            "every_days": 7,
            "duration_minutes": 90,
            "lecture_minutes": 30,
            "mode": "online",
            "room": "",
        },
    )


@pytest.mark.parametrize(
    ("day", "zone", "count"),
    [("9999-12-20", "Asia/Seoul", 3), ("0001-01-01", "Asia/Seoul", 1), ("2029-01-01", "UTC", 1)],
)
def test_a_date_beyond_two_years_is_refused(course: Course, day, zone, count):
    before = Session.objects.count()
    response = add_series(course, day, "10:00", zone, count)
    assert response.status_code == 400
    # In the Korean trainer's language.
    assert "오늘부터 2년 이내의 날짜를 선택하세요." in response.text
    assert Session.objects.count() == before


def test_a_series_whose_last_session_falls_beyond_two_years_is_refused(course: Course):
    before = Session.objects.count()
    response = logged_in(course.trainer).post(
        reverse("training:sessions_add", args=[course.programme.uuid]),
        {
            "title": "Long course",
            "day": "2027-12-01",
            "start": "10:00",
            "zone": "Asia/Seoul",
            "count": 20,
            "every_days": 60,
            "duration_minutes": 90,
            "lecture_minutes": 30,
            "mode": "online",
            "room": "",
        },
    )
    assert response.status_code == 400
    assert "마지막 수업이 2년 범위를 벗어납니다." in response.text
    assert Session.objects.count() == before


def test_a_start_in_the_hour_the_clocks_skip_is_refused_not_shifted(course: Course):
    before = Session.objects.count()
    # Sunday 8 March 2026: New York's clocks jump from 02:00 to 03:00.
    response = add_series(course, "2026-03-08", "02:30", "America/New_York", 1)
    assert response.status_code == 400
    assert "America/New_York" in response.text
    assert "그날 America/New_York에는 이 시각이 없습니다" in response.text
    assert Session.objects.count() == before

    second = course.sessions[1]
    was = second.starts_at
    moved = logged_in(course.trainer).post(
        reverse("training:reschedule", args=[second.uuid]),
        {"day": "2026-03-08", "start": "02:30", "zone": "America/New_York", "room": ""},
    )
    assert moved.status_code == 400
    second.refresh_from_db()
    assert second.starts_at == was
