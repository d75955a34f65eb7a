"""Numbers of signed documents: "ТМК-2026-000123", unique in the deployment.

A hospital files a conclusion under its number and quotes it when it writes back, so a number
is given once and never again: a counter row per series and year, bumped by one atomic
UPDATE inside the signing transaction. On PostgreSQL the UPDATE holds the row's lock until
the signing commits, so a second signer waits for it and then counts on from the committed
value; on SQLite every write transaction takes the database lock up front (IMMEDIATE, see
settings), so signers queue the same way. A signing that fails rolls its number back with it:
numbers stay gapless. (A database sequence would not roll back, and SQLite has none.)"""

from __future__ import annotations

import zoneinfo
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import F

from .models import DocumentCounter

# The series of a teleconsultation's medical conclusion (телемедицинская консультация). The
# same letters in every language: a number is quoted, not translated.
CONCLUSION_SERIES = "ТМК"


def format_number(series: str, year: int, sequence: int) -> str:
    return f"{series}-{year}-{sequence:06d}"


def document_year(moment: datetime) -> int:
    """The year a document is numbered in: the calendar year where the deployment keeps its
    books (its TIME_ZONE), so a conclusion signed at 08:00 on 1 January in Anadyr is not
    numbered in the old year because it was still 31 December in UTC."""
    return moment.astimezone(zoneinfo.ZoneInfo(settings.TIME_ZONE)).year


def next_number(*, series: str, moment: datetime) -> str:
    """The next number of `series` for the year of `moment`. Call inside the transaction that
    saves the document, so the number is taken only if the document is."""
    year = document_year(moment)
    with transaction.atomic():
        # The first document of a year makes the row; two first signers racing for it both
        # end up on the one row (get_or_create retries the read after a unique violation).
        counter, _created = DocumentCounter.objects.get_or_create(series=series, year=year)
        DocumentCounter.objects.filter(pk=counter.pk).update(last=F("last") + 1)
        counter.refresh_from_db(fields=["last"])
    return format_number(series, year, counter.last)
