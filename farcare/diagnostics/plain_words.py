"""A laboratory value as the person it belongs to reads it: the test's name, the number with
their language's decimal separator and the unit as their laboratories write it, the usual
range, and one sentence saying where the value stands ("Above the usual range for women of
your age.", "Far below the usual range — your doctor has been told.").

Pure: values in, words out; no ORM, no request. The sentence is chosen from the value's
interpretation (HL7 OBX-8 / FHIR, `models.Interpretation`), and, when none was given, from the
value and its range; whose range it is (women, men, of your age) is the caller's to say
(`whose_range` works it out from the reference table)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Protocol

from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from farcare.core.values import MISSING, number, reader_language

from .catalogue import label
from .interpretation import reference_for
from .models import Interpretation


class RangeLike(Protocol):
    """A usual range: `interpretation.Range`, or an observation's stored bounds."""

    @property
    def low(self) -> Decimal | None: ...

    @property
    def high(self) -> Decimal | None: ...


class Whose(StrEnum):
    """Whose usual range the laboratory compared the value with."""

    ANYONE = "anyone"  # the same for everyone
    WOMEN = "women"
    MEN = "men"
    WOMEN_OF_AGE = "women_of_age"
    MEN_OF_AGE = "men_of_age"
    PEOPLE_OF_AGE = "people_of_age"  # depends on age only


class Standing(StrEnum):
    """Where a value stands: the sentence's subject."""

    WITHIN = "within"
    BELOW = "below"
    ABOVE = "above"
    FAR_BELOW = "far_below"
    FAR_ABOVE = "far_above"
    UNUSUAL = "unusual"  # a text or coded result flagged abnormal
    FAR_UNUSUAL = "far_unusual"  # a text or coded result flagged critical (AA)
    UNKNOWN = "unknown"  # no range and no interpretation


_FROM_INTERPRETATION = {
    Interpretation.NORMAL: Standing.WITHIN,
    Interpretation.LOW: Standing.BELOW,
    Interpretation.HIGH: Standing.ABOVE,
    Interpretation.CRITICAL_LOW: Standing.FAR_BELOW,
    Interpretation.CRITICAL_HIGH: Standing.FAR_ABOVE,
    Interpretation.ABNORMAL: Standing.UNUSUAL,
    Interpretation.CRITICAL_ABNORMAL: Standing.FAR_UNUSUAL,
}

# Whole sentences, not pieces: word order differs (Korean names the group first).
_PLAIN: dict[Standing, Promise] = {
    Standing.WITHIN: gettext_lazy("Within the usual range."),
    Standing.BELOW: gettext_lazy("Below the usual range."),
    Standing.ABOVE: gettext_lazy("Above the usual range."),
    Standing.FAR_BELOW: gettext_lazy("Far below the usual range — your doctor has been told."),
    Standing.FAR_ABOVE: gettext_lazy("Far above the usual range — your doctor has been told."),
    Standing.UNUSUAL: gettext_lazy("Not the usual result — your doctor will explain it."),
    Standing.FAR_UNUSUAL: gettext_lazy("Far from the usual result — your doctor has been told."),
    Standing.UNKNOWN: gettext_lazy("The laboratory gave no usual range for this test."),
}
_FOR_GROUP: dict[Standing, Promise] = {
    Standing.WITHIN: gettext_lazy("Within the usual range for %(group)s."),
    Standing.BELOW: gettext_lazy("Below the usual range for %(group)s."),
    Standing.ABOVE: gettext_lazy("Above the usual range for %(group)s."),
}
_GROUPS: dict[Whose, Promise] = {
    Whose.WOMEN: gettext_lazy("women"),
    Whose.MEN: gettext_lazy("men"),
    Whose.WOMEN_OF_AGE: gettext_lazy("women of your age"),
    Whose.MEN_OF_AGE: gettext_lazy("men of your age"),
    Whose.PEOPLE_OF_AGE: gettext_lazy("people of your age"),
}

_UP_TO = gettext_lazy("up to %(high)s")
_OR_MORE = gettext_lazy("%(low)s or more")

