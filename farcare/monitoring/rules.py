"""Rules turning a person's readings into alerts for the responsible clinician (issue 17, point 3).

A plan holds the rules of one enrolled person: thresholds (one reading, or N consecutive ones),
trends (weight gained within a few days) and schedules (a required reading missed). Programme
templates give the defaults; the clinician sets them per patient (dataclasses.replace), as
domain.md §11 says: the figures below are defaults, never a decision made for the clinician.

`evaluate` looks at the person's current state: the readings so far and the clock `now` (passed
in, so tests move it). It is meant to run after each new reading and periodically for missed
readings. Of several thresholds a measure breaches at once, only the most severe alerts. Every
alert carries a dedupe key naming the *episode* (the rule and the reading that
began it), so the same condition does not alert twice: a run of high pressures keeps one key until
a normal reading ends it; a weight gain keeps one key while measured from the same lowest weight;
a missed reading keeps one key until a reading arrives. The caller stores the keys it has alerted
and passes them back as `already_alerted`.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from enum import StrEnum
from zoneinfo import ZoneInfo

from .measures import Code, Reading


class Programme(StrEnum):
    HYPERTENSION = "hypertension"
    DIABETES = "diabetes"
    HEART_FAILURE = "heart_failure"
    PREGNANCY = "pregnancy"
    AFTER_DISCHARGE = "after_discharge"


class AlertKind(StrEnum):
    THRESHOLD = "threshold"
    REPEATED_THRESHOLD = "repeated_threshold"
    TREND = "trend"
    MISSED_READING = "missed_reading"


class Severity(StrEnum):
    """How soon a clinician should look; the values order from least to most urgent."""

    WATCH = "watch"  # within the working day
    URGENT = "urgent"  # within hours; may become an urgent teleconsultation
    CRITICAL = "critical"  # now; may become an emergency teleconsultation or an evacuation


SEVERITY_ORDER: Mapping[Severity, int] = {s: i for i, s in enumerate(Severity)}


class Op(StrEnum):
    AT_LEAST = "ge"
    ABOVE = "gt"
    AT_MOST = "le"
    BELOW = "lt"

    def holds(self, value: Decimal, limit: Decimal) -> bool:
        return {
            Op.AT_LEAST: value >= limit,
            Op.ABOVE: value > limit,
            Op.AT_MOST: value <= limit,
            Op.BELOW: value < limit,
        }[self]


@dataclass(frozen=True)
class Limit:
    quantity: Code  # the quantity compared: Code.SYSTOLIC inside a BP panel, or the measure
    op: Op
    value: Decimal


@dataclass(frozen=True)
class Threshold:
    """A reading breaches when ANY of its limits holds ("systolic ≥ 180 or diastolic ≥ 110")."""

    key: str  # stable name within the plan: part of the dedupe key
    measure: Code  # the reading's code
    limits: tuple[Limit, ...]
    severity: Severity
    consecutive: int = 1  # > 1: the last N readings of the measure must all breach

    def breached_by(self, reading: Reading) -> bool:
        for limit in self.limits:
            value = reading.value(limit.quantity)
            if value is not None and limit.op.holds(value, limit.value):
                return True
        return False


@dataclass(frozen=True)
class Gain:
    """A rise of at least `amount` within `days` calendar days, measured from the lowest reading.

    Calendar days in the person's zone, not hours: people weigh themselves each morning at
    slightly different times, and "2 kg in 3 days" means this morning against the mornings of
    the three days before, whether the first was at 07:40 or 08:10.
    """

    key: str
    measure: Code
    amount: Decimal
    days: int
    severity: Severity


@dataclass(frozen=True)
class Schedule:
    """A reading of `measure` is expected every `every`; missed after `every + grace`."""

    measure: Code
    every: timedelta
    grace: timedelta
    severity: Severity = Severity.WATCH

    @property
    def key(self) -> str:
        return f"missed:{self.measure.value}"


@dataclass(frozen=True)
class Plan:
    subject: str  # the caller's id of the enrolment (or patient): part of the dedupe key
    programme: Programme
    enrolled_at: datetime  # the first reading is due one interval after enrolment
    thresholds: tuple[Threshold, ...] = ()
    gains: tuple[Gain, ...] = ()
    schedules: tuple[Schedule, ...] = ()
    zone: str = "UTC"  # IANA zone of the person, for calendar days (Asia/Yakutsk, Asia/Anadyr)


@dataclass(frozen=True)
class Alert:
    kind: AlertKind
    severity: Severity
    rule: str
    measure: Code
    readings: tuple[Reading, ...]  # what triggered it, oldest first (empty for a never-sent one)
    dedupe_key: str
    # Numbers for the message and the teleconsultation request: the gain in kg, the hours overdue.
    detail: Mapping[str, Decimal] = field(default_factory=dict)


# --- Evaluation ------------------------------------------------------------------------------


def evaluate(
    plan: Plan,
    readings: Iterable[Reading],
    *,
    now: datetime,
    already_alerted: Collection[str] = (),
) -> list[Alert]:
    """The alerts of the person's current state not yet alerted, most severe first."""
    by_measure: dict[Code, list[Reading]] = {}
    for reading in sorted((r for r in readings if r.at <= now), key=lambda r: r.at):
        by_measure.setdefault(reading.code, []).append(reading)
    alerts: list[Alert] = []
    breached = [
        alert
        for threshold in plan.thresholds
        if (alert := _threshold(plan, threshold, by_measure.get(threshold.measure, [])))
    ]
    # Of the thresholds a measure breaches now, only the most severe alerts: 190/115 is a
    # hypertensive crisis, not also "160/100 twice". Done before dedupe, so a crisis already
    # alerted still silences the lesser rule.
    top: dict[Code, int] = {}
    for alert in breached:
        top[alert.measure] = max(top.get(alert.measure, 0), SEVERITY_ORDER[alert.severity])
    alerts += [a for a in breached if SEVERITY_ORDER[a.severity] == top[a.measure]]
    for gain in plan.gains:
        if trend := _gain(plan, gain, by_measure.get(gain.measure, [])):
            alerts.append(trend)
    for schedule in plan.schedules:
        if missed := _missed(plan, schedule, by_measure.get(schedule.measure, []), now):
            alerts.append(missed)
    fresh = [a for a in alerts if a.dedupe_key not in already_alerted]
    return sorted(fresh, key=lambda a: -SEVERITY_ORDER[a.severity])


