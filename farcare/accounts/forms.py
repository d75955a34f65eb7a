from __future__ import annotations

import zoneinfo

from django import forms
from django.conf import settings
from django.contrib.auth.forms import SetPasswordForm
from django.utils.translation import gettext_lazy as _

from .models import User


class LoginForm(forms.Form):
    username = forms.CharField(label=_("Username"), max_length=150)
    password = forms.CharField(label=_("Password"), widget=forms.PasswordInput)


class PasswordChangeForm(SetPasswordForm):
    """The current password, and the new one twice (checked by the password validators: 12
    characters or more, none of the common ones). The current one is checked by the service,
    which counts a wrong one towards the lockout."""

    old_password = forms.CharField(
        label=_("Current password"),
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )
    field_order = ["old_password", "new_password1", "new_password2"]


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Six-digit code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )


class PreferencesForm(forms.ModelForm):
    language = forms.ChoiceField(
        label=_("Interface language"),
        choices=[("", _("As my browser says")), *settings.LANGUAGES],
        required=False,
    )
    time_zone = forms.ChoiceField(
        label=_("Time zone"),
        choices=[("", _("My facility's time zone"))]
        + [(zone, zone) for zone in sorted(zoneinfo.available_timezones())],
        required=False,
    )

    class Meta:
        model = User
        fields = ["language", "time_zone", "email"]
        labels = {"email": _("E-mail")}
