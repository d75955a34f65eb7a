"""Coded values of diagnostics in the reader's language, for templates: a modality ("CT"), a
body site ("chest") or a priority ("stat") never reaches a page as its code alone."""

from __future__ import annotations

from django import template

from farcare.diagnostics.models import Priority
from farcare.diagnostics.pages import words

register = template.Library()


@register.filter
def modality_word(code: str) -> str:
    return words.modality(code or "")


@register.filter
def body_site_word(code: str) -> str:
    return words.body_site(code or "")


@register.filter
def priority_word(code: str) -> str:
    return str(Priority(code).label) if code in Priority.values else code
