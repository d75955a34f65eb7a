"""Coded values as the reader says them, in the reader's language and format: the one place a
page turns a stored code (True, "A", "high", "Chukotka", 36.8, a date) into words and numbers.

Pages use it through the `shown` filter (`{{ value|shown:"acvpu" }}`, core/templatetags/farcare);
Python callers (selectors, notifications, PDFs) call `show()` or the functions below. Each takes
the language explicitly or reads the active one, and never touches the database."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.utils import formats, translation
from django.utils.translation import gettext as _

from farcare.clinical.news2 import Risk
from farcare.clinical.vitals import Acvpu, parse_acvpu, parse_boolean

LANGUAGES = ("ru", "ko", "en")
MISSING = "—"

# The regions the network's register uses (network/data/far_east_settlements.csv, the
# `region` column), as a reader in each language names them. The code stays English in the
# database; a region missing here is shown as stored.
REGIONS: dict[str, dict[str, str]] = {
    "Chukotka": {"ru": "Чукотский АО", "ko": "추코트카 자치구", "en": "Chukotka"},
    "Kamchatka": {"ru": "Камчатский край", "ko": "캄차카 지방", "en": "Kamchatka"},
    "Magadan": {"ru": "Магаданская область", "ko": "마가단 주", "en": "Magadan"},
    "Sakha": {"ru": "Республика Саха (Якутия)", "ko": "사하 공화국", "en": "Sakha (Yakutia)"},
    "Khabarovsk": {"ru": "Хабаровский край", "ko": "하바롭스크 지방", "en": "Khabarovsk Krai"},
    "Primorye": {"ru": "Приморский край", "ko": "연해주", "en": "Primorye"},
    "Amur": {"ru": "Амурская область", "ko": "아무르 주", "en": "Amur"},
    "Sakhalin": {"ru": "Сахалинская область", "ko": "사할린 주", "en": "Sakhalin"},
    "Moscow": {"ru": "Москва", "ko": "모스크바", "en": "Moscow"},
    "Korea": {"ru": "Республика Корея", "ko": "대한민국", "en": "Republic of Korea"},
}

COUNTRIES: dict[str, dict[str, str]] = {
    "RU": {"ru": "Россия", "ko": "러시아", "en": "Russia"},
    "KR": {"ru": "Республика Корея", "ko": "대한민국", "en": "Republic of Korea"},
}


def reader_language(language: str | None = None) -> str:
    """'ru-RU' → 'ru'; the active language when none is given; the deployment's default for
    a language FarCare does not speak."""
    code = (language or translation.get_language() or settings.LANGUAGE_CODE).lower()
    code = code.replace("_", "-").split("-")[0]
    return code if code in LANGUAGES else str(settings.LANGUAGE_CODE)[:2]


def _in(language: str | None) -> translation.override:
    return translation.override(reader_language(language))


def pick_name(names: Mapping[str, str], language: str | None = None) -> str:
    """A name kept per language ({"ru": …, "ko": …, "en": …}) in the reader's language; else
    English, else Russian, else any: a missing Korean name shows the English one."""
    code = reader_language(language)
    for candidate in (code, "en", "ru", *names):
        if names.get(candidate):
            return names[candidate]
    return ""


def _boolean(value: object) -> bool | None:
    return value if isinstance(value, bool) or value is None else parse_boolean(str(value))


def yes_no(value: object, language: str | None = None) -> str:
    """True/False (or the words a form posts) as "yes"/"no"; nothing known as a dash."""
    answer = _boolean(value)
    if answer is None:
        return MISSING if value in (None, "") else str(value)
    with _in(language):
        return _("yes") if answer else _("no")


def air_or_oxygen(value: object, language: str | None = None) -> str:
    """NEWS2's "air or oxygen": the words of the request form, not True or False."""
    answer = _boolean(value)
    if answer is None:
        return MISSING if value in (None, "") else str(value)
    with _in(language):
        return _("oxygen") if answer else _("air")


