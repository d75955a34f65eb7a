"""The forms of the diagnostics pages. What they check is what a person can fix on the page
(a missing reason, a value that is not a number); the services check the rest."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal, InvalidOperation
from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from ..models import Category, Priority, RejectionReason

REASON_MAX_CHARS = 1000
ACTION_MAX_CHARS = 1000


class OrderForm(forms.Form):
    use_required_attribute = False

    client_token = forms.UUIDField(widget=forms.HiddenInput)
    consultation = forms.UUIDField(widget=forms.HiddenInput, required=False)
    category = forms.ChoiceField(
        label=_("What to order"), choices=Category.choices, widget=forms.RadioSelect
    )
    codes = forms.MultipleChoiceField(
        label=_("Tests"),
        choices=(),
        error_messages={"required": _("Choose at least one test or study.")},
    )
    reason = forms.CharField(
        label=_("Reason for the order"),
        max_length=REASON_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "aria-required": "true"}),
        error_messages={"required": _("Say why the tests are needed.")},
        help_text=_("Required: the question the results should answer, or the diagnosis."),
    )
    priority = forms.ChoiceField(label=_("Priority"), choices=Priority.choices)
    performer = forms.ChoiceField(
        label=_("Performed by"),
        required=False,
        help_text=_("As the network routes this order; you may choose another routed one."),
    )

    def __init__(
        self,
        *args: Any,
        codes: list[tuple[str, str]],
        performers: list[tuple[str, str]],
        **kwargs: Any,
    ) -> None:
        kwargs["initial"] = dict(kwargs.get("initial") or {})
        kwargs["initial"].setdefault("client_token", uuid.uuid4())
        kwargs["initial"].setdefault("category", Category.LABORATORY)
        kwargs["initial"].setdefault("priority", Priority.ROUTINE)
        super().__init__(*args, **kwargs)
        self.fields["codes"].choices = codes  # type: ignore[attr-defined]
        routed = (
            _("as routed: %(name)s") % {"name": performers[0][1]} if performers else _("as routed")
        )
        self.fields["performer"].choices = [("", routed), *performers]  # type: ignore[attr-defined]

    def clean_reason(self) -> str:
        reason = " ".join(str(self.cleaned_data.get("reason") or "").split())
        if not reason:
            raise forms.ValidationError(_("Say why the tests are needed."))
        return str(self.cleaned_data["reason"]).strip()


class CancelForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    reason = forms.CharField(
        label=_("Why is the order cancelled"),
        max_length=200,
        error_messages={"required": _("Say why the order is cancelled.")},
    )


class CollectForm(forms.Form):
    collected_at = forms.DateTimeField(
        label=_("Collected at"),
        required=False,
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        help_text=_("Leave empty for now."),
    )


class ShipForm(forms.Form):
    specimens = forms.MultipleChoiceField(
        label=_("Specimens"),
        choices=(),
        widget=forms.CheckboxSelectMultiple,
        error_messages={"required": _("Tick the specimens that go in this batch.")},
    )
    batch = forms.CharField(
        label=_("Batch"),
        max_length=40,
        error_messages={"required": _("Give the batch a number.")},
    )
    transport = forms.CharField(
        label=_("Transport"),
        max_length=80,
        help_text=_("How it travels: the flight, the helicopter, the snowmobile, the courier."),
        error_messages={"required": _("Say how the batch travels.")},
    )

    def __init__(self, *args: Any, specimens: list[tuple[str, str]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["specimens"].choices = specimens  # type: ignore[attr-defined]


class ReceiveForm(forms.Form):
    label = forms.CharField(
        label=_("Scan or type the specimen's label"),
        max_length=32,
        widget=forms.TextInput(attrs={"autocomplete": "off", "autofocus": True}),
        error_messages={"required": _("Scan or type the label on the tube.")},
    )

    def clean_label(self) -> str:
        return "".join(str(self.cleaned_data["label"]).split()).upper()


class RejectForm(forms.Form):
    reason = forms.ChoiceField(
        label=_("Reason"),
        choices=[("", "—"), *RejectionReason.choices],
        error_messages={"required": _("Choose why the specimen is rejected.")},
    )
    note = forms.CharField(label=_("Note"), max_length=200, required=False)


def parse_value(text: str) -> Decimal | None:
    """A typed number as a laboratory writes it: "5,1" or "5.1", spaces between thousands."""
    cleaned = "".join(text.split()).replace(",", ".").replace("−", "-")
    # Digits and one decimal point only: "6e0" or "Infinity" are not how a result is written,
    # and would reach the service as text it cannot interpret.
    if not re.fullmatch(r"[-+]?\d+(?:\.\d+)?", cleaned):
        return None
    try:
        number = Decimal(cleaned)
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


class ResultsForm(forms.Form):
    """One text field per test of the order (`value_<code>`), filled or left empty."""

    use_required_attribute = False

    client_token = forms.UUIDField(widget=forms.HiddenInput)
    conclusion = forms.CharField(
        label=_("Comment of the laboratory"),
        max_length=400,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )

    def __init__(
        self,
        *args: Any,
        tests: list[tuple[str, str, bool]],
        **kwargs: Any,
    ) -> None:
        """`tests`: (code, label with unit, numeric) for each value to enter."""
        kwargs["initial"] = dict(kwargs.get("initial") or {})
        kwargs["initial"].setdefault("client_token", uuid.uuid4())
        super().__init__(*args, **kwargs)
        self.numeric: dict[str, bool] = {}
        for code, label, numeric in tests:
            self.numeric[code] = numeric
            self.fields[f"value_{code}"] = forms.CharField(
                label=label,
                required=False,
                max_length=40 if numeric else 400,
                widget=forms.TextInput(
                    attrs={"inputmode": "decimal", "size": 8} if numeric else {"size": 20}
                ),
            )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        filled = 0
        for code, numeric in self.numeric.items():
            text = str(cleaned.get(f"value_{code}") or "").strip()
            if not text:
                continue
            filled += 1
            if numeric and parse_value(text) is None:
                self.add_error(f"value_{code}", _("Type a number, such as 4.2."))
        if not filled and not self.errors:
            raise forms.ValidationError(_("Enter at least one value."))
        return cleaned

    def values(self) -> dict[str, str]:
        """The typed values by code, numbers in the form the service parses ("5.1")."""
        out: dict[str, str] = {}
        for code, numeric in self.numeric.items():
            text = str(self.cleaned_data.get(f"value_{code}") or "").strip()
            if text:
                number = parse_value(text) if numeric else None
                out[code] = str(number) if number is not None else text
        return out


class SecretForm(forms.Form):
    """The password again (or the authenticator's code) before a correction is stored."""

    secret = forms.CharField(
        max_length=128,
        strip=False,
        error_messages={"required": _("Give your password to correct a result.")},
    )

    def __init__(self, *args: Any, asks: str = "password", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["secret"]
        if asks == "code":
            field.label = _("Six-digit code from your authenticator app")
            field.error_messages["required"] = _("Give the code from your authenticator app.")
            field.widget = forms.TextInput(
                attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "size": 8}
            )
        else:
            field.label = _("Your password")
            field.widget = forms.PasswordInput(attrs={"autocomplete": "current-password"})


class ReviewForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)


class AlertAckForm(forms.Form):
    version = forms.IntegerField(widget=forms.HiddenInput)
    action_taken = forms.CharField(
        label=_("What was done"),
        max_length=ACTION_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 3, "aria-required": "true"}),
        error_messages={"required": _("Say what was done about the result.")},
        help_text=_(
            "Required: e.g. the patient was called back, treatment started, evacuation asked for."
        ),
    )

    def clean_action_taken(self) -> str:
        text = str(self.cleaned_data.get("action_taken") or "").strip()
        if not text:
            raise forms.ValidationError(_("Say what was done about the result."))
        return text
