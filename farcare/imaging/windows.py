"""Window presets of the viewer (pure): the grey-scale windows a radiologist switches between,
in Hounsfield units for CT, and the file's own window for radiographs.

A window is (centre, width): values below centre − width/2 are black, above centre + width/2
white, linear between (DICOM PS3.3 C.11.2.1.2, "LINEAR")."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

__all__ = ["HEADER", "PRESETS", "Preset", "default_preset", "preset", "presets_for"]

# The file's own window (WindowCenter/WindowWidth or its VOI LUT), or its full range.
HEADER = "header"


@dataclass(frozen=True)
class Preset:
    key: str
    label: str | Promise
    centre: float | None  # None: the file's own window
    width: float | None


PRESETS: dict[str, Preset] = {
    HEADER: Preset(HEADER, _("as acquired"), None, None),
    "lung": Preset("lung", _("lung"), -600.0, 1500.0),
    "mediastinum": Preset("mediastinum", _("mediastinum / soft tissue"), 50.0, 350.0),
    "bone": Preset("bone", _("bone"), 400.0, 1800.0),
    "brain": Preset("brain", _("brain"), 40.0, 80.0),
}

_CT = ("mediastinum", "lung", "bone", "brain", HEADER)


def presets_for(modality: str) -> list[Preset]:
    """The presets offered for a series: the CT windows in Hounsfield units for CT (the
    mediastinal one first), else only the file's own window (CR, DX, MG, US: their values are
    not Hounsfield units, so a CT window would mean nothing)."""
    if modality.upper() == "CT":
        return [PRESETS[key] for key in _CT]
    return [PRESETS[HEADER]]


def default_preset(modality: str) -> Preset:
    return presets_for(modality)[0]


def preset(key: str, modality: str) -> Preset:
    """The preset `key` if the modality offers it, else the modality's default."""
    for candidate in presets_for(modality):
        if candidate.key == key:
            return candidate
    return default_preset(modality)
