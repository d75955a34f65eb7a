"""The figures a browser measured of its link (getStats), checked before they are kept.

Shared by calls and the training live room: each figure is a finite JSON number within what a
satellite or hub link can show, or absent. Anything else is refused, never stored rounded,
clipped or as NaN (a Decimal NaN breaks the comparison, the database rejects it)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.utils.translation import gettext as _

from farcare.core.jsonbody import parse_json_body

# Upper bounds: 100 Mbit/s is beyond any link we serve; a minute's round trip is a dead link.
MAX_KBPS = 100_000
MAX_RTT_MS = 60_000
MAX_LOSS_PERCENT = 100
FIGURES = ("sent_kbps", "received_kbps", "rtt_ms", "loss_percent")


@dataclass(frozen=True)
class LinkFigures:
    sent_kbps: int | None
    received_kbps: int | None
    rtt_ms: int | None
    loss_percent: Decimal | None


def _number(figures: Mapping[str, object], name: str, limit: int) -> float | None:
    value = figures.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError({name: _("Not a number.")})
    if not math.isfinite(value) or not 0 <= value <= limit:
        raise ValidationError({name: _("Out of range.")})
    return float(value)


def _whole(value: float | None) -> int | None:
    return None if value is None else round(value)


def clean_link_figures(figures: Mapping[str, object]) -> LinkFigures:
    """The four figures (any may be absent), checked; ValidationError naming the first bad one."""
    loss = _number(figures, "loss_percent", MAX_LOSS_PERCENT)
    return LinkFigures(
        sent_kbps=_whole(_number(figures, "sent_kbps", MAX_KBPS)),
        received_kbps=_whole(_number(figures, "received_kbps", MAX_KBPS)),
        rtt_ms=_whole(_number(figures, "rtt_ms", MAX_RTT_MS)),
        loss_percent=None if loss is None else Decimal(str(loss)).quantize(Decimal("0.01")),
    )


# What a page's quality report may carry: the mode it is in and the four figures.
REPORT_FIELDS = frozenset({"mode", *FIGURES})


def quality_report(body: bytes) -> dict[str, Any]:
    """A quality report POSTed as JSON (consilium and training rooms), its shape checked; a
    ValidationError with the reason for anything else (bad JSON, not an object, unknown
    fields). The figures themselves are checked by `clean_link_figures` where they are kept."""
    try:
        report = parse_json_body(body)
    except ValueError as error:
        raise ValidationError(_("The request is not valid JSON.")) from error
    if not isinstance(report, dict):
        raise ValidationError(_("The request is not valid JSON."))
    unknown = sorted(set(report) - REPORT_FIELDS)
    if unknown:
        raise ValidationError(_("Unknown fields: %(names)s") % {"names": ", ".join(unknown)})
    return report
