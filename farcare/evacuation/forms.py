"""Forms of the transfer pages. Every time a person types is in their own zone (the zone the
accounts middleware activates): Django's DateTimeField reads a naive `datetime-local` value in
the current zone, so what is stored is UTC and what is shown back is the viewer's clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from django import forms
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.core.months import months_between
from farcare.network.models import Facility

from .aircraft import GroundMode
from .models import AircraftStatus, DecisionChoice, TransferCondition

# A first contact or a treatment is recorded while the patient is still at the post: a moment
# more than a few days back (or ahead) is a slip of the keyboard, and near year 1 no clock holds it.
PAST_LIMIT = timedelta(days=7)
FUTURE_SLACK = timedelta(minutes=10)
HOLD_LIMIT = timedelta(days=3)


class LocalDateTimeField(forms.DateTimeField):
    """A moment typed in the viewer's zone (`<input type="datetime-local">`)."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")
    default_error_messages = {
        "invalid": _("Write the date and time as on your clock, for example 2026-03-02 14:30."),
    }


def _recent(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    now = timezone.now()
    if moment > now + FUTURE_SLACK:
        raise forms.ValidationError(_("This moment is in the future."))
    if moment < now - PAST_LIMIT:
        raise forms.ValidationError(_("This moment is more than seven days ago."))
    return moment


def _ahead(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    now = timezone.now()
    if moment < now - FUTURE_SLACK:
        raise forms.ValidationError(_("The expected time is already past."))
    if moment > now + HOLD_LIMIT:
        raise forms.ValidationError(_("Choose a time within the next three days."))
    return moment


class NewTransferForm(forms.Form):
    condition = forms.ChoiceField(label=_("Condition"), choices=TransferCondition.choices)
    reason = forms.CharField(
        label=_("Reason for transfer"), max_length=4000, widget=forms.Textarea(attrs={"rows": 3})
    )
    first_contact_at = LocalDateTimeField(label=_("First medical contact (your time)"))
    onset_at = LocalDateTimeField(label=_("Symptom onset (your time)"), required=False)
    destination = forms.ChoiceField(label=_("Destination"), required=False)
    decision_choice = forms.ChoiceField(
        label=_("Your decision"), choices=DecisionChoice.choices, initial=DecisionChoice.TRANSFER
    )
    decision_note = forms.CharField(
        label=_("Why (optional)"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(self, *args: object, destinations: list[Facility], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.destinations = {str(f.uuid): f for f in destinations}
        choices: list[tuple[str, object]] = [("", _("— the coordinator chooses —"))]
        choices += [(key, f.name) for key, f in self.destinations.items()]
        field = self.fields["destination"]
        assert isinstance(field, forms.ChoiceField)
        field.choices = choices

    def clean_first_contact_at(self) -> datetime | None:
        return _recent(self.cleaned_data.get("first_contact_at"))

    def clean_onset_at(self) -> datetime | None:
        return _recent(self.cleaned_data.get("onset_at"))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        contact, onset = data.get("first_contact_at"), data.get("onset_at")
        if isinstance(contact, datetime) and isinstance(onset, datetime) and onset > contact:
            self.add_error("onset_at", _("The symptoms began before the first contact."))
        stroke = data.get("condition") == TransferCondition.ISCHAEMIC_STROKE
        if stroke and not onset and "onset_at" not in self.errors:
            self.add_error(
                "onset_at",
                _("For a stroke, give the onset (or when the patient was last seen well)."),
            )
        return data

    def chosen_destination(self) -> Facility | None:
        key = self.cleaned_data.get("destination") or ""
        return self.destinations.get(key)


class NoteForm(forms.Form):
    note = forms.CharField(label=_("Note"), max_length=2000, required=False)


class AcceptForm(forms.Form):
    bed_note = forms.CharField(
        label=_("Bed (ward, bed number)"),
        max_length=200,
        error_messages={"required": _("Say which bed is ready.")},
    )


class DeclineForm(forms.Form):
    reason = forms.CharField(
        label=_("Why no bed"),
        max_length=500,
        error_messages={"required": _("Say why the bed is declined.")},
    )


class AssignForm(forms.Form):
    aircraft = forms.UUIDField(label=_("Aircraft"), required=False)
    ground_mode = forms.ChoiceField(
        label=_("Or over the ground"),
        choices=[("", "—"), *((m.value, m.value) for m in GroundMode)],
        required=False,
    )

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if bool(data.get("aircraft")) == bool(data.get("ground_mode")):
            raise forms.ValidationError(_("Choose one aircraft, or a way over the ground."))
        return data


class HoldForm(forms.Form):
    reason = forms.CharField(
        label=_("Reason for the hold"),
        max_length=300,
        error_messages={"required": _("Say why the transfer is held.")},
    )
    expected_until = LocalDateTimeField(label=_("Expected to go on (your time)"), required=False)

    def clean_expected_until(self) -> datetime | None:
        return _ahead(self.cleaned_data.get("expected_until"))


class DecisionForm(forms.Form):
    choice = forms.ChoiceField(label=_("Your decision"), choices=DecisionChoice.choices)
    note = forms.CharField(label=_("Why"), max_length=2000, required=False)


class TreatmentForm(forms.Form):
    given_at = LocalDateTimeField(label=_("Given at (your time)"))
    description = forms.CharField(
        label=_("Treatment"),
        max_length=500,
        error_messages={"required": _("Say what was given.")},
    )

    def clean_given_at(self) -> datetime | None:
        return _recent(self.cleaned_data.get("given_at"))


class DestinationForm(forms.Form):
    destination = forms.UUIDField(
        label=_("Destination"), error_messages={"required": _("Choose a hospital.")}
    )


class AircraftStatusForm(forms.Form):
    status = forms.ChoiceField(label=_("Availability"), choices=AircraftStatus.choices)
    note = forms.CharField(label=_("Note"), max_length=200, required=False)
    version = forms.IntegerField(min_value=1, required=False, widget=forms.HiddenInput)


class MonthField(forms.DateField):
    """A calendar month (`<input type="month">`, 2026-03): the first day of it."""

    widget = forms.DateInput(attrs={"type": "month"}, format="%Y-%m")
    input_formats = ["%Y-%m"]
    default_error_messages = {"invalid": _("Write the month as 2026-03.")}


class PeriodForm(forms.Form):
    """Whole calendar months (UTC), at least one: a period the page offers never differs from
    another by less than a month, so subtracting one from another cannot single out a case."""

    start = MonthField(label=_("From the month"))
    end = MonthField(label=_("Until the month (included)"))

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        start, end = data.get("start"), data.get("end")
        for day in (start, end):
            if day is not None and not 2000 <= day.year <= 2100:
                raise forms.ValidationError(_("Choose months between 2000 and 2100."))
        if start and end:
            if start > end:
                raise forms.ValidationError(_("The period ends before it begins."))
            if months_between(start, end) >= 36:
                raise forms.ValidationError(_("Choose a period of at most three years."))
        return data
