"""The vital signs a feldsher records, coded in LOINC with UCUM units (domain.md §4).

`VITALS` is the registry; `parse_vitals` turns what was typed into a form into clean values and
per-field messages. Values outside what a living patient can have are refused, not stored: a
typo such as a pulse of 900 must not reach the consultant or the NEWS2 score.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from django.db import models
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext_lazy

LANGUAGES = ("en", "ru", "ko")


class VitalKind(StrEnum):
    QUANTITY = "quantity"  # a number with a UCUM unit
    CODED = "coded"  # one letter of ACVPU
    BOOLEAN = "boolean"  # air or supplemental oxygen
    CHOICE = "choice"  # the SpO2 scale, 1 or 2


class Acvpu(models.TextChoices):
    """Level of consciousness. C is *new* confusion: it scores like V, P and U in NEWS2."""

    ALERT = "A", pgettext_lazy("ACVPU", "Alert")
    CONFUSION = "C", pgettext_lazy("ACVPU", "New confusion")
    VOICE = "V", pgettext_lazy("ACVPU", "Responds to voice")
    PAIN = "P", pgettext_lazy("ACVPU", "Responds to pain")
    UNRESPONSIVE = "U", pgettext_lazy("ACVPU", "Unresponsive")


# What parse_vitals returns: Decimal for measurements (no binary rounding of 36.6), bool for
# air/oxygen, int for the SpO2 scale, Acvpu for consciousness.
VitalValue = Decimal | bool | int | Acvpu


@dataclass(frozen=True)
class VitalSpec:
    key: str
    kind: VitalKind
    names: Mapping[str, str]
    # Empty strings where there is no code: the values are stored in non-null text columns.
    loinc: str = ""
    loinc_display: str = ""
    ucum: str = ""
    units: Mapping[str, str] = field(default_factory=dict)
    minimum: Decimal | None = None
    maximum: Decimal | None = None
    decimals: int = 0
    typical: Decimal | None = None  # shown as the example when something else was typed
    choices: tuple[str, ...] = ()

    def name(self, language: str) -> str:
        return self.names.get(primary_language(language)) or self.names["en"]

    def unit(self, language: str) -> str:
        return self.units.get(primary_language(language)) or self.units.get("en", self.ucum)

    def label(self, language: str) -> str:
        """The name with its unit, as a form's label: "Пульс, /мин", "Pulse rate (/min)"."""
        name = self.name(language)
        if self.kind is not VitalKind.QUANTITY or not self.ucum:
            return name
        unit = self.unit(language)
        return f"{name}, {unit}" if primary_language(language) == "ru" else f"{name} ({unit})"


def primary_language(language: str) -> str:
    """'ru-RU' → 'ru'; anything we do not speak falls back to English."""
    code = language.replace("_", "-").split("-")[0].lower()
    return code if code in LANGUAGES else "en"


_PER_MINUTE = {"en": "/min", "ru": "/мин", "ko": "/분"}

