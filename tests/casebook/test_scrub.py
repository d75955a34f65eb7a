"""The scrubber on its own (no database): names in every script and case form, initials,
numbers, dates in ru/ko/en formats moved by the offset, ages over 89 grouped."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from farcare.casebook.scrub import Person, Place, Scrubber
from farcare.casebook.transliteration import romanise

SCRUBBER = Scrubber(
    language="en",
    people=(
        Person("[patient]", ("Иванов",), ("Иван",), ("Петрович",)),
        Person("[clinician A]", ("김",), ("민준",)),
        Person("[clinician B]", ("Smirnova",), ("Olga",)),
        Person("[clinician C]", ("Чернышевский",), ("Дмитрий",)),
    ),
    places=(Place(("Уэлен", "Uelen", "웰렌"), "[Chukotka]"),),
    numbers=(("snils", "11223344595"), ("phone", "+79141234567")),
    shift=timedelta(days=-10),
    reference_year=2026,
    birth_date=date(1933, 3, 1),
)


@pytest.mark.parametrize(
    "text",
    [
        "Иванов",
        "Иванова",
        "Иванову",
        "Ивановым",
        "Ivanov",
        "IVANOV",
        "Iwanow",
        "Ivanoff",
        "Иванов И.И.",
        "И.П. Иванов",
        "И. Иванов",
        "Ivanov I.P.",
        "Ивана Петровича",
        "이바노프",
        "김민준",
        "김 민준",
        "Kim Min-jun",
        "Minjun Kim",
        "Min Joon Kim",
        "Ким Мин Джун",
        "Dr. Kim",
        "Smirnova",
        "Смирновой",
        "Ольгой",
        "스미르노바",
        "Чернышевского",
        "Chernyshevskiy",
        "Chernyshevsky",
        "Дмитрию",
        "Dmitriy",
    ],
)
def test_every_form_of_a_name_is_removed(text):
    cleaned, counts = SCRUBBER.scrub(f"Seen by {text} today.")
    assert cleaned.startswith("Seen by [") and cleaned.endswith("] today."), cleaned
    assert counts["name"] >= 1


def test_a_korean_family_name_alone_goes_before_a_title():
    assert SCRUBBER.scrub("김 선생님께") == ("[clinician A] 선생님께", {"name": 1})
    assert SCRUBBER.scrub("김치") == ("김치", {})


@pytest.mark.parametrize(
    "text",
    ["left arm", "Левой рукой", "Иванцов", "Park Avenue", "no change", "I agree", "ECG"],
)
def test_ordinary_words_and_other_names_stay(text):
    assert SCRUBBER.scrub(text)[0] == text


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("СНИЛС 112-233-445 95", "snils"),
        ("SNILS 12345678901", "snils"),
        ("ОМС 7755 4433 2211 0099", "oms"),
        ("ОМС 7755443322110099", "oms"),
        ("тел. +7 (914) 123-45-67", "phone"),
        ("тел. 8-914-123-45-67", "phone"),
        ("tel 010-9876-5432", "phone"),
        ("tel +82 10 9876 5432", "phone"),
        ("ФАП: 2-34-56", "phone"),
        ("mail ivanov.i@mail.ru", "email"),
    ],
)
def test_numbers_and_addresses_are_removed(text, kind):
    cleaned, counts = SCRUBBER.scrub(text)
    assert counts[kind] == 1, (cleaned, counts)
    assert not any(ch.isdigit() for ch in cleaned.split("@")[-1])


@pytest.mark.parametrize(
    ("text", "shifted"),
    [
        ("12.03.2026", "02.03.2026"),
        ("2026-03-12", "2026-03-02"),
        ("12 марта 2026", "2 марта 2026"),
        ("2026년 3월 12일", "2026년 3월 2일"),
        ("March 12, 2026", "March 2, 2026"),
        ("12 March 2026", "2 March 2026"),
        ("3 марта", "21 февраля"),
    ],
)
def test_dates_move_by_the_offset_in_each_language(text, shifted):
    cleaned, counts = SCRUBBER.scrub(text)
    assert cleaned == shifted and counts["date"] == 1


def test_the_birth_date_and_year_are_removed_and_great_ages_grouped():
    cleaned, _counts = SCRUBBER.scrub("born 01.03.1933 (1933), 93 года, aged 93, 93세, 45 лет")
    assert "1933" not in cleaned and "93" not in cleaned
    assert cleaned.count("90+") == 3 and "45 лет" in cleaned


def test_a_small_settlement_is_named_by_its_region_in_any_script():
    for text in ("из Уэлена", "from Uelen", "웰렌에서"):
        assert "[Chukotka]" in SCRUBBER.scrub(text)[0]


def test_hangul_is_romanised_by_syllable_arithmetic():
    assert romanise("김민준") == "gimminjun"
    assert romanise("박서연") == "bakseoyeon"
