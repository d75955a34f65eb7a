"""Does a text name the patient? Free text of a case (the question, the summary, the thread, a
text file) may be read by a consultant abroad, who must not learn who the patient is
(domain.md §3). Scrubbing text reliably is impossible, so the requester is asked to edit it; this
module finds what to point at: the patient's names in Cyrillic and in the usual Latin spellings
(passport/ICAO, BGN/PCGN, GOST 7.79, German-style), inflected (Тынетегина, Семёну), the SNILS and
OMS numbers and the phone in any grouping, and the birth date written as digits or with the month
in words (ru, en, ko).

Pure functions over plain values: no database, so that pages, services and the station share it.
Not found here: a name in Hangul, or spelled out in some other way; the requester's own check of
each file (farcare.consults.attachments) covers what no pattern can.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from datetime import date
from itertools import product
from typing import Any

# Each Cyrillic letter's Latin spellings in the common systems; the first is ICAO's.
LATIN: dict[str, tuple[str, ...]] = {
    "а": ("a",),
    "б": ("b",),
    "в": ("v", "w"),
    "г": ("g",),
    "д": ("d",),
    "е": ("e", "ye", "je"),
    "ё": ("e", "yo", "jo", "io"),
    "ж": ("zh", "z", "j"),
    "з": ("z",),
    "и": ("i",),
    "й": ("i", "y", "j"),
    "к": ("k",),
    "л": ("l",),
    "м": ("m",),
    "н": ("n",),
    "о": ("o",),
    "п": ("p",),
    "р": ("r",),
    "с": ("s",),
    "т": ("t",),
    "у": ("u",),
    "ф": ("f",),
    "х": ("kh", "h", "x", "ch"),
    "ц": ("ts", "c", "tz", "cz"),
    "ч": ("ch", "tch"),
    "ш": ("sh",),
    "щ": ("shch", "sch", "shh"),
    "ъ": ("", "ie"),
    "ы": ("y", "i"),
    "ь": ("",),
    "э": ("e",),
    "ю": ("iu", "yu", "ju"),
    "я": ("ia", "ya", "ja"),
}
MAX_SPELLINGS = 4096
# An inflected form adds at most this many letters to the name's stem (Тынетегин-ым, Анн-ой).
MAX_ENDING = 3
VOWELS_AND_SOFT = set("аеёиоуыэюяйьaeiouy")

MONTHS = {
    # Russian months in the genitive as dates are written, English names and abbreviations.
    **{
        name: number
        for number, names in enumerate(
            [
                ("января", "январь", "янв", "january", "jan"),
                ("февраля", "февраль", "фев", "february", "feb"),
                ("марта", "март", "мар", "march", "mar"),
                ("апреля", "апрель", "апр", "april", "apr"),
                ("мая", "май", "may"),
                ("июня", "июнь", "июн", "june", "jun"),
                ("июля", "июль", "июл", "july", "jul"),
                ("августа", "август", "авг", "august", "aug"),
                ("сентября", "сентябрь", "сен", "сент", "september", "sep", "sept"),
                ("октября", "октябрь", "окт", "october", "oct"),
                ("ноября", "ноябрь", "ноя", "november", "nov"),
                ("декабря", "декабрь", "дек", "december", "dec"),
            ],
            start=1,
        )
        for name in names
    }
}

WORD = re.compile(r"[^\W\d_]+")
# Digits with the separators people put between groups: 112-240-919 00, 8 (914) 123-45-67.
NUMBER = re.compile(r"\+?\d(?:[\s\-().\u2010-\u2015/]{0,3}\d)*")
NUMERIC_DATE = re.compile(r"(?<!\d)(\d{1,4})[./\-\s](\d{1,2})[./\-\s](\d{1,4})(?!\d)")
WORD_DATE_DMY = re.compile(r"(?<!\d)(\d{1,2})\s+([^\W\d_]+)\.?,?\s+(\d{4})(?!\d)")
WORD_DATE_MDY = re.compile(r"([^\W\d_]+)\.?\s+(\d{1,2}),?\s+(\d{4})(?!\d)")
KOREAN_DATE = re.compile(r"(\d{4})\s*년\s*(\d{1,2})\s*월\s*(\d{1,2})\s*일")


@dataclass(frozen=True)
class PatientFacts:
    """What identifies the patient, as plain values."""

    family: str
    given: str
    middle: str = ""
    snils: str = ""
    oms: str = ""
    phone: str = ""
    birth_date: date | None = None

    @classmethod
    def of(cls, patient: Any) -> PatientFacts:
        return cls(
            family=patient.family,
            given=patient.given,
            middle=patient.middle,
            snils=patient.snils,
            oms=patient.oms_policy,
            phone=patient.phone,
            birth_date=patient.birth_date,
        )


@dataclass(frozen=True)
class Finding:
    kind: str  # "family name", "given name", "patronymic", "SNILS", "OMS policy", "phone", ...
    text: str  # the words as written


def _fold(text: str) -> str:
    """Lower case, ё as е, Latin diacritics off (ë, ž, š as e, z, s)."""
    text = text.casefold().replace("ё", "е")
    decomposed = unicodedata.normalize("NFKD", text)
    kept = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    # NFKD splits й into и + breve: put it back, it is a letter of its own.
    return unicodedata.normalize("NFC", kept.replace("и\u0306", "й"))


def transliterations(name: str) -> list[str]:
    """The Latin spellings of a Cyrillic name in the common systems, folded."""
    letters = name.casefold()
    options = [LATIN.get(ch, (ch,)) for ch in letters if ch.isalpha()]
    count = 1
    for choice in options:
        count *= len(choice)
    if count > MAX_SPELLINGS:
        return [_fold("".join(choice[0] for choice in options))]
    return sorted({_fold("".join(parts)) for parts in product(*options)})


def _forms(name: str) -> set[str]:
    name = name.strip()
    if not name:
        return set()
    forms = {_fold(name)}
    if any("а" <= ch <= "я" or ch == "ё" for ch in name.casefold()):
        forms |= set(transliterations(name))
    return {form for form in forms if len(form) >= 2}


def _stem(form: str) -> str:
    # Russian endings replace a final vowel, й or ь: Анна → Анной, Андрей → Андрея.
    if len(form) >= 4 and form[-1] in VOWELS_AND_SOFT:
        return form[:-1]
    return form


def _matches(word: str, form: str) -> bool:
    if word == form:
        return True
    if len(form) < 4:
        return False
    stem = _stem(form)
    return word.startswith(stem) and len(word) - len(stem) <= MAX_ENDING


def _find_names(text: str, facts: PatientFacts) -> list[Finding]:
    words = [(match.group(), _fold(match.group())) for match in WORD.finditer(text)]
    found: list[Finding] = []
    for kind, name in (
        ("family name", facts.family),
        ("given name", facts.given),
        ("patronymic", facts.middle),
    ):
        forms = _forms(name)
        for written, folded in words:
            if any(_matches(folded, form) for form in forms):
                found.append(Finding(kind, written))
                break
    return found


def _digits(value: str) -> str:
    return "".join(ch for ch in value if ch.isdigit())


def _find_numbers(text: str, facts: PatientFacts) -> list[Finding]:
    runs = [(match.group(), _digits(match.group())) for match in NUMBER.finditer(text)]
    wanted = []
    snils = _digits(facts.snils)
    if len(snils) == 11:
        wanted.append(("SNILS", snils[:9]))  # the number without its check digits is enough
    oms = _digits(facts.oms)
    if oms:
        wanted.append(("OMS policy", oms))
    phone = _digits(facts.phone)
    if len(phone) >= 7:
        wanted.append(("phone", phone[-10:]))  # the national number, whatever the prefix
    found = []
    for kind, digits in wanted:
        for written, run in runs:
            if digits in run:
                found.append(Finding(kind, written.strip()))
                break
    return found


def _year(value: str, born: date) -> bool:
    year = int(value)
    return year == born.year or (len(value) == 2 and year == born.year % 100)


def _find_birth_date(text: str, born: date | None) -> list[Finding]:
    if born is None:
        return []
    folded = text.casefold()
    for match in NUMERIC_DATE.finditer(folded):
        a, b, c = match.groups()
        day_first = _year(c, born) and (
            (int(a), int(b)) == (born.day, born.month) or (int(a), int(b)) == (born.month, born.day)
        )
        year_first = (
            len(a) == 4 and int(a) == born.year and (int(b), int(c)) == (born.month, born.day)
        )
        if day_first or year_first:
            return [Finding("birth date", match.group())]
    for match in WORD_DATE_DMY.finditer(folded):
        day, month, year = match.groups()
        if (int(day), MONTHS.get(month.rstrip("."))) == (born.day, born.month) and int(
            year
        ) == born.year:
            return [Finding("birth date", match.group())]
    for match in WORD_DATE_MDY.finditer(folded):
        month, day, year = match.groups()
        if (int(day), MONTHS.get(month)) == (born.day, born.month) and int(year) == born.year:
            return [Finding("birth date", match.group())]
    for match in KOREAN_DATE.finditer(text):
        year, month, day = (int(part) for part in match.groups())
        if (year, month, day) == (born.year, born.month, born.day):
            return [Finding("birth date", match.group())]
    return []


def find_identity(text: str, facts: PatientFacts) -> list[Finding]:
    """What in `text` identifies the patient: one finding per kind, in a fixed order."""
    if not text or not text.strip():
        return []
    return (
        _find_names(text, facts)
        + _find_numbers(text, facts)
        + _find_birth_date(text, facts.birth_date)
    )
