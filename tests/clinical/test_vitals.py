"""What a feldsher types at a post: the right codes, readable numbers, impossible values refused."""

from decimal import Decimal
from pathlib import Path

import polib  # type: ignore[import-untyped]
import pytest

from farcare.clinical.vitals import VITALS, Acvpu, VitalKind, parse_vitals

# The clinical strings live in the one project catalogue (farcare/locale), not beside the app.
LOCALE = Path(__file__).resolve().parents[2] / "farcare" / "locale"


@pytest.mark.parametrize(
    ("key", "loinc", "ucum"),
    [
        ("respiratory_rate", "9279-1", "/min"),
        ("spo2", "59408-5", "%"),
        ("systolic_bp", "8480-6", "mm[Hg]"),
        ("heart_rate", "8867-4", "/min"),
        ("temperature", "8310-5", "Cel"),
        ("oxygen_flow", "3151-8", "L/min"),
        ("consciousness", "67775-7", ""),
    ],
)
def test_each_vital_sign_carries_its_loinc_code_and_ucum_unit(key, loinc, ucum):
    assert VITALS[key].loinc == loinc
    assert VITALS[key].ucum == ucum


def test_every_vital_sign_is_named_in_russian_korean_and_english():
    for spec in VITALS.values():
        assert {"en", "ru", "ko"} <= set(spec.names), spec.key
    assert VITALS["heart_rate"].name("ru") == "Пульс"
    assert VITALS["systolic_bp"].unit("ru") == "мм рт. ст."
    assert VITALS["temperature"].unit("ko-KR") == "°C"
    assert VITALS["respiratory_rate"].name("fr") == "Respiratory rate"  # unknown → English


def test_air_or_oxygen_and_the_spo2_scale_are_recorded_too():
    assert VITALS["on_oxygen"].kind is VitalKind.BOOLEAN
    assert VITALS["spo2_scale"].choices == ("1", "2")
    assert VITALS["consciousness"].choices == ("A", "C", "V", "P", "U")


def test_a_pulse_of_900_is_refused_with_a_clear_message():
    values, errors = parse_vitals({"heart_rate": "900"}, "en")
    assert values == {}
    assert errors["heart_rate"] == (
        "900 /min is not possible: enter a value from 20 to 300 /min, or check the measurement."
    )


def test_the_refusal_is_in_the_feldshers_language():
    _, russian = parse_vitals({"heart_rate": "900"}, "ru")
    _, korean = parse_vitals({"heart_rate": "900"}, "ko")
    assert "невозможное значение" in russian["heart_rate"]
    assert "от 20 до 300 /мин" in russian["heart_rate"]
    assert "가능한 값이 아닙니다" in korean["heart_rate"]


def test_a_temperature_typed_with_a_russian_comma_is_accepted():
    values, errors = parse_vitals({"temperature": "36,6"}, "ru")
    assert errors == {}
    assert values == {"temperature": Decimal("36.6")}


def test_a_dot_works_as_well():
    values, _ = parse_vitals({"temperature": " 36.6 "}, "en")
    assert values["temperature"] == Decimal("36.6")


def test_fields_left_empty_are_neither_values_nor_errors():
    # a post without a pulse oximeter or a thermometer today
    values, errors = parse_vitals(
        {"heart_rate": "88", "spo2": "", "temperature": "  ", "consciousness": ""}, "ru"
    )
    assert values == {"heart_rate": Decimal(88)}
    assert errors == {}


@pytest.mark.parametrize(
    ("key", "lowest", "highest", "too_low", "too_high"),
    [
        ("heart_rate", "20", "300", "19", "301"),
        ("respiratory_rate", "2", "80", "1", "81"),
        ("spo2", "50", "100", "49", "101"),
        ("systolic_bp", "40", "300", "39", "301"),
        ("temperature", "25", "45", "24,9", "45,1"),
        ("oxygen_flow", "0", "60", "-1", "60,5"),
    ],
)
def test_only_physiologically_possible_values_are_accepted(key, lowest, highest, too_low, too_high):
    values, errors = parse_vitals({key: lowest}, "en")
    assert key in values and errors == {}
    values, errors = parse_vitals({key: highest}, "en")
    assert key in values and errors == {}
    for impossible in (too_low, too_high):
        values, errors = parse_vitals({key: impossible}, "en")
        assert key not in values
        assert "is not possible" in errors[key]


