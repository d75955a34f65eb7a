"""A coded value reads as words and numbers in the reader's language (farcare.core.values)."""

from datetime import date, datetime
from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from farcare.clinical.vitals import Acvpu
from farcare.core import values


@pytest.mark.parametrize(
    ("language", "yes", "no"), [("ru", "да", "нет"), ("ko", "예", "아니요"), ("en", "yes", "no")]
)
def test_a_boolean_is_a_word(language, yes, no):
    assert values.yes_no(True, language) == yes
    assert values.yes_no(False, language) == no
    assert values.yes_no("false", language) == no
    assert values.yes_no(None, language) == "—"


def test_air_or_oxygen_reads_as_the_request_form_says_it():
    assert values.air_or_oxygen(False, "ru") == "воздух"
    assert values.air_or_oxygen("True", "ru") == "кислород"
    assert values.air_or_oxygen("true", "en") == "oxygen"


@pytest.mark.parametrize(
    ("language", "alert", "unresponsive"),
    [
        ("ru", "Ясное сознание (A)", "Нет реакции (U)"),
        ("ko", "명료 (A)", None),
        ("en", "Alert (A)", "Unresponsive (U)"),
    ],
)
def test_a_level_of_consciousness_is_words_with_the_letter_after(language, alert, unresponsive):
    assert values.acvpu("A", language) == alert
    assert values.acvpu(Acvpu.ALERT, language) == alert
    shown = values.acvpu("u", language)
    assert shown.endswith("(U)") and len(shown) > 4
    if unresponsive:
        assert shown == unresponsive


@pytest.mark.parametrize(
    ("language", "expected"), [("ru", "9 — Высокий"), ("ko", "9 — 높음"), ("en", "9 — High")]
)
def test_news2_is_the_score_with_its_band_in_words(language, expected):
    assert values.news2(9, "high", language) == expected
    assert values.news2(None, "", language) == "—"
    assert values.news2(3, "", language) == "3"
    assert values.news2_band("low_medium", "en") == "Low–medium"


@pytest.mark.parametrize(
    ("language", "chukotka", "korea"),
    [
        ("ru", "Чукотский АО", "Республика Корея"),
        ("ko", "추코트카 자치구", "대한민국"),
        ("en", "Chukotka", "Republic of Korea"),
    ],
)
def test_regions_and_countries_are_named_in_the_readers_language(language, chukotka, korea):
    assert values.region("Chukotka", language) == chukotka
    assert values.region("Korea", language) == korea
    assert values.country("KR", language) == korea
    assert values.region("Atlantis", language) == "Atlantis"  # an unknown region as stored


def test_every_region_of_the_network_has_a_name_in_each_language():
    import csv
    from pathlib import Path

    import farcare.network

    register = Path(farcare.network.__file__).parent / "data" / "far_east_settlements.csv"
    with register.open(encoding="utf-8") as data:
        regions = {row["region"] for row in csv.DictReader(data)}
    for region in regions:
        assert set(values.REGIONS[region]) == {"ru", "ko", "en"}, region


def test_a_missing_korean_name_falls_back_to_english_then_russian():
    assert values.pick_name({"ru": "Уэлен", "ko": "", "en": "Uelen"}, "ko") == "Uelen"
    assert values.pick_name({"ru": "Уэлен", "ko": "우엘렌", "en": "Uelen"}, "ko") == "우엘렌"
    assert values.pick_name({"ru": "Уэлен", "en": ""}, "en") == "Уэлен"


@pytest.mark.parametrize(
    ("language", "temperature", "bandwidth"),
    [("ru", "36,8", "100\xa0000"), ("ko", "36.8", "100,000"), ("en", "36.8", "100,000")],
)
def test_numbers_use_the_languages_separators(language, temperature, bandwidth):
    assert values.number(Decimal("36.80"), language) == temperature
    assert values.number("36.8", language) == temperature
    assert values.number(100000, language) == bandwidth
    assert values.number(Decimal("36.8"), language, places=2).startswith("36")
    assert values.number(None, language) == "—"


@pytest.mark.parametrize(
    ("language", "expected"), [("ru", "06.12.2026"), ("ko", "2026-12-06"), ("en", "2026-12-06")]
)
def test_dates_are_padded(language, expected):
    assert values.day(date(2026, 12, 6), language) == expected
    assert values.day(datetime(2026, 12, 6, 9, 5), language) == expected


def test_languages_are_named():
    assert values.language_name("ko", "ru") == "Корейский"
    assert values.language_name("ru", "en") == "Russian"
    assert values.language_name("ko", "ko") == "한국어"


def test_the_active_language_is_the_readers_when_none_is_given():
    with translation.override("ru"):
        assert values.yes_no(True) == "да"
    with translation.override("ko-kr"):
        assert values.region("Sakha") == "사하 공화국"


def test_an_unknown_kind_is_a_mistake_not_a_raw_value():
    with pytest.raises(ValueError, match="kind"):
        values.show("colour", "red")


def test_templates_show_values_through_one_filter():
    template = Template(
        '{% load farcare %}{{ ok|shown:"yes_no" }} · {{ level|shown:"acvpu" }} · '
        '{{ region|shown:"region" }} · {{ t|shown:"number" }} · {% news2 9 "medium" %}'
    )
    context = Context({"ok": False, "level": "V", "region": "Kamchatka", "t": Decimal("37.2")})
    with translation.override("ru"):
        assert template.render(context) == (
            "нет · Реакция на голос (V) · Камчатский край · 37,2 · 9 — Средний"
        )
    with translation.override("en"):
        assert template.render(context) == (
            "no · Responds to voice (V) · Kamchatka · 37.2 · 9 — Medium"
        )
