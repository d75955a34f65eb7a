"""Reading a plain SMS typed on a basic phone ("АД 150/95 П 88"), and the reply to it.

People type the way they can: a keyword and a number, several measures in one message, a decimal
comma, no spaces ("ад150/95п88"), any case, and Latin letters that look Cyrillic ("AД" with a
Latin A, a phone switched to the Latin keyboard writing "CAXAP"). Words are compared by their
*skeleton* (look-alike Latin and Cyrillic letters folded to one form), so every such spelling
means the same.

Nothing is guessed silently: every word and number that is not understood becomes a Problem with a
machine code and the fragment as typed, and the reply asks back about it. A reading is accepted
only when its value is plausible (measures.check). Two conveniences are not guesses, because the
reply echoes what was understood: a bare "150/95" is a blood pressure (a slash pair means nothing
else at home), and a bare number with a unit that belongs to one measure ("82,5 кг") is that
measure. A glucose in mg/dL is converted to mmol/L only when the unit is written.

Replies: a Cyrillic or Korean SMS is sent in UCS-2, 70 characters in a single part and 67 per
part when split; GSM-7 (Latin) allows 160 and 153. A reply is kept within two parts (134 UCS-2 or
306 GSM-7 characters), so it costs the post at most two messages and arrives whole on old phones.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from enum import StrEnum

from .measures import (
    MEASURES,
    PANELS,
    Code,
    Quantity,
    Reading,
    check,
    check_pressure,
    decimals_of,
    glucose_mmol_per_l,
)


class ProblemCode(StrEnum):
    EMPTY_MESSAGE = "empty_message"
    UNKNOWN_WORD = "unknown_word"
    VALUE_WITHOUT_MEASURE = "value_without_measure"  # "88" with no keyword before it
    MISSING_VALUE = "missing_value"  # "пульс" with no number after it
    BP_INCOMPLETE = "bp_incomplete"  # "АД 150": the diastolic is missing
    OUT_OF_RANGE = "out_of_range"
    UNEXPECTED_DECIMALS = "unexpected_decimals"  # "АД 150/95,88" or "т 37,85"
    SYSTOLIC_NOT_ABOVE_DIASTOLIC = "systolic_not_above_diastolic"
    UNIT_MISMATCH = "unit_mismatch"  # "вес 82 %"
    UNIT_NOT_ACCEPTED = "unit_not_accepted"  # pounds, Fahrenheit: refused, not converted


@dataclass(frozen=True)
class Problem:
    code: ProblemCode
    fragment: str  # as typed, for the question back
    measure: Code | None = None


@dataclass(frozen=True)
class ParsedReading:
    code: Code
    quantities: tuple[Quantity, ...]
    fragment: str
    converted_from: str = ""  # UCUM unit the sender wrote when it was converted ("mg/dL")

    def taken(self, at: datetime, reference: str = "") -> Reading:
        """The reading at the time the gateway received it (an SMS has no other time)."""
        return Reading(self.code, self.quantities, at, reference)


@dataclass(frozen=True)
class ParsedSms:
    readings: tuple[ParsedReading, ...]
    problems: tuple[Problem, ...]

    @property
    def understood(self) -> bool:
        return bool(self.readings) and not self.problems


# --- Words -----------------------------------------------------------------------------------

# Latin and Cyrillic letters that look alike on a phone screen, folded to one (Latin) form.
_SKELETON = str.maketrans("аеорсхукмтнвё", "aeopcxykmthbe")


def skeleton(word: str) -> str:
    return word.lower().translate(_SKELETON)


def _table(words: Mapping[Code, tuple[str, ...]]) -> dict[str, Code]:
    table: dict[str, Code] = {}
    for code, spellings in words.items():
        for spelling in spellings:
            # A keyword must mean one thing, whichever alphabet it is typed in.
            if table.setdefault(skeleton(spelling), code) != code:
                raise ValueError(f"ambiguous keyword {spelling!r}")
    return table


KEYWORDS: Mapping[str, Code] = _table(
    {
        Code.BP_PANEL: ("ад", "ad", "давление", "давл", "дав", "bp", "pressure"),
        Code.HEART_RATE: ("п", "пульс", "пул", "чсс", "hr", "pulse", "p"),
        Code.WEIGHT: ("вес", "масса", "weight", "wt"),
        Code.GLUCOSE: (
            "сахар", "сах", "глюкоза", "глюк", "глю", "гл",
            "glucose", "gluc", "glu", "sugar", "bg",
        ),
        Code.SPO2: ("сат", "сатурация", "сатур", "sat", "saturation", "spo2", "sao2"),
        Code.TEMPERATURE: ("т", "темп", "тем", "температура", "t", "temp", "temperature"),
    }
)  # fmt: skip

# Greetings and courtesy are not readings and not misunderstandings.
IGNORED: frozenset[str] = frozenset(
    skeleton(w)
    for w in (
        "привет", "здравствуйте", "добрый", "доброе", "утро", "день", "вечер", "утром",
        "вечером", "спасибо", "пожалуйста", "hello", "hi", "good", "morning", "evening",
        "thanks", "thank", "you", "please",
    )
)  # fmt: skip

# The words joining the two halves of a pressure: "150/95", "150 на 95", "150 over 95".
_PRESSURE_JOINS = frozenset({"/", "\\", "-", skeleton("на"), "over"})


class _Unit(StrEnum):
    KG = "kg"
    PERCENT = "%"
    MMOL_L = "mmol/L"
    MG_DL = "mg/dL"
    MM_HG = "mm[Hg]"
    PER_MIN = "/min"
    CEL = "Cel"
    POUND = "[lb_av]"
    FAHRENHEIT = "[degF]"


# A unit that belongs to one measure identifies it ("82,5 кг" is a weight).
_UNIT_MEASURE: Mapping[_Unit, Code] = {
    _Unit.KG: Code.WEIGHT,
    _Unit.MMOL_L: Code.GLUCOSE,
    _Unit.MG_DL: Code.GLUCOSE,
    _Unit.PERCENT: Code.SPO2,
    _Unit.CEL: Code.TEMPERATURE,
    _Unit.MM_HG: Code.BP_PANEL,
    _Unit.PER_MIN: Code.HEART_RATE,
}
_NOT_ACCEPTED = frozenset({_Unit.POUND, _Unit.FAHRENHEIT})

# --- Tokens ----------------------------------------------------------------------------------

_TOKEN = re.compile(
    r"""
    (?P<spo2>[sс][pр][oо0]2|[sс][aа][oо0]2)   # SpO2, SaO2, "sp02" with a zero
   |(?P<number>\d+(?:[.,]\d+)?)
   |(?P<word>[^\W\d_]+)
   |(?P<symbol>[%°/\\-])
   |(?P<sep>[:=;,.+!?()"'«»*#]+)
   |(?P<other>\S)
    """,
    re.VERBOSE | re.IGNORECASE,
)


@dataclass(frozen=True)
class _Token:
    kind: str
    text: str  # as typed
    key: str  # skeleton for words, the text for the rest
    start: int
    end: int


def _tokens(text: str) -> list[_Token]:
    found = []
    for match in _TOKEN.finditer(text):
        kind = match.lastgroup or "other"
        raw = match.group()
        key = "spo2" if kind == "spo2" else skeleton(raw) if kind == "word" else raw
        if kind == "spo2":
            kind = "word"
        found.append(_Token(kind, raw, key, match.start(), match.end()))
    return found


class _Stream:
    def __init__(self, text: str) -> None:
        self.text = text
        self.items = _tokens(text)
        self.i = 0

    def peek(self, ahead: int = 0) -> _Token | None:
        j = self.i + ahead
        return self.items[j] if j < len(self.items) else None

    def next(self) -> _Token:
        token = self.items[self.i]
        self.i += 1
        return token

    def keys(self, count: int) -> tuple[str, ...]:
        return tuple(t.key for t in self.items[self.i : self.i + count])

    def fragment(self, start: int) -> str:
        end = self.items[self.i - 1].end if self.i else start
        return self.text[start:end].strip()

    def __bool__(self) -> bool:
        return self.i < len(self.items)


def _k(*words: str) -> tuple[str, ...]:
    return tuple(skeleton(w) for w in words)


# Unit spellings as token key sequences, longest first so "мм рт ст" wins over "мм".
_UNIT_SPELLINGS: tuple[tuple[tuple[str, ...], _Unit], ...] = tuple(
    sorted(
        (
            *((_k(w), _Unit.KG) for w in ("кг", "kg", "кило", "kgs")),
            ((("%",)), _Unit.PERCENT),
            *((_k(w), _Unit.MMOL_L) for w in ("ммоль", "mmol")),
            *((_k(w, "/", u), _Unit.MMOL_L) for w in ("ммоль", "mmol") for u in ("л", "l")),
            *((_k(w, "/", u), _Unit.MG_DL) for w in ("мг", "mg") for u in ("дл", "dl")),
            (_k("mgdl"), _Unit.MG_DL),
            *((_k(w), _Unit.MM_HG) for w in ("мм", "mm", "mmhg")),
            (_k("мм", "рт", "ст"), _Unit.MM_HG),
            (_k("mm", "hg"), _Unit.MM_HG),
            *((_k(w), _Unit.PER_MIN) for w in ("уд", "bpm")),
            (_k("уд", "/", "мин"), _Unit.PER_MIN),
            (_k("/", "мин"), _Unit.PER_MIN),
            (_k("/", "min"), _Unit.PER_MIN),
            (("°",), _Unit.CEL),
            (("°", skeleton("c")), _Unit.CEL),
            (_k("с"), _Unit.CEL),  # Cyrillic and Latin c fold together
            (_k("гр"), _Unit.CEL),  # "37,8 гр" (градусов)
            (("°", "f"), _Unit.FAHRENHEIT),
            (_k("f"), _Unit.FAHRENHEIT),
            *((_k(w), _Unit.POUND) for w in ("lb", "lbs", "фунт", "фунтов")),
        ),
        key=lambda pair: -len(pair[0]),
    )
)


def _take_unit(stream: _Stream) -> _Unit | None:
    for spelling, unit in _UNIT_SPELLINGS:
        if stream.keys(len(spelling)) == spelling:
            stream.i += len(spelling)
            return unit
    return None


def _skip_separators(stream: _Stream) -> None:
    while (token := stream.peek()) is not None and (token.kind == "sep" or token.key in {"°", "-"}):
        stream.next()


def _number(token: _Token) -> Decimal:
    return Decimal(token.text.replace(",", "."))


# --- Parsing ---------------------------------------------------------------------------------


def parse(text: str) -> ParsedSms:
    """The readings in one SMS and the problems with what was not understood."""
    stream = _Stream(text)
    readings: list[ParsedReading] = []
    problems: list[Problem] = []
    for item in _parse(stream):
        if isinstance(item, ParsedReading):
            readings.append(item)
        else:
            problems.append(item)
    if not readings and not problems:
        problems.append(Problem(ProblemCode.EMPTY_MESSAGE, text.strip()))
    return ParsedSms(tuple(readings), tuple(problems))


def _parse(stream: _Stream) -> Iterator[ParsedReading | Problem]:
    while stream:
        token = stream.peek()
        assert token is not None
        if token.kind == "sep" or (token.kind == "word" and token.key in IGNORED):
            stream.next()
        elif token.kind == "word" and token.key in KEYWORDS:
            stream.next()
            yield _measure(stream, KEYWORDS[token.key], token.start)
        elif token.kind == "number":
            yield _bare_number(stream)
        else:
            # Adjacent words not understood are asked about together ("как дела").
            stream.next()
            while (following := stream.peek()) is not None and _unknown(following):
                stream.next()
            yield Problem(ProblemCode.UNKNOWN_WORD, stream.fragment(token.start))


def _unknown(token: _Token) -> bool:
    return (
        token.kind in {"word", "other"} and token.key not in KEYWORDS and (token.key not in IGNORED)
    )


def _measure(stream: _Stream, code: Code, start: int) -> ParsedReading | Problem:
    _skip_separators(stream)
    token = stream.peek()
    if token is None or token.kind != "number":
        return Problem(ProblemCode.MISSING_VALUE, stream.fragment(start), code)
    return _value(stream, code, start)


def _bare_number(stream: _Stream) -> ParsedReading | Problem:
    first = stream.peek()
    assert first is not None
    index = stream.i
    joined, after = stream.peek(1), stream.peek(2)
    if (
        joined is not None
        and joined.key in _PRESSURE_JOINS
        and joined.key != "-"  # a dash alone is too loose without a keyword
        and after is not None
        and after.kind == "number"
    ):
        return _value(stream, Code.BP_PANEL, first.start)
    stream.next()
    unit = _take_unit(stream)
    stream.i = index
    measure = _UNIT_MEASURE.get(unit) if unit is not None else None
    if measure is not None and measure != Code.BP_PANEL:
        return _value(stream, measure, first.start)  # read again as that measure
    stream.i = index + 1
    return Problem(ProblemCode.VALUE_WITHOUT_MEASURE, first.text)


def _value(stream: _Stream, code: Code, start: int) -> ParsedReading | Problem:
    first = _number(stream.next())
    if code == Code.BP_PANEL:
        joined = stream.peek()
        after = stream.peek(1)
        if (
            joined is None
            or joined.key not in _PRESSURE_JOINS
            or after is None
            or after.kind != "number"
        ):
            if joined is not None and joined.key in _PRESSURE_JOINS:
                stream.next()  # "АД 150/" : the slash belongs to the incomplete pressure
            return Problem(ProblemCode.BP_INCOMPLETE, stream.fragment(start), code)
        stream.next()
        second = _number(stream.next())
        unit = _take_unit(stream)
        fragment = stream.fragment(start)
        if unit is not None and unit != _Unit.MM_HG:
            return Problem(_unit_problem(unit), fragment, code)
        problem = check_pressure(first, second)
        if problem is not None:
            return Problem(ProblemCode(problem.value), fragment, code)
        values = {Code.SYSTOLIC: first, Code.DIASTOLIC: second}
        parts = tuple(Quantity(p, values[p], MEASURES[p].unit) for p in PANELS[code])
        return ParsedReading(code, parts, fragment)

    unit = _take_unit(stream)
    fragment = stream.fragment(start)
    converted_from = ""
    if unit is not None and _UNIT_MEASURE.get(unit) != code:
        return Problem(_unit_problem(unit), fragment, code)
    if unit == _Unit.MG_DL:
        if decimals_of(first) > 0:
            return Problem(ProblemCode.UNEXPECTED_DECIMALS, fragment, code)
        first, converted_from = glucose_mmol_per_l(first), _Unit.MG_DL.value
    problem = check(code, first)
    if problem is not None:
        return Problem(ProblemCode(problem.value), fragment, code)
    quantity = Quantity(code, first, MEASURES[code].unit)
    return ParsedReading(code, (quantity,), fragment, converted_from)


def _unit_problem(unit: _Unit) -> ProblemCode:
    return ProblemCode.UNIT_NOT_ACCEPTED if unit in _NOT_ACCEPTED else ProblemCode.UNIT_MISMATCH


# --- Replies ---------------------------------------------------------------------------------

LANGUAGES = ("ru", "en", "ko")

_LABELS: Mapping[str, Mapping[Code, tuple[str, str]]] = {
    # (label, unit) per measure, the way the person would write it back.
    "ru": {
        Code.BP_PANEL: ("АД", ""),
        Code.HEART_RATE: ("П", ""),
        Code.WEIGHT: ("вес", " кг"),
        Code.GLUCOSE: ("сахар", " ммоль/л"),
        Code.SPO2: ("SpO2", "%"),
        Code.TEMPERATURE: ("т", "°"),
    },
    "en": {
        Code.BP_PANEL: ("BP", ""),
        Code.HEART_RATE: ("HR", ""),
        Code.WEIGHT: ("weight", " kg"),
        Code.GLUCOSE: ("glucose", " mmol/L"),
        Code.SPO2: ("SpO2", "%"),
        Code.TEMPERATURE: ("temp", " C"),
    },
    "ko": {
        Code.BP_PANEL: ("혈압", ""),
        Code.HEART_RATE: ("맥박", ""),
        Code.WEIGHT: ("체중", "kg"),
        Code.GLUCOSE: ("혈당", "mmol/L"),
        Code.SPO2: ("SpO2", "%"),
        Code.TEMPERATURE: ("체온", "°"),
    },
}

_TEXTS: Mapping[str, Mapping[str, str]] = {
    "ru": {
        "received": "Принято: {items}.",
        "received_count": "Принято показаний: {count}.",
        "thanks": " Спасибо!",
        "example": " Пример: АД 150/95 П 88",
        ProblemCode.EMPTY_MESSAGE: "Пустое сообщение.",
        ProblemCode.UNKNOWN_WORD: "Не понято «{fragment}».",
        ProblemCode.VALUE_WITHOUT_MEASURE: "Чьё значение «{fragment}»?",
        ProblemCode.MISSING_VALUE: "Нет числа: «{fragment}».",
        ProblemCode.BP_INCOMPLETE: "Давление нужно так: 150/95, а не «{fragment}».",
        ProblemCode.OUT_OF_RANGE: "Проверьте «{fragment}»: так не бывает.",
        ProblemCode.UNEXPECTED_DECIMALS: "Проверьте «{fragment}»: лишние цифры.",
        ProblemCode.SYSTOLIC_NOT_ABOVE_DIASTOLIC: "Проверьте «{fragment}»: верхнее меньше.",
        ProblemCode.UNIT_MISMATCH: "Не та единица: «{fragment}».",
        ProblemCode.UNIT_NOT_ACCEPTED: "Пришлите в кг, ммоль/л, °C: «{fragment}».",
        "more": " Ещё ошибок: {count}.",
    },
    "en": {
        "received": "Received: {items}.",
        "received_count": "Readings received: {count}.",
        "thanks": " Thank you!",
        "example": " Example: BP 150/95 HR 88",
        ProblemCode.EMPTY_MESSAGE: "The message is empty.",
        ProblemCode.UNKNOWN_WORD: 'Not understood: "{fragment}".',
        ProblemCode.VALUE_WITHOUT_MEASURE: 'What is "{fragment}"? Put a word before it.',
        ProblemCode.MISSING_VALUE: 'No number in "{fragment}".',
        ProblemCode.BP_INCOMPLETE: 'Send pressure as 150/95, not "{fragment}".',
        ProblemCode.OUT_OF_RANGE: 'Please check "{fragment}": not possible.',
        ProblemCode.UNEXPECTED_DECIMALS: 'Please check "{fragment}": too many digits.',
        ProblemCode.SYSTOLIC_NOT_ABOVE_DIASTOLIC: 'Please check "{fragment}": upper is lower.',
        ProblemCode.UNIT_MISMATCH: 'Wrong unit: "{fragment}".',
        ProblemCode.UNIT_NOT_ACCEPTED: 'Please send kg, mmol/L or C: "{fragment}".',
        "more": " {count} more problem(s).",
    },
    "ko": {
        "received": "접수: {items}.",
        "received_count": "접수된 측정값: {count}.",
        "thanks": " 감사합니다!",
        "example": " 예: 혈압 150/95 맥박 88",
        ProblemCode.EMPTY_MESSAGE: "빈 메시지입니다.",
        ProblemCode.UNKNOWN_WORD: "이해하지 못함: «{fragment}».",
        ProblemCode.VALUE_WITHOUT_MEASURE: "«{fragment}»은(는) 무엇입니까?",
        ProblemCode.MISSING_VALUE: "숫자가 없음: «{fragment}».",
        ProblemCode.BP_INCOMPLETE: "혈압은 150/95 형식으로: «{fragment}».",
        ProblemCode.OUT_OF_RANGE: "확인하세요 «{fragment}»: 불가능한 값.",
        ProblemCode.UNEXPECTED_DECIMALS: "확인하세요 «{fragment}»: 자릿수 초과.",
        ProblemCode.SYSTOLIC_NOT_ABOVE_DIASTOLIC: "확인하세요 «{fragment}»: 수축기가 낮음.",
        ProblemCode.UNIT_MISMATCH: "단위 오류: «{fragment}».",
        ProblemCode.UNIT_NOT_ACCEPTED: "kg, mmol/L, °C로 보내세요: «{fragment}».",
        "more": " 문제 {count}건 더.",
    },
}

# GSM 03.38 basic set; the extension set costs two septets.
_GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXTENSION = frozenset("^{}\\[~]|€\f")
MAX_PARTS = 2


def sms_parts(text: str) -> int:
    """How many SMS parts the text takes: GSM-7 if every character is in it, else UCS-2."""
    if all(c in _GSM7_BASIC or c in _GSM7_EXTENSION for c in text):
        length = sum(2 if c in _GSM7_EXTENSION else 1 for c in text)
        single, per_part = 160, 153
    else:
        # UCS-2 counts UTF-16 code units; outside the BMP a character takes two.
        length = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, per_part = 70, 67
    if length <= single:
        return 1
    return -(-length // per_part)


def format_reading(reading: ParsedReading | Reading, language: str) -> str:
    label, unit = _LABELS[language][reading.code]
    decimal_comma = language == "ru"
    numbers = "/".join(_format_number(q.value, decimal_comma) for q in reading.quantities)
    return f"{label} {numbers}{unit}"


def _format_number(value: Decimal, decimal_comma: bool) -> str:
    text = format(value, "f")
    return text.replace(".", ",") if decimal_comma else text


def reply(parsed: ParsedSms, language: str = "ru") -> str:
    """The confirmation or question sent back, within MAX_PARTS parts.

    Tried from the most detailed to the shortest; the first that fits is sent. What was received is
    always confirmed (so the person does not send it again), and the first problem is asked about.
    """
    texts = _TEXTS[language if language in _TEXTS else "ru"]
    language = language if language in _TEXTS else "ru"
    items = ", ".join(format_reading(r, language) for r in parsed.readings)
    received = [texts["received"].format(items=items)] if parsed.readings else []
    received_short = (
        [texts["received_count"].format(count=len(parsed.readings))] if parsed.readings else []
    )
    questions = [texts[p.code].format(fragment=p.fragment[:30]) for p in parsed.problems]
    candidates: list[str] = []
    if not parsed.problems:
        candidates += [received[0] + texts["thanks"], received[0], received_short[0]]
    else:
        more = texts["more"].format(count=len(questions) - 1) if len(questions) > 1 else ""
        for head in (received, received_short, []):
            candidates += [
                " ".join([*head, *questions]) + texts["example"],
                " ".join([*head, *questions]),
                " ".join([*head, questions[0]]) + more + texts["example"],
                " ".join([*head, questions[0]]) + more,
            ]
    for candidate in candidates:
        if sms_parts(candidate) <= MAX_PARTS:
            return candidate
    return candidates[-1][:134]
