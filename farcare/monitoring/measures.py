"""The home measures of remote monitoring as data (domain.md §11), and one reading of them.

Each measure carries its LOINC code, UCUM unit, the number of decimals a home device shows and a
*plausible* range. The range is not a normal range: it refuses values that cannot be real (a
systolic of 900, a temperature of 378 from a forgotten comma), so a typo never becomes an alert or
a chart point; anything inside it is kept and judged by the rules of the patient's plan.

Blood pressure is one reading, the panel 85354-9, holding two quantities (systolic 8480-6 and
diastolic 8462-4), as FHIR Observation components will.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum


class Code(StrEnum):
    """LOINC codes (domain.md §11)."""

    BP_PANEL = "85354-9"
    SYSTOLIC = "8480-6"
    DIASTOLIC = "8462-4"
    HEART_RATE = "8867-4"
    WEIGHT = "29463-7"
    GLUCOSE = "14743-9"  # capillary blood glucose by glucometer
    SPO2 = "59408-5"
    TEMPERATURE = "8310-5"


@dataclass(frozen=True)
class Measure:
    code: Code
    display: str  # LOINC-like English display; pages show translated labels from the code
    unit: str  # UCUM
    low: Decimal  # plausible range, both ends included
    high: Decimal
    decimals: int  # what a home device shows; more digits mean a typo, not precision


_MEASURES: tuple[Measure, ...] = (
    # Ranges: wide enough for a real crisis (a systolic of 280, a pulse of 220, a glucose the
    # glucometer shows as its maximum), narrow enough to refuse a doubled or comma-less number.
    Measure(Code.SYSTOLIC, "Systolic blood pressure", "mm[Hg]", Decimal(50), Decimal(300), 0),
    Measure(Code.DIASTOLIC, "Diastolic blood pressure", "mm[Hg]", Decimal(20), Decimal(200), 0),
    Measure(Code.HEART_RATE, "Heart rate", "/min", Decimal(20), Decimal(250), 0),
    # From a newborn after discharge to the heaviest adults a home scale can weigh.
    Measure(Code.WEIGHT, "Body weight", "kg", Decimal(1), Decimal(350), 1),
    # Glucometers read about 0.6 to 33.3 mmol/L and show LO/HI outside.
    Measure(Code.GLUCOSE, "Glucose [Moles/volume] in Capillary blood by Glucometer", "mmol/L",
            Decimal("0.6"), Decimal("35"), 1),
    # Home pulse oximeters do not show values below about 50 % reliably.
    Measure(Code.SPO2, "Oxygen saturation by Pulse oximetry", "%", Decimal(50), Decimal(100), 0),
    Measure(Code.TEMPERATURE, "Body temperature", "Cel", Decimal(30), Decimal(43), 1),
)  # fmt: skip

MEASURES: Mapping[Code, Measure] = {m.code: m for m in _MEASURES}

# A reading of one of these codes; the panel's quantities are its components.
PANELS: Mapping[Code, tuple[Code, ...]] = {Code.BP_PANEL: (Code.SYSTOLIC, Code.DIASTOLIC)}
READING_CODES: tuple[Code, ...] = (
    Code.BP_PANEL,
    Code.HEART_RATE,
    Code.WEIGHT,
    Code.GLUCOSE,
    Code.SPO2,
    Code.TEMPERATURE,
)

# Glucose mg/dL -> mmol/L: the molar mass of glucose is 180.16 g/mol, so 1 mmol/L = 18.016 mg/dL.
# Only used when the sender writes the unit (мг/дл, mg/dL); a number without a unit is mmol/L,
# the unit of Russian glucometers, and a mg/dL-sized number without a unit is refused as out of
# range rather than converted by guess.
MG_PER_DL_PER_MMOL_PER_L = Decimal("18.016")


class Problem(StrEnum):
    OUT_OF_RANGE = "out_of_range"
    UNEXPECTED_DECIMALS = "unexpected_decimals"
    SYSTOLIC_NOT_ABOVE_DIASTOLIC = "systolic_not_above_diastolic"


def decimals_of(value: Decimal) -> int:
    exponent = value.as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def check(code: Code, value: Decimal) -> Problem | None:
    """Why a single quantity cannot be stored, or None. Decimals first: "37,85" is a typo."""
    measure = MEASURES[code]
    if decimals_of(value) > measure.decimals:
        return Problem.UNEXPECTED_DECIMALS
    if not measure.low <= value <= measure.high:
        return Problem.OUT_OF_RANGE
    return None


def check_pressure(systolic: Decimal, diastolic: Decimal) -> Problem | None:
    """Each part in range, and the systolic above the diastolic (a swapped pair is a typo)."""
    problem = check(Code.SYSTOLIC, systolic) or check(Code.DIASTOLIC, diastolic)
    if problem is None and systolic <= diastolic:
        return Problem.SYSTOLIC_NOT_ABOVE_DIASTOLIC
    return problem


def glucose_mmol_per_l(mg_per_dl: Decimal) -> Decimal:
    """mg/dL to mmol/L, to the one decimal a glucometer shows."""
    return (mg_per_dl / MG_PER_DL_PER_MMOL_PER_L).quantize(Decimal("0.1"), ROUND_HALF_UP)


@dataclass(frozen=True)
class Quantity:
    code: Code
    value: Decimal
    unit: str  # UCUM, always the measure's unit (conversions happen before)


@dataclass(frozen=True)
class Reading:
    """One reading at one time: a single quantity, or the blood pressure panel's two."""

    code: Code
    quantities: tuple[Quantity, ...]
    at: datetime  # aware
    # The caller's id of the stored reading (an Observation), so an alert can point at it.
    reference: str = field(default="", compare=False)

    def value(self, code: Code | None = None) -> Decimal | None:
        wanted = code or self.code
        for quantity in self.quantities:
            if quantity.code == wanted:
                return quantity.value
        return None


def quantities(code: Code, values: Mapping[Code, Decimal]) -> tuple[Quantity, ...]:
    """Validated quantities of a reading of `code` (for pages, FHIR and devices).

    Raises ValueError naming the problem code, so a caller can answer in its own form.
    """
    parts = PANELS.get(code, (code,))
    if set(values) != set(parts):
        raise ValueError("missing_or_extra_quantities")
    if code == Code.BP_PANEL:
        problem = check_pressure(values[Code.SYSTOLIC], values[Code.DIASTOLIC])
    else:
        problem = check(code, values[code])
    if problem is not None:
        raise ValueError(problem.value)
    return tuple(Quantity(part, values[part], MEASURES[part].unit) for part in parts)
