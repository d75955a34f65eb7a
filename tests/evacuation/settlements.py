"""The demo network's settlements, read straight from the CSV the network importer uses, so the
evacuation figures are checked against the same coordinates the demo shows."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import farcare.network

CSV = Path(farcare.network.__file__).parent / "data" / "far_east_settlements.csv"


@dataclass(frozen=True)
class Settlement:
    name: str
    lat: float
    lon: float
    role: str


@cache
def _all() -> dict[str, Settlement]:
    with CSV.open(encoding="utf-8", newline="") as handle:
        return {
            row["name_en"]: Settlement(
                row["name_en"], float(row["lat"]), float(row["lon"]), row["role"]
            )
            for row in csv.DictReader(handle)
        }


def settlement(name: str) -> Settlement:
    return _all()[name]
