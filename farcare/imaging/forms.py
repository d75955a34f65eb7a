from __future__ import annotations

import re
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.db.models import QuerySet
from django.utils.translation import gettext_lazy as _

from farcare.consults.forms import MultipleFileField
from farcare.diagnostics.models import DiagnosticOrder

from .intake import MB, max_file_bytes, max_upload_bytes, too_large


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


class OrderChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj: Any) -> str:
        return _order_label(obj)


class AddImagesForm(forms.Form):
    """DICOM files of one study, optionally for one of the patient's open imaging orders."""

    use_required_attribute = False

    images = MultipleFileField(
        label=_("DICOM files"),
        required=True,
        error_messages={"required": _("Choose the DICOM files of the study.")},
    )
    order = OrderChoiceField(
        label=_("For the order"),
        queryset=DiagnosticOrder.objects.none(),
        required=False,
        empty_label=_("No order (or the order the files name)"),
        to_field_name="uuid",
    )

    def __init__(
        self,
        *args: Any,
        orders: QuerySet[DiagnosticOrder],
        refusal: ValidationError | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        # The upload was over the page's limits while it arrived (intake.CappedUploads): its
        # files were dropped, and that is the error to show, not "choose the files".
        self.refusal = refusal
        self.too_large = False
        if refusal is not None:
            self.fields["images"].required = False
        field = self.fields["order"]
        assert isinstance(field, forms.ModelChoiceField)
        field.queryset = orders
        images = self.fields["images"]
        images.widget.attrs.update({"accept": ".dcm,application/dicom"})
        images.help_text = _(
            "All the images of one study (.dcm), up to %(file)s MB a file and %(upload)s MB "
            "in all. Your browser shows the upload's progress."
        ) % {"file": max_file_bytes() // MB, "upload": max_upload_bytes() // MB}

    def clean_images(self) -> list[Any]:
        files = list(self.cleaned_data.get("images") or [])
        refusal = self.refusal or too_large(files)
        if refusal is not None:
            self.too_large = True
            raise refusal
        if not files:
            raise forms.ValidationError(self.fields["images"].error_messages["required"])
        return files


def _order_label(order: DiagnosticOrder) -> str:
    tests = ", ".join(test.display for test in order.tests.all())
    return f"{order.placer_number} · {tests} · {order.get_priority_display()}"