def _anchor(reading: Reading) -> str:
    return reading.reference or reading.at.astimezone(UTC).isoformat()


def _key(plan: Plan, rule: str, anchor: str) -> str:
    return f"{plan.subject}|{rule}|{anchor}"


def _threshold(plan: Plan, rule: Threshold, readings: Sequence[Reading]) -> Alert | None:
    # The run of breaching readings that ends with the latest one; a normal reading ends it.
    run: list[Reading] = []
    for reading in reversed(readings):
        if not rule.breached_by(reading):
            break
        run.insert(0, reading)
    if len(run) < rule.consecutive:
        return None
    return Alert(
        kind=AlertKind.THRESHOLD if rule.consecutive == 1 else AlertKind.REPEATED_THRESHOLD,
        severity=rule.severity,
        rule=rule.key,
        measure=rule.measure,
        readings=tuple(run[-rule.consecutive :]),
        dedupe_key=_key(plan, rule.key, _anchor(run[0])),
    )


def _gain(plan: Plan, rule: Gain, readings: Sequence[Reading]) -> Alert | None:
    if not readings:
        return None
    zone = ZoneInfo(plan.zone)
    latest = readings[-1]
    first_day = latest.at.astimezone(zone).date() - timedelta(days=rule.days)
    window = [r for r in readings if r.at.astimezone(zone).date() >= first_day]
    # The lowest, and of equal ones the latest: the gain is measured from where it began.
    lowest = min(reversed(window), key=lambda r: r.value() or Decimal(0))
    latest_value, lowest_value = latest.value(), lowest.value()
    if latest_value is None or lowest_value is None:
        return None
    gained = latest_value - lowest_value
    if gained < rule.amount:
        return None
    return Alert(
        kind=AlertKind.TREND,
        severity=rule.severity,
        rule=rule.key,
        measure=rule.measure,
        readings=(lowest, latest),
        dedupe_key=_key(plan, rule.key, _anchor(lowest)),
        detail={"gain": gained, "days": Decimal(rule.days)},
    )


