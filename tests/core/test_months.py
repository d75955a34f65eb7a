"""Every aggregate's period is whole calendar months in UTC; the month arithmetic the pages
use (farcare.core.months) crosses year ends and short months without slipping a day."""

from datetime import UTC, date, datetime

import pytest

from farcare.core.months import add_months, month_period, month_start, months_between


def test_a_month_starts_on_its_first_day() -> None:
    assert month_start(date(2026, 3, 31)) == date(2026, 3, 1)
    assert month_start(datetime(2026, 12, 31, 23, 59, tzinfo=UTC)) == date(2026, 12, 1)


@pytest.mark.parametrize(
    ("day", "n", "expected"),
    [
        (date(2026, 3, 1), -2, date(2026, 1, 1)),  # this month and the two before
        (date(2026, 1, 1), -2, date(2025, 11, 1)),  # across the new year
        (date(2025, 12, 1), 1, date(2026, 1, 1)),
        (date(2026, 1, 31), 1, date(2026, 2, 28)),  # February has no 31st
        (date(2028, 1, 31), 1, date(2028, 2, 29)),  # nor, in a leap year, a 30th
        (date(2026, 5, 15), 0, date(2026, 5, 15)),
        (date(2026, 5, 15), -17, date(2024, 12, 15)),
        (date(2026, 5, 15), 24, date(2028, 5, 15)),
    ],
)
def test_months_are_added_and_taken_away(day: date, n: int, expected: date) -> None:
    assert add_months(day, n) == expected


def test_months_between_counts_month_boundaries_not_days() -> None:
    assert months_between(date(2026, 1, 31), date(2026, 2, 1)) == 1
    assert months_between(date(2026, 2, 1), date(2026, 2, 28)) == 0
    assert months_between(date(2024, 3, 5), date(2027, 2, 5)) == 35
    assert months_between(date(2026, 5, 1), date(2026, 4, 1)) == -1


def test_a_period_runs_from_the_first_months_start_to_the_start_after_the_last() -> None:
    assert month_period(date(2026, 2, 17), date(2026, 12, 3)) == (
        datetime(2026, 2, 1, tzinfo=UTC),
        datetime(2027, 1, 1, tzinfo=UTC),
    )
    # One month is a period too.
    assert month_period(date(2026, 5, 31), date(2026, 5, 1)) == (
        datetime(2026, 5, 1, tzinfo=UTC),
        datetime(2026, 6, 1, tzinfo=UTC),
    )
