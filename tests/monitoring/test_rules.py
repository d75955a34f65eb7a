"""A worsening trend reaches a clinician before it becomes an evacuation (issue 17, point 3)."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from farcare.monitoring.measures import Code, Quantity, Reading
from farcare.monitoring.rules import (
    TEMPLATES,
    AlertKind,
    Programme,
    Schedule,
    Severity,
    evaluate,
    plan_from_template,
)

START = datetime(2026, 3, 1, 8, 0, tzinfo=UTC)


def at(days=0, hours=0, minutes=0):
    return START + timedelta(days=days, hours=hours, minutes=minutes)


def bp(systolic, diastolic, when, ref=""):
    return Reading(
        Code.BP_PANEL,
        (
            Quantity(Code.SYSTOLIC, Decimal(systolic), "mm[Hg]"),
            Quantity(Code.DIASTOLIC, Decimal(diastolic), "mm[Hg]"),
        ),
        when,
        ref,
    )


def single(code, value, unit, when, ref=""):
    return Reading(code, (Quantity(code, Decimal(value), unit),), when, ref)


def weight(kg, when):
    return single(Code.WEIGHT, kg, "kg", when)


def plan(programme, **kwargs):
    return plan_from_template(programme, subject="enrolment-7", enrolled_at=START, **kwargs)


def alerts(programme, readings, now, **kwargs):
    return [a for a in evaluate(plan(programme), readings, now=now, **kwargs)]


# --- Thresholds ------------------------------------------------------------------------------


def test_hypertension_a_systolic_of_180_alerts_at_once():
    reading = bp(182, 100, at(hours=1), ref="obs-1")
    [alert] = alerts(Programme.HYPERTENSION, [bp(150, 90, at()), reading], at(hours=1))
    assert alert.kind == AlertKind.THRESHOLD
    assert alert.rule == "bp_at_once"
    assert alert.severity == Severity.URGENT
    assert alert.measure == Code.BP_PANEL
    assert alert.readings == (reading,)
    assert alert.dedupe_key == "enrolment-7|bp_at_once|obs-1"


def test_hypertension_a_diastolic_of_110_alone_alerts_at_once():
    [alert] = alerts(Programme.HYPERTENSION, [bp(170, 110, at())], at())
    assert alert.rule == "bp_at_once"


def test_hypertension_160_over_100_once_does_not_alert_twice_in_a_row_does():
    first = bp(165, 95, at())
    assert alerts(Programme.HYPERTENSION, [first], at()) == []
    second = bp(158, 102, at(hours=6))
    [alert] = alerts(Programme.HYPERTENSION, [first, second], at(hours=6))
    assert alert.kind == AlertKind.REPEATED_THRESHOLD
    assert alert.rule == "bp_repeated"
    assert alert.readings == (first, second)


def test_a_normal_reading_between_two_high_ones_breaks_the_repetition():
    readings = [bp(165, 95, at()), bp(135, 85, at(hours=6)), bp(166, 96, at(hours=12))]
    assert alerts(Programme.HYPERTENSION, readings, at(hours=12)) == []


def test_an_old_high_run_ended_by_a_normal_reading_does_not_alert_now():
    readings = [bp(185, 112, at()), bp(135, 85, at(hours=6))]
    assert alerts(Programme.HYPERTENSION, readings, at(hours=6)) == []


def test_diabetes_glucose_below_3_9_or_above_15_alerts():
    low = single(Code.GLUCOSE, "3.8", "mmol/L", at())
    [alert] = alerts(Programme.DIABETES, [low], at())
    assert alert.rule == "glucose_low"
    high = single(Code.GLUCOSE, "15.1", "mmol/L", at(hours=4))
    [alert] = alerts(Programme.DIABETES, [low, high], at(hours=4))
    assert alert.rule == "glucose_high"
    edges = [
        single(Code.GLUCOSE, "3.9", "mmol/L", at()),
        single(Code.GLUCOSE, "15", "mmol/L", at(hours=1)),
    ]
    assert alerts(Programme.DIABETES, edges, at(hours=1)) == []


def test_pregnancy_140_over_90_alerts_and_160_over_110_is_critical():
    [alert] = alerts(Programme.PREGNANCY, [bp(142, 88, at())], at())
    assert (alert.rule, alert.severity) == ("pregnancy_bp", Severity.URGENT)
    found = alerts(Programme.PREGNANCY, [bp(142, 88, at()), bp(162, 100, at(hours=1))], at(hours=1))
    # Only the most severe of the breached thresholds: "≥ 140/90" adds nothing to "≥ 160/110".
    assert [(a.rule, a.severity) for a in found] == [("pregnancy_bp_severe", Severity.CRITICAL)]
    assert alerts(Programme.PREGNANCY, [bp(138, 88, at())], at()) == []


def test_after_discharge_fever_alerts():
    [alert] = alerts(
        Programme.AFTER_DISCHARGE, [single(Code.TEMPERATURE, "38.2", "Cel", at())], at()
    )
    assert alert.rule == "fever"


def test_a_clinician_sets_the_thresholds_per_patient():
    template = plan(Programme.HYPERTENSION)
    stricter = replace(
        template.thresholds[0],
        limits=(replace(template.thresholds[0].limits[0], value=Decimal(170)),),
    )
    adjusted = replace(template, thresholds=(stricter,))
    assert [a.rule for a in evaluate(adjusted, [bp(172, 90, at())], now=at())] == ["bp_at_once"]
    assert TEMPLATES[Programme.HYPERTENSION].thresholds[0].limits[0].value == 180  # untouched


# --- Trends ----------------------------------------------------------------------------------


def test_heart_failure_2_kg_in_3_days_alerts_from_the_lowest_weight():
    readings = [
        weight("81.0", at(days=-1)),
        weight("80.0", at()),  # the lowest of the window
        weight("80.6", at(days=1, minutes=-20)),
        weight("81.4", at(days=2, minutes=15)),
        weight("82.0", at(days=3, minutes=30)),  # three mornings later, a little later in the day
    ]
    [alert] = alerts(Programme.HEART_FAILURE, readings, at(days=3, hours=1))
    assert alert.kind == AlertKind.TREND
    assert alert.rule == "weight_gain"
    assert alert.readings == (readings[1], readings[4])
    assert alert.detail["gain"] == Decimal("2.0")


def test_heart_failure_the_same_gain_over_4_days_does_not_alert():
    readings = [weight("80.0", at()), weight("81.0", at(days=2)), weight("82.5", at(days=4))]
    # From day 1 to day 4 only 81.0 -> 82.5 counts: 1.5 kg.
    assert alerts(Programme.HEART_FAILURE, readings, at(days=4, hours=1)) == []


def test_heart_failure_a_gain_of_less_than_2_kg_does_not_alert():
    readings = [weight("80.0", at()), weight("81.9", at(days=2))]
    assert alerts(Programme.HEART_FAILURE, readings, at(days=2, hours=1)) == []


def test_the_trend_counts_calendar_days_in_the_persons_zone():
    # Morning weights in Anadyr (UTC+12): 07:30 local is 19:30 UTC the day before.
    anadyr = datetime(2026, 3, 1, 19, 30, tzinfo=UTC)
    readings = [weight("80.0", anadyr), weight("82.1", anadyr + timedelta(days=3, hours=2))]
    found = evaluate(
        plan(Programme.HEART_FAILURE, zone="Asia/Anadyr"),
        readings,
        now=anadyr + timedelta(days=3, hours=3),
    )
    assert [a.rule for a in found] == ["weight_gain"]


# --- Missed readings -------------------------------------------------------------------------


def test_a_missed_reading_alerts_after_its_window_and_not_before():
    last = bp(140, 85, at(), ref="obs-9")
    heart = plan(Programme.HYPERTENSION)
    # Due a day later, with 12 hours of grace: nothing at 35 h 59 min.
    assert evaluate(heart, [last], now=at(hours=35, minutes=59)) == []
    assert evaluate(heart, [last], now=at(hours=36)) == []
    [alert] = evaluate(heart, [last], now=at(hours=36, minutes=1))
    assert alert.kind == AlertKind.MISSED_READING
    assert alert.severity == Severity.WATCH
    assert alert.readings == (last,)
    assert alert.dedupe_key == "enrolment-7|missed:85354-9|obs-9"
    assert evaluate(heart, [last], now=at(days=3))[0].detail["hours_overdue"] == 48


def test_no_reading_since_enrolment_is_missed_too():
    [alert] = evaluate(plan(Programme.DIABETES), [], now=at(hours=37))
    assert alert.readings == ()
    assert alert.dedupe_key == "enrolment-7|missed:14743-9|enrolment"


def test_a_reading_that_arrives_ends_the_missed_alert():
    late = single(Code.GLUCOSE, "6.0", "mmol/L", at(hours=40))
    assert evaluate(plan(Programme.DIABETES), [late], now=at(hours=41)) == []


def test_readings_after_now_are_not_seen():
    # Evaluating the past (a replay) must not use a reading that had not yet arrived.
    future = bp(185, 112, at(hours=5))
    assert evaluate(plan(Programme.HYPERTENSION), [future], now=at(hours=1)) == []


def test_frequency_is_set_per_patient():
    four_a_day = replace(
        plan(Programme.HYPERTENSION),
        schedules=(Schedule(Code.BP_PANEL, timedelta(hours=6), timedelta(hours=2)),),
    )
    assert evaluate(four_a_day, [bp(140, 85, at())], now=at(hours=8)) == []
    assert len(evaluate(four_a_day, [bp(140, 85, at())], now=at(hours=8, minutes=1))) == 1


# --- Dedupe ----------------------------------------------------------------------------------


def test_the_same_condition_does_not_alert_twice():
    hf = plan(Programme.HEART_FAILURE)
    readings = [weight("80.0", at()), weight("82.0", at(days=2))]
    [first] = evaluate(hf, readings, now=at(days=2))
    sent = {first.dedupe_key}
    # Still rising from the same lowest weight: the same episode, no second alert.
    readings.append(weight("82.6", at(days=3)))
    assert [a.dedupe_key for a in evaluate(hf, readings, now=at(days=3))] == [first.dedupe_key]
    assert evaluate(hf, readings, now=at(days=3), already_alerted=sent) == []


def test_a_high_run_keeps_one_key_and_a_new_run_gets_a_new_one():
    htn = plan(Programme.HYPERTENSION)
    run = [bp(185, 100, at(), "a"), bp(190, 105, at(hours=1), "b")]
    keys = {a.dedupe_key for a in evaluate(htn, run[:1], now=at())}
    assert evaluate(htn, run, now=at(hours=1), already_alerted=keys) == []
    again = [*run, bp(130, 80, at(hours=2), "c"), bp(186, 100, at(hours=3), "d")]
    [alert] = evaluate(htn, again, now=at(hours=3), already_alerted=keys)
    assert alert.dedupe_key == "enrolment-7|bp_at_once|d"


def test_a_missed_reading_alerts_once_however_long_it_stays_missed():
    htn = plan(Programme.HYPERTENSION)
    last = [bp(140, 85, at(), "obs-1")]
    keys = {a.dedupe_key for a in evaluate(htn, last, now=at(hours=37))}
    assert evaluate(htn, last, now=at(days=5), already_alerted=keys) == []
