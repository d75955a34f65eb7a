from __future__ import annotations

import zoneinfo
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.accounts.models import User
from farcare.core.timezones import local_to_utc, skipped_time_message
from farcare.network.models import Specialty

from .models import MaterialKind, Session, SessionMode
from .selectors import LEARNER_ROLES, TEACHER_ROLES
from .services import MAX_IN_SERIES

LANGUAGES = (("ru", _("Russian")), ("ko", _("Korean")), ("en", _("English")))


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


# Sessions are planned up to two years either way (past ones are recorded after the fact); a
# date further off is a slip of the keyboard, and near year 1 or 9999 no clock holds it.
PLANNING_REACH = timedelta(days=2 * 366)


def within_reach(day: date) -> bool:
    today = timezone.localdate()
    return today - PLANNING_REACH <= day <= today + PLANNING_REACH


class LocalStartForm(forms.Form):
    """A date and a time as read on the clock of the zone named."""

    day = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    start = forms.TimeField(label=_("Time"), widget=forms.TimeInput(attrs={"type": "time"}))
    zone = ZoneField(label=_("Times are in the zone"), max_length=64)

    def clean_day(self) -> date:
        day: date = self.cleaned_data["day"]
        if not within_reach(day):
            raise forms.ValidationError(_("Choose a date within two years of today."))
        return day

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if {"day", "start", "zone"} <= data.keys():
            try:
                self._starts_at = local_to_utc(
                    datetime.combine(data["day"], data["start"]), zoneinfo.ZoneInfo(data["zone"])
                )
            except ValueError:
                self.add_error("start", skipped_time_message(data["zone"]))
        return data

    def starts_at(self) -> datetime:
        """The start in UTC (only after is_valid())."""
        return self._starts_at


class ProgrammeForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    summary = forms.CharField(label=_("Summary"), required=False, widget=forms.Textarea)
    language = forms.ChoiceField(label=_("Taught in"), choices=LANGUAGES)
    audience = forms.CharField(label=_("For whom"), max_length=200, required=False)
    specialty = forms.ModelChoiceField(
        label=_("Specialty"), queryset=Specialty.objects.all(), required=False
    )


class SeriesForm(LocalStartForm):
    title = forms.CharField(label=_("Title"), max_length=190)
    count = forms.IntegerField(
        label=_("Number of sessions"), min_value=1, max_value=MAX_IN_SERIES, initial=1
    )
    every_days = forms.IntegerField(label=_("Every … days"), min_value=1, max_value=60, initial=7)
    duration_minutes = forms.IntegerField(
        label=_("Duration, minutes"), min_value=15, max_value=480, initial=90
    )
    lecture_minutes = forms.IntegerField(
        label=_("Lecture, minutes"), min_value=0, max_value=480, initial=30
    )
    mode = forms.ChoiceField(label=_("Held"), choices=SessionMode.choices)
    room = forms.CharField(label=_("Room"), max_length=200, required=False)

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if {"day", "count", "every_days"} <= data.keys():
            last = data["day"] + timedelta(days=data["every_days"] * (data["count"] - 1))
            if not within_reach(last):
                self.add_error("count", _("The last session would fall beyond two years."))
        return data


class RescheduleForm(LocalStartForm):
    room = forms.CharField(label=_("Room"), max_length=200, required=False)


class CancelForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)


class MaterialForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200, required=False)
    kind = forms.ChoiceField(label=_("Kind"), choices=MaterialKind.choices)
    session = forms.ModelChoiceField(
        label=_("For the session"),
        queryset=Session.objects.none(),
        required=False,
        to_field_name="uuid",
    )
    file = forms.FileField(label=_("File"))

    def __init__(self, *args: Any, sessions: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if sessions is not None:
            self.fields["session"].queryset = sessions  # type: ignore[attr-defined]


class PersonForm(forms.Form):
    person = forms.ModelChoiceField(
        label=_("Person"), queryset=User.objects.none(), to_field_name="uuid"
    )

    def __init__(self, *args: Any, roles: frozenset[str] = LEARNER_ROLES, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["person"].queryset = User.objects.filter(  # type: ignore[attr-defined]
            role__in=roles, is_active=True
        ).order_by("last_name", "first_name", "username")


def trainer_form(*args: Any, **kwargs: Any) -> PersonForm:
    return PersonForm(*args, roles=TEACHER_ROLES, **kwargs)
