"""Compile the .po catalogues to .mo without GNU gettext, so a fresh machine with only Python
can build them. `python -m farcare.core.compilemessages`."""

from __future__ import annotations

import sys
from pathlib import Path

import polib  # type: ignore[import-untyped]

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"


def compile_all() -> list[Path]:
    written = []
    for po_path in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/django.po")):
        catalogue = polib.pofile(str(po_path))
        mo_path = po_path.with_suffix(".mo")
        catalogue.save_as_mofile(str(mo_path))
        written.append(mo_path)
    return written


if __name__ == "__main__":
    for path in compile_all():
        sys.stdout.write(f"{path}\n")