VITALS: dict[str, VitalSpec] = {
    spec.key: spec
    for spec in (
        VitalSpec(
            key="respiratory_rate",
            kind=VitalKind.QUANTITY,
            names={"en": "Respiratory rate", "ru": "Частота дыхания", "ko": "호흡수"},
            loinc="9279-1",
            loinc_display="Respiratory rate",
            ucum="/min",
            units=_PER_MINUTE,
            minimum=Decimal(2),
            maximum=Decimal(80),
            typical=Decimal("16"),
        ),
        VitalSpec(
            key="spo2",
            kind=VitalKind.QUANTITY,
            names={
                "en": "Oxygen saturation (SpO₂)",
                "ru": "Сатурация кислорода (SpO₂)",
                "ko": "산소포화도(SpO₂)",
            },
            loinc="59408-5",
            loinc_display="Oxygen saturation in Arterial blood by Pulse oximetry",
            ucum="%",
            units={"en": "%", "ru": "%", "ko": "%"},
            minimum=Decimal(50),
            maximum=Decimal(100),
            typical=Decimal("96"),
        ),
        VitalSpec(
            key="spo2_scale",
            kind=VitalKind.CHOICE,
            names={"en": "SpO₂ scale", "ru": "Шкала SpO₂", "ko": "SpO₂ 척도"},
            # Scale 2 only for hypercapnic respiratory failure, and only a clinician chooses it.
            choices=("1", "2"),
        ),
        VitalSpec(
            key="on_oxygen",
            kind=VitalKind.BOOLEAN,
            names={
                "en": "Air or supplemental oxygen",
                "ru": "Воздух или кислород",
                "ko": "실내 공기 또는 산소 투여",
            },
        ),
        VitalSpec(
            key="oxygen_flow",
            kind=VitalKind.QUANTITY,
            names={"en": "Inhaled oxygen flow", "ru": "Поток кислорода", "ko": "흡입 산소 유량"},
            loinc="3151-8",
            loinc_display="Inhaled oxygen flow rate",
            ucum="L/min",
            units={"en": "L/min", "ru": "л/мин", "ko": "L/분"},
            minimum=Decimal(0),
            maximum=Decimal(60),
            typical=Decimal("2"),
            decimals=1,  # nasal cannulae run at 0.5 L/min steps
        ),
        VitalSpec(
            key="systolic_bp",
            kind=VitalKind.QUANTITY,
            names={
                "en": "Systolic blood pressure",
                "ru": "Систолическое артериальное давление",
                "ko": "수축기 혈압",
            },
            loinc="8480-6",
            loinc_display="Systolic blood pressure",
            ucum="mm[Hg]",
            units={"en": "mmHg", "ru": "мм рт. ст.", "ko": "mmHg"},
            minimum=Decimal(40),
            maximum=Decimal(300),
            typical=Decimal("120"),
        ),
        VitalSpec(
            key="diastolic_bp",
            kind=VitalKind.QUANTITY,
            names={
                "en": "Diastolic blood pressure",
                "ru": "Диастолическое артериальное давление",
                "ko": "이완기 혈압",
            },
            # Not scored by NEWS2 (systolic only), but a consultant reads the pair.
            loinc="8462-4",
            loinc_display="Diastolic blood pressure",
            ucum="mm[Hg]",
            units={"en": "mmHg", "ru": "мм рт. ст.", "ko": "mmHg"},
            minimum=Decimal(20),
            maximum=Decimal(200),
            typical=Decimal("80"),
        ),
        VitalSpec(
            key="heart_rate",
            kind=VitalKind.QUANTITY,
            names={"en": "Pulse rate", "ru": "Пульс", "ko": "맥박수"},
            loinc="8867-4",
            loinc_display="Heart rate",
            ucum="/min",
            units=_PER_MINUTE,
            minimum=Decimal(20),
            maximum=Decimal(300),
            typical=Decimal("72"),
        ),
        VitalSpec(
            key="consciousness",
            kind=VitalKind.CODED,
            names={
                "en": "Level of consciousness (ACVPU)",
                "ru": "Уровень сознания (ACVPU)",
                "ko": "의식 수준(ACVPU)",
            },
            loinc="67775-7",
            loinc_display="Level of responsiveness",
            choices=tuple(Acvpu.values),
        ),
        VitalSpec(
            key="temperature",
            kind=VitalKind.QUANTITY,
            names={"en": "Body temperature", "ru": "Температура тела", "ko": "체온"},
            loinc="8310-5",
            loinc_display="Body temperature",
            ucum="Cel",
            units={"en": "°C", "ru": "°C", "ko": "°C"},
            minimum=Decimal(25),
            maximum=Decimal(45),
            typical=Decimal("36.6"),
            decimals=1,
        ),
    )
}

# Digits with at most one decimal separator; a dot or the Russian comma ("36,6"). No exponents,
# no "NaN": Decimal() would accept those and they are never what a feldsher meant.
_NUMBER = re.compile(r"^[+-]?\d+(?:[.,]\d+)?$")

# A Russian keyboard gives Cyrillic А, С, Р that look exactly like the Latin ACVPU letters.
_ACVPU_LOOKALIKES = {"А": "A", "С": "C", "Р": "P"}

_TRUE = frozenset({"1", "true", "yes", "on", "oxygen", "o2", "да", "кислород", "예", "산소"})
_FALSE = frozenset({"0", "false", "no", "off", "air", "нет", "воздух", "아니오", "아니요", "공기"})


def parse_number(text: str) -> Decimal | None:
    """The number typed, or None when it is not one. Accepts a comma decimal separator."""
    text = text.strip().replace("\u00a0", "").replace(" ", "")
    if not _NUMBER.match(text):
        return None
    return Decimal(text.replace(",", "."))


def parse_boolean(text: str) -> bool | None:
    word = text.strip().casefold()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    return None


def parse_acvpu(text: str) -> Acvpu | None:
    letter = text.strip().upper()
    letter = _ACVPU_LOOKALIKES.get(letter, letter)
    return Acvpu(letter) if letter in Acvpu.values else None


