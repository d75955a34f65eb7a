"""Values every page's form posts and reads the same way."""

from __future__ import annotations

from django.core.exceptions import ValidationError
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
