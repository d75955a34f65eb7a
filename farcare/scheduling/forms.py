from __future__ import annotations

import zoneinfo
from datetime import date, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .models import Party
from .services import MAX_WEEKS, SLOT_MINUTES

WEEKDAYS = (
    (0, _("Monday")),
    (1, _("Tuesday")),
    (2, _("Wednesday")),
    (3, _("Thursday")),
    (4, _("Friday")),
    (5, _("Saturday")),
    (6, _("Sunday")),
)
MINUTES = [(m, _("%(n)s minutes") % {"n": m}) for m in SLOT_MINUTES]


class ZoneField(forms.CharField):
    def clean(self, value: Any) -> str:
        name = str(super().clean(value)).strip()
        try:
            zoneinfo.ZoneInfo(name)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError) as error:
            raise forms.ValidationError(
                _("Unknown time zone: write it as Asia/Seoul or Asia/Anadyr.")
            ) from error
        return name


def within_a_year(day: date) -> date:
    """Times are published for the coming year (yesterday allowed: it is already tomorrow in
    Anadyr); a date far off is a slip of the keyboard, and near year 1 or 9999 no clock holds it."""
    today = timezone.localdate()
    if not today - timedelta(days=1) <= day <= today + timedelta(days=366):
        raise forms.ValidationError(_("Choose a date within the next year."))
    return day


class WeeklyForm(forms.Form):
    weekdays = forms.TypedMultipleChoiceField(
        label=_("Days"), choices=WEEKDAYS, coerce=int, widget=forms.CheckboxSelectMultiple
    )
    start = forms.TimeField(label=_("From"), widget=forms.TimeInput(attrs={"type": "time"}))
    end = forms.TimeField(label=_("Until"), widget=forms.TimeInput(attrs={"type": "time"}))
    minutes = forms.TypedChoiceField(label=_("Slot length"), choices=MINUTES, coerce=int)
    first_day = forms.DateField(
        label=_("Starting on"), widget=forms.DateInput(attrs={"type": "date"})
    )
    weeks = forms.IntegerField(label=_("For how many weeks"), min_value=1, max_value=MAX_WEEKS)
    zone = ZoneField(label=_("Times are in the zone"), max_length=64)

    def clean_first_day(self) -> date:
        return within_a_year(self.cleaned_data["first_day"])


class SingleForm(forms.Form):
    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}))
    minutes = forms.TypedChoiceField(label=_("Length"), choices=MINUTES, coerce=int)
    zone = ZoneField(label=_("Times are in the zone"), max_length=64)

    def clean_day(self) -> date:
        return within_a_year(self.cleaned_data["day"])


class BookForm(forms.Form):
    slot = forms.UUIDField(
        label=_("Time"), error_messages={"required": _("Choose a time.")}, widget=forms.HiddenInput
    )
    reason = forms.CharField(label=_("Why it is moved"), max_length=300, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300)


class NoShowForm(forms.Form):
    party = forms.ChoiceField(label=_("Who did not come"), choices=Party.choices)
