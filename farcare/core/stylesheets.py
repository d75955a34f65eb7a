"""The stylesheet written into a page that must show without a second round trip.

On a satellite link each request costs a round trip of ~600 ms before its first byte, so the
login page, the first one a post opens, carries the (small) stylesheet in a <style> element
and only asks the browser to prefetch the file for the pages after it. The Content-Security-
Policy still allows no inline style but this exact text: its SHA-256 is named in style-src."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders

# The stylesheets a page may carry inline, by their static path.
INLINE_STYLESHEETS = ("farcare/farcare.css",)


@dataclass(frozen=True)
class InlineStylesheet:
    text: str
    csp_source: str  # 'sha256-…' for the style-src directive


@cache
def inline_stylesheet(path: str) -> InlineStylesheet:
    if path not in INLINE_STYLESHEETS:
        raise ValueError(f"{path} is not a stylesheet pages may carry inline")
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(path)
    text = Path(str(found)).read_text(encoding="utf-8")
    if "</style" in text.lower():
        raise ValueError(f"{path} would end its own <style> element")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return InlineStylesheet(text=text, csp_source=f"'sha256-{digest}'")


def inline_style_sources() -> str:
    return " ".join(inline_stylesheet(path).csp_source for path in INLINE_STYLESHEETS)
