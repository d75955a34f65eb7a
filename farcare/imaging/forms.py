from __future__ import annotations

import re

from django import forms
from django.utils.translation import gettext_lazy as _


class ReportForm(forms.Form):
    use_required_attribute = False

    findings = forms.CharField(label=_("Findings"), widget=forms.Textarea(attrs={"rows": 6}))
    impression = forms.CharField(label=_("Impression"), widget=forms.Textarea(attrs={"rows": 3}))
    codes = forms.CharField(
        label=_("Diagnoses (ICD-10), if any"),
        required=False,
        max_length=200,
        help_text=_("Codes separated by commas, e.g. J18.9"),
    )

    def code_list(self) -> list[str]:
        return [code for code in re.split(r"[,;\s]+", self.cleaned_data.get("codes", "")) if code]
