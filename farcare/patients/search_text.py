"""What was typed into the patient search, carried into registration when nobody matched: a
feldsher who searched "Рультына Анна 12.04.1995" should not type it all again."""

from __future__ import annotations

import re
from typing import Any

from .identifiers import digits, snils_is_valid
from .selectors import parse_date

_SNILS_LIKE = re.compile(r"^[\d\s-]{11,14}$")
_NAME_PART = re.compile(r"^[^\W\d_][\w'’-]*$")


def _capitalised(word: str) -> str:
    """ "тынетегин" → "Тынетегин", "ким-ли" → "Ким-Ли"; a name typed in capitals is left."""
    return "-".join(part[:1].upper() + part[1:] for part in word.split("-"))


def initial_from_search(text: str) -> dict[str, Any]:
    """Registration form values read from a search text: a birth date, a SNILS, and the words
    of the name in the Russian order (family, given, patronymic). What cannot be read is left
    for the person to type."""
    initial: dict[str, Any] = {}
    words: list[str] = []
    for token in text.split():
        birth_date = parse_date(token)
        if birth_date is not None and "birth_date" not in initial:
            initial["birth_date"] = birth_date
        elif _NAME_PART.match(token):
            words.append(_capitalised(token))
    whole = text.strip()
    if _SNILS_LIKE.match(whole) and len(digits(whole)) == 11 and snils_is_valid(whole):
        initial["snils"] = whole
    for name, word in zip(("family", "given", "middle"), words, strict=False):
        initial[name] = word
    return initial