def format_number(value: Decimal, language: str) -> str:
    """A number as the reader writes it: 36,6 in Russian, 36.6 otherwise; no trailing zeros."""
    text = f"{value.normalize():f}"
    return text.replace(".", ",") if primary_language(language) == "ru" else text


def _decimal_places(value: Decimal) -> int:
    exponent = value.normalize().as_tuple().exponent
    return -exponent if isinstance(exponent, int) and exponent < 0 else 0


def _parse_quantity(spec: VitalSpec, text: str, language: str) -> Decimal | str:
    """The value, or the message explaining why it was refused."""
    value = parse_number(text)
    if value is None:
        example = format_number(spec.typical or Decimal(0), language)
        return gettext("Enter a number, for example %(example)s.") % {"example": example}
    places = _decimal_places(value)
    if places > spec.decimals:
        if spec.decimals == 0:
            return gettext("Enter a whole number.")
        return ngettext(
            "Enter no more than %(places)d decimal place.",
            "Enter no more than %(places)d decimal places.",
            spec.decimals,
        ) % {"places": spec.decimals}
    low, high = spec.minimum, spec.maximum
    if low is not None and high is not None and not low <= value <= high:
        return gettext(
            "%(value)s %(unit)s is not possible: enter a value from %(minimum)s to %(maximum)s "
            "%(unit)s, or check the measurement."
        ) % {
            "value": format_number(value, language),
            "unit": spec.unit(language),
            "minimum": format_number(low, language),
            "maximum": format_number(high, language),
        }
    # Keep the precision as typed: "36.60" and "36.6" are the same reading.
    return value.normalize() if places else value.quantize(Decimal(1))


def parse_vitals(
    raw: Mapping[str, str], language: str
) -> tuple[dict[str, VitalValue], dict[str, str]]:
    """Clean what was typed for each vital sign.

    Returns (values, errors), both keyed by the VITALS keys. Empty fields are simply absent from
    both: not every vital is measured at a post. Keys that are not vital signs are ignored, so a
    whole form's data may be passed. Messages are in `language`.
    """
    values: dict[str, VitalValue] = {}
    errors: dict[str, str] = {}
    with translation.override(primary_language(language)):
        for key, spec in VITALS.items():
            given = raw.get(key)
            text = "" if given is None else str(given).strip()
            if not text:
                continue
            if spec.kind is VitalKind.QUANTITY:
                quantity = _parse_quantity(spec, text, language)
                if isinstance(quantity, str):
                    errors[key] = quantity
                else:
                    values[key] = quantity
            elif spec.kind is VitalKind.BOOLEAN:
                on_oxygen = parse_boolean(text)
                if on_oxygen is None:
                    errors[key] = gettext("Choose air or oxygen.")
                else:
                    values[key] = on_oxygen
            elif spec.kind is VitalKind.CHOICE:
                if text in spec.choices:
                    values[key] = int(text)
                else:
                    errors[key] = gettext("Choose SpO₂ scale 1 or 2.")
            else:
                letter = parse_acvpu(text)
                if letter is None:
                    errors[key] = gettext("Choose one of A, C, V, P or U.")
                else:
                    values[key] = letter
        _reconcile_oxygen(values, errors)
        _reconcile_pressure(values, errors, language)
    return values, errors


def _reconcile_pressure(
    values: dict[str, VitalValue], errors: dict[str, str], language: str
) -> None:
    """A diastolic pressure at or above the systolic is a slip (the two swapped, a digit
    lost): refused, so the pair the consultant reads is one that can be."""
    systolic, diastolic = values.get("systolic_bp"), values.get("diastolic_bp")
    if not isinstance(systolic, Decimal) or not isinstance(diastolic, Decimal):
        return
    if diastolic >= systolic:
        errors["diastolic_bp"] = gettext(
            "The diastolic pressure must be lower than the systolic (%(systolic)s %(unit)s): "
            "check the two readings."
        ) % {
            "systolic": format_number(systolic, language),
            "unit": VITALS["systolic_bp"].unit(language),
        }
        del values["diastolic_bp"]


def _reconcile_oxygen(values: dict[str, VitalValue], errors: dict[str, str]) -> None:
    """A recorded oxygen flow means the patient is on oxygen (it scores 2 in NEWS2)."""
    flow = values.get("oxygen_flow")
    if not isinstance(flow, Decimal) or flow <= 0 or "on_oxygen" in errors:
        return
    if "on_oxygen" not in values:
        values["on_oxygen"] = True
    elif values["on_oxygen"] is False:
        errors["on_oxygen"] = gettext(
            "An oxygen flow is recorded, but the patient is marked as breathing air."
        )
        del values["on_oxygen"]
