"""Forms of the monitoring pages. Numbers are typed as people write them (36,6 in Russian),
refused with a message naming the measure in the reader's language, and a reading is judged
plausible here first (measures.check) so the person sees which box is wrong; the service checks
again, since it also serves SMS, devices and FHIR."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.clinical.vitals import parse_number
from farcare.core.dates import TypedDateField

from .measures import Code, Problem, check, check_pressure
from .models import ProgrammeChoice

if TYPE_CHECKING:
    from django.utils.functional import _StrPromise

# A reading typed later than it was taken is fine (the person wrote it on paper); a month old
# belongs to the visit, not to monitoring (the service refuses beyond 30 days too).
PAST_LIMIT = timedelta(days=30)
FUTURE_SLACK = timedelta(minutes=5)


@dataclass(frozen=True)
class Box:
    """One box of the reading form: the quantity it holds and the reading it belongs to."""

    name: str
    code: Code  # the quantity checked (SYSTOLIC for the first box of a pressure)
    reading: Code  # the reading stored (BP_PANEL for both boxes of a pressure)
    label: _StrPromise
    hint: str  # an example, typed as a device shows it


BOXES: tuple[Box, ...] = (
    Box("systolic", Code.SYSTOLIC, Code.BP_PANEL, _("Pressure, upper number"), "135"),
    Box("diastolic", Code.DIASTOLIC, Code.BP_PANEL, _("Pressure, lower number"), "85"),
    Box("pulse", Code.HEART_RATE, Code.HEART_RATE, _("Pulse, beats a minute"), "72"),
    Box("weight", Code.WEIGHT, Code.WEIGHT, _("Weight, kg"), "78.4"),
    Box("glucose", Code.GLUCOSE, Code.GLUCOSE, _("Blood sugar, mmol/L"), "6.2"),
    Box("spo2", Code.SPO2, Code.SPO2, _("Oxygen (SpO2), %"), "97"),
    Box("temperature", Code.TEMPERATURE, Code.TEMPERATURE, _("Temperature, °C"), "36.6"),
)
BOX_BY_READING: dict[Code, tuple[Box, ...]] = {}
for _box in BOXES:
    BOX_BY_READING.setdefault(_box.reading, ())
    BOX_BY_READING[_box.reading] += (_box,)


def problem_text(problem: Problem | str) -> _StrPromise:
    texts = {
        Problem.OUT_OF_RANGE.value: _(
            "This value cannot be right: check the device and type it again."
        ),
        Problem.UNEXPECTED_DECIMALS.value: _(
            "Too many digits after the comma: type it as the device shows it."
        ),
        Problem.SYSTOLIC_NOT_ABOVE_DIASTOLIC.value: _(
            "The upper number must be larger than the lower one."
        ),
    }
    return texts.get(str(problem), _("This value cannot be stored."))


@dataclass(frozen=True)
class TypedReading:
    code: Code
    value: Decimal
    value_2: Decimal | None = None


class ReadingForm(forms.Form):
    """The readings of one moment: only the boxes of the person's programmes are shown, any
    of them may be left empty, at least one must be filled."""

    taken_at = forms.DateTimeField(
        label=_("Taken at (empty: now)"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={
            "invalid": _("Write the date and time as on your clock, for example 2026-03-02 14:30.")
        },
    )
    note = forms.CharField(label=_("Note"), required=False, max_length=500)

    def __init__(self, *args: Any, readings: Sequence[Code] = (), **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        wanted = set(readings) or set(BOX_BY_READING)
        self.boxes = [box for box in BOXES if box.reading in wanted]
        for box in self.boxes:
            self.fields[box.name] = forms.CharField(
                label=box.label,
                required=False,
                max_length=12,
                widget=forms.TextInput(
                    attrs={
                        "inputmode": "decimal",
                        "autocomplete": "off",
                        "placeholder": box.hint,
                        "class": "big",
                    }
                ),
            )
        # The boxes first, the moment and the note after them.
        self.order_fields([box.name for box in self.boxes] + ["taken_at", "note"])

    def clean_taken_at(self) -> datetime | None:
        moment: datetime | None = self.cleaned_data.get("taken_at")
        if moment is None:
            return None
        now = timezone.now()
        if moment > now + FUTURE_SLACK:
            raise forms.ValidationError(_("This moment is in the future."))
        if moment < now - PAST_LIMIT:
            raise forms.ValidationError(_("This reading is more than 30 days old."))
        return moment

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        numbers: dict[str, Decimal] = {}
        for box in self.boxes:
            text = (self.data.get(self.add_prefix(box.name)) or "").strip()
            if not text:
                continue
            value = parse_number(text)
            if value is None:
                self.add_error(
                    box.name, _("Type a number, for example %(example)s.") % {"example": box.hint}
                )
                continue
            problem = check(box.code, value)
            if problem is not None:
                self.add_error(box.name, problem_text(problem))
                continue
            numbers[box.name] = value
        readings: list[TypedReading] = []
        if "systolic" in numbers or "diastolic" in numbers:
            if "systolic" not in numbers or "diastolic" not in numbers:
                if not self.has_error("systolic") and not self.has_error("diastolic"):
                    self.add_error(
                        "diastolic" if "systolic" in numbers else "systolic",
                        _("Type both numbers of the pressure."),
                    )
            else:
                problem = check_pressure(numbers["systolic"], numbers["diastolic"])
                if problem is not None:
                    self.add_error("systolic", problem_text(problem))
                else:
                    readings.append(
                        TypedReading(Code.BP_PANEL, numbers["systolic"], numbers["diastolic"])
                    )
        for box in self.boxes:
            if box.reading != Code.BP_PANEL and box.name in numbers:
                readings.append(TypedReading(box.reading, numbers[box.name]))
        if not readings and not self.errors:
            raise forms.ValidationError(_("Type at least one reading."))
        cleaned["readings"] = readings
        return cleaned


class EnrolForm(forms.Form):
    programme = forms.ChoiceField(label=_("Programme"), choices=ProgrammeChoice.choices)
    responsible_feldsher = forms.ChoiceField(label=_("Responsible feldsher"))
    responsible_doctor = forms.ChoiceField(label=_("Responsible doctor"))
    in_person_visit_on = TypedDateField(
        label=_("In-person visit on"),
        error_messages={"invalid": _("Write the date as on the pattern, for example 02.03.2026.")},
    )
    phone = forms.CharField(
        label=_("Phone for SMS readings (optional)"), required=False, max_length=32
    )
    phone_language = forms.ChoiceField(
        label=_("Language of SMS replies"),
        choices=[("ru", "русский"), ("en", "English"), ("ko", "한국어")],
        required=False,
    )
    note = forms.CharField(
        label=_("Note"), required=False, max_length=2000, widget=forms.Textarea(attrs={"rows": 2})
    )

    def __init__(
        self,
        *args: Any,
        clinicians: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        choices = [("", "—"), *clinicians]
        self.fields["responsible_feldsher"].choices = choices  # type: ignore[attr-defined]
        self.fields["responsible_doctor"].choices = choices  # type: ignore[attr-defined]


class TargetsForm(forms.Form):
    """The person's target band per quantity (what the charts shade), prefilled from the
    programme's defaults. Built from the quantities the page offers."""

    def __init__(
        self, *args: Any, quantities: Sequence[tuple[str, str]] = (), **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self.quantities = list(quantities)
        for code, label in self.quantities:
            for end, end_label in (("low", _("from")), ("high", _("to"))):
                self.fields[f"t_{code}_{end}"] = forms.CharField(
                    label=f"{label}: {end_label}",
                    required=False,
                    max_length=10,
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
                )

    def targets(self) -> dict[str, dict[str, str]]:
        """{"8480-6": {"low": "100", "high": "139"}}; a box left empty leaves that end open."""
        result: dict[str, dict[str, str]] = {}
        for code, _label in self.quantities:
            entry: dict[str, str] = {}
            for end in ("low", "high"):
                text = (self.cleaned_data.get(f"t_{code}_{end}") or "").strip()
                if text:
                    entry[end] = text
            if entry:
                result[code] = entry
        return result

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for code, _label in self.quantities:
            ends: dict[str, Decimal] = {}
            for end in ("low", "high"):
                name = f"t_{code}_{end}"
                text = (cleaned.get(name) or "").strip()
                if not text:
                    continue
                value = parse_number(text)
                if value is None:
                    self.add_error(name, _("Type a number."))
                    continue
                cleaned[name] = f"{value.normalize():f}"
                ends[end] = value
            if "low" in ends and "high" in ends and ends["low"] >= ends["high"]:
                self.add_error(f"t_{code}_high", _("The upper end must be above the lower one."))
        return cleaned


class AcknowledgeForm(forms.Form):
    note = forms.CharField(
        label=_("What was done"),
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": _("Write what was done: it stays with the alert.")},
    )


class EndForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for ending"),
        max_length=2000,
        error_messages={"required": _("Write why the monitoring ends.")},
    )


