"""NEWS2, the National Early Warning Score 2 (Royal College of Physicians, 2017), domain.md §5.

Seven parameters: respiration rate, SpO2 (scale 1, or scale 2 for hypercapnic respiratory
failure), air or oxygen, systolic blood pressure, pulse, consciousness (ACVPU) and temperature.
A partial score is still computed from what was measured, but it is marked incomplete: a post
may have no thermometer at hand, and the consultant should know the total could be higher.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from enum import StrEnum

from django.db import models
from django.utils.translation import pgettext_lazy

from .vitals import Acvpu, parse_acvpu, parse_boolean, parse_number

# SNOMED CT: "Royal College of Physicians National Early Warning Score 2 (NEWS2) total score".
SNOMED_CT_NEWS2_TOTAL = "1104051000000101"

# The seven scored parameters, in the order of the RCP chart; keys as in vitals.VITALS.
PARAMETERS: tuple[str, ...] = (
    "respiratory_rate",
    "spo2",
    "on_oxygen",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)


class Risk(models.TextChoices):
    LOW = "low", pgettext_lazy("NEWS2 risk", "Low")
    # A single parameter scoring 3 with a total below 5: an urgent review despite the low total.
    LOW_MEDIUM = "low_medium", pgettext_lazy("NEWS2 risk", "Low–medium")
    MEDIUM = "medium", pgettext_lazy("NEWS2 risk", "Medium")
    HIGH = "high", pgettext_lazy("NEWS2 risk", "High")


class SuggestedForm(StrEnum):
    """The consultation form NEWS2 suggests; the same values as consults' ConsultForm."""

    EMERGENCY = "emergency"
    URGENT = "urgent"
    PLANNED = "planned"


@dataclass(frozen=True)
class News2Result:
    total: int
    scores: Mapping[str, int]  # only the parameters that could be scored, keyed as PARAMETERS
    missing: tuple[str, ...]  # parameters not measured (or not scorable, see _spo2)
    any_single_three: bool
    band: Risk
    suggested_form: SuggestedForm
    spo2_scale: int = 1

    snomed_code = SNOMED_CT_NEWS2_TOTAL

    @property
    def complete(self) -> bool:
        return not self.missing

    @property
    def parameters_scored(self) -> tuple[str, ...]:
        return tuple(key for key in PARAMETERS if key in self.scores)


Number = int | float | Decimal


def _round(value: Number, places: int) -> Decimal:
    """Round to the precision the RCP chart is written in (whole numbers; 0.1 °C), half up, as
    a clinician reading the instrument would. The chart's bands then have no gaps: 35.05 °C is
    read as 35.1 and scores 1, 20.4 breaths as 20 and scores 0."""
    exact = Decimal(str(value)) if isinstance(value, float) else Decimal(value)
    return exact.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _band(value: Decimal, bands: tuple[tuple[Decimal | int, int], ...], above: int) -> int:
    """Score from (upper edge inclusive, score) pairs in ascending order; `above` beyond them."""
    for upper, score in bands:
        if value <= upper:
            return score
    return above


def score_respiratory_rate(rate: Number) -> int:
    return _band(_round(rate, 0), ((8, 3), (11, 1), (20, 0), (24, 2)), above=3)


def score_spo2(spo2: Number, *, scale: int = 1, on_oxygen: bool | None = None) -> int | None:
    """SpO2 on scale 1, or scale 2 where 93% or more scores only on oxygen (a patient with
    hypercapnic failure on air at 93%+ is fine; on oxygen it means too much oxygen).

    None when the score cannot be known: scale 2, SpO2 ≥ 93 and air/oxygen not recorded."""
    saturation = _round(spo2, 0)
    if scale == 1:
        return _band(saturation, ((91, 3), (93, 2), (95, 1)), above=0)
    if scale != 2:
        raise ValueError(f"SpO2 scale must be 1 or 2, not {scale!r}")
    if saturation <= 92:
        return _band(saturation, ((83, 3), (85, 2), (87, 1)), above=0)
    if on_oxygen is None:
        return None
    if not on_oxygen:
        return 0
    return _band(saturation, ((94, 1), (96, 2)), above=3)


def score_on_oxygen(on_oxygen: bool) -> int:
    return 2 if on_oxygen else 0


def score_systolic_bp(systolic: Number) -> int:
    return _band(_round(systolic, 0), ((90, 3), (100, 2), (110, 1), (219, 0)), above=3)


def score_heart_rate(pulse: Number) -> int:
    return _band(_round(pulse, 0), ((40, 3), (50, 1), (90, 0), (110, 1), (130, 2)), above=3)


