"""NEWS2 as a feldsher meets it: who is well, who is slipping, who needs a doctor now."""

from decimal import Decimal

import pytest
from django.utils import translation

from farcare.clinical.news2 import (
    PARAMETERS,
    SNOMED_CT_NEWS2_TOTAL,
    Risk,
    SuggestedForm,
    news2_score,
    score_heart_rate,
    score_respiratory_rate,
    score_spo2,
    score_systolic_bp,
    score_temperature,
)
from farcare.clinical.vitals import parse_vitals

WELL = {
    "respiratory_rate": 16,
    "spo2": 97,
    "on_oxygen": False,
    "systolic_bp": 125,
    "heart_rate": 72,
    "consciousness": "A",
    "temperature": 36.8,
}


def test_the_textbook_deteriorating_patient_needs_an_emergency_consultation():
    # RR 25, SpO2 91 on air, SBP 90, HR 131, new confusion, T 39.1: 3+3+0+3+3+3+2
    result = news2_score(
        {
            "respiratory_rate": 25,
            "spo2": 91,
            "spo2_scale": 1,
            "on_oxygen": False,
            "systolic_bp": 90,
            "heart_rate": 131,
            "consciousness": "C",
            "temperature": 39.1,
        }
    )
    assert result.scores == {
        "respiratory_rate": 3,
        "spo2": 3,
        "on_oxygen": 0,
        "systolic_bp": 3,
        "heart_rate": 3,
        "consciousness": 3,
        "temperature": 2,
    }
    assert result.total == 17
    assert result.complete
    assert result.any_single_three
    assert result.band == Risk.HIGH
    assert result.suggested_form == SuggestedForm.EMERGENCY == "emergency"


def test_a_well_patient_scores_nothing_and_can_wait_for_a_planned_consultation():
    result = news2_score(WELL)
    assert result.total == 0
    assert result.complete
    assert not result.any_single_three
    assert result.band == Risk.LOW
    assert result.suggested_form == "planned"


def test_a_single_three_is_low_medium_risk_and_makes_the_consultation_urgent():
    result = news2_score({**WELL, "respiratory_rate": 26})
    assert result.total == 3
    assert result.scores["respiratory_rate"] == 3
    assert result.any_single_three
    assert result.band == Risk.LOW_MEDIUM
    assert result.suggested_form == "urgent"


def test_a_total_of_four_without_a_three_stays_low_and_planned():
    # RR 22 (2), HR 95 (1), T 38.2 (1)
    result = news2_score({**WELL, "respiratory_rate": 22, "heart_rate": 95, "temperature": 38.2})
    assert result.total == 4
    assert result.band == Risk.LOW
    assert result.suggested_form == "planned"


def test_five_is_medium_risk_and_urgent():
    # RR 22 (2), SpO2 95 (1), HR 100 (1), T 38.5 (1): a chest infection at a post
    result = news2_score(
        {**WELL, "respiratory_rate": 22, "spo2": 95, "heart_rate": 100, "temperature": 38.5}
    )
    assert result.total == 5
    assert result.band == Risk.MEDIUM
    assert result.suggested_form == "urgent"


def test_a_three_within_a_total_of_five_or_more_is_medium_not_low_medium():
    result = news2_score({**WELL, "systolic_bp": 88, "heart_rate": 115})  # 3 + 2
    assert result.total == 5
    assert result.any_single_three
    assert result.band == Risk.MEDIUM


def test_seven_is_high_and_emergency():
    # on oxygen (2), RR 23 (2), HR 115 (2), SBP 105 (1)
    result = news2_score(
        {**WELL, "on_oxygen": True, "respiratory_rate": 23, "heart_rate": 115, "systolic_bp": 105}
    )
    assert result.total == 7
    assert result.band == Risk.HIGH
    assert result.suggested_form == "emergency"


@pytest.mark.parametrize(
    ("rate", "score"),
    [(7, 3), (8, 3), (9, 1), (11, 1), (12, 0), (20, 0), (21, 2), (24, 2), (25, 3), (40, 3)],
)
def test_respiration_rate_bands(rate, score):
    assert score_respiratory_rate(rate) == score


