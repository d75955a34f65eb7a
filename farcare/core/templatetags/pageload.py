"""How a page's stylesheet and scripts reach a browser behind a slow link (see
farcare/core/stylesheets.py)."""

from __future__ import annotations

from django import template
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from farcare.core.stylesheets import inline_stylesheet

register = template.Library()


@register.simple_tag
def inline_style(path: str) -> SafeString:
    """The stylesheet as a <style> element, byte for byte the text whose hash the CSP names."""
    # Our own file, checked not to close its element: safe as it is, and escaping would
    # change the bytes the hash was taken of.
    return format_html("<style>{}</style>", mark_safe(inline_stylesheet(path).text))  # noqa: S308
