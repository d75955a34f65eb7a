"""Dates typed in the page's language, not the browser's.

An <input type="date"> shows and takes the date in the browser's locale: a feldsher reading a
Russian page on an English phone sees 04/12/1995 and cannot tell the day from the month. So a
date is a text field whose pattern follows the page: ДД.ММ.ГГГГ in Russian, YYYY-MM-DD in
Korean and English. Both spellings are accepted in every language, since neither can be
mistaken for the other; a slash never is (03/04 is March in one country and April in another).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Any

from django import forms
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

# What the reader sees as the pattern and an example, per language of the page.
PATTERNS = {"ru": "ДД.ММ.ГГГГ", "ko": "YYYY-MM-DD", "en": "YYYY-MM-DD"}
_DAY_FIRST = re.compile(r"^(\d{1,2})[.\s](\d{1,2})[.\s](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})[-.\s](\d{1,2})[-.\s](\d{1,2})$")


def page_language(language: str | None = None) -> str:
    code = (language or get_language() or "ru").split("-")[0].lower()
    return code if code in PATTERNS else "en"


def date_pattern(language: str | None = None) -> str:
    return PATTERNS[page_language(language)]


def format_typed_date(value: date, language: str | None = None) -> str:
    """A date as the reader types it: 07.03.1958 in Russian, 1958-03-07 otherwise."""
    if page_language(language) == "ru":
        return f"{value.day:02d}.{value.month:02d}.{value.year:04d}"
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def parse_typed_date(text: str) -> date | None:
    """The date typed as day.month.year or year-month-day, or None."""
    text = text.strip()
    found = _DAY_FIRST.match(text)
    if found:
        day, month, year = (int(part) for part in found.groups())
    else:
        found = _YEAR_FIRST.match(text)
        if not found:
            return None
        year, month, day = (int(part) for part in found.groups())
    try:
        return date(year, month, day)
    except ValueError:
        return None


class TypedDateInput(forms.TextInput):
    """A text input showing the date, and its pattern as the placeholder, in the page's
    language (read when the page is drawn, not when the form class is defined)."""

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__({"autocomplete": "off", "spellcheck": "false", **(attrs or {})})

    def format_value(self, value: Any) -> str | None:
        if isinstance(value, date):
            return format_typed_date(value)
        return super().format_value(value)

    def get_context(self, name: str, value: Any, attrs: dict[str, Any] | None) -> dict[str, Any]:
        context = super().get_context(name, value, attrs)
        context["widget"]["attrs"].setdefault("placeholder", date_pattern())
        return context


class TypedDateField(forms.DateField):
    """A date typed in the page's language (see the module's docstring)."""

    widget = TypedDateInput

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("help_text", "")
        super().__init__(**kwargs)

    def to_python(self, value: Any) -> date | None:
        if value in self.empty_values:
            return None
        if isinstance(value, date):
            return value
        parsed = parse_typed_date(str(value))
        if parsed is None:
            raise forms.ValidationError(
                _("Enter the date as %(pattern)s, for example %(example)s."),
                code="invalid",
                params={
                    "pattern": date_pattern(),
                    "example": format_typed_date(date(1958, 3, 7)),
                },
            )
        return parsed