@pytest.mark.parametrize(
    ("spo2", "score"), [(85, 3), (91, 3), (92, 2), (93, 2), (94, 1), (95, 1), (96, 0), (100, 0)]
)
def test_spo2_scale_1_bands(spo2, score):
    assert score_spo2(spo2, scale=1, on_oxygen=False) == score
    # on scale 1 the oxygen does not change the SpO2 score (it scores on its own line)
    assert score_spo2(spo2, scale=1, on_oxygen=True) == score


@pytest.mark.parametrize(
    ("spo2", "on_oxygen", "score"),
    [
        (80, True, 3),
        (83, False, 3),
        (84, False, 2),
        (85, True, 2),
        (86, False, 1),
        (87, True, 1),
        (88, False, 0),
        (92, True, 0),  # the target range of a patient with hypercapnic failure
        (93, False, 0),
        (97, False, 0),
        (100, False, 0),
        (93, True, 1),  # on oxygen, above target: too much oxygen
        (94, True, 1),
        (95, True, 2),
        (96, True, 2),
        (97, True, 3),
        (100, True, 3),
    ],
)
def test_spo2_scale_2_bands(spo2, on_oxygen, score):
    assert score_spo2(spo2, scale=2, on_oxygen=on_oxygen) == score


def test_a_copd_patient_on_oxygen_in_target_is_scored_on_scale_2_as_the_clinician_chose():
    patient = {**WELL, "spo2": 90, "on_oxygen": True}
    on_scale_1 = news2_score(patient)
    on_scale_2 = news2_score({**patient, "spo2_scale": 2})
    assert on_scale_1.scores["spo2"] == 3
    assert on_scale_2.scores["spo2"] == 0
    assert on_scale_2.scores["on_oxygen"] == 2
    assert (on_scale_1.total, on_scale_2.total) == (5, 2)
    assert on_scale_2.spo2_scale == 2


def test_on_scale_2_a_high_saturation_cannot_be_scored_without_knowing_air_or_oxygen():
    result = news2_score({"spo2": 95, "spo2_scale": 2})
    assert "spo2" not in result.scores
    assert "spo2" in result.missing
    # below 93 the answer is the same on air and on oxygen
    assert news2_score({"spo2": 85, "spo2_scale": 2}).scores["spo2"] == 2


def test_supplemental_oxygen_scores_two():
    assert news2_score({**WELL, "on_oxygen": True}).scores["on_oxygen"] == 2
    assert news2_score({**WELL, "on_oxygen": True}).total == 2


@pytest.mark.parametrize(
    ("systolic", "score"),
    [(70, 3), (90, 3), (91, 2), (100, 2), (101, 1), (110, 1), (111, 0), (219, 0), (220, 3)],
)
def test_systolic_pressure_bands(systolic, score):
    assert score_systolic_bp(systolic) == score


@pytest.mark.parametrize(
    ("pulse", "score"),
    [
        (35, 3),
        (40, 3),
        (41, 1),
        (50, 1),
        (51, 0),
        (90, 0),
        (91, 1),
        (110, 1),
        (111, 2),
        (130, 2),
        (131, 3),
    ],
)
def test_pulse_bands(pulse, score):
    assert score_heart_rate(pulse) == score


@pytest.mark.parametrize(
    ("level", "score"), [("A", 0), ("C", 3), ("V", 3), ("P", 3), ("U", 3), ("c", 3)]
)
def test_anything_but_alert_scores_three(level, score):
    assert news2_score({**WELL, "consciousness": level}).scores["consciousness"] == score


@pytest.mark.parametrize(
    ("celsius", "score"),
    [
        (34.0, 3),
        (35.0, 3),
        (35.1, 1),
        (36.0, 1),
        (36.1, 0),
        (38.0, 0),
        (38.1, 1),
        (39.0, 1),
        (39.1, 2),
        (41.0, 2),
        (Decimal("35.0"), 3),
        (Decimal("39.1"), 2),
    ],
)
def test_temperature_bands(celsius, score):
    assert score_temperature(celsius) == score


