import pytest

from farcare.patients.identifiers import normalise_text, snils_check_number, snils_is_valid


@pytest.mark.parametrize(
    "snils",
    ["112-233-445 95", "11223344595", "001-001-998 00", "000-000-001 77"],
)
def test_valid_snils_numbers_are_accepted(snils):
    assert snils_is_valid(snils)


@pytest.mark.parametrize(
    "snils",
    ["112-233-445 96", "1122334459", "112233445950", "abc-def-ghi jk", ""],
)
def test_invalid_snils_numbers_are_refused(snils):
    assert not snils_is_valid(snils)


def test_check_number_follows_the_pension_fund_rule():
    # s < 100: s itself
    assert snils_check_number("112233445") == 95
    # s = 100 or 101: 00
    assert snils_check_number("100356355") == 0  # weighted sum 100
    assert snils_check_number("100079190") == 0  # weighted sum 101
    # s > 101: s mod 101, and 00 where that gives 100
    assert snils_check_number("100958199") == 150 % 101
    assert snils_check_number("106897449") == 0  # 201 mod 101 = 100


def test_names_are_matched_without_case_or_yo():
    assert normalise_text("  Семён   ЁЛКИН ") == "семен елкин"
    assert normalise_text("KIM Min-Jun") == "kim min-jun"
    assert normalise_text("김민준") == "김민준"
