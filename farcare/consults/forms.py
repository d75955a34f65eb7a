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

from .diagnosis_lookup import split_codes
from .models import (
    ConsultForm,
    ConsultMode,
    EvacuationAdvice,
    Helped,
    OutcomeAction,
    VitalsMissing,
)
from .refusal import Refusal
from .request_rules import missing_vitals, missing_vitals_problem


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
    "diastolic_bp",
    "heart_rate",
    "consciousness",
    "temperature",
)


def _vital_field(key: str) -> forms.Field:
    spec = VITALS[key]
    label = spec.label(get_language() or "en")  # with the unit: "Пульс, /мин"
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
    # Required to send (services.requesting refuses a request without one), not to keep a
    # draft: so not required here, only marked so.
    question = forms.CharField(
        label=_("Question"),
        widget=forms.Textarea(attrs={"rows": 3, "required": True, "aria-required": "true"}),
        required=False,
        help_text=_("Required: what you want the consultant to answer."),
    )
    summary = forms.CharField(
        label=_("Clinical summary"), widget=forms.Textarea(attrs={"rows": 5}), required=False
    )
    vitals_missing = forms.ChoiceField(
        label=_("If some vital signs could not be measured, why"),
        choices=[("", _("all were measured")), *VitalsMissing.choices],
        required=False,
        widget=forms.RadioSelect,
    )
    vitals_missing_note = forms.CharField(
        label=_("What is missing and why (for another reason)"), max_length=200, required=False
    )
    # The phone's camera opens at once (capture); other files through the plain input below.
    photos = MultipleFileField(
        label=_("Photos"),
        required=False,
        widget=MultipleFileInput(attrs={"accept": "image/*", "capture": "environment"}),
    )
    attachments = MultipleFileField(
        label=_("Attachments"),
        required=False,
        help_text=_("ECG, documents, images already on the device."),
    )

    def __init__(
        self, *args: Any, language: str = "ru", submitting: bool = True, **kwargs: Any
    ) -> None:
        kwargs["initial"] = dict(kwargs.get("initial") or {})
        kwargs["initial"].setdefault("client_token", uuid.uuid4())
        kwargs["initial"].setdefault("request_language", language)
        kwargs["initial"].setdefault("mode", ConsultMode.DEFERRED)
        super().__init__(*args, **kwargs)
        self.ui_language = language
        # Sending is checked for what a request must carry; keeping a draft is not.
        self.submitting = submitting
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
        self._clean_for_sending(cleaned, errors)
        return cleaned

    def _clean_for_sending(self, cleaned: dict[str, Any], vital_errors: dict[str, str]) -> None:
        """A request to send has a question; an emergency or urgent one carries the vital signs
        NEWS2 needs, or why not (consults.request_rules): the reason is kept only while
        something is missing."""
        if not self.submitting:
            return
        if not (cleaned.get("question") or "").strip():
            # As the service says it, but together with everything else wrong on the form.
            self.add_error("question", _("Write the question you want answered."))
        if vital_errors:
            return
        form = cleaned.get("form") or ""
        if not missing_vitals(form, self.vitals):
            cleaned["vitals_missing"] = ""
            cleaned["vitals_missing_note"] = ""
            return
        reason = cleaned.get("vitals_missing") or ""
        problem = missing_vitals_problem(form, self.vitals, reason, self.ui_language)
        if problem:
            self.add_error("vitals_missing", problem)

    def uploads(self) -> list[Any]:
        """The photos taken and the files chosen, as one list for the request."""
        cleaned = self.cleaned_data
        return [*(cleaned.get("photos") or []), *(cleaned.get("attachments") or [])]

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
    """A move of the state machine (start work, entered in error): a reason where it asks one."""

    reason = forms.CharField(label=_("Reason"), max_length=500, required=False)
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)


def _one_line_ending(text: str) -> str:
    """Browsers send CRLF from a text area; the draft reviewed and the one signed are compared
    byte for byte, so both keep LF only."""
    return text.replace("\r\n", "\n").replace("\r", "\n")


class ConclusionForm(forms.Form):
    use_required_attribute = False  # the server's messages, in the page's language
    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 4}))
    # Read as it is typed: each code with its description beside the field, suggestions for
    # the one being typed (consults.diagnosis_lookup, through HTMX; no script of our own).
    diagnoses = forms.CharField(
        label=_("Diagnoses, ICD-10 codes"),
        help_text=_(
            "Type a code (I21.0 or I21,0) or words of the diagnosis; separate several codes "
            "with commas."
        ),
        widget=forms.TextInput(
            attrs={
                "autocomplete": "off",
                "spellcheck": "false",
                "hx-get": reverse_lazy("consults:icd10"),
                "hx-trigger": "input changed delay:250ms",
                "hx-target": "#icd10-panel",
                "hx-sync": "this:replace",
                "aria-describedby": "id_diagnoses_helptext icd10-panel",
                "aria-controls": "icd10-panel",
            }
        ),
    )
    recommendations = forms.CharField(
        label=_("Recommendations"), widget=forms.Textarea(attrs={"rows": 4})
    )
    evacuation = forms.ChoiceField(
        label=_("Transfer or evacuation"),
        choices=EvacuationAdvice.choices,
        widget=forms.RadioSelect,
        error_messages={"required": _("Choose the transfer advice.")},
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

    def __init__(self, *args: Any, emergency: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if emergency:
            # An emergency has no default transfer: "no transfer" must be a choice, never
            # what was left selected.
            self.fields["evacuation"].error_messages["required"] = _(
                "Choose the transfer advice: an emergency has no default."
            )
        else:
            self.fields["evacuation"].initial = EvacuationAdvice.NONE

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        for name in ("findings", "recommendations", "follow_up"):
            if isinstance(cleaned.get(name), str):
                cleaned[name] = _one_line_ending(cleaned[name])
        return cleaned

    def diagnosis_codes(self) -> list[str]:
        return split_codes(self.cleaned_data["diagnoses"])


class RefusalForm(forms.Form):
    """The "Cannot take it" box: an outcome the viewer may take, and why (consults.refusal)."""

    # Refused by the server in the page's language, not by the browser in its own.
    use_required_attribute = False

    outcome = forms.ChoiceField(
        label=_("What should happen to the request"),
        widget=forms.RadioSelect,
        error_messages={
            "required": _("Choose what should happen to the request."),
            "invalid_choice": _("Choose what should happen to the request."),
        },
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2, "aria-required": "true"}),
        error_messages={"required": _("Say why: the requester reads it.")},
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args: Any, refusal: Refusal | None = None, **kwargs: Any) -> None:
        # Its own ids: the case page holds other forms with a reason and a version.
        kwargs.setdefault("auto_id", "refusal_%s")
        super().__init__(*args, **kwargs)
        choices = [(c.outcome.value, c.label) for c in refusal.choices] if refusal else []
        self.fields["outcome"].choices = choices  # type: ignore[attr-defined]
        if len(choices) == 1:
            self.fields["outcome"].initial = choices[0][0]

    def clean_reason(self) -> str:
        reason = str(self.cleaned_data["reason"]).strip()
        if len(reason) < 3:
            raise forms.ValidationError(_("Say why: the requester reads it."))
        return reason


class SignForm(forms.Form):
    """The last step of signing: which reviewed draft (its digest), and the signer again."""

    use_required_attribute = False

    digest = forms.CharField(widget=forms.HiddenInput, max_length=64)
    secret = forms.CharField(
        max_length=128,
        strip=False,
        error_messages={"required": _("Give your password to sign.")},
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
