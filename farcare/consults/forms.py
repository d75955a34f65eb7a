from __future__ import annotations

import uuid
from typing import Any

from django import forms
from django.conf import settings
from django.core.validators import MaxLengthValidator
from django.urls import reverse_lazy
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from farcare.clinical.vitals import VITALS, Acvpu, VitalKind, parse_vitals
from farcare.network.models import Facility, Specialty

from .models import (
    ConsultForm,
    ConsultMode,
    EvacuationAdvice,
    Helped,
    OutcomeAction,
)


class MultipleFileInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleFileField(forms.FileField):
    """Several files in one field; each is checked by the attachments module."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("widget", MultipleFileInput())
        super().__init__(*args, **kwargs)

    def clean(self, data: Any, initial: Any = None) -> Any:
        if not data:
            return []
        files = data if isinstance(data, list | tuple) else [data]
        return [super(MultipleFileField, self).clean(item, initial) for item in files]


VITAL_FIELD_ORDER = (
    "respiratory_rate",
    "spo2",
    "spo2_scale",
    "on_oxygen",
    "oxygen_flow",
    "systolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)


def _vital_field(key: str) -> forms.Field:
    spec = VITALS[key]
    label = spec.name(get_language() or "en")
    if spec.kind is VitalKind.BOOLEAN:
        return forms.ChoiceField(
            label=_("Air or oxygen"),
            required=False,
            choices=[("", "—"), ("air", _("air")), ("oxygen", _("oxygen"))],
            widget=forms.Select(attrs={"class": "vital"}),
        )
    if spec.kind is VitalKind.CHOICE:
        return forms.ChoiceField(
            label=_("SpO₂ scale"),
            required=False,
            choices=[("1", _("scale 1")), ("2", _("scale 2 (hypercapnic failure)"))],
            widget=forms.Select(attrs={"class": "vital"}),
        )
    if spec.kind is VitalKind.CODED:
        return forms.ChoiceField(
            label=_("Consciousness (ACVPU)"),
            required=False,
            choices=[("", "—"), *Acvpu.choices],
            widget=forms.Select(attrs={"class": "vital"}),
        )
    return forms.CharField(
        label=label,
        required=False,
        max_length=8,
        widget=forms.TextInput(attrs={"inputmode": "decimal", "size": 6, "class": "vital"}),
    )


def limit_length(field: forms.Field, limit: int) -> None:
    """A configurable limit (settings are read per form, not at import): the browser stops
    typing at it and the form refuses beyond it with Django's own translated message."""
    assert isinstance(field, forms.CharField)
    field.max_length = limit
    field.validators.append(MaxLengthValidator(limit))
    field.widget.attrs["maxlength"] = str(limit)


