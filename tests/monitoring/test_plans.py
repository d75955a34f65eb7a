"""A clinician adjusts the programme's template for one person: the plan is kept as JSON and
read back as the same rules; numbers that cannot be a rule are refused with a message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from farcare.monitoring import plans
from farcare.monitoring.measures import Code
from farcare.monitoring.rules import TEMPLATES, Programme, plan_from_template

START = datetime(2026, 1, 10, 8, tzinfo=UTC)


def read(data, programme="hypertension"):
    return plans.plan_from_json(
        data, programme=programme, subject="e1", enrolled_at=START, zone="Asia/Anadyr"
    )


@pytest.mark.parametrize("programme", list(Programme))
def test_every_template_goes_to_json_and_back_unchanged(programme):
    plan = read(plans.template_json(programme), programme)
    expected = plan_from_template(programme, subject="e1", enrolled_at=START, zone="Asia/Anadyr")
    assert plan == expected
    assert plans.plan_to_json(plan) == plans.template_json(programme)


def test_the_hypertension_template_reads_as_the_domain_says():
    data = plans.template_json("hypertension")
    at_once = data["thresholds"][0]
    assert at_once["key"] == "bp_at_once"
    assert at_once["limits"] == [
        {"quantity": "8480-6", "op": "ge", "value": "180"},
        {"quantity": "8462-4", "op": "ge", "value": "110"},
    ]
    assert data["thresholds"][1]["consecutive"] == 2
    assert data["schedules"] == [
        {"measure": "85354-9", "every_hours": 24, "grace_hours": 12, "severity": "watch"}
    ]


def test_per_patient_overrides_of_threshold_trend_and_frequency():
    base = plans.template_json("heart_failure")
    changed = plans.with_overrides(
        base,
        gains={"weight_gain": {"amount": "1.5", "days": 2}},
        schedules={Code.WEIGHT.value: {"every_hours": 12, "grace_hours": 6}},
    )
    plan = read(changed, "heart_failure")
    assert plan.gains[0].amount == Decimal("1.5") and plan.gains[0].days == 2
    assert plan.schedules[0].every == timedelta(hours=12)
    assert plan.schedules[0].grace == timedelta(hours=6)
    # The template itself is untouched.
    assert plans.template_json("heart_failure")["gains"][0]["amount"] == "2"


def test_a_lower_threshold_for_one_person():
    data = plans.with_overrides(
        plans.template_json("hypertension"),
        thresholds={
            "bp_at_once": {
                "limits": [
                    {"quantity": "8480-6", "op": "ge", "value": "170"},
                    {"quantity": "8462-4", "op": "ge", "value": "105"},
                ]
            }
        },
    )
    plan = read(data)
    assert [limit.value for limit in plan.thresholds[0].limits] == [Decimal(170), Decimal(105)]


def at_once(quantity, value):
    limit = {"quantity": quantity, "op": "ge", "value": value}
    return {"thresholds": {"bp_at_once": {"limits": [limit]}}}


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (at_once("8480-6", "900"), "must be between 50 and 300"),
        (at_once("8480-6", "abc"), "must be a number"),
        (at_once("29463-7", "80"), "does not have"),
        ({"thresholds": {"bp_repeated": {"consecutive": 0}}}, "between 1 and 10"),
        ({"thresholds": {"bp_repeated": {"severity": "panic"}}}, "severity"),
        ({"schedules": {"85354-9": {"every_hours": 0}}}, "between 1 and 336 hours"),
        ({"schedules": {"85354-9": {"grace_hours": -1}}}, "between 0 and 72 hours"),
    ],
)  # fmt: skip
def test_bad_numbers_are_refused_with_a_message(change, message):
    data = plans.with_overrides(plans.template_json("hypertension"), **change)
    with pytest.raises(plans.PlanError) as refused:
        read(data)
    assert message in refused.value.message


def test_a_gain_of_nothing_is_refused():
    data = plans.with_overrides(
        plans.template_json("heart_failure"), gains={"weight_gain": {"amount": "0"}}
    )
    with pytest.raises(plans.PlanError, match="more than 0"):
        read(data, "heart_failure")


def test_what_the_plan_does_not_know_is_refused_not_dropped():
    with pytest.raises(plans.PlanError, match="does not know: alarms"):
        read({**plans.template_json("hypertension"), "alarms": []})
    with pytest.raises(plans.PlanError, match="no rule bp_typo"):
        plans.with_overrides(plans.template_json("hypertension"), thresholds={"bp_typo": {}})


def test_targets_default_per_programme_and_are_validated():
    assert plans.default_targets("hypertension") == {
        "8480-6": {"low": "100", "high": "135"},
        "8462-4": {"low": "60", "high": "85"},
    }
    assert plans.targets_from_json({"8480-6": {"low": "110", "high": "130"}}) == {
        "8480-6": {"low": "110", "high": "130"}
    }
    with pytest.raises(plans.PlanError, match="below the high one"):
        plans.targets_from_json({"8480-6": {"low": "140", "high": "130"}})
    with pytest.raises(plans.PlanError, match="between 50 and 300"):
        plans.targets_from_json({"8480-6": {"high": "1300"}})
    with pytest.raises(plans.PlanError, match="Unknown measure"):
        plans.targets_from_json({"1234-5": {"high": "1"}})


def test_templates_cover_every_programme():
    assert set(TEMPLATES) == set(Programme)
    for programme in Programme:
        assert plans.default_targets(programme)


def test_limits_with_more_decimals_than_the_measure_has_are_refused():
    plan = plans.with_overrides(
        plans.template_json("hypertension"), thresholds={"bp_at_once": {"limits": [
            {"quantity": "8480-6", "op": "ge", "value": "180.123456"}]}},
    )  # fmt: skip
    with pytest.raises(plans.PlanError) as refused:
        read(plan)
    assert refused.value.message == "Give systolic pressure as a whole number of mm[Hg]."
    # "180.0" is a whole number written with a zero: accepted.
    plan["thresholds"][0]["limits"][0]["value"] = "180.0"
    assert read(plan).thresholds[0].limits[0].value == Decimal(180)
    gain = plans.with_overrides(
        plans.template_json("heart_failure"), gains={"weight_gain": {"amount": "1.55"}}
    )
    with pytest.raises(plans.PlanError, match="at most 1 digit after the decimal point"):
        read(gain, "heart_failure")
    with pytest.raises(plans.PlanError, match="at most 1 digit after the decimal point"):
        plans.targets_from_json({"14743-9": {"low": "4.25", "high": "8"}})
