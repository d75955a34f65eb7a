"""Russian patient identifiers (domain.md §4)."""

from __future__ import annotations

import re

_NON_DIGITS = re.compile(r"\D")


def digits(value: str) -> str:
    return _NON_DIGITS.sub("", value or "")


def snils_check_number(first_nine: str) -> int:
    total = sum(int(d) * (9 - i) for i, d in enumerate(first_nine))
    if total < 100:
        return total
    if total in (100, 101):
        return 0
    remainder = total % 101
    return 0 if remainder == 100 else remainder


def snils_is_valid(value: str) -> bool:
    number = digits(value)
    if len(number) != 11:
        return False
    # Numbers up to 001-001-998 were issued before the checksum existed.
    if int(number[:9]) <= 1001998:
        return True
    return snils_check_number(number[:9]) == int(number[9:])


def snils_format(value: str) -> str:
    number = digits(value)
    if len(number) != 11:
        return value
    return f"{number[:3]}-{number[3:6]}-{number[6:9]} {number[9:]}"


def oms_is_valid(value: str) -> bool:
    return len(value) == 16 and value.isdigit()


def normalise_text(value: str) -> str:
    """The form names are matched in: case folded, ё as е, spaces collapsed. Works alike for
    Cyrillic, Latin and Hangul, and gives the same answer on SQLite and PostgreSQL because the
    database compares already-normalised text."""
    return " ".join(value.casefold().replace("ё", "е").split())
