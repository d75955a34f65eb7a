"""Lengths of time in words, in the reader's language: '45 s', '13 min', '1 h 5 min', '2 d 3 h'.
Seconds only under two minutes, where they still matter to a person watching a transfer."""

from __future__ import annotations

from django.utils.translation import gettext as _


def duration_text(seconds: int) -> str:
    seconds = abs(seconds)
    if seconds < 120:
        return _("%(n)d s") % {"n": seconds}
    return minutes_text(round(seconds / 60))


def minutes_text(minutes: int) -> str:
    """Whole minutes in words: '0 min', '13 min', '1 h 5 min', '2 h', '2 d 3 h' (no minutes
    beside days). For a caller that rounds its own way, as a deadline's countdown does."""
    days, rest = divmod(abs(minutes), 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = []
    if days:
        parts.append(_("%(n)d d") % {"n": days})
    if hours:
        parts.append(_("%(n)d h") % {"n": hours})
    if not days and (minutes or not hours):
        parts.append(_("%(n)d min") % {"n": minutes})
    return " ".join(parts)
