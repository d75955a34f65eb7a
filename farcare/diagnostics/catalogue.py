"""The curated catalogue of what can be ordered: LOINC panels and tests, and imaging
procedures by modality and body site (domain.md §9), with names in ru/ko/en, the UCUM unit of
each value, the specimen it needs and, for a panel, the tests it is made of.

Pure: the data is `data/catalogue.csv`, read once. Which tests need a clinician to explain them
before the patient sees them is configurable (`FARCARE_RESULTS_REVIEW_CODES`); the default is
the CSV's `review` column: the pregnancy test (a result a person should not learn from an SMS
link alone, and that may need counselling) and the troponins (a raised value means a suspected
infarction is being handled: the clinician tells the patient, not the portal). HbA1c is left
out on purpose: it is a monitoring value people follow themselves, with nothing to break gently.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

from django.conf import settings

from farcare.patients.identifiers import normalise_text

CATALOGUE_CSV = Path(__file__).with_name("data") / "catalogue.csv"
LANGUAGES = ("ru", "ko", "en")


@dataclass(frozen=True)
class CatalogueEntry:
    code: str
    category: str  # "laboratory" | "imaging"
    kind: str  # "panel" | "test" | "procedure"
    names: dict[str, str] = field(hash=False)
    unit: str = ""
    specimen: str = ""
    members: tuple[str, ...] = ()
    modality: str = ""
    body_site: str = ""
    review_required: bool = False
    # Codes a laboratory may send for the same value (e.g. the "moles" twin of a LOINC code).
    aliases: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(language) or self.names["en"]


def _split(value: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in value.split(";") if part.strip())


@cache
def _load() -> tuple[CatalogueEntry, ...]:
    with CATALOGUE_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(
            CatalogueEntry(
                code=row["code"],
                category=row["category"],
                kind=row["kind"],
                names={language: row[f"name_{language}"] for language in LANGUAGES},
                unit=row["unit"],
                specimen=row["specimen"],
                members=_split(row["members"]),
                modality=row["modality"],
                body_site=row["body_site"],
                review_required=row["review"] == "yes",
                aliases=_split(row["aliases"]),
            )
            for row in csv.DictReader(handle)
        )


def default_review_codes() -> frozenset[str]:
    return frozenset(item.code for item in _load() if item.review_required)


def review_codes() -> frozenset[str]:
    """Codes whose results wait for a clinician's review (or the release delay)."""
    configured = getattr(settings, "FARCARE_RESULTS_REVIEW_CODES", None)
    return default_review_codes() if configured is None else frozenset(configured)


@cache
def _by_code() -> dict[str, CatalogueEntry]:
    found: dict[str, CatalogueEntry] = {}
    for item in _load():
        found[item.code] = item
        for alias in item.aliases:
            found.setdefault(alias, item)
    return found


def _with_review(item: CatalogueEntry) -> CatalogueEntry:
    wanted = item.code in review_codes()
    return item if item.review_required == wanted else replace(item, review_required=wanted)


def canonical(code: str) -> str:
    """The catalogue's code for `code` (itself, or the code it is an alias of)."""
    item = _by_code().get(code.strip())
    return item.code if item else code.strip()


def entry(code: str) -> CatalogueEntry | None:
    item = _by_code().get(code.strip())
    return _with_review(item) if item else None


def entries(category: str | None = None) -> list[CatalogueEntry]:
    return [_with_review(item) for item in _load() if category in (None, item.category)]


def members(code: str) -> tuple[str, ...]:
    """A panel's tests; a single test or procedure is its own only member."""
    item = entry(code)
    if item is None:
        return (code,)
    return item.members or (item.code,)


def search(text: str, language: str = "en", category: str | None = None) -> list[CatalogueEntry]:
    """Entries whose code starts with `text`, or whose name in any language (ru, ko, en)
    contains every word of it; names in `language` first, then panels before tests."""
    words = normalise_text(text).split()
    if not words:
        return []
    found: list[tuple[int, CatalogueEntry]] = []
    for item in entries(category):
        codes = (item.code, *item.aliases)
        if len(words) == 1 and any(code.startswith(words[0]) for code in codes):
            found.append((0, item))
            continue
        own = normalise_text(item.name(language))
        others = " ".join(normalise_text(name) for name in item.names.values())
        haystack = f"{others} {item.modality.casefold()} {item.body_site.casefold()}"
        if all(word in own for word in words):
            found.append((1, item))
        elif all(word in haystack for word in words):
            found.append((2, item))
    found.sort(key=lambda pair: (pair[0], pair[1].kind != "panel", pair[1].name(language)))
    return [item for _rank, item in found]


def label(code: str, language: str = "en") -> str:
    """The test's name in `language`, or the code itself when the catalogue does not have it."""
    item = entry(code)
    return item.name(language) if item else code
