from datetime import UTC, datetime
from decimal import Decimal

import pytest

from farcare.monitoring.measures import (
    MEASURES,
    PANELS,
    READING_CODES,
    Code,
    Problem,
    Reading,
    check,
    check_pressure,
    glucose_mmol_per_l,
    quantities,
)


def test_every_measure_of_domain_section_11_has_its_loinc_code_and_ucum_unit():
    assert {code: m.unit for code, m in MEASURES.items()} == {
        Code.SYSTOLIC: "mm[Hg]",
        Code.DIASTOLIC: "mm[Hg]",
        Code.HEART_RATE: "/min",
        Code.WEIGHT: "kg",
        Code.GLUCOSE: "mmol/L",
        Code.SPO2: "%",
        Code.TEMPERATURE: "Cel",
    }
    assert Code.BP_PANEL.value == "85354-9"
    assert PANELS[Code.BP_PANEL] == (Code.SYSTOLIC, Code.DIASTOLIC)
    assert set(READING_CODES) == {Code.BP_PANEL} | (set(MEASURES) - set(PANELS[Code.BP_PANEL]))


@pytest.mark.parametrize(
    ("code", "value"),
    [
        (Code.SYSTOLIC, "280"),
        (Code.DIASTOLIC, "130"),
        (Code.HEART_RATE, "38"),
        (Code.WEIGHT, "82.5"),
        (Code.GLUCOSE, "2.1"),
        (Code.GLUCOSE, "33.3"),
        (Code.SPO2, "100"),
        (Code.TEMPERATURE, "40.2"),
    ],
)
def test_real_values_even_alarming_ones_are_kept(code, value):
    assert check(code, Decimal(value)) is None


@pytest.mark.parametrize(
    ("code", "value", "problem"),
    [
        (Code.SYSTOLIC, "900", Problem.OUT_OF_RANGE),
        (Code.HEART_RATE, "880", Problem.OUT_OF_RANGE),
        (Code.WEIGHT, "825", Problem.OUT_OF_RANGE),  # the comma forgotten in "82,5"
        (Code.GLUCOSE, "130", Problem.OUT_OF_RANGE),  # mg/dL without its unit
        (Code.SPO2, "101", Problem.OUT_OF_RANGE),
        (Code.TEMPERATURE, "378", Problem.OUT_OF_RANGE),
        (Code.TEMPERATURE, "37.85", Problem.UNEXPECTED_DECIMALS),
        (Code.SYSTOLIC, "150.5", Problem.UNEXPECTED_DECIMALS),
    ],
)
def test_impossible_values_are_refused(code, value, problem):
    assert check(code, Decimal(value)) == problem


def test_a_swapped_pressure_is_refused():
    assert check_pressure(Decimal(95), Decimal(150)) == Problem.SYSTOLIC_NOT_ABOVE_DIASTOLIC
    assert check_pressure(Decimal(150), Decimal(95)) is None


def test_glucose_in_mg_per_dl_converts_with_the_molar_mass_of_glucose():
    assert glucose_mmol_per_l(Decimal(130)) == Decimal("7.2")
    assert glucose_mmol_per_l(Decimal(70)) == Decimal("3.9")


def test_a_device_reading_is_validated_and_carries_its_components():
    parts = quantities(Code.BP_PANEL, {Code.SYSTOLIC: Decimal(150), Code.DIASTOLIC: Decimal(95)})
    reading = Reading(Code.BP_PANEL, parts, datetime(2026, 3, 1, 8, tzinfo=UTC))
    assert reading.value(Code.SYSTOLIC) == 150
    assert reading.value(Code.DIASTOLIC) == 95
    assert reading.value(Code.HEART_RATE) is None
    with pytest.raises(ValueError, match="out_of_range"):
        quantities(Code.SPO2, {Code.SPO2: Decimal(140)})
    with pytest.raises(ValueError, match="missing_or_extra"):
        quantities(Code.BP_PANEL, {Code.SYSTOLIC: Decimal(150)})