def _missed(plan: Plan, rule: Schedule, readings: Sequence[Reading], now: datetime) -> Alert | None:
    last = readings[-1] if readings else None
    due = (last.at if last else plan.enrolled_at) + rule.every
    if now <= due + rule.grace:
        return None
    overdue = now - due
    anchor = _anchor(last) if last else "enrolment"
    return Alert(
        kind=AlertKind.MISSED_READING,
        severity=rule.severity,
        rule=rule.key,
        measure=rule.measure,
        readings=(last,) if last else (),
        dedupe_key=_key(plan, rule.key, anchor),
        detail={"hours_overdue": Decimal(int(overdue.total_seconds() // 3600))},
    )


# --- Programme templates ---------------------------------------------------------------------

_D = Decimal
DAY = timedelta(days=1)


def _bp(
    key: str, systolic: int, diastolic: int, severity: Severity, consecutive: int = 1
) -> Threshold:
    return Threshold(
        key,
        Code.BP_PANEL,
        (
            Limit(Code.SYSTOLIC, Op.AT_LEAST, _D(systolic)),
            Limit(Code.DIASTOLIC, Op.AT_LEAST, _D(diastolic)),
        ),
        severity,
        consecutive,
    )


@dataclass(frozen=True)
class Template:
    thresholds: tuple[Threshold, ...] = ()
    gains: tuple[Gain, ...] = ()
    schedules: tuple[Schedule, ...] = ()


TEMPLATES: Mapping[Programme, Template] = {
    # domain.md §11: systolic ≥ 180 or diastolic ≥ 110 at once; ≥ 160/100 on repeated readings
    # (two in a row by default). Pressure once a day, missed after a further 12 hours.
    Programme.HYPERTENSION: Template(
        thresholds=(
            _bp("bp_at_once", 180, 110, Severity.URGENT),
            _bp("bp_repeated", 160, 100, Severity.WATCH, consecutive=2),
        ),
        schedules=(Schedule(Code.BP_PANEL, DAY, timedelta(hours=12)),),
    ),
    # domain.md §11: glucose < 3.9 (hypoglycaemia, ADA level 1) or > 15 mmol/L.
    Programme.DIABETES: Template(
        thresholds=(
            Threshold(
                "glucose_low",
                Code.GLUCOSE,
                (Limit(Code.GLUCOSE, Op.BELOW, _D("3.9")),),
                Severity.URGENT,
            ),
            Threshold(
                "glucose_high",
                Code.GLUCOSE,
                (Limit(Code.GLUCOSE, Op.ABOVE, _D(15)),),
                Severity.URGENT,
            ),
        ),
        schedules=(Schedule(Code.GLUCOSE, DAY, timedelta(hours=12)),),
    ),
    # domain.md §11 (and ESC heart-failure self-care advice): weight up ≥ 2 kg in 3 days.
    # Weighed every morning; a missed weight is itself a warning sign in heart failure.
    Programme.HEART_FAILURE: Template(
        gains=(Gain("weight_gain", Code.WEIGHT, _D(2), 3, Severity.URGENT),),
        schedules=(Schedule(Code.WEIGHT, DAY, timedelta(hours=12)),),
    ),
    # ACOG / ESC-like common guidance for hypertension in pregnancy: ≥ 140/90 needs a clinician
    # (gestational hypertension or pre-eclampsia), ≥ 160/110 is severe and treated urgently.
    # Defaults only; the clinician sets them per patient.
    Programme.PREGNANCY: Template(
        thresholds=(
            _bp("pregnancy_bp", 140, 90, Severity.URGENT),
            _bp("pregnancy_bp_severe", 160, 110, Severity.CRITICAL),
        ),
        schedules=(Schedule(Code.BP_PANEL, DAY, timedelta(hours=12)),),
    ),
    # After discharge: fever (≥ 38.0 °C), and SpO2 ≤ 91 % or pulse ≤ 40 / ≥ 131, the values that
    # score 3 on NEWS2 (domain.md §5). Temperature once a day for the first weeks.
    Programme.AFTER_DISCHARGE: Template(
        thresholds=(
            Threshold(
                "fever",
                Code.TEMPERATURE,
                (Limit(Code.TEMPERATURE, Op.AT_LEAST, _D("38.0")),),
                Severity.URGENT,
            ),
            Threshold(
                "spo2_low", Code.SPO2, (Limit(Code.SPO2, Op.AT_MOST, _D(91)),), Severity.URGENT
            ),
            Threshold(
                "pulse",
                Code.HEART_RATE,
                (
                    Limit(Code.HEART_RATE, Op.AT_MOST, _D(40)),
                    Limit(Code.HEART_RATE, Op.AT_LEAST, _D(131)),
                ),
                Severity.URGENT,
            ),
        ),
        schedules=(Schedule(Code.TEMPERATURE, DAY, timedelta(hours=12)),),
    ),
}


def plan_from_template(
    programme: Programme, *, subject: str, enrolled_at: datetime, zone: str = "UTC"
) -> Plan:
    """A plan with the programme's defaults, for the clinician to adjust (dataclasses.replace)."""
    template = TEMPLATES[programme]
    return Plan(
        subject=subject,
        programme=programme,
        enrolled_at=enrolled_at,
        thresholds=template.thresholds,
        gains=template.gains,
        schedules=template.schedules,
        zone=zone,
    )