# UCUM (domain.md §9) as laboratories write units for a reader; a unit missing here is shown
# as sent.
UNITS: dict[str, dict[str, str]] = {
    "mmol/L": {"ru": "ммоль/л", "ko": "mmol/L", "en": "mmol/L"},
    "umol/L": {"ru": "мкмоль/л", "ko": "µmol/L", "en": "µmol/L"},
    "µmol/L": {"ru": "мкмоль/л", "ko": "µmol/L", "en": "µmol/L"},
    "g/L": {"ru": "г/л", "ko": "g/L", "en": "g/L"},
    "g/dL": {"ru": "г/дл", "ko": "g/dL", "en": "g/dL"},
    "mg/L": {"ru": "мг/л", "ko": "mg/L", "en": "mg/L"},
    "mg/dL": {"ru": "мг/дл", "ko": "mg/dL", "en": "mg/dL"},
    "ng/L": {"ru": "нг/л", "ko": "ng/L", "en": "ng/L"},
    "ng/mL": {"ru": "нг/мл", "ko": "ng/mL", "en": "ng/mL"},
    "10*9/L": {"ru": "×10⁹/л", "ko": "×10⁹/L", "en": "×10⁹/L"},
    "10*12/L": {"ru": "×10¹²/л", "ko": "×10¹²/L", "en": "×10¹²/L"},
    "U/L": {"ru": "Ед/л", "ko": "U/L", "en": "U/L"},
    "[IU]/L": {"ru": "МЕ/л", "ko": "IU/L", "en": "IU/L"},
    "mm/h": {"ru": "мм/ч", "ko": "mm/h", "en": "mm/h"},
    "s": {"ru": "с", "ko": "초", "en": "s"},
    "%": {"ru": "%", "ko": "%", "en": "%"},
    "1": {"ru": "", "ko": "", "en": ""},
    "{INR}": {"ru": "", "ko": "", "en": ""},
    "{ratio}": {"ru": "", "ko": "", "en": ""},
}


def unit_text(ucum: str, language: str | None = None) -> str:
    """A UCUM unit as a reader in `language` writes it ("mmol/L" → "ммоль/л")."""
    names = UNITS.get(ucum.strip())
    if names is None:
        return ucum.strip()
    return names[reader_language(language)]


def value_text(
    value: Decimal | None, ucum: str = "", language: str | None = None, text: str = ""
) -> str:
    """'5,8 ммоль/л' in Russian, '5.8 mmol/L' in English; a text result as sent."""
    if value is None:
        return text.strip() or MISSING
    shown = number(value, language)
    unit = unit_text(ucum, language)
    return f"{shown} {unit}" if unit else shown


def range_text(
    reference: RangeLike | None, ucum: str = "", language: str | None = None, text: str = ""
) -> str:
    """The usual range: '3,5–5,1 ммоль/л', 'up to 14 ng/L', '60 or more'; the laboratory's text
    when it gave no numbers; "" when nothing is known."""
    low = reference.low if reference is not None else None
    high = reference.high if reference is not None else None
    code = reader_language(language)
    unit = unit_text(ucum, code)
    if low is not None and high is not None:
        shown = f"{number(low, code)}–{number(high, code)}"
    elif high is not None:
        shown = _in(code, lambda: _UP_TO % {"high": number(high, code)})
    elif low is not None:
        shown = _in(code, lambda: _OR_MORE % {"low": number(low, code)})
    else:
        return text.strip()
    return f"{shown} {unit}" if unit else shown


def standing(
    interpretation: str, value: Decimal | None = None, reference: RangeLike | None = None
) -> Standing:
    """Where the value stands: its interpretation when one was given, else the value against
    its range (never "far": only a critical limit says that, and the laboratory applies it)."""
    if interpretation in _FROM_INTERPRETATION:
        return _FROM_INTERPRETATION[Interpretation(interpretation)]
    if value is None or reference is None or (reference.low is None and reference.high is None):
        return Standing.UNKNOWN
    if reference.low is not None and value < reference.low:
        return Standing.BELOW
    if reference.high is not None and value > reference.high:
        return Standing.ABOVE
    return Standing.WITHIN


def sentence(
    *,
    interpretation: str,
    value: Decimal | None = None,
    reference: RangeLike | None = None,
    whose: Whose = Whose.ANYONE,
    language: str | None = None,
) -> str:
    """The one sentence the person reads beside the value, in `language`.

    A critical value says that the doctor has been told (a critical alert goes to the orderer
    the moment it arrives) rather than whose range it is: that is what the person needs."""
    where = standing(interpretation, value, reference)
    code = reader_language(language)
    if where in _FOR_GROUP and whose is not Whose.ANYONE:
        group = _GROUPS[whose]
        return _in(code, lambda: str(_FOR_GROUP[where]) % {"group": str(group)})
    return _in(code, lambda: str(_PLAIN[where]))


def whose_from_sexes_and_ages(*, by_sex: bool, by_age: bool, sex: str) -> Whose:
    """Whose range it is, given whether the reference table differs by sex and by age."""
    if by_sex and sex in ("female", "male"):
        if by_age:
            return Whose.WOMEN_OF_AGE if sex == "female" else Whose.MEN_OF_AGE
        return Whose.WOMEN if sex == "female" else Whose.MEN
    if by_age:
        return Whose.PEOPLE_OF_AGE
    return Whose.ANYONE


