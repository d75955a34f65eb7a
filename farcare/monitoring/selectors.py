"""Reads of remote monitoring for lists, charts and the teleconsultation request (issue 17,
point 4). Each list is one query over what the access policy lets the user see; the page that
shows it audits the patients shown.

`enrolments_for` sorts by the risk kept on each enrolment (risk.py), so the list of a post or a
district doctor among 100,000 enrolled people reads its first page from the index
`enrolment_risk_by_facility` (with a facility) or `enrolment_risk_order` (migration 0002), never
row by row.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from django.db.models import F, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from farcare.access.policy import visible_patients
from farcare.accounts.models import User
from farcare.network.models import Facility
from farcare.patients.models import Patient

from . import plans, rules
from .measures import MEASURES, Code, Reading
from .models import (
    Enrolment,
    HomeReading,
    MonitoringAlert,
    ReadingStatus,
)
from .workflow import OPEN_STATUSES

TREND_DAYS = 7
# The same order on SQLite and PostgreSQL: PostgreSQL puts NULL first when descending, so a
# person who never sent a reading would top the list above the same risk with readings.
ENROLMENT_ORDER = ("-risk", F("last_reading_at").desc(nulls_last=True), "id")
UNITS = {"mm[Hg]": "mmHg", "Cel": "°C", "/min": "/min", "kg": "kg", "mmol/L": "mmol/L", "%": "%"}


def enrolments_for(
    user: User | None,
    *,
    facility: Facility | None = None,
    programme: str | None = None,
    status: str | None = "active",
) -> QuerySet[Enrolment]:
    """The enrolments of patients the user may see, riskiest first."""
    enrolments = Enrolment.objects.filter(patient__in=visible_patients(user).values("pk"))
    if status:
        enrolments = enrolments.filter(status=status)
    if facility is not None:
        enrolments = enrolments.filter(facility=facility)
    if programme:
        enrolments = enrolments.filter(programme=programme)
    return enrolments.select_related(
        "patient", "facility", "responsible_feldsher", "responsible_doctor"
    ).order_by(*ENROLMENT_ORDER)


def readings_for(
    patient: Patient,
    *,
    code: str | None = None,
    since: datetime | None = None,
    include_in_error: bool = False,
) -> QuerySet[HomeReading]:
    """The person's readings, newest first (a chart reverses them)."""
    readings = HomeReading.objects.filter(patient=patient)
    if not include_in_error:
        readings = readings.filter(status=ReadingStatus.FINAL)
    if code:
        readings = readings.filter(code=code)
    if since is not None:
        readings = readings.filter(taken_at__gte=since)
    return readings.order_by("-taken_at", "-id")


def open_alerts_for(user: User | None) -> QuerySet[MonitoringAlert]:
    """Open and escalated alerts of patients the user may see, the nearest deadline first."""
    return (
        MonitoringAlert.objects.filter(
            status__in=OPEN_STATUSES, patient__in=visible_patients(user).values("pk")
        )
        .select_related("patient", "enrolment", "recipient")
        .order_by("ack_deadline", "id")
    )


# --- the trend in words (the teleconsultation request's question) -------------------------------


def _unit(code: Code) -> str:
    part = Code.SYSTOLIC if code == Code.BP_PANEL else code
    unit = MEASURES[part].unit
    return UNITS.get(unit, unit)


def _number(value: Decimal | None) -> str:
    from .services.alerts import plain

    return "?" if value is None else plain(value)


def _shown(reading: HomeReading) -> str:
    if reading.code == Code.BP_PANEL.value:
        return f"{_number(reading.value)}/{_number(reading.value_2)}"
    return _number(reading.value)


def _lowest_threshold(plan: rules.Plan, measure: Code) -> rules.Threshold | None:
    """The least severe threshold of the measure: "how many readings were above it"."""
    mine = [t for t in plan.thresholds if t.measure == measure]
    if not mine:
        return None
    return min(mine, key=lambda t: (rules.SEVERITY_ORDER[t.severity], t.consecutive))


