"""The plan and the targets of an enrolment as JSON, both ways, validated (issue 17, point 1).

`Enrolment.plan` keeps the rules the clinician set for one person (`rules.Plan` without its
subject, programme, start and zone, which are the enrolment's own): thresholds, trends (gains)
and reading schedules, each a plain dict of strings and numbers, so that a page, the FHIR
CarePlan and a test read the same form. `plan_from_json` refuses what cannot be a rule (a
threshold outside a measure's plausible range, a gain of 0 kg, a reading due every 0 hours) with a
message the clinician reads; the template of each programme (`rules.TEMPLATES`) is the default,
never a decision made for them (domain.md §11).

    {"thresholds": [{"key": "bp_at_once", "measure": "85354-9", "severity": "urgent",
                     "consecutive": 1,
                     "limits": [{"quantity": "8480-6", "op": "ge", "value": "180"}, ...]}],
     "gains": [{"key": "weight_gain", "measure": "29463-7", "amount": "2", "days": 3,
                "severity": "urgent"}],
     "schedules": [{"measure": "29463-7", "every_hours": 24, "grace_hours": 12,
                    "severity": "watch"}]}

Targets are the bands drawn on the charts, per quantity: {"8480-6": {"low": "100", "high":
"135"}}; they do not alert (thresholds do).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from .measures import MEASURES, PANELS, READING_CODES, Code, decimals_of
from .rules import TEMPLATES, Gain, Limit, Op, Plan, Programme, Schedule, Severity, Threshold

MAX_CONSECUTIVE = 10
MAX_GAIN_DAYS = 14
MAX_EVERY_HOURS = 24 * 14  # a reading a fortnight: rarer than that is not monitoring
MAX_GRACE_HOURS = 72
MAX_RULES = 20


class PlanError(ValueError):
    """A plan or targets that cannot be kept; the message is for the clinician."""

    def __init__(self, message: str, *, field: str = "plan") -> None:
        super().__init__(message)
        self.message = message
        self.field = field


# --- rules.Plan -> JSON ------------------------------------------------------------------------


def _number(value: Decimal) -> str:
    return format(value, "f")


def plan_to_json(plan: Plan) -> dict[str, Any]:
    return {
        "thresholds": [
            {
                "key": t.key,
                "measure": t.measure.value,
                "severity": t.severity.value,
                "consecutive": t.consecutive,
                "limits": [
                    {
                        "quantity": lim.quantity.value,
                        "op": lim.op.value,
                        "value": _number(lim.value),
                    }
                    for lim in t.limits
                ],
            }
            for t in plan.thresholds
        ],
        "gains": [
            {
                "key": g.key,
                "measure": g.measure.value,
                "amount": _number(g.amount),
                "days": g.days,
                "severity": g.severity.value,
            }
            for g in plan.gains
        ],
        "schedules": [
            {
                "measure": s.measure.value,
                "every_hours": _hours(s.every),
                "grace_hours": _hours(s.grace),
                "severity": s.severity.value,
            }
            for s in plan.schedules
        ],
    }


def _hours(value: timedelta) -> int | float:
    hours = value.total_seconds() / 3600
    return int(hours) if hours == int(hours) else hours


def template_json(programme: str) -> dict[str, Any]:
    """The programme's default rules in the JSON form (what a new enrolment starts from)."""
    template = TEMPLATES[_programme(programme)]
    return plan_to_json(
        Plan(
            subject="",
            programme=_programme(programme),
            enrolled_at=datetime.min,
            thresholds=template.thresholds,
            gains=template.gains,
            schedules=template.schedules,
        )
    )


# --- JSON -> rules.Plan ------------------------------------------------------------------------


def _programme(value: str) -> Programme:
    try:
        return Programme(value)
    except ValueError:
        raise PlanError(_("Choose the programme from the list."), field="programme") from None


def _severity(value: object) -> Severity:
    try:
        return Severity(str(value))
    except ValueError:
        raise PlanError(
            _("Choose the severity from the list: watch, urgent or critical.")
        ) from None


def _measure(value: object) -> Code:
    try:
        code = Code(str(value))
    except ValueError:
        code = None
    if code is None or code not in READING_CODES:
        raise PlanError(_("Unknown measure: %(code)s.") % {"code": value})
    return code