@pytest.mark.parametrize("typed", ["seventy", "1e3", "NaN", "36.6.6", "72 bpm", "--5"])
def test_what_is_not_a_number_is_refused_with_an_example(typed):
    _, errors = parse_vitals({"heart_rate": typed}, "en")
    assert errors["heart_rate"] == "Enter a number, for example 72."


def test_counts_are_whole_numbers():
    _, errors = parse_vitals({"heart_rate": "72,5", "spo2": "95.5"}, "en")
    assert errors == {"heart_rate": "Enter a whole number.", "spo2": "Enter a whole number."}
    values, errors = parse_vitals({"heart_rate": "72.0"}, "en")
    assert values == {"heart_rate": Decimal(72)} and errors == {}


def test_temperature_is_read_to_a_tenth_of_a_degree():
    _, errors = parse_vitals({"temperature": "36,66"}, "en")
    assert errors["temperature"] == "Enter no more than 1 decimal place."
    _, russian = parse_vitals({"temperature": "36,66"}, "ru")
    assert russian["temperature"] == "Введите не более 1 знака после запятой."


@pytest.mark.parametrize(
    ("typed", "level"),
    [
        ("A", Acvpu.ALERT),
        ("c", Acvpu.CONFUSION),
        ("С", Acvpu.CONFUSION),  # Cyrillic
        ("V", Acvpu.VOICE),
        ("Р", Acvpu.PAIN),  # Cyrillic
        ("u", Acvpu.UNRESPONSIVE),
    ],
)
def test_consciousness_is_one_acvpu_letter_whatever_the_keyboard(typed, level):
    values, errors = parse_vitals({"consciousness": typed}, "ru")
    assert errors == {}
    assert values["consciousness"] == level


def test_a_made_up_consciousness_level_is_refused():
    _, errors = parse_vitals({"consciousness": "drowsy"}, "en")
    assert errors["consciousness"] == "Choose one of A, C, V, P or U."


@pytest.mark.parametrize(
    ("typed", "on_oxygen"),
    [("air", False), ("oxygen", True), ("да", True), ("нет", False), ("1", True), ("0", False)],
)
def test_air_or_oxygen(typed, on_oxygen):
    values, errors = parse_vitals({"on_oxygen": typed}, "en")
    assert errors == {}
    assert values["on_oxygen"] is on_oxygen


def test_a_recorded_oxygen_flow_means_the_patient_is_on_oxygen():
    values, errors = parse_vitals({"oxygen_flow": "2"}, "en")
    assert errors == {}
    assert values == {"oxygen_flow": Decimal(2), "on_oxygen": True}


def test_an_oxygen_flow_contradicting_air_is_questioned():
    values, errors = parse_vitals({"oxygen_flow": "4", "on_oxygen": "air"}, "en")
    assert "on_oxygen" not in values
    assert errors["on_oxygen"] == (
        "An oxygen flow is recorded, but the patient is marked as breathing air."
    )


def test_the_spo2_scale_is_1_or_2():
    values, errors = parse_vitals({"spo2_scale": "2"}, "en")
    assert values == {"spo2_scale": 2} and errors == {}
    _, errors = parse_vitals({"spo2_scale": "3"}, "en")
    assert errors["spo2_scale"] == "Choose SpO₂ scale 1 or 2."


def test_other_form_fields_are_left_alone():
    values, errors = parse_vitals({"question": "Evacuate?", "heart_rate": "80"}, "en")
    assert values == {"heart_rate": Decimal(80)}
    assert errors == {}


@pytest.mark.parametrize("language", ["ru", "ko"])
def test_the_clinical_catalogue_is_translated_and_compiled(language):
    po = polib.pofile(str(LOCALE / language / "LC_MESSAGES" / "django.po"))
    assert po.untranslated_entries() == []
    assert po.fuzzy_entries() == []
    mo = polib.mofile(str(LOCALE / language / "LC_MESSAGES" / "django.mo"))
    compiled = {(entry.msgctxt, entry.msgid): entry.msgstr or entry.msgstr_plural for entry in mo}
    for entry in po.translated_entries():
        assert compiled.get((entry.msgctxt, entry.msgid)) == (
            entry.msgstr or entry.msgstr_plural
        ), entry.msgid