OPS = {"ge": "≥", "gt": ">", "le": "≤", "lt": "<"}


class PlanForm(forms.Form):
    """The rules of one person's plan, prefilled from a plan in plans.py's JSON form (the
    programme's template for a new enrolment): each threshold's limits, each trend's amount and
    days, each schedule's interval. The rules themselves (which exist, their severity) come
    from the template; the figures are the clinician's."""

    def __init__(
        self,
        *args: Any,
        plan: dict[str, Any],
        label: Any = str,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.plan = plan
        for t_index, threshold in enumerate(plan.get("thresholds", [])):
            for l_index, limit in enumerate(threshold.get("limits", [])):
                name = f"th_{t_index}_{l_index}"
                self.fields[name] = forms.CharField(
                    label=f"{label(limit.get('quantity', ''))} {OPS.get(limit.get('op'), '')}",
                    initial=str(limit.get("value", "")),
                    max_length=10,
                    widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
                )
                self.fields[name].severity = threshold.get("severity", "")  # type: ignore[attr-defined]
                self.fields[name].consecutive = threshold.get("consecutive", 1)  # type: ignore[attr-defined]
        for g_index, gain in enumerate(plan.get("gains", [])):
            self.fields[f"gain_{g_index}_amount"] = forms.CharField(
                label=_("%(what)s: a rise of") % {"what": label(gain.get("measure", ""))},
                initial=str(gain.get("amount", "")),
                max_length=10,
                widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 5}),
            )
            self.fields[f"gain_{g_index}_days"] = forms.IntegerField(
                label=_("within days"), initial=gain.get("days"), min_value=1, max_value=14
            )
        for s_index, schedule in enumerate(plan.get("schedules", [])):
            self.fields[f"sch_{s_index}_every"] = forms.IntegerField(
                label=_("%(what)s: a reading every (hours)")
                % {"what": label(schedule.get("measure", ""))},
                initial=schedule.get("every_hours"),
                min_value=1,
                max_value=24 * 14,
            )

    def plan_json(self) -> dict[str, Any]:
        """The plan with the figures typed (the service validates it as a whole)."""
        data = self.cleaned_data
        plan: dict[str, Any] = {
            "thresholds": [
                {**t, "limits": [dict(lim) for lim in t.get("limits", [])]}
                for t in self.plan.get("thresholds", [])
            ],
            "gains": [dict(g) for g in self.plan.get("gains", [])],
            "schedules": [dict(s) for s in self.plan.get("schedules", [])],
        }
        for t_index, threshold in enumerate(plan["thresholds"]):
            for l_index, limit in enumerate(threshold["limits"]):
                limit["value"] = data[f"th_{t_index}_{l_index}"]
        for g_index, gain in enumerate(plan["gains"]):
            gain["amount"] = data[f"gain_{g_index}_amount"]
            gain["days"] = data[f"gain_{g_index}_days"]
        for s_index, schedule in enumerate(plan["schedules"]):
            schedule["every_hours"] = data[f"sch_{s_index}_every"]
        return plan

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in list(cleaned):
            if name.startswith("th_") or name.endswith("_amount"):
                value = parse_number(str(cleaned[name]))
                if value is None:
                    self.add_error(name, _("Type a number."))
                else:
                    cleaned[name] = f"{value.normalize():f}"
        return cleaned