@pytest.mark.parametrize(
    ("celsius", "score"),
    [
        # between the chart's bands: read to 0.1 °C, half up, as from a thermometer
        (35.05, 1),
        (35.04, 3),
        (36.04, 1),
        (36.05, 0),
        (38.05, 1),
        (39.04, 1),
        (39.05, 2),
    ],
)
def test_temperatures_between_the_charts_bands_fall_into_one(celsius, score):
    assert score_temperature(celsius) == score


@pytest.mark.parametrize(("value", "score"), [(20.4, 0), (20.5, 2), (8.4, 3), (8.5, 1)])
def test_fractional_rates_are_read_to_whole_numbers(value, score):
    assert score_respiratory_rate(value) == score


def test_a_partial_set_of_vitals_is_scored_but_marked_incomplete():
    # no thermometer, no pulse oximeter at the post today
    result = news2_score(
        {"respiratory_rate": 26, "systolic_bp": 120, "heart_rate": 95, "consciousness": "A"}
    )
    assert result.total == 4
    assert not result.complete
    assert result.missing == ("spo2", "on_oxygen", "temperature")
    assert result.parameters_scored == (
        "respiratory_rate",
        "systolic_bp",
        "heart_rate",
        "consciousness",
    )
    # a single 3 still counts, even in a partial score
    assert result.band == Risk.LOW_MEDIUM
    assert result.suggested_form == "urgent"


def test_empty_values_count_as_not_measured():
    result = news2_score({**WELL, "temperature": "", "spo2": None})
    assert not result.complete
    assert set(result.missing) == {"temperature", "spo2"}


def test_nothing_measured_scores_nothing_and_says_so():
    result = news2_score({})
    assert result.total == 0
    assert result.parameters_scored == ()
    assert result.missing == PARAMETERS


def test_the_values_parse_vitals_returns_are_scored():
    values, errors = parse_vitals(
        {
            "respiratory_rate": "25",
            "spo2": "91",
            "on_oxygen": "air",
            "systolic_bp": "90",
            "heart_rate": "131",
            "consciousness": "С",  # Cyrillic С from a Russian keyboard
            "temperature": "39,1",
        },
        "ru",
    )
    assert errors == {}
    assert news2_score(values).total == 17


def test_the_total_is_coded_in_snomed_ct():
    assert SNOMED_CT_NEWS2_TOTAL == "1104051000000101"
    assert news2_score(WELL).snomed_code == "1104051000000101"


@pytest.mark.parametrize(
    ("language", "high", "low_medium"),
    [
        ("en", "High", "Low–medium"),
        ("ru", "Высокий", "Низкий–средний"),
        ("ko", "높음", "낮음–중간"),
    ],
)
def test_the_risk_is_named_in_the_readers_language(language, high, low_medium):
    with translation.override(language):
        assert str(Risk.HIGH.label) == high
        assert str(Risk.LOW_MEDIUM.label) == low_medium


@pytest.mark.parametrize(
    "vitals",
    [
        {"spo2_scale": 3, "spo2": 95},
        {"consciousness": "X"},
        {"heart_rate": True},
        {"temperature": "warm"},
        {"on_oxygen": "maybe"},
    ],
)
def test_unreadable_values_are_refused_not_guessed(vitals):
    with pytest.raises(ValueError):
        news2_score(vitals)


def test_a_recorded_oxygen_flow_means_oxygen_even_when_air_or_oxygen_was_not_ticked():
    # A FHIR client sends the flow (LOINC 3151-8), not FarCare's "air or oxygen" field.
    result = news2_score({"spo2": 96, "oxygen_flow": "2"})
    assert result.scores["on_oxygen"] == 2
    assert "on_oxygen" not in result.missing
    assert news2_score({"spo2": 96, "oxygen_flow": "0"}).scores.get("on_oxygen") is None