def _limits_text(threshold: rules.Threshold, measure: Code) -> tuple[str, str]:
    """("at or above", "160/100") or ("below", "3.9")."""
    values = "/".join(_number(limit.value) for limit in threshold.limits)
    if measure == Code.BP_PANEL:
        values = "/".join(_number(limit.value) for limit in threshold.limits[:2])
    op = threshold.limits[0].op
    words = {
        rules.Op.AT_LEAST: _("at or above"),
        rules.Op.ABOVE: _("above"),
        rules.Op.AT_MOST: _("at or below"),
        rules.Op.BELOW: _("below"),
    }[op]
    return words, values


def trend_text(
    enrolment: Enrolment,
    *,
    language: str,
    measure: str | None = None,
    now: datetime | None = None,
    days: int = TREND_DAYS,
) -> str:
    """The last days of one measure in plain words, for a clinician and a consultant who may
    be abroad: no name, no identifier. E.g. "Home blood pressure over 7 days: 152/94 → 186/112
    mmHg, 3 of 5 readings at or above 160/100 (lowest 148/90, highest 186/112)."""
    from .services.alerts import plan_of

    now = now or timezone.now()
    plan = plan_of(enrolment)
    code = Code(measure) if measure else _main_measure(plan)
    readings = list(
        readings_for(enrolment.patient, code=code.value, since=now - timedelta(days=days))
        .filter(taken_at__lte=now)
        .order_by("taken_at", "id")
    )
    with translation.override(language):
        what = plans.label(code)
        unit = _unit(code)
        if not readings:
            last = readings_for(enrolment.patient, code=code.value).first()
            if last is None:
                return _("No home %(what)s reading since the monitoring began.") % {"what": what}
            local = last.taken_at.astimezone(ZoneInfo(enrolment.zone))
            return _(
                "No home %(what)s reading for %(days)s days; the last, %(value)s %(unit)s, "
                "on %(date)s."
            ) % {
                "what": what,
                "days": days,
                "value": _shown(last),
                "unit": unit,
                "date": local.strftime("%Y-%m-%d"),
            }
        first, latest = readings[0], readings[-1]
        text = _("Home %(what)s over %(days)s days: %(first)s → %(last)s %(unit)s") % {
            "what": what,
            "days": days,
            "first": _shown(first),
            "last": _shown(latest),
            "unit": unit,
        }
        threshold = _lowest_threshold(plan, code)
        if threshold is not None:
            above = sum(1 for r in readings if threshold.breached_by(_as_rule(r)))
            words, values = _limits_text(threshold, code)
            text += ", " + _("%(count)s of %(total)s readings %(words)s %(values)s") % {
                "count": above,
                "total": len(readings),
                "words": words,
                "values": values,
            }
        else:
            text += ", " + _("%(total)s readings") % {"total": len(readings)}
            if code != Code.BP_PANEL and first.value is not None and latest.value is not None:
                change = latest.value - first.value
                sign = "+" if change > 0 else ""
                text += (
                    " ("
                    + _("change %(change)s %(unit)s")
                    % {
                        "change": f"{sign}{_number(change)}",
                        "unit": unit,
                    }
                    + ")"
                )
        if len(readings) > 2:
            lowest = min(readings, key=lambda r: (r.value, r.value_2 or 0))
            highest = max(readings, key=lambda r: (r.value, r.value_2 or 0))
            text += (
                " ("
                + _("lowest %(low)s, highest %(high)s")
                % {
                    "low": _shown(lowest),
                    "high": _shown(highest),
                }
                + ")"
            )
        return text + "."


def _as_rule(reading: HomeReading) -> Reading:
    from .services.alerts import as_rule_reading

    return as_rule_reading(reading)


def _main_measure(plan: rules.Plan) -> Code:
    for group in (plan.thresholds, plan.gains, plan.schedules):
        for rule in group:
            return rule.measure
    return Code.BP_PANEL
