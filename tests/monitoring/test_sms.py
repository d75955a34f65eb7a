"""People send readings by plain SMS from basic phones, in Russian and English, as they type."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from farcare.monitoring.measures import Code
from farcare.monitoring.sms import ProblemCode, parse, reply, sms_parts


def readings(text):
    """The readings of a message as (code, values), asserting that everything was understood."""
    parsed = parse(text)
    assert parsed.problems == (), parsed.problems
    assert parsed.understood
    return [(r.code, tuple(str(q.value) for q in r.quantities)) for r in parsed.readings]


BP = Code.BP_PANEL


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("АД 150/95 П 88", [(BP, ("150", "95")), (Code.HEART_RATE, ("88",))]),
        ("ад150/95 пульс 88", [(BP, ("150", "95")), (Code.HEART_RATE, ("88",))]),
        ("BP 150/95 HR 88", [(BP, ("150", "95")), (Code.HEART_RATE, ("88",))]),
        ("bp 150/95 pulse 88", [(BP, ("150", "95")), (Code.HEART_RATE, ("88",))]),
        ("AД 150/95", [(BP, ("150", "95"))]),  # Latin A
        ("AD 150/95", [(BP, ("150", "95"))]),  # Latin keyboard
        ("Ад:150/95; п-88", [(BP, ("150", "95")), (Code.HEART_RATE, ("88",))]),
        ("давление 150 на 95", [(BP, ("150", "95"))]),
        ("АД 150\\95", [(BP, ("150", "95"))]),
        ("АД 150-95", [(BP, ("150", "95"))]),
        ("ад 150/95 мм рт ст", [(BP, ("150", "95"))]),
        ("150/95", [(BP, ("150", "95"))]),
        ("ЧСС 72 уд/мин", [(Code.HEART_RATE, ("72",))]),
        ("вес 82,5", [(Code.WEIGHT, ("82.5",))]),
        ("ВЕС 82,5 КГ", [(Code.WEIGHT, ("82.5",))]),
        ("weight 82.5kg", [(Code.WEIGHT, ("82.5",))]),
        ("вес82.5кг", [(Code.WEIGHT, ("82.5",))]),
        ("82,5 кг", [(Code.WEIGHT, ("82.5",))]),
        ("сахар 7,2", [(Code.GLUCOSE, ("7.2",))]),
        ("CAXAP 7,2", [(Code.GLUCOSE, ("7.2",))]),  # all Latin look-alikes
        ("глюкоза 7.2", [(Code.GLUCOSE, ("7.2",))]),
        ("glucose 7.2", [(Code.GLUCOSE, ("7.2",))]),
        ("сахар 7,2 ммоль/л", [(Code.GLUCOSE, ("7.2",))]),
        ("sugar 130 mg/dl", [(Code.GLUCOSE, ("7.2",))]),  # converted because the unit is written
        ("сат 94", [(Code.SPO2, ("94",))]),
        ("SpO2 94%", [(Code.SPO2, ("94",))]),
        ("sp02 94", [(Code.SPO2, ("94",))]),  # a zero for the O
        ("сатурация 97 %", [(Code.SPO2, ("97",))]),
        ("т 37,8", [(Code.TEMPERATURE, ("37.8",))]),
        ("Т37,8", [(Code.TEMPERATURE, ("37.8",))]),
        ("t° 37.8", [(Code.TEMPERATURE, ("37.8",))]),
        ("temp 37.8", [(Code.TEMPERATURE, ("37.8",))]),
        ("температура 36,6 С", [(Code.TEMPERATURE, ("36.6",))]),
        (
            "Доброе утро! АД 150/95, П 88, вес 82,5 кг, сахар 6,1, т 36,6. Спасибо",
            [
                (BP, ("150", "95")),
                (Code.HEART_RATE, ("88",)),
                (Code.WEIGHT, ("82.5",)),
                (Code.GLUCOSE, ("6.1",)),
                (Code.TEMPERATURE, ("36.6",)),
            ],
        ),
        ("BP 150/95 BP 145/90", [(BP, ("150", "95")), (BP, ("145", "90"))]),
    ],
)
def test_readings_typed_as_people_type_them_are_understood(text, expected):
    assert readings(text) == expected


@pytest.mark.parametrize(
    ("text", "code", "fragment"),
    [
        ("АД 150", ProblemCode.BP_INCOMPLETE, "АД 150"),
        ("АД 150/", ProblemCode.BP_INCOMPLETE, "АД 150/"),
        ("АД 900/95", ProblemCode.OUT_OF_RANGE, "АД 900/95"),
        ("ад 95/150", ProblemCode.SYSTOLIC_NOT_ABOVE_DIASTOLIC, "ад 95/150"),
        ("АД 150/95,88", ProblemCode.UNEXPECTED_DECIMALS, "АД 150/95,88"),
        ("вес 825", ProblemCode.OUT_OF_RANGE, "вес 825"),
        ("сахар 130", ProblemCode.OUT_OF_RANGE, "сахар 130"),  # mg/dL not guessed
        ("т 37,85", ProblemCode.UNEXPECTED_DECIMALS, "т 37,85"),
        ("weight 180 lb", ProblemCode.UNIT_NOT_ACCEPTED, "weight 180 lb"),
        ("temp 99.5 F", ProblemCode.UNIT_NOT_ACCEPTED, "temp 99.5 F"),
        ("вес 82 %", ProblemCode.UNIT_MISMATCH, "вес 82 %"),
        ("пульс", ProblemCode.MISSING_VALUE, "пульс"),
        ("88", ProblemCode.VALUE_WITHOUT_MEASURE, "88"),
        ("как дела", ProblemCode.UNKNOWN_WORD, "как дела"),
        ("", ProblemCode.EMPTY_MESSAGE, ""),
    ],
)
def test_what_is_not_understood_is_reported_never_guessed(text, code, fragment):
    parsed = parse(text)
    assert parsed.readings == ()
    assert [(p.code, p.fragment) for p in parsed.problems] == [(code, fragment)]
    assert not parsed.understood


def test_a_good_reading_is_kept_and_the_bad_part_asked_about():
    parsed = parse("АД 150/95 П 880 вес 82,5 бла")
    assert [r.code for r in parsed.readings] == [BP, Code.WEIGHT]
    assert [(p.code, p.fragment, p.measure) for p in parsed.problems] == [
        (ProblemCode.OUT_OF_RANGE, "П 880", Code.HEART_RATE),
        (ProblemCode.UNKNOWN_WORD, "бла", None),
    ]
    text = reply(parsed, "ru")
    assert text.startswith("Принято: АД 150/95, вес 82,5 кг.")
    assert "«П 880»" in text


def test_the_reading_takes_the_time_the_gateway_received_it():
    at = datetime(2026, 3, 1, 8, 5, tzinfo=UTC)
    reading = parse("АД 150/95").readings[0].taken(at, reference="obs-1")
    assert reading.at == at
    assert reading.reference == "obs-1"
    assert reading.value(Code.SYSTOLIC) == Decimal(150)


def test_confirmation_in_each_language():
    parsed = parse("ад 150/95 п 88 вес 82,5")
    assert reply(parsed, "ru") == "Принято: АД 150/95, П 88, вес 82,5 кг. Спасибо!"
    assert reply(parsed, "en") == "Received: BP 150/95, HR 88, weight 82.5 kg. Thank you!"
    assert reply(parsed, "ko").startswith("접수: 혈압 150/95, 맥박 88, 체중 82.5kg.")


def test_a_question_back_names_the_fragment_and_shows_an_example():
    assert reply(parse("АД 150"), "ru") == (
        "Давление нужно так: 150/95, а не «АД 150». Пример: АД 150/95 П 88"
    )
    assert reply(parse("BP 150"), "en") == (
        'Send pressure as 150/95, not "BP 150". Example: BP 150/95 HR 88'
    )


@pytest.mark.parametrize("language", ["ru", "en", "ko"])
@pytest.mark.parametrize(
    "text",
    [
        "АД 150/95 П 88 вес 82,5 сахар 7,2 сат 94 т 36,6",
        "раз два три 1 2 3 4 5 6 7 8 9 АД 150 пульс вес 900 т 37,85 CAXAP",
        "x" * 500,
    ],
)
def test_replies_fit_in_two_sms_parts(text, language):
    assert sms_parts(reply(parse(text), language)) <= 2


def test_sms_parts_count_gsm7_and_ucs2():
    assert sms_parts("a" * 160) == 1
    assert sms_parts("a" * 161) == 2
    assert sms_parts("a" * 306) == 2
    assert sms_parts("{" * 80) == 1  # the extension set takes two septets
    assert sms_parts("я" * 70) == 1
    assert sms_parts("я" * 71) == 2
    assert sms_parts("я" * 134) == 2
    assert sms_parts("я" * 135) == 3