LABELS: Mapping[Code, Any] = {
    Code.BP_PANEL: gettext_lazy("blood pressure"),
    Code.SYSTOLIC: gettext_lazy("systolic pressure"),
    Code.DIASTOLIC: gettext_lazy("diastolic pressure"),
    Code.HEART_RATE: gettext_lazy("pulse"),
    Code.WEIGHT: gettext_lazy("body weight"),
    Code.GLUCOSE: gettext_lazy("blood glucose"),
    Code.SPO2: gettext_lazy("oxygen saturation"),
    Code.TEMPERATURE: gettext_lazy("body temperature"),
}


def label(code: Code | str) -> str:
    """The measure's name in the active language (a quantity of a panel included)."""
    return str(LABELS[Code(code)])


_label = label


def _decimal(value: object, what: str) -> Decimal:
    try:
        number = Decimal(str(value).strip().replace(",", "."))
    except (InvalidOperation, ValueError):
        raise PlanError(_("%(what)s must be a number.") % {"what": what}) from None
    if not number.is_finite():
        raise PlanError(_("%(what)s must be a number.") % {"what": what})
    return number


def _places(value: Decimal, code: Code, what: str, *, field: str = "plan") -> None:
    """No more decimals than `measures.check` lets a reading of the measure have: a limit of
    180.123456 mmHg is a typo, and one a reading can never equal. "180.0" is 180."""
    allowed = MEASURES[code].decimals
    if decimals_of(value.normalize()) <= allowed:
        return
    if allowed == 0:
        message = _("Give %(what)s as a whole number of %(unit)s.") % {
            "what": what,
            "unit": MEASURES[code].unit,
        }
    else:
        message = ngettext(
            "Give %(what)s with at most %(count)s digit after the decimal point.",
            "Give %(what)s with at most %(count)s digits after the decimal point.",
            allowed,
        ) % {"what": what, "count": allowed}
    raise PlanError(message, field=field)


def _integer(value: object, what: str, low: int, high: int) -> int:
    try:
        number = int(str(value).strip())
    except ValueError:
        raise PlanError(_("%(what)s must be a whole number.") % {"what": what}) from None
    if not low <= number <= high:
        raise PlanError(
            _("%(what)s must be between %(low)s and %(high)s.")
            % {"what": what, "low": low, "high": high}
        )
    return number


def _hours_in(value: object, what: str, low: float, high: float) -> timedelta:
    number = _decimal(value, what)
    if not Decimal(str(low)) <= number <= Decimal(str(high)):
        raise PlanError(
            _("%(what)s must be between %(low)s and %(high)s hours.")
            % {"what": what, "low": low, "high": high}
        )
    return timedelta(hours=float(number))


def _key(value: object, seen: set[str]) -> str:
    key = str(value or "").strip()
    if not key or len(key) > 40 or not all(c.isalnum() or c in "_-" for c in key):
        raise PlanError(_("Each rule needs a short name of letters, digits and underscores."))
    if key in seen:
        raise PlanError(_("Two rules have the same name: %(key)s.") % {"key": key})
    seen.add(key)
    return key


