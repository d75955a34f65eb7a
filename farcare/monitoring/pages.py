"""What the monitoring pages show, in the reader's words: labels and units of the measures, the
charts of a person's readings, the latest reading of each measure against the person's target,
and the plain sentences the person reads on their own page. Views stay thin; nothing here
writes."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from decimal import Decimal
from typing import Any

from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _
from django.utils.translation import pgettext

from farcare.clinical.vitals import format_number

from .charts import Band, Sample, band_from, measure_chart
from .measures import READING_CODES, Code
from .models import HomeReading, ReadingStatus
from .rules import Programme

# What each programme asks the person to measure when the plan names nothing (an older plan,
# a broken one): the boxes of the reading form and the charts of the page.
PROGRAMME_READINGS: Mapping[str, tuple[Code, ...]] = {
    Programme.HYPERTENSION.value: (Code.BP_PANEL, Code.HEART_RATE),
    Programme.DIABETES.value: (Code.GLUCOSE, Code.BP_PANEL),
    Programme.HEART_FAILURE.value: (Code.WEIGHT, Code.BP_PANEL, Code.HEART_RATE, Code.SPO2),
    Programme.PREGNANCY.value: (Code.BP_PANEL, Code.WEIGHT, Code.GLUCOSE),
    Programme.AFTER_DISCHARGE.value: (
        Code.BP_PANEL,
        Code.HEART_RATE,
        Code.TEMPERATURE,
        Code.SPO2,
    ),
}
# The quantities whose target band a clinician sets, per reading.
QUANTITIES: Mapping[Code, tuple[Code, ...]] = {
    Code.BP_PANEL: (Code.SYSTOLIC, Code.DIASTOLIC),
    Code.HEART_RATE: (Code.HEART_RATE,),
    Code.WEIGHT: (Code.WEIGHT,),
    Code.GLUCOSE: (Code.GLUCOSE,),
    Code.SPO2: (Code.SPO2,),
    Code.TEMPERATURE: (Code.TEMPERATURE,),
}
# Charts show the last weeks; the table lists the readings of that window.
WINDOW = timedelta(days=30)
TABLE_ROWS = 60


def measure_label(code: str) -> str:
    return {
        Code.BP_PANEL.value: _("Blood pressure"),
        Code.SYSTOLIC.value: _("Upper pressure (systolic)"),
        Code.DIASTOLIC.value: _("Lower pressure (diastolic)"),
        Code.HEART_RATE.value: _("Pulse"),
        Code.WEIGHT.value: _("Weight"),
        Code.GLUCOSE.value: _("Blood sugar"),
        Code.SPO2.value: _("Oxygen (SpO2)"),
        Code.TEMPERATURE.value: _("Temperature"),
    }.get(code, code)


def unit_label(code: str) -> str:
    return {
        Code.BP_PANEL.value: pgettext("unit", "mmHg"),
        Code.SYSTOLIC.value: pgettext("unit", "mmHg"),
        Code.DIASTOLIC.value: pgettext("unit", "mmHg"),
        Code.HEART_RATE.value: pgettext("unit", "/min"),
        Code.WEIGHT.value: pgettext("unit", "kg"),
        Code.GLUCOSE.value: pgettext("unit", "mmol/L"),
        Code.SPO2.value: "%",
        Code.TEMPERATURE.value: "°C",
    }.get(code, "")


def reading_text(reading: HomeReading, language: str) -> str:
    """150/95 for a pressure, 78,4 for a weight in Russian."""
    value = format_number(reading.value, language)
    if reading.code == Code.BP_PANEL.value and reading.value_2 is not None:
        return f"{value}/{format_number(reading.value_2, language)}"
    return value


def _measures_in(plan: Any) -> list[str]:
    """Every measure a plan names (thresholds, gains, schedules), whatever its codec's shape:
    the values of its "measure" keys."""
    found: list[str] = []
    if isinstance(plan, Mapping):
        for key, value in plan.items():
            if key == "measure" and isinstance(value, str):
                found.append(value)
            else:
                found += _measures_in(value)
    elif isinstance(plan, list | tuple):
        for item in plan:
            found += _measures_in(item)
    return found


def readings_of(programme: str, plan: Any) -> tuple[Code, ...]:
    """The readings asked of an enrolled person, in the order of the form."""
    named = set(_measures_in(plan)) | set(PROGRAMME_READINGS.get(programme, ()))
    # A plan naming a component (systolic) asks for the pressure panel.
    if named & {Code.SYSTOLIC.value, Code.DIASTOLIC.value}:
        named.add(Code.BP_PANEL.value)
    return tuple(code for code in READING_CODES if code.value in named)


def readings_of_all(enrolments: Iterable[Any]) -> tuple[Code, ...]:
    wanted: set[Code] = set()
    for enrolment in enrolments:
        wanted |= set(readings_of(enrolment.programme, enrolment.plan))
    return tuple(code for code in READING_CODES if code in wanted)


def target_quantities(readings: Sequence[Code]) -> list[tuple[str, str]]:
    return [
        (quantity.value, measure_label(quantity.value))
        for reading in readings
        for quantity in QUANTITIES.get(reading, ())
    ]


def targets_initial(targets: Mapping[str, Any]) -> dict[str, str]:
    initial: dict[str, str] = {}
    for code, entry in targets.items():
        if isinstance(entry, Mapping):
            for end in ("low", "high"):
                if entry.get(end) not in (None, ""):
                    initial[f"t_{code}_{end}"] = str(entry[end])
    return initial


@dataclass(frozen=True)
class Latest:
    """The latest reading of a measure and where it stands against the target."""

    code: str
    label: str
    text: str
    unit: str
    at: datetime
    state: str  # "in", "above", "below", "" (no target)


def _state(value: Decimal, band: Band | None) -> str:
    if band is None:
        return ""
    if band.high is not None and value > band.high:
        return "above"
    if band.low is not None and value < band.low:
        return "below"
    return "in"


def latest_state(reading: HomeReading, targets: Mapping[str, Any], language: str) -> Latest:
    if reading.code == Code.BP_PANEL.value:
        states = [_state(reading.value, band_from(targets, Code.SYSTOLIC.value))]
        if reading.value_2 is not None:
            states.append(_state(reading.value_2, band_from(targets, Code.DIASTOLIC.value)))
        state = next((s for s in ("above", "below") if s in states), "in" if "in" in states else "")
    else:
        state = _state(reading.value, band_from(targets, reading.code))
    return Latest(
        code=reading.code,
        label=measure_label(reading.code),
        text=reading_text(reading, language),
        unit=unit_label(reading.code),
        at=reading.taken_at,
        state=state,
    )


# The list shows the latest reading of each measure from the last week: older than that, the
# "last reading" column and the risk reason already say it is missing, and a page of thirty
# people at four readings a day stays under a thousand rows read.
LIST_WINDOW = timedelta(days=7)


def latest_by_patient(
    patient_ids: Sequence[int], *, now: datetime
) -> dict[int, dict[str, HomeReading]]:
    """The latest reading of each measure of each patient of a list page, in one query over
    the last week (the index reading_by_patient serves it)."""
    latest: dict[int, dict[str, HomeReading]] = {}
    readings = (
        HomeReading.objects.filter(
            patient_id__in=patient_ids,
            status=ReadingStatus.FINAL,
            taken_at__gte=now - LIST_WINDOW,
        )
        .only("patient_id", "code", "value", "value_2", "taken_at")
        .order_by("patient_id", "-taken_at")
    )
    for reading in readings:
        latest.setdefault(reading.patient_id, {}).setdefault(reading.code, reading)
    return latest


def latest_rows(
    by_code: Mapping[str, HomeReading],
    readings: Sequence[Code],
    targets: Mapping[str, Any],
    language: str,
) -> list[Latest]:
    return [
        latest_state(by_code[code.value], targets, language)
        for code in readings
        if code.value in by_code
    ]


@dataclass(frozen=True)
class Chart:
    code: str
    label: str
    svg: SafeString


def charts(
    readings: Sequence[HomeReading],
    *,
    measures: Sequence[Code],
    targets: Mapping[str, Any],
    language: str,
    zone: tzinfo,
    prefix: str,
) -> list[Chart]:
    """One chart per measure that has readings, in the order of `measures`."""
    by_code: dict[str, list[Sample]] = {}
    for reading in readings:
        if reading.status != ReadingStatus.FINAL:
            continue
        by_code.setdefault(reading.code, []).append(
            Sample(reading.taken_at, reading.value, reading.value_2)
        )
    result = []
    order = [code.value for code in measures] + [c for c in by_code if c not in measures]
    for code in order:
        samples = by_code.get(code)
        if not samples:
            continue
        svg = measure_chart(
            code=code,
            samples=samples,
            targets=targets,
            title=measure_label(code),
            unit=unit_label(code),
            language=language,
            zone=zone,
            chart_id=f"{prefix}-{code}",
        )
        # measure_chart escapes every text it draws.
        result.append(Chart(code, measure_label(code), mark_safe(svg)))  # noqa: S308
    return result


def plain_state(latest: Latest) -> str:
    """What the person reads about their latest reading: no jargon, no alarm they cannot act on."""
    if latest.state == "above":
        return _("Higher than the target your doctor set.")
    if latest.state == "below":
        return _("Lower than the target your doctor set.")
    if latest.state == "in":
        return _("Within your target.")
    return ""
