from __future__ import annotations

import re
from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from .models import NotificationPreference

E164 = re.compile(r"\+[0-9]{8,15}")
# What people type between digits: "+7 (914) 123-45-67" is a fine number.
PHONE_PUNCTUATION = re.compile(r"[\s().\-]")


class NotificationPreferenceForm(forms.ModelForm):
    # Longer than the stored 16 characters: the spaces and dashes people type are removed first.
    phone = forms.CharField(
        label=_("Phone number for SMS"),
        required=False,
        max_length=32,
        help_text=_("International format, for example +79141234567."),
        widget=forms.TextInput(
            attrs={"type": "tel", "autocomplete": "tel", "placeholder": "+79141234567"}
        ),
    )
    language = forms.ChoiceField(
        label=_("Language of notifications"),
        choices=[("", _("Same as my interface language")), *settings.LANGUAGES],
        required=False,
    )

    class Meta:
        model = NotificationPreference
        fields = ["email_enabled", "sms_enabled", "phone", "language"]
        labels = {
            "email_enabled": _("Send me e-mail"),
            "sms_enabled": _("Send me SMS"),
        }

    def clean_phone(self) -> str:
        phone = PHONE_PUNCTUATION.sub("", self.cleaned_data.get("phone") or "")
        if phone and not E164.fullmatch(phone):
            raise forms.ValidationError(
                _(
                    "Enter the number in international format: a plus sign and 8 to 15 digits, "
                    "for example +79141234567."
                ),
                code="phone",
            )
        return phone

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("sms_enabled") and "phone" in cleaned and not cleaned["phone"]:
            self.add_error("phone", _("Enter a phone number to receive SMS."))
        if cleaned.get("email_enabled") and not self.instance.user.email:
            self.add_error(
                "email_enabled",
                _("Your account has no e-mail address. Add one in your preferences first."),
            )
        return cleaned
