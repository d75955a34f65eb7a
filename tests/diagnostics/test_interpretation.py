"""What a value means: reference ranges by sex and age, and the interpretation codes."""

from __future__ import annotations

from decimal import Decimal

from farcare.diagnostics.interpretation import (
    Range,
    interpret,
    parse_range,
    reference_for,
    sent_interpretation,
)

D = Decimal


def test_ranges_as_laboratories_write_them():
    assert parse_range("3.5-5.1") == Range(D("3.5"), D("5.1"), "3.5-5.1")
    assert parse_range("3,5 - 5,1") == Range(D("3.5"), D("5.1"), "3,5 - 5,1")
    assert parse_range("<5").high == D("5") and parse_range("<5").low is None
    assert parse_range(">=60").low == D("60")
    assert parse_range("-2-3") == Range(D("-2"), D("3"), "-2-3")
    assert parse_range("negative") == Range(None, None, "negative")
    assert parse_range("") == Range()


def test_haemoglobin_ranges_differ_for_men_and_women_and_children():
    assert reference_for("718-7", "male", 40) == Range(D("130"), D("170"), "130-170")
    assert reference_for("718-7", "female", 40) == Range(D("120"), D("150"), "120-150")
    assert reference_for("718-7", "female", 10).low == D("110")
    # Under a year old the table has no range: better none than an adult's.
    assert reference_for("718-7", "female", 0) is None
    assert reference_for("718-7", "unknown", 40) is None


def test_ranges_for_everyone_apply_whatever_the_sex():
    assert reference_for("2823-3", "unknown", 40) == Range(D("3.5"), D("5.1"), "3.5-5.1")
    assert reference_for("14749-6", "male", 50).high == D("5.5")  # glucose by its moles code


def test_interpretation_codes():
    usual = Range(D("3.5"), D("5.1"))
    critical = Range(D("2.8"), D("6.2"))
    assert interpret(D("4.2"), usual, critical) == "N"
    assert interpret(D("3.1"), usual, critical) == "L"
    assert interpret(D("5.6"), usual, critical) == "H"
    assert interpret(D("2.5"), usual, critical) == "LL"
    assert interpret(D("7.1"), usual, critical) == "HH"
    # The limits are "below 2.8" and "above 6.2": the limit itself is not critical.
    assert interpret(D("2.8"), usual, critical) == "L"
    assert interpret(D("6.2"), usual, critical) == "H"
    assert interpret(D("4.2"), None, None) == ""
    assert interpret(D("9"), Range(text="see note"), None) == ""


def test_flags_sent_by_the_laboratory():
    assert sent_interpretation(("HH",)) == "HH"
    assert sent_interpretation(("", "l")) == "L"
    assert sent_interpretation(("X",)) == ""