def acvpu(value: object, language: str | None = None) -> str:
    """A level of consciousness in words with its letter after it: "Alert (A)"."""
    letter = value if isinstance(value, Acvpu) else parse_acvpu(str(value or ""))
    if letter is None:
        return str(value) if value not in (None, "") else MISSING
    with _in(language):
        return f"{letter.label} ({letter.value})"


def news2_band(value: object, language: str | None = None) -> str:
    """A NEWS2 risk band ("low", "low_medium", …) in words: "Low–medium"."""
    band = str(value or "")
    if band not in Risk.values:
        return band or MISSING
    with _in(language):
        return str(Risk(band).label)


def news2(total: int | None, band: object, language: str | None = None) -> str:
    """A NEWS2 score with its band: "9 — High"; a dash when nothing was scored."""
    if total is None:
        return MISSING
    if str(band or "") not in Risk.values:
        return str(total)
    return f"{total} — {news2_band(band, language)}"


def region(value: object, language: str | None = None) -> str:
    """A region of the network in the reader's language ("Chukotka" → "Чукотский АО")."""
    code = str(value or "")
    names = REGIONS.get(code)
    return pick_name(names, language) if names else (code or MISSING)


def country(value: object, language: str | None = None) -> str:
    """A two-letter country code as a country name."""
    code = str(value or "").upper()
    names = COUNTRIES.get(code)
    return pick_name(names, language) if names else (code or MISSING)


def language_name(value: object, language: str | None = None) -> str:
    """A language code ("ko") as its name in the reader's language ("корейский" reads
    "Корейский" in a list, as the language menu names it)."""
    code = str(value or "")
    names = dict(settings.LANGUAGES)
    if code not in names:
        return code or MISSING
    with _in(language):
        return str(names[code])


def number(value: object, language: str | None = None, places: int | None = None) -> str:
    """A number with the language's separators: 36,8 and 100 000 in Russian, 36.8 and 100,000
    in Korean and English; no trailing zeros unless `places` asks for them."""
    if value is None or value == "":
        return MISSING
    if isinstance(value, bool):
        return yes_no(value, language)
    try:
        exact = value if isinstance(value, Decimal) else Decimal(str(value).replace(",", "."))
    except InvalidOperation:
        return str(value)
    if not exact.is_finite():
        return str(value)
    if places is None:
        exact = exact.normalize()
        exponent = exact.as_tuple().exponent
        places = -exponent if isinstance(exponent, int) and exponent < 0 else 0
    with _in(language):
        return formats.number_format(exact, places, use_l10n=True, force_grouping=True)


def day(value: date | datetime | None, language: str | None = None) -> str:
    """A date as the reader writes it: 06.12.2026 in Russian, 2026-12-06 in Korean and
    English (padded ISO: "2026-12-6" reads as a typo)."""
    if value is None:
        return MISSING
    with _in(language):
        return formats.date_format(value, "SHORT_DATE_FORMAT")


def choice(value: object, choices: Mapping[str, object], language: str | None = None) -> str:
    """A coded value of a choices field by its label (`dict(Status.choices)`)."""
    code = str(value or "")
    if code not in choices:
        return code or MISSING
    with _in(language):
        return str(choices[code])


# What the `shown` filter knows: a kind of value → how it reads.
KINDS: dict[str, Callable[[object, str | None], str]] = {
    "yes_no": yes_no,
    "air_or_oxygen": air_or_oxygen,
    "acvpu": acvpu,
    "news2_band": news2_band,
    "region": region,
    "country": country,
    "language": language_name,
    "number": number,
    "date": day,  # type: ignore[dict-item]
}


def show(kind: str, value: object, language: str | None = None) -> str:
    """`value` of `kind` (a key of KINDS) in the reader's language."""
    try:
        render = KINDS[kind]
    except KeyError:
        known = ", ".join(sorted(KINDS))
        raise ValueError(f"No way to show a value of kind {kind!r}; known: {known}") from None
    return render(value, language)
