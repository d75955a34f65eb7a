"""A person reads their own laboratory values in their language: the number with their decimal
separator, the unit as their laboratories write it, the usual range, and one sentence saying
where the value stands: whose range it is when that matters, and that the doctor has been told
when the value is critical."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import pytest

from farcare.diagnostics.plain_words import (
    Standing,
    Whose,
    name_of,
    range_text,
    sentence,
    standing,
    unit_text,
    value_text,
    whose_range,
    whose_range_of,
)


@dataclass(frozen=True)
class Usual:
    low: Decimal | None
    high: Decimal | None


HAEMOGLOBIN_WOMEN = Usual(Decimal("120"), Decimal("150"))
POTASSIUM = Usual(Decimal("3.5"), Decimal("5.1"))


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Above the usual range for women of your age."),
        ("ru", "Выше обычного диапазона для женщин вашего возраста."),
        ("ko", "같은 연령대 여성의 일반적인 범위보다 높습니다."),
    ],
)
def test_a_high_value_says_whose_range_it_is_above(language: str, expected: str) -> None:
    words = sentence(
        interpretation="H",
        value=Decimal("162"),
        reference=HAEMOGLOBIN_WOMEN,
        whose=Whose.WOMEN_OF_AGE,
        language=language,
    )
    assert words == expected


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Within the usual range."),
        ("ru", "В пределах обычного диапазона."),
        ("ko", "일반적인 범위 안에 있습니다."),
    ],
)
def test_a_usual_value_is_within_the_usual_range(language: str, expected: str) -> None:
    assert sentence(interpretation="N", language=language) == expected


@pytest.mark.parametrize(
    ("language", "interpretation", "expected"),
    [
        ("en", "LL", "Far below the usual range — your doctor has been told."),
        ("ru", "LL", "Намного ниже обычного диапазона — ваш врач уже извещён."),
        ("ko", "LL", "일반적인 범위보다 훨씬 낮습니다 — 담당 의사에게 이미 알렸습니다."),
        ("en", "HH", "Far above the usual range — your doctor has been told."),
        ("ru", "HH", "Намного выше обычного диапазона — ваш врач уже извещён."),
    ],
)
def test_a_critical_value_says_the_doctor_has_been_told(
    language: str, interpretation: str, expected: str
) -> None:
    # Whose range it is does not matter next to a critical value: the person needs to know
    # that someone who acts already knows.
    words = sentence(
        interpretation=interpretation,
        value=Decimal("2.4"),
        reference=POTASSIUM,
        whose=Whose.MEN_OF_AGE,
        language=language,
    )
    assert words == expected


def test_without_an_interpretation_the_value_is_compared_with_its_range() -> None:
    assert standing("", Decimal("3.2"), POTASSIUM) is Standing.BELOW
    assert standing("", Decimal("5.1"), POTASSIUM) is Standing.WITHIN
    assert standing("", Decimal("5.2"), POTASSIUM) is Standing.ABOVE
    assert standing("", Decimal("5.2"), None) is Standing.UNKNOWN
    # The laboratory's flag wins over arithmetic: it may apply its own limits.
    assert standing("HH", Decimal("5.2"), POTASSIUM) is Standing.FAR_ABOVE
    assert sentence(interpretation="", value=Decimal("4"), reference=None) == (
        "The laboratory gave no usual range for this test."
    )
    assert sentence(interpretation="A", language="ru") == (
        "Необычный результат — врач объяснит его вам."
    )


@pytest.mark.parametrize(
    ("language", "value", "range_"),
    [
        ("ru", "5,8 ммоль/л", "3,5–5,1 ммоль/л"),
        ("ko", "5.8 mmol/L", "3.5–5.1 mmol/L"),
        ("en", "5.8 mmol/L", "3.5–5.1 mmol/L"),
    ],
)
def test_numbers_and_units_as_the_reader_writes_them(
    language: str, value: str, range_: str
) -> None:
    assert value_text(Decimal("5.8000"), "mmol/L", language) == value
    assert range_text(POTASSIUM, "mmol/L", language) == range_


def test_one_sided_ranges_and_ranges_given_only_as_text() -> None:
    troponin = Usual(None, Decimal("14"))
    egfr = Usual(Decimal("60"), None)
    assert range_text(troponin, "ng/L", "en") == "up to 14 ng/L"
    assert range_text(troponin, "ng/L", "ru") == "до 14 нг/л"
    assert range_text(troponin, "ng/L", "ko") == "14 이하 ng/L"
    assert range_text(egfr, "", "en") == "60 or more"
    assert range_text(egfr, "", "ru") == "от 60"
    assert range_text(None, "", "en", text="negative") == "negative"
    assert value_text(None, "", "ru", text="отрицательный") == "отрицательный"
    assert unit_text("10*9/L", "ru") == "×10⁹/л"
    assert unit_text("mosm/kg", "ru") == "mosm/kg"  # unknown: as sent
    assert value_text(Decimal("1.10"), "{INR}", "ru") == "1,1"


def test_whose_range_follows_the_reference_table() -> None:
    def haemoglobin(sex: str, age: int) -> Usual:
        if age < 12:
            return Usual(Decimal("110"), Decimal("140"))
        if sex == "female":
            return Usual(Decimal("120"), Decimal("150"))
        return Usual(Decimal("130"), Decimal("170"))

    def creatinine(sex: str, age: int) -> Usual:
        return (
            Usual(Decimal("44"), Decimal("80"))
            if sex == "female"
            else Usual(Decimal("62"), Decimal("106"))
        )

    def potassium(sex: str, age: int) -> Usual:
        return POTASSIUM

    assert whose_range(lookup=haemoglobin, sex="female", age_years=34) is Whose.WOMEN_OF_AGE
    assert whose_range(lookup=haemoglobin, sex="male", age_years=34) is Whose.MEN_OF_AGE
    assert whose_range(lookup=haemoglobin, sex="unknown", age_years=34) is Whose.PEOPLE_OF_AGE
    assert whose_range(lookup=creatinine, sex="female", age_years=34) is Whose.WOMEN
    assert whose_range(lookup=potassium, sex="female", age_years=34) is Whose.ANYONE
    assert whose_range(lookup=lambda sex, age: None, sex="male", age_years=34) is Whose.ANYONE


def test_the_tests_name_is_the_catalogues_in_the_readers_language() -> None:
    assert name_of("2823-3", "ru") == "Калий"
    assert name_of("718-7", "ko") == "혈색소"
    assert name_of("718-7", "en") == "Haemoglobin"
    # Not in the catalogue: what the laboratory called it.
    assert name_of("99999-9", "ru", sent="Ferritin") == "Ferritin"


def test_whose_range_from_the_shipped_reference_table() -> None:
    assert whose_range_of("718-7", sex="female", age_years=34) is Whose.WOMEN_OF_AGE
    assert whose_range_of("2823-3", sex="female", age_years=34) is Whose.ANYONE
