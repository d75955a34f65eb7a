"""A patient's vital signs over time, for their record: one row per set of readings (those sent
with one request, or sent together by a station before its request), and a trend chart per
parameter NEWS2 scores on a scale.

Read only through a page that has already asked the access policy for the patient's record.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, tzinfo
from decimal import Decimal
from typing import Any

from django.utils.safestring import SafeString, mark_safe

from farcare.clinical.news2 import news2_score
from farcare.clinical.trends import SCALES, Point, trend_svg
from farcare.clinical.vitals import VITALS, VitalKind, parse_number

from .models import Status, VitalObservation
from .selectors import news2_band_label, vital_value_label

# The charts, in the order of the RCP chart; "news2" is the total score.
CHARTED = ("respiratory_rate", "spo2", "systolic_bp", "heart_rate", "temperature", "news2")
# Enough for years of a remote post's consultations; older readings stay in each case.
MAX_OBSERVATIONS = 1000


@dataclass(frozen=True)
class Column:
    key: str
    name: str
    unit: str


@dataclass(frozen=True)
class Reading:
    at: datetime
    consultation_uuid: str | None
    cells: list[str]  # aligned with VitalHistory.columns
    news2: int | None
    news2_band: str


@dataclass(frozen=True)
class Chart:
    key: str
    name: str
    unit: str
    svg: SafeString


@dataclass(frozen=True)
class VitalHistory:
    columns: list[Column]
    readings: list[Reading]  # newest first
    charts: list[Chart]


def _news2(values: dict[str, str], stored: int | None, band: str) -> tuple[int | None, str]:
    """The score shown with the request when there was one; else scored from the readings."""
    if stored is not None:
        return stored, band
    try:
        result = news2_score(values)
    except ValueError:
        return None, ""
    if not result.parameters_scored:
        return None, ""
    return result.total, str(result.band)


def vital_history(*, patient_id: int, language: str, zone: tzinfo) -> VitalHistory:
    observations = (
        VitalObservation.objects.filter(patient_id=patient_id)
        .exclude(consultation__status=Status.ENTERED_IN_ERROR)
        .select_related("consultation")
        .order_by("-recorded_at", "pk")[:MAX_OBSERVATIONS]
    )
    groups: dict[Any, list[VitalObservation]] = defaultdict(list)
    for observation in observations:
        key = observation.consultation_id or ("at", observation.recorded_at)
        groups[key].append(observation)

    present = {o.key for group in groups.values() for o in group}
    columns = [
        Column(key, spec.name(language), spec.unit(language) if spec.ucum else "")
        for key, spec in VITALS.items()
        if key in present
    ]
    readings = []
    for group in groups.values():
        values = {o.key: o.value for o in group}
        consultation = group[0].consultation
        news2, band = _news2(
            values,
            consultation.news2_total if consultation else None,
            consultation.news2_band if consultation else "",
        )
        readings.append(
            Reading(
                at=max(o.recorded_at for o in group),
                consultation_uuid=str(consultation.uuid) if consultation else None,
                cells=[
                    vital_value_label(c.key, values[c.key], language) if c.key in values else ""
                    for c in columns
                ],
                news2=news2,
                news2_band=news2_band_label(band),
            )
        )
    readings.sort(key=lambda reading: reading.at, reverse=True)
    return VitalHistory(columns, readings, _charts(groups, readings, language, zone))


def _charts(
    groups: dict[Any, list[VitalObservation]],
    readings: list[Reading],
    language: str,
    zone: tzinfo,
) -> list[Chart]:
    series: dict[str, list[Point]] = defaultdict(list)
    for group in groups.values():
        for observation in group:
            spec = VITALS.get(observation.key)
            if spec is None or spec.kind is not VitalKind.QUANTITY:
                continue
            value = parse_number(observation.value)
            if value is not None:
                series[observation.key].append(Point(observation.recorded_at, value))
    for reading in readings:
        if reading.news2 is not None:
            series["news2"].append(Point(reading.at, Decimal(reading.news2)))
    charts = []
    for key in CHARTED:
        if not series[key]:
            continue
        spec = VITALS.get(key)
        name = spec.name(language) if spec else "NEWS2"
        unit = spec.unit(language) if spec else ""
        svg = trend_svg(
            points=series[key],
            scale=SCALES[key],
            title=name,
            unit=unit,
            language=language,
            zone=zone,
            chart_id=f"trend-{key}",
        )
        # trend_svg escapes every text it draws.
        charts.append(Chart(key, name, unit, mark_safe(svg)))  # noqa: S308
    return charts
