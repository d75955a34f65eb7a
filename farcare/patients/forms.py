from __future__ import annotations

import re
from datetime import date

from django import forms
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.core.dates import TypedDateField, TypedDateInput, date_pattern
from farcare.network.models import Facility, Settlement

from .identifiers import digits, oms_is_valid, snils_is_valid
from .models import PATIENT_FIELDS, ConsentKind, Patient

_PHONE = re.compile(r"^\+?[\d\s()-]{10,20}$")


class PatientForm(forms.ModelForm):
    # Wider than the stored digits, so that "123-456-789 64" as typed reaches the checks below.
    snils = forms.CharField(
        label=_("SNILS"),
        max_length=20,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "123-456-789 64", "inputmode": "numeric"}),
    )
    oms_policy = forms.CharField(
        label=_("OMS policy number"),
        max_length=24,
        required=False,
        widget=forms.TextInput(attrs={"inputmode": "numeric"}),
    )
    confirm_duplicate = forms.BooleanField(
        label=_("I checked: this is a different person with the same name and birth date"),
        required=False,
    )

    class Meta:
        model = Patient
        fields = list(PATIENT_FIELDS)
        # Typed in the page's language (ДД.ММ.ГГГГ, YYYY-MM-DD), not in the browser's locale as
        # an <input type="date"> would have it (farcare.core.dates).
        field_classes = {"birth_date": TypedDateField}
        widgets = {
            "birth_date": TypedDateInput(),
            "phone": forms.TextInput(attrs={"type": "tel", "placeholder": "+7 914 123-45-67"}),
        }

    def __init__(self, *args: object, facilities: QuerySet[Facility], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        # Choices carry UUIDs: integer keys never leave the server.
        facility_field = self.fields["home_facility"]
        settlement_field = self.fields["home_settlement"]
        assert isinstance(facility_field, forms.ModelChoiceField)
        assert isinstance(settlement_field, forms.ModelChoiceField)
        facility_field.queryset = facilities
        facility_field.to_field_name = "uuid"
        settlement_field.queryset = Settlement.objects.filter(
            region__in=facilities.values("region")
        )
        settlement_field.to_field_name = "uuid"
        self.fields["birth_date"].help_text = _("As %(pattern)s") % {"pattern": date_pattern()}

    def _get_validation_exclusions(self) -> set[str]:
        # A repeated SNILS is reported by patient_register on the SNILS field, in the user's
        # words, not as the database constraint's generic message.
        return super()._get_validation_exclusions() | {"snils"}  # type: ignore[misc]

    def clean_snils(self) -> str:
        value = self.cleaned_data.get("snils", "")
        if not value:
            return ""
        if len(digits(value)) != 11 or not snils_is_valid(value):
            raise forms.ValidationError(
                _("This SNILS is not valid: 11 digits with a correct check number.")
            )
        return digits(value)

    def clean_oms_policy(self) -> str:
        value = digits(self.cleaned_data.get("oms_policy", ""))
        raw = self.cleaned_data.get("oms_policy", "")
        if raw and not oms_is_valid(value):
            raise forms.ValidationError(_("An OMS policy number has exactly 16 digits."))
        return value

    def clean_phone(self) -> str:
        value = self.cleaned_data.get("phone", "").strip()
        if value and not _PHONE.match(value):
            raise forms.ValidationError(_("Write the phone number with its country code."))
        return value

    def clean_birth_date(self) -> date:
        value: date = self.cleaned_data["birth_date"]
        if value > timezone.localdate():
            raise forms.ValidationError(_("The birth date is in the future."))
        if value.year < timezone.localdate().year - 130:
            raise forms.ValidationError(_("The birth date is more than 130 years ago."))
        return value


class ConsentForm(forms.Form):
    kind = forms.ChoiceField(label=_("Consent"), choices=ConsentKind.choices)
    scope = forms.CharField(
        label=_("Scope"),
        max_length=300,
        help_text=_("What the patient agreed to, in their words or the form's."),
    )


class RevokeForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)


class SearchForm(forms.Form):
    q = forms.CharField(
        label=_("Name, SNILS or birth date"),
        max_length=100,
        required=False,
        widget=forms.TextInput(attrs={"type": "search", "autofocus": True}),
    )