# Ages at which the reference table is compared to see whether a range depends on age: a
# newborn, a child, a teenager, adults, the old.
_PROBE_AGES = (0, 5, 12, 16, 30, 50, 70, 90)


def whose_range(
    *,
    lookup: Callable[[str, int], RangeLike | None],
    sex: str,
    age_years: int | None,
) -> Whose:
    """Whose usual range applies to this person: `lookup(sex, age)` is the reference table of
    one test (`interpretation.reference_for` with the code bound). A range that is the same
    for women and men, or at every age, says nothing about them."""
    if age_years is None:
        return Whose.ANYONE
    mine = _bounds(lookup(sex, age_years))
    if mine is None:
        return Whose.ANYONE
    other = {"female": "male", "male": "female"}.get(sex)
    by_sex = other is not None and _differs(lookup(other, age_years), mine)
    by_age = any(_differs(lookup(sex, age), mine) for age in _PROBE_AGES)
    return whose_from_sexes_and_ages(by_sex=by_sex, by_age=by_age, sex=sex)


def whose_range_of(code: str, *, sex: str, age_years: int | None) -> Whose:
    """`whose_range` from the reference table of `code` (data/reference_ranges.csv)."""
    return whose_range(
        lookup=lambda sex_, age: reference_for(code, sex_, age), sex=sex, age_years=age_years
    )


def name_of(code: str, language: str | None = None, sent: str = "") -> str:
    """The test's name in the reader's language from the catalogue; else what the laboratory
    called it; else its code."""
    name = label(code, reader_language(language))
    return (sent.strip() or code) if name == code else name


def _bounds(reference: RangeLike | None) -> tuple[Decimal | None, Decimal | None] | None:
    return None if reference is None else (reference.low, reference.high)


def _differs(other: RangeLike | None, mine: tuple[Decimal | None, Decimal | None]) -> bool:
    """A range that is there and is not this one (no row at some age is no evidence)."""
    bounds = _bounds(other)
    return bounds is not None and bounds != mine


def _in(language: str, words: Callable[[], str]) -> str:
    with translation.override(language):
        return words()


class Tone(StrEnum):
    """How a value is marked on the page: nothing, a note, or at once."""

    USUAL = "usual"
    OUTSIDE = "outside"
    CRITICAL = "critical"
    UNKNOWN = "unknown"


_TONES = {
    Standing.WITHIN: Tone.USUAL,
    Standing.BELOW: Tone.OUTSIDE,
    Standing.ABOVE: Tone.OUTSIDE,
    Standing.UNUSUAL: Tone.OUTSIDE,
    Standing.FAR_BELOW: Tone.CRITICAL,
    Standing.FAR_ABOVE: Tone.CRITICAL,
    Standing.FAR_UNUSUAL: Tone.CRITICAL,
    Standing.UNKNOWN: Tone.UNKNOWN,
}


@dataclass(frozen=True)
class ResultLine:
    """One value of a report as its person reads it (page and PDF alike)."""

    code: str
    name: str
    value: str  # "5,8 ммоль/л"
    usual: str  # "3,5–5,1 ммоль/л", or ""
    words: str  # the sentence
    tone: Tone
    corrected: bool = False


def result_line(
    *,
    code: str,
    sent_name: str = "",
    value: Decimal | None,
    text: str = "",
    unit: str = "",
    reference: RangeLike | None,
    reference_text: str = "",
    interpretation: str = "",
    whose: Whose = Whose.ANYONE,
    corrected: bool = False,
    language: str | None = None,
) -> ResultLine:
    where = standing(interpretation, value, reference)
    return ResultLine(
        code=code,
        name=name_of(code, language, sent_name),
        value=value_text(value, unit, language, text),
        usual=range_text(reference, unit, language, reference_text),
        words=sentence(
            interpretation=interpretation,
            value=value,
            reference=reference,
            whose=whose,
            language=language,
        ),
        tone=_TONES[where],
        corrected=corrected,
    )


@dataclass(frozen=True)
class ResultSheet:
    """A released report as its person reads it: what feeds both the page and the PDF, so the
    two never disagree."""

    title: str  # the panel's or test's name
    person: str  # the person's name, on the PDF
    laboratory: str  # who performed it, "" when not known
    collected: str  # when the specimen was taken, as text in the reader's zone
    issued: str  # when the laboratory reported it
    lines: tuple[ResultLine, ...]
    conclusion: str
    language: str