def _list(data: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    items = data.get(name, [])
    if not isinstance(items, list) or not all(isinstance(item, Mapping) for item in items):
        raise PlanError(
            _("The plan cannot be read: %(part)s is not a list of rules.") % {"part": name}
        )
    if len(items) > MAX_RULES:
        raise PlanError(_("At most %(limit)s rules of each kind.") % {"limit": MAX_RULES})
    return items


def _threshold(item: Mapping[str, Any], seen: set[str]) -> Threshold:
    key = _key(item.get("key"), seen)
    measure = _measure(item.get("measure"))
    parts = PANELS.get(measure, (measure,))
    limits_in = item.get("limits")
    if not isinstance(limits_in, list) or not limits_in:
        raise PlanError(_("The threshold %(key)s has no limit.") % {"key": key})
    limits = []
    for raw in limits_in:
        if not isinstance(raw, Mapping):
            raise PlanError(_("The threshold %(key)s has no limit.") % {"key": key})
        quantity = _measure_part(raw.get("quantity", measure.value), parts, key)
        try:
            op = Op(str(raw.get("op")))
        except ValueError:
            raise PlanError(
                _("The threshold %(key)s compares in an unknown way.") % {"key": key}
            ) from None
        value = _decimal(raw.get("value"), _label(quantity))
        _places(value, quantity, _label(quantity))
        spec = MEASURES[quantity]
        # A limit no real reading can cross would silently never alert.
        if not spec.low <= value <= spec.high:
            raise PlanError(
                _("A limit of %(what)s must be between %(low)s and %(high)s %(unit)s.")
                % {
                    "what": _label(quantity),
                    "low": spec.low,
                    "high": spec.high,
                    "unit": spec.unit,
                }
            )
        limits.append(Limit(quantity, op, value))
    consecutive = _integer(item.get("consecutive", 1), _("Readings in a row"), 1, MAX_CONSECUTIVE)
    return Threshold(key, measure, tuple(limits), _severity(item.get("severity")), consecutive)


def _measure_part(value: object, parts: tuple[Code, ...], key: str) -> Code:
    try:
        code = Code(str(value))
    except ValueError:
        code = None
    if code is None or code not in parts:
        raise PlanError(
            _("The threshold %(key)s compares a quantity its measure does not have.") % {"key": key}
        )
    return code


def _gain(item: Mapping[str, Any], seen: set[str]) -> Gain:
    key = _key(item.get("key"), seen)
    measure = _measure(item.get("measure"))
    if measure == Code.BP_PANEL:
        raise PlanError(_("A trend is followed on a single measure such as body weight."))
    amount = _decimal(item.get("amount"), _("The rise"))
    _places(amount, measure, _("the rise of %(what)s") % {"what": _label(measure)})
    spec = MEASURES[measure]
    if not Decimal(0) < amount <= spec.high - spec.low:
        raise PlanError(
            _("The rise of %(what)s must be more than 0 and at most %(high)s %(unit)s.")
            % {"what": _label(measure), "high": spec.high - spec.low, "unit": spec.unit}
        )
    days = _integer(item.get("days"), _("Days"), 1, MAX_GAIN_DAYS)
    return Gain(key, measure, amount, days, _severity(item.get("severity")))


def _schedule(item: Mapping[str, Any], measures: set[Code]) -> Schedule:
    measure = _measure(item.get("measure"))
    if measure in measures:
        raise PlanError(
            _("%(what)s has two reading schedules; keep one.") % {"what": _label(measure)}
        )
    measures.add(measure)
    every = _hours_in(item.get("every_hours"), _("A reading every"), 1, MAX_EVERY_HOURS)
    grace = _hours_in(item.get("grace_hours", 0), _("The grace period"), 0, MAX_GRACE_HOURS)
    return Schedule(measure, every, grace, _severity(item.get("severity", Severity.WATCH.value)))


def plan_from_json(
    data: object, *, programme: str, subject: str, enrolled_at: datetime, zone: str
) -> Plan:
    """The plan the JSON describes, or PlanError saying what is wrong with it."""
    if not isinstance(data, Mapping):
        raise PlanError(_("The plan cannot be read."))
    unknown = set(data) - {"thresholds", "gains", "schedules"}
    if unknown:
        # Nothing accepted then silently dropped: a misspelt part is refused, not ignored.
        raise PlanError(
            _("The plan has parts this version does not know: %(parts)s.")
            % {"parts": ", ".join(sorted(unknown))}
        )
    seen: set[str] = set()
    thresholds = tuple(_threshold(item, seen) for item in _list(data, "thresholds"))
    gains = tuple(_gain(item, seen) for item in _list(data, "gains"))
    scheduled: set[Code] = set()
    schedules = tuple(_schedule(item, scheduled) for item in _list(data, "schedules"))
    return Plan(
        subject=subject,
        programme=_programme(programme),
        enrolled_at=enrolled_at,
        thresholds=thresholds,
        gains=gains,
        schedules=schedules,
        zone=zone,
    )


def normalised(data: object, *, programme: str) -> dict[str, Any]:
    """The JSON as it is stored: validated and written back in one form."""
    plan = plan_from_json(
        data, programme=programme, subject="", enrolled_at=datetime.min, zone="UTC"
    )
    return plan_to_json(plan)


def with_overrides(
    base: Mapping[str, Any],
    *,
    thresholds: Mapping[str, Mapping[str, Any]] | None = None,
    gains: Mapping[str, Mapping[str, Any]] | None = None,
    schedules: Mapping[str, Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The base plan with some rules changed by name (thresholds and gains by key, schedules by
    measure code): {"bp_at_once": {"limits": [...]}} or {"85354-9": {"every_hours": 12}}. What
    names no rule of the plan is refused, not dropped."""
    result: dict[str, Any] = {
        "thresholds": [dict(item) for item in base.get("thresholds", [])],
        "gains": [dict(item) for item in base.get("gains", [])],
        "schedules": [dict(item) for item in base.get("schedules", [])],
    }
    for part, changes, name in (
        ("thresholds", thresholds, "key"),
        ("gains", gains, "key"),
        ("schedules", schedules, "measure"),
    ):
        by_name = {str(item.get(name)): item for item in result[part]}
        for rule, change in (changes or {}).items():
            if rule not in by_name:
                raise PlanError(_("The plan has no rule %(key)s.") % {"key": rule})
            by_name[rule].update(change)
    return result


# --- targets -----------------------------------------------------------------------------------

_DEFAULT_TARGETS: Mapping[Programme, Mapping[Code, tuple[str, str]]] = {
    # ESH: home blood pressure is raised from 135/85; below it is the band to stay in.
    Programme.HYPERTENSION: {Code.SYSTOLIC: ("100", "135"), Code.DIASTOLIC: ("60", "85")},
    # ADA-like capillary glucose band for self-monitoring, defaults only.
    Programme.DIABETES: {Code.GLUCOSE: ("3.9", "10.0")},
    # The weight band is the person's own dry weight, set by the clinician; pulse by default.
    Programme.HEART_FAILURE: {Code.HEART_RATE: ("50", "100")},
    Programme.PREGNANCY: {Code.SYSTOLIC: ("100", "139"), Code.DIASTOLIC: ("60", "89")},
    Programme.AFTER_DISCHARGE: {
        Code.TEMPERATURE: ("36.0", "37.9"),
        Code.SPO2: ("94", "100"),
        Code.HEART_RATE: ("50", "100"),
    },
}


def default_targets(programme: str) -> dict[str, dict[str, str]]:
    return {
        code.value: {"low": low, "high": high}
        for code, (low, high) in _DEFAULT_TARGETS[_programme(programme)].items()
    }


TARGET_CODES: tuple[Code, ...] = tuple(
    part for code in READING_CODES for part in PANELS.get(code, (code,))
)


def targets_from_json(data: object) -> dict[str, dict[str, str]]:
    """Validated target bands; a band is low..high inside the measure's plausible range."""
    if not isinstance(data, Mapping):
        raise PlanError(_("The targets cannot be read."), field="targets")
    result: dict[str, dict[str, str]] = {}
    for raw_code, band in data.items():
        try:
            code = Code(str(raw_code))
        except ValueError:
            code = None
        if code is None or code not in TARGET_CODES:
            raise PlanError(_("Unknown measure: %(code)s.") % {"code": raw_code}, field="targets")
        if not isinstance(band, Mapping) or set(band) - {"low", "high"}:
            raise PlanError(
                _("A target of %(what)s is a low and a high value.") % {"what": _label(code)},
                field="targets",
            )
        spec = MEASURES[code]
        stored: dict[str, str] = {}
        for end in ("low", "high"):
            if band.get(end) in (None, ""):
                continue
            try:
                value = _decimal(band[end], _label(code))
            except PlanError as error:
                raise PlanError(error.message, field="targets") from None
            _places(value, code, _label(code), field="targets")
            if not spec.low <= value <= spec.high:
                raise PlanError(
                    _("A target of %(what)s must be between %(low)s and %(high)s %(unit)s.")
                    % {
                        "what": _label(code),
                        "low": spec.low,
                        "high": spec.high,
                        "unit": spec.unit,
                    },
                    field="targets",
                )
            stored[end] = _number(value)
        if not stored:
            continue
        if (
            "low" in stored
            and "high" in stored
            and Decimal(stored["low"]) >= Decimal(stored["high"])
        ):
            raise PlanError(
                _("The low target of %(what)s must be below the high one.")
                % {"what": _label(code)},
                field="targets",
            )
        result[code.value] = stored
    return result
