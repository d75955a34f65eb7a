"""What a value means: its reference range (as the laboratory sent it, else by the patient's
sex and age from `data/reference_ranges.csv`, in SI units) and its interpretation code (HL7
v2 OBX-8 / FHIR ObservationInterpretation): N, L, H, LL, HH, A, AA. Pure: no ORM.

The sender's flags (HL7 v2.5.1 table 0078) are read as far as they say where the value stands:
N, L, H, LL, HH, A as themselves; AA (critical abnormal) as itself, critical like LL/HH
whatever the value's type; `<` and `>` (below or above the analyser's absolute scale) as L and
H — critical only when the value sent (the scale's end, or a bound such as "<1.0") is itself
beyond the critical limit, since then every value it may stand for is too; a value off the
scale is not critical by that alone (a troponin below the scale is good news). Every other flag
(delta U/D/B/W, susceptibility S/R/I/MS/VS, POS/NEG and the like) is kept as sent and reported
back to the sender as not interpreted (`unread_flags`)."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import cache
from pathlib import Path

from .catalogue import canonical

RANGES_CSV = Path(__file__).with_name("data") / "reference_ranges.csv"

# Interpretation codes (diagnostics.models.Interpretation, kept here without the ORM).
NORMAL, LOW, HIGH, CRITICAL_LOW, CRITICAL_HIGH, ABNORMAL = "N", "L", "H", "LL", "HH", "A"
CRITICAL_ABNORMAL = "AA"
CODES = frozenset({NORMAL, LOW, HIGH, CRITICAL_LOW, CRITICAL_HIGH, ABNORMAL, CRITICAL_ABNORMAL})
CRITICAL_CODES = frozenset({CRITICAL_LOW, CRITICAL_HIGH, CRITICAL_ABNORMAL})
# Table 0078 flags that say where the value stands without being one of our codes.
BELOW_SCALE, ABOVE_SCALE = "<", ">"
_READ_AS = {BELOW_SCALE: LOW, ABOVE_SCALE: HIGH}


@dataclass(frozen=True)
class Range:
    low: Decimal | None = None
    high: Decimal | None = None
    text: str = ""

    @property
    def numeric(self) -> bool:
        return self.low is not None or self.high is not None


_NUMBER = r"[-+]?\d+(?:[.,]\d+)?"
_BOUNDED = re.compile(rf"^\s*({_NUMBER})\s*(?:-|–|—|\.\.|to)\s*({_NUMBER})\s*$")
_ONE_SIDED = re.compile(rf"^\s*(<=|>=|<|>|≤|≥)\s*({_NUMBER})\s*$")


def parse_decimal(text: str) -> Decimal | None:
    """A number as a laboratory writes it ("5.1", "5,1", " 12 "), or None."""
    cleaned = text.strip().replace(",", ".").replace(" ", "")
    if not cleaned or not re.fullmatch(r"[-+]?\d+(?:\.\d+)?", cleaned):
        return None
    try:
        return Decimal(cleaned)
    except InvalidOperation:
        return None


def parse_range(text: str) -> Range:
    """ "3.5-5.1", "3,5 - 5,1", "<5", ">=60", "-2-3"; anything else is kept as text."""
    text = (text or "").strip()
    if not text:
        return Range()
    bounded = _BOUNDED.match(text)
    if bounded:
        return Range(parse_decimal(bounded.group(1)), parse_decimal(bounded.group(2)), text)
    one_sided = _ONE_SIDED.match(text)
    if one_sided:
        value = parse_decimal(one_sided.group(2))
        if one_sided.group(1) in ("<", "<=", "≤"):
            return Range(None, value, text)
        return Range(value, None, text)
    return Range(text=text)


def range_text(low: Decimal | None, high: Decimal | None) -> str:
    def shown(value: Decimal) -> str:
        return format(value.normalize(), "f")

    if low is not None and high is not None:
        return f"{shown(low)}-{shown(high)}"
    if high is not None:
        return f"<{shown(high)}"
    if low is not None:
        return f">{shown(low)}"
    return ""


@dataclass(frozen=True)
class _Row:
    code: str
    sex: str
    age_from: Decimal
    age_to: Decimal | None
    low: Decimal | None
    high: Decimal | None
    unit: str


@cache
def _rows() -> tuple[_Row, ...]:
    with RANGES_CSV.open(encoding="utf-8", newline="") as handle:
        return tuple(
            _Row(
                code=row["code"],
                sex=row["sex"],
                age_from=Decimal(row["age_from"] or "0"),
                age_to=parse_decimal(row["age_to"]),
                low=parse_decimal(row["low"]),
                high=parse_decimal(row["high"]),
                unit=row["unit"],
            )
            for row in csv.DictReader(handle)
        )


def reference_for(code: str, sex: str, age_years: float | int | Decimal | None) -> Range | None:
    """The usual range for the code at this sex ("male", "female", or anything else for
    unknown) and age in years (from inclusive, to exclusive), or None when the table has no
    row that fits (an infant, say: better no range than an adult's)."""
    if age_years is None:
        return None
    code = canonical(code)
    age = Decimal(str(age_years))
    fitting = [
        row
        for row in _rows()
        if row.code == code
        and row.sex in ("any", sex)
        and row.age_from <= age
        and (row.age_to is None or age < row.age_to)
    ]
    if not fitting:
        return None
    # A row for the patient's own sex wins over one for anyone.
    row = sorted(fitting, key=lambda r: r.sex == "any")[0]
    return Range(row.low, row.high, range_text(row.low, row.high))


def reference_unit(code: str) -> str:
    code = canonical(code)
    return next((row.unit for row in _rows() if row.code == code), "")


def interpret(value: Decimal, reference: Range | None, critical: Range | None = None) -> str:
    """LL/HH beyond a critical limit (strictly: potassium 2.8 is not below "< 2.8"), L/H
    outside the reference range, N inside it; "" when there is nothing to compare with."""
    if critical is not None:
        if critical.low is not None and value < critical.low:
            return CRITICAL_LOW
        if critical.high is not None and value > critical.high:
            return CRITICAL_HIGH
    if reference is None or not reference.numeric:
        return ""
    if reference.low is not None and value < reference.low:
        return LOW
    if reference.high is not None and value > reference.high:
        return HIGH
    return NORMAL


_BOUND = re.compile(rf"^\s*(<=|>=|<|>|≤|≥)\s*({_NUMBER})\s*$")


def parse_bound(text: str) -> tuple[str, Decimal] | None:
    """A value outside what the analyser measures, written with its comparator ("<0.01",
    ">= 50"): the comparator ("<", "<=", ">", ">=") and the bound; None for anything else."""
    found = _BOUND.match(text or "")
    if not found:
        return None
    bound = parse_decimal(found.group(2))
    if bound is None:
        return None
    comparator = {"≤": "<=", "≥": ">="}.get(found.group(1), found.group(1))
    return comparator, bound


def interpret_bound(
    comparator: str, bound: Decimal, reference: Range | None, critical: Range | None = None
) -> str:
    """What is certain of a value known only to lie below or above `bound`: "<1.0" mmol/L of
    potassium is critically low whatever it is exactly; "<5" of a range 3.5-5.1 says nothing."""

    def below(limit: Decimal | None) -> bool:  # is every possible value under the limit?
        if limit is None:
            return False
        return bound <= limit if comparator == "<" else bound < limit

    def above(limit: Decimal | None) -> bool:
        if limit is None:
            return False
        return bound >= limit if comparator == ">" else bound > limit

    low_side = comparator in ("<", "<=")
    if critical is not None and (below(critical.low) if low_side else above(critical.high)):
        return CRITICAL_LOW if low_side else CRITICAL_HIGH
    if reference is not None and reference.numeric:
        if low_side and below(reference.low):
            return LOW
        if not low_side and above(reference.high):
            return HIGH
    return ""


def sent_interpretation(flags: tuple[str, ...] | list[str]) -> str:
    """What the sender's flags say of the value: the first that is an interpretation code, or
    `<`/`>` read as L/H ("" when none)."""
    for flag in flags:
        code = flag.strip().upper()
        if code in CODES:
            return code
        if code in _READ_AS:
            return _READ_AS[code]
    return ""


def unread_flags(flags: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """The sender's flags FarCare does not interpret (kept as sent, the sender told)."""
    return tuple(
        flag.strip()
        for flag in flags
        if flag.strip() and flag.strip().upper() not in CODES | _READ_AS.keys()
    )


def is_critical(code: str) -> bool:
    return code in CRITICAL_CODES
