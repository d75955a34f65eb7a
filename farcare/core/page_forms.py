"""What every page's form does the same way: the version it was drawn at, read back, and a
service's refusal shown on it."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.forms import BaseForm
from django.http import HttpRequest
from django.utils.translation import gettext as _


def posted_version(request: HttpRequest) -> int | None:
    """The version the page was drawn at (None when the form sends none). A version that is not
    a number refuses the change rather than making it unchecked: the caller's `try` shows the
    message."""
    raw = request.POST.get("version", "")
    if raw == "":
        return None
    try:
        return int(raw)
    except ValueError:
        raise ValidationError(
            _("This page is out of date. Reload it and try again."), code="version"
        ) from None


def errors_to_form(form: BaseForm, error: ValidationError) -> None:
    """A service's refusal on the form: a field's message beside the field, the rest on top."""
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            for item in errors:
                form.add_error(name if name in form.fields else None, item)
    else:
        for message in error.messages:
            form.add_error(None, message)
