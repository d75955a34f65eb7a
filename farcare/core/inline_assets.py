"""The stylesheet and script written into a page that must show without a second round trip.

On a satellite link each request costs a round trip of ~600 ms before its first byte, so the
login page, the first one a post opens, carries the (small) stylesheet in a <style> element
and a small script that, once the page has loaded, fetches the files of the pages after it.
The Content-Security-Policy still allows no inline style or script but these exact texts:
their SHA-256 are named in style-src and script-src."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from django.contrib.staticfiles import finders

# The files a page may carry inline, by their static path.
INLINE_STYLESHEETS = ("farcare/farcare.css",)
INLINE_SCRIPTS = ("farcare/warmup.js",)


@dataclass(frozen=True)
class InlineAsset:
    text: str
    csp_source: str  # 'sha256-…' for the style-src or script-src directive


@cache
def inline_asset(path: str) -> InlineAsset:
    if path.endswith(".css"):
        allowed, element = INLINE_STYLESHEETS, "</style"
    else:
        allowed, element = INLINE_SCRIPTS, "</script"
    if path not in allowed:
        raise ValueError(f"{path} is not a file pages may carry inline")
    found = finders.find(path)
    if not found:
        raise FileNotFoundError(path)
    text = Path(str(found)).read_text(encoding="utf-8")
    if element in text.lower():
        raise ValueError(f"{path} would end its own element")
    digest = base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")
    return InlineAsset(text=text, csp_source=f"'sha256-{digest}'")


def inline_style_sources() -> str:
    return " ".join(inline_asset(path).csp_source for path in INLINE_STYLESHEETS)


def inline_script_sources() -> str:
    return " ".join(inline_asset(path).csp_source for path in INLINE_SCRIPTS)
