"""Critical limits: the performing laboratory's own row for a code, else the deployment's
default (`facility=None`, loaded by migration 0003 from domain.md §9). Should the default rows
be missing (a test database flushed after migrate), the packaged defaults in
`data/critical_limits.csv` stand in: a potassium of 7.1 must never pass unnoticed because a
table is empty. To switch a default off, a deployment sets the row's limits to empty."""

from __future__ import annotations

import csv
from functools import cache
from pathlib import Path

from farcare.network.models import Facility

from .catalogue import canonical
from .interpretation import Range, parse_decimal, range_text
from .models import CriticalLimit

LIMITS_CSV = Path(__file__).with_name("data") / "critical_limits.csv"


@cache
def packaged_limits() -> dict[str, tuple[Range, str]]:
    with LIMITS_CSV.open(encoding="utf-8", newline="") as handle:
        found = {}
        for row in csv.DictReader(handle):
            low, high = parse_decimal(row["low"]), parse_decimal(row["high"])
            found[row["code"]] = (Range(low, high, range_text(low, high)), row["unit"])
        return found


def limits_for(codes: set[str], performer: Facility | None) -> dict[str, tuple[Range, str]]:
    """Critical range and its unit for each canonical code that has one, in one query."""
    wanted = {canonical(code) for code in codes}
    found = {code: limit for code, limit in packaged_limits().items() if code in wanted}
    rows = CriticalLimit.objects.filter(code__in=wanted, facility__isnull=True)
    if performer is not None:
        rows = CriticalLimit.objects.filter(code__in=wanted).filter(
            facility__isnull=True
        ) | CriticalLimit.objects.filter(code__in=wanted, facility=performer)
    # Defaults first, then the laboratory's own rows over them.
    for row in sorted(rows, key=lambda r: r.facility_id is not None):
        found[row.code] = (Range(row.low, row.high, range_text(row.low, row.high)), row.unit)
    return found