def score_consciousness(level: Acvpu | str) -> int:
    """Alert scores 0; new confusion, voice, pain and unresponsive all score 3."""
    letter = parse_acvpu(str(level))
    if letter is None:
        raise ValueError(f"Consciousness must be one of A, C, V, P, U, not {level!r}")
    return 0 if letter == Acvpu.ALERT else 3


def score_temperature(celsius: Number) -> int:
    edges: tuple[tuple[Decimal | int, int], ...] = (
        (Decimal("35.0"), 3),
        (Decimal("36.0"), 1),
        (Decimal("38.0"), 0),
        (Decimal("39.0"), 1),
    )
    return _band(_round(celsius, 1), edges, above=2)


def _number(key: str, value: object) -> Number:
    if isinstance(value, bool):  # bool is an int: True must not become a pulse of 1
        raise ValueError(f"{key} must be a number, not {value!r}")
    if isinstance(value, int | float | Decimal):
        return value
    parsed = parse_number(str(value))
    if parsed is None:
        raise ValueError(f"{key} must be a number, not {value!r}")
    return parsed


def _boolean(value: object) -> bool:
    if isinstance(value, bool):
        return value
    parsed = parse_boolean(str(value))
    if parsed is None:
        raise ValueError(f"on_oxygen must be air (False) or oxygen (True), not {value!r}")
    return parsed


def _present(value: object) -> bool:
    return value is not None and not (isinstance(value, str) and not value.strip())


def news2_score(vitals: Mapping[str, object]) -> News2Result:
    """Score NEWS2 from vital signs keyed as vitals.VITALS.

    Takes the values from vitals.parse_vitals, or plain Python values (int, float, Decimal,
    numeric strings with a dot or comma, bool for on_oxygen, an ACVPU letter). None or "" means
    not measured. spo2_scale defaults to 1. Raises ValueError for values that cannot be read.
    """
    present = {key: value for key, value in vitals.items() if _present(value)}
    scale_value = _number("spo2_scale", present.get("spo2_scale", 1))
    if scale_value not in (1, 2):
        raise ValueError(f"SpO2 scale must be 1 or 2, not {scale_value!r}")
    scale = int(scale_value)
    on_oxygen = _boolean(present["on_oxygen"]) if "on_oxygen" in present else None
    if on_oxygen is None and "oxygen_flow" in present:
        # A flow of oxygen is supplemental oxygen, however it was recorded (a FHIR client sends
        # LOINC 3151-8, not FarCare's "air or oxygen"); a flow of 0 says nothing either way.
        on_oxygen = True if _number("oxygen_flow", present["oxygen_flow"]) > 0 else None

    scores: dict[str, int] = {}
    if "respiratory_rate" in present:
        scores["respiratory_rate"] = score_respiratory_rate(
            _number("respiratory_rate", present["respiratory_rate"])
        )
    if "spo2" in present:
        spo2 = score_spo2(_number("spo2", present["spo2"]), scale=scale, on_oxygen=on_oxygen)
        if spo2 is not None:
            scores["spo2"] = spo2
    if on_oxygen is not None:
        scores["on_oxygen"] = score_on_oxygen(on_oxygen)
    if "systolic_bp" in present:
        scores["systolic_bp"] = score_systolic_bp(_number("systolic_bp", present["systolic_bp"]))
    if "heart_rate" in present:
        scores["heart_rate"] = score_heart_rate(_number("heart_rate", present["heart_rate"]))
    if "consciousness" in present:
        scores["consciousness"] = score_consciousness(str(present["consciousness"]))
    if "temperature" in present:
        scores["temperature"] = score_temperature(_number("temperature", present["temperature"]))

    total = sum(scores.values())
    any_three = any(score == 3 for score in scores.values())
    band = risk_band(total, any_single_three=any_three)
    return News2Result(
        total=total,
        scores={key: scores[key] for key in PARAMETERS if key in scores},
        missing=tuple(key for key in PARAMETERS if key not in scores),
        any_single_three=any_three,
        band=band,
        suggested_form=suggested_form(band),
        spo2_scale=scale,
    )


def risk_band(total: int, *, any_single_three: bool) -> Risk:
    if total >= 7:
        return Risk.HIGH
    if total >= 5:
        return Risk.MEDIUM
    if any_single_three:
        return Risk.LOW_MEDIUM
    return Risk.LOW


def suggested_form(band: Risk) -> SuggestedForm:
    """domain.md §5: 5+ or any single 3 at a remote post makes an emergency or urgent
    consultation the suggestion; 7+ calls for an emergency response."""
    if band == Risk.HIGH:
        return SuggestedForm.EMERGENCY
    if band in (Risk.MEDIUM, Risk.LOW_MEDIUM):
        return SuggestedForm.URGENT
    return SuggestedForm.PLANNED
