"""Units, modalities and body sites as a reader of the page says them. Units are stored in UCUM
("10*9/L", "umol/L"); a Russian laboratory form writes "×10⁹/л" and "мкмоль/л"."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _

from farcare.core.values import reader_language

UNITS: dict[str, dict[str, str]] = {
    "10*9/L": {"ru": "×10⁹/л", "ko": "×10⁹/L", "en": "×10⁹/L"},
    "10*12/L": {"ru": "×10¹²/л", "ko": "×10¹²/L", "en": "×10¹²/L"},
    "umol/L": {"ru": "мкмоль/л", "ko": "µmol/L", "en": "µmol/L"},
    "mmol/L": {"ru": "ммоль/л", "ko": "mmol/L", "en": "mmol/L"},
    "g/L": {"ru": "г/л", "ko": "g/L", "en": "g/L"},
    "mg/L": {"ru": "мг/л", "ko": "mg/L", "en": "mg/L"},
    "ng/L": {"ru": "нг/л", "ko": "ng/L", "en": "ng/L"},
    "%": {"ru": "%", "ko": "%", "en": "%"},
}
# UCUM's unity and annotations say nothing to a reader.
NO_UNIT = frozenset({"", "1", "{INR}", "[pH]"})


def unit(code: str, language: str | None = None) -> str:
    if code in NO_UNIT:
        return ""
    return UNITS.get(code, {}).get(reader_language(language), code)


def modality(code: str) -> str:
    names = {
        "DX": _("X-ray"),
        "CR": _("X-ray"),
        "CT": _("CT"),
        "MR": _("MRI"),
        "US": _("ultrasound"),
        "ECG": _("ECG"),
    }
    return str(names.get(code, code))


def body_site(code: str) -> str:
    names = {"chest": _("chest"), "head": _("head"), "heart": _("heart"), "abdomen": _("abdomen")}
    return str(names.get(code, code))


def specimen(code: str) -> str:
    names = {
        "venous_blood_edta": _("venous blood (EDTA tube)"),
        "serum": _("blood for serum"),
        "citrated_plasma": _("blood (citrate tube)"),
        "urine": _("urine"),
        "capillary_blood": _("capillary blood"),
    }
    return str(names.get(code, code.replace("_", " ")))


def with_kind_shown(specimens: list[Any]) -> list[Any]:
    """Specimens with `kind_shown`, their kind in the reader's language, for the templates."""
    for item in specimens:
        item.kind_shown = specimen(item.kind)
    return specimens
