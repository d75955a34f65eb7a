"""The diagnoses field of the conclusion form, read as it is typed: each code typed so far with
its description in the reader's language (or why it is not a code), and suggestions for the one
being typed, found by code ("I21,0", "и21" on a Russian keyboard) or by words in ru, ko or en.

Pure: no database, no request; the page asks for it on each keystroke (HTMX) and when it shows
the form again."""

from __future__ import annotations

import re
from dataclasses import dataclass

from farcare.clinical import icd10

SUGGESTIONS = 8
# A comma is a separator between codes unless a digit follows it: "I21,0" is the decimal comma of
# a Russian keyboard (I21.0), "I21.0, I10" is two codes.
_SEPARATOR = re.compile(r"[;\n]|,(?!\s*\d)")
_CODE_SHAPED = re.compile(r"^[A-Z]\d{2}(?:\.\d{1,2})?$")


@dataclass(frozen=True)
class Reading:
    typed: str
    code: str  # the WHO form of what was typed ("I21.0"), or what was typed, upper-cased
    label: str  # its description in the reader's language; empty when it is not a code

    @property
    def valid(self) -> bool:
        return bool(self.label)

    @property
    def corrected(self) -> bool:
        """The code is not written as typed ("i21,0" was read as I21.0)."""
        return self.code != self.typed


@dataclass(frozen=True)
class Lookup:
    readings: tuple[Reading, ...]  # the codes typed, in order
    query: str  # the text being typed, when it is not (yet) a code of its own
    suggestions: tuple[tuple[str, str], ...]  # (code, label)


def split_codes(text: str) -> list[str]:
    """'I21,0; I10' → ['I21,0', 'I10']; 'I21.0 I10' → ['I21.0', 'I10']; words stay together
    ('инфаркт миокарда')."""
    parts: list[str] = []
    for chunk in _SEPARATOR.split(text or ""):
        chunk = chunk.strip()
        if not chunk:
            continue
        pieces = chunk.split()
        if len(pieces) > 1 and all(
            _CODE_SHAPED.match(icd10.normalise_code(piece)) for piece in pieces
        ):
            parts.extend(pieces)
        else:
            parts.append(chunk)
    return parts


def read(typed: str, language: str) -> Reading:
    code = icd10.normalise_code(typed)
    label = icd10.label(code, language) if icd10.is_valid(code) else ""
    return Reading(typed=typed, code=code, label=label)


def lookup(text: str, language: str, *, finished: bool = False, limit: int = SUGGESTIONS) -> Lookup:
    """What the field says so far. The last part, still being typed (no separator after it), is
    a search unless it is a subcategory already: "I21" suggests I21.0…I21.9, "инфаркт" the
    infarctions; a finished part that is no code is a reading without a label. A `finished`
    text (the form was sent) has no part still being typed."""
    parts = split_codes(text)
    typing = not finished and bool(parts) and not re.search(r"[;,\n]\s*$", text or "")
    readings = [read(part, language) for part in parts]
    query = ""
    suggestions: list[tuple[str, str]] = []
    if typing:
        last = readings[-1]
        is_subcategory = last.valid and "." in last.code
        if not is_subcategory:
            query = last.typed
            chosen = {reading.code for reading in readings[:-1]}
            suggestions = [
                (code, label)
                for code, label in icd10.search(query, language, limit=limit + len(chosen))
                if code not in chosen
            ][:limit]
            if not last.valid:
                readings.pop()  # not a mistake yet: still being typed
    return Lookup(tuple(readings), query, tuple(suggestions))


def with_pick(text: str, code: str) -> str:
    """The field's text once a suggestion is picked: the part being typed becomes the code,
    and a separator follows, ready for the next one. Codes already there are kept as typed."""
    parts = split_codes(text)
    if parts and not re.search(r"[;,\n]\s*$", text or ""):
        parts.pop()
    kept = [icd10.normalise_code(part) if icd10.is_valid(part) else part for part in parts]
    if code not in kept:
        kept.append(code)
    return ", ".join(kept) + ", "
