"""How a page's stylesheet and scripts reach a browser behind a slow link (see
farcare/core/inline_assets.py)."""

from __future__ import annotations

from django import template
from django.templatetags.static import static
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from farcare.core.inline_assets import inline_asset

register = template.Library()


@register.simple_tag
def inline_style(path: str) -> SafeString:
    """The stylesheet as a <style> element, byte for byte the text whose hash the CSP names."""
    # Our own file, checked not to close its element: safe as it is, and escaping would
    # change the bytes the hash was taken of.
    return format_html("<style>{}</style>", mark_safe(inline_asset(path).text))  # noqa: S308


@register.simple_tag
def inline_script(path: str) -> SafeString:
    """The script as a <script> element, byte for byte the text whose hash the CSP names."""
    return format_html("<script>{}</script>", mark_safe(inline_asset(path).text))  # noqa: S308


# What the pages after the login page load: fetched by farcare/warmup.js once it has shown.
WARM_FILES = (
    "farcare/farcare.css",
    "farcare/htmx.min.js",
    "consults/request_form.js",
    "consults/diagnoses.js",
)


@register.simple_tag
def warm_files() -> SafeString:
    """The <meta> listing, by their fingerprinted addresses, the files warmup.js fetches."""
    return format_html(
        '<meta name="farcare-warm" content="{}">', " ".join(static(path) for path in WARM_FILES)
    )