class RequestForm(forms.Form):
    client_token = forms.UUIDField(widget=forms.HiddenInput)
    specialty = forms.ModelChoiceField(
        label=_("Specialty"), queryset=Specialty.objects.all(), to_field_name="code"
    )
    form = forms.ChoiceField(label=_("Form"), choices=ConsultForm.choices, widget=forms.RadioSelect)
    # Choosing the mode fetches the consilium size field, or nothing (HTMX; no script on the
    # page, which the Content-Security-Policy forbids).
    mode = forms.ChoiceField(
        label=_("Mode"),
        choices=ConsultMode.choices,
        widget=forms.Select(
            attrs={
                "hx-get": reverse_lazy("consults:consilium_size"),
                "hx-trigger": "change",
                "hx-target": "#consilium-size",
                "hx-swap": "innerHTML",
            }
        ),
    )
    consilium_size = forms.IntegerField(
        label=_("Consultants in the consilium"),
        min_value=2,
        max_value=5,
        initial=2,
        required=False,
    )
    # Not "language": the header's switch of the interface language is a control of that name
    # on the same page, and meaning one thing by one name keeps the page unambiguous.
    request_language = forms.ChoiceField(
        label=_("Language of the request"), choices=settings.LANGUAGES
    )
    question = forms.CharField(
        label=_("Question"), widget=forms.Textarea(attrs={"rows": 3}), required=False
    )
    summary = forms.CharField(
        label=_("Clinical summary"), widget=forms.Textarea(attrs={"rows": 5}), required=False
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)

    def __init__(self, *args: Any, language: str = "ru", **kwargs: Any) -> None:
        kwargs.setdefault("initial", {})
        kwargs["initial"].setdefault("client_token", uuid.uuid4())
        kwargs["initial"].setdefault("request_language", language)
        kwargs["initial"].setdefault("mode", ConsultMode.DEFERRED)
        super().__init__(*args, **kwargs)
        self.ui_language = language
        for key in VITAL_FIELD_ORDER:
            self.fields[f"vital_{key}"] = _vital_field(key)
        self.vitals: dict[str, Any] = {}
        limit_length(self.fields["question"], settings.FARCARE_QUESTION_MAX_CHARS)
        limit_length(self.fields["summary"], settings.FARCARE_SUMMARY_MAX_CHARS)

    @property
    def asks_consilium_size(self) -> bool:
        """Show the size field: a consilium is chosen, or a size was refused."""
        return self["mode"].value() == ConsultMode.CONSILIUM or bool(self["consilium_size"].errors)

    def vital_fields(self) -> list[forms.BoundField]:
        return [self[f"vital_{key}"] for key in VITAL_FIELD_ORDER]

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        raw = {key: self.data.get(f"vital_{key}", "") for key in VITAL_FIELD_ORDER}
        if raw.get("on_oxygen") == "air":
            raw["on_oxygen"] = "false"
        elif raw.get("on_oxygen") == "oxygen":
            raw["on_oxygen"] = "true"
        values, errors = parse_vitals(raw, self.ui_language)
        for key, message in errors.items():
            self.add_error(f"vital_{key}", message)
        self.vitals = values
        self._clean_consilium_size(cleaned)
        return cleaned

    def _clean_consilium_size(self, cleaned: dict[str, Any]) -> None:
        size = cleaned.get("consilium_size")
        if cleaned.get("mode") == ConsultMode.CONSILIUM or size is None:
            return
        if size == self.fields["consilium_size"].initial:
            # What a page drawn before the field became conditional still sends: no choice
            # was made, so there is nothing to keep.
            cleaned["consilium_size"] = None
            return
        self.add_error(
            "consilium_size",
            _(
                "The number of consultants is for a consilium only: choose that mode, or "
                "leave the number out."
            ),
        )


class MessageForm(forms.Form):
    body = forms.CharField(label=_("Message"), widget=forms.Textarea(attrs={"rows": 3}))
    ask_requester = forms.BooleanField(
        label=_("This is a question to the requester: put the request on hold"), required=False
    )
    attachments = MultipleFileField(label=_("Attachments"), required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        limit_length(self.fields["body"], settings.FARCARE_MESSAGE_MAX_CHARS)


class ReasonForm(forms.Form):
    reason = forms.CharField(label=_("Reason"), max_length=500)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


class ConclusionForm(forms.Form):
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 4}))
    diagnoses = forms.CharField(
        label=_("Diagnoses, ICD-10 codes"),
        help_text=_("One or more codes separated by commas, e.g. I21.0, I10"),
    )
    recommendations = forms.CharField(
        label=_("Recommendations"), widget=forms.Textarea(attrs={"rows": 4})
    )
    evacuation = forms.ChoiceField(
        label=_("Transfer or evacuation"), choices=EvacuationAdvice.choices
    )
    evacuation_destination = forms.ModelChoiceField(
        label=_("Destination"),
        queryset=Facility.objects.exclude(kind="feldsher_post"),
        to_field_name="uuid",
        required=False,
    )
    follow_up = forms.CharField(
        label=_("Follow-up"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def diagnosis_codes(self) -> list[str]:
        return [part.strip() for part in self.cleaned_data["diagnoses"].split(",") if part.strip()]


class AcknowledgeForm(forms.Form):
    action = forms.ChoiceField(label=_("What was done"), choices=OutcomeAction.choices)
    helped = forms.ChoiceField(label=_("Did it help"), choices=Helped.choices)
    note = forms.CharField(
        label=_("Note"), widget=forms.Textarea(attrs={"rows": 2}), required=False
    )


class ReassignForm(forms.Form):
    """The coordinator's pick: a consultant's UUID from the list of choices, never a username."""

    consultant = forms.UUIDField(
        error_messages={
            "required": _("Choose a consultant from the list."),
            "invalid": _("Choose a consultant from the list."),
        }
    )
    reason = forms.CharField(label=_("Reason"), max_length=300, required=False)
