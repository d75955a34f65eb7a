"""Working hours are read in the facility's own zone, whatever the reader's."""

from dataclasses import dataclass
from datetime import UTC, datetime, time

from farcare.network.duty import at_work


@dataclass(frozen=True)
class Hours:
    weekday: int
    start: time
    end: time


WEEKDAYS_9_TO_18 = [Hours(day, time(9), time(18)) for day in range(5)]


def test_a_day_shift_in_anadyr_is_read_in_anadyr():
    # Wednesday 01:00 UTC is Wednesday 13:00 in Anadyr (UTC+12) and 04:00 in Moscow.
    moment = datetime(2026, 11, 25, 1, 0, tzinfo=UTC)
    assert at_work(WEEKDAYS_9_TO_18, "Asia/Anadyr", moment)
    assert not at_work(WEEKDAYS_9_TO_18, "Europe/Moscow", moment)


def test_the_weekday_is_the_local_one():
    # Friday 20:00 UTC is already Saturday 08:00 in Anadyr: no shift; still Friday 23:00 in Moscow.
    moment = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)
    assert not at_work([Hours(5, time(7), time(9))], "Europe/Moscow", moment)
    assert at_work([Hours(5, time(7), time(9))], "Asia/Anadyr", moment)


def test_a_shift_is_over_at_its_end():
    end = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)  # 18:00 in Moscow
    assert not at_work(WEEKDAYS_9_TO_18, "Europe/Moscow", end)
    assert at_work(WEEKDAYS_9_TO_18, "Europe/Moscow", end.replace(hour=14, minute=59))
