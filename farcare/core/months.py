"""Calendar months, the period of every aggregate: a month is the same span for every reader
(midnight UTC to midnight UTC), and periods are whole months so that no two periods a page
offers differ by less than a month and one case cannot be cut out by subtracting one from the
other. Pure."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime


def month_start(day: date) -> date:
    """The first day of `day`'s month (a datetime gives its calendar date's month)."""
    return date(day.year, day.month, 1)


def add_months(day: date, n: int) -> date:
    """`day` moved by `n` calendar months (back when negative). A day the target month lacks
    becomes its last day: 31 January + 1 month is 28 or 29 February."""
    index = day.year * 12 + day.month - 1 + n
    year, month = divmod(index, 12)
    month += 1
    return date(year, month, min(day.day, calendar.monthrange(year, month)[1]))


def months_between(first: date, last: date) -> int:
    """How many month boundaries lie from `first`'s month to `last`'s: 0 in the same month,
    1 from January to February whatever the days, negative when `last` is earlier."""
    return (last.year - first.year) * 12 + last.month - first.month


def month_period(first: date, last: date) -> tuple[datetime, datetime]:
    """[start, end) from the first day of `first`'s month to the first day after `last`'s month,
    both at midnight UTC."""
    start = month_start(first)
    end = add_months(month_start(last), 1)
    return (
        datetime(start.year, start.month, 1, tzinfo=UTC),
        datetime(end.year, end.month, 1, tzinfo=UTC),
    )
