from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from farcare.training.models import Programme, Session

from .models import QuestionKind, SurveyPhase


class SurveyQuestionForm(forms.Form):
    phase = forms.ChoiceField(label=_("Survey"), choices=SurveyPhase.choices)
    kind = forms.ChoiceField(label=_("Kind of answer"), choices=QuestionKind.choices)
    text = forms.CharField(label=_("Question"), max_length=500)
    choices = forms.CharField(
        label=_("Choices, one per line"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class QuizForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    session = forms.ModelChoiceField(
        label=_("Session"),
        queryset=Session.objects.none(),
        required=False,
        empty_label=_("the whole programme"),
    )
    pass_percent = forms.IntegerField(label=_("Pass mark, per cent"), min_value=1, max_value=100)
    max_attempts = forms.IntegerField(label=_("Attempts allowed"), min_value=1, max_value=20)

    def __init__(self, *args: Any, programme: Programme, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        field = self.fields["session"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = Session.objects.filter(programme=programme).order_by("number")
        field.to_field_name = "uuid"


class QuizQuestionForm(forms.Form):
    text = forms.CharField(label=_("Question"), max_length=500)
    choices = forms.CharField(
        label=_("Choices, one per line; start the right ones with *"),
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    multiple = forms.BooleanField(label=_("Several answers are right"), required=False)

    def parsed(self) -> tuple[list[str], list[int]]:
        """The choices without their marks, and the indices of the marked ones."""
        lines = [line.strip() for line in self.cleaned_data["choices"].splitlines()]
        choices: list[str] = []
        correct: list[int] = []
        for line in lines:
            if not line:
                continue
            if line.startswith("*"):
                correct.append(len(choices))
                line = line[1:].strip()
            choices.append(line)
        return choices, correct


class VerifyForm(forms.Form):
    code = forms.CharField(label=_("Verification code"), max_length=40)
