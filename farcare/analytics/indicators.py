"""The indicators the ministries read (issue 18): what each one is, what it is computed from,
which tables it appears in, and how it is shown. Pure: no ORM; the computation (`compute`)
fills `IndicatorCell`s with these codes, the pages and exports read them back.

Kinds decide suppression (`core.suppression`): a COUNT of 1 to 4 is hidden, and a second cell
with it where a total would give it away; a RATE is hidden with the count it is made from; a
MINUTES figure (median, 90th percentile) or a SHARE is shown only over at least SMALL_CELL
events.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


class Kind(StrEnum):
    COUNT = "count"
    RATE = "rate"
    MINUTES = "minutes"
    SHARE = "share"


class Source(StrEnum):
    CONSULTATIONS = "consultations"
    TRANSFERS = "transfers"
    RESULTS = "results"
    TRAINING = "training"


# The dimensions each source is counted by. Specialty and partner are a consultation's own;
# transfers, results and training are counted by place only.
PLACES = ("all", "region", "settlement", "facility")
CONSULT_DIMENSIONS = (*PLACES, "specialty", "partner")


@dataclass(frozen=True)
class Indicator:
    code: str
    label: Promise
    kind: Kind
    source: Source
    # For a RATE: the COUNT indicator it is made from (hidden with it).
    follows: str = ""
    # Whether a higher figure is better (colours of the map: the worse end is the darker).
    higher_is_better: bool = True
    # Shown per consultation form as well (time to conclusion, deadlines).
    by_form: bool = False

    @property
    def dimensions(self) -> tuple[str, ...]:
        return CONSULT_DIMENSIONS if self.source == Source.CONSULTATIONS else PLACES

    @property
    def cross_border(self) -> bool:
        """Whether the partner's view (cross-border consultations only) has this indicator."""
        return self.source == Source.CONSULTATIONS and self.code != "consultations_per_1000"


CATALOGUE: tuple[Indicator, ...] = (
    Indicator("consultations", _("Consultations"), Kind.COUNT, Source.CONSULTATIONS, by_form=True),
    Indicator(
        "consultations_per_1000",
        _("Consultations per 1,000 residents"),
        Kind.RATE,
        Source.CONSULTATIONS,
        follows="consultations",
    ),
    Indicator(
        "conclusion_minutes_median",
        _("Request to signed conclusion, median"),
        Kind.MINUTES,
        Source.CONSULTATIONS,
        higher_is_better=False,
        by_form=True,
    ),
    Indicator(
        "conclusion_minutes_p90",
        _("Request to signed conclusion, 90th percentile"),
        Kind.MINUTES,
        Source.CONSULTATIONS,
        higher_is_better=False,
        by_form=True,
    ),
    Indicator(
        "deadline_met_share",
        _("Answered within the deadline"),
        Kind.SHARE,
        Source.CONSULTATIONS,
        by_form=True,
    ),
    Indicator(
        "escalated",
        _("Escalated to the coordinator"),
        Kind.COUNT,
        Source.CONSULTATIONS,
        higher_is_better=False,
    ),
    Indicator(
        "rerouted",
        _("Re-routed to another consultant"),
        Kind.COUNT,
        Source.CONSULTATIONS,
        higher_is_better=False,
    ),
    Indicator("answered", _("Answered"), Kind.COUNT, Source.CONSULTATIONS),
    Indicator("declined", _("Declined"), Kind.COUNT, Source.CONSULTATIONS, higher_is_better=False),
    Indicator(
        "not_answered",
        _("Not answered (failed)"),
        Kind.COUNT,
        Source.CONSULTATIONS,
        higher_is_better=False,
    ),
    Indicator(
        "cancelled", _("Cancelled"), Kind.COUNT, Source.CONSULTATIONS, higher_is_better=False
    ),
    Indicator("transfers", _("Evacuations"), Kind.COUNT, Source.TRANSFERS),
    Indicator(
        "transfer_minutes_median",
        _("First contact to arrival, median"),
        Kind.MINUTES,
        Source.TRANSFERS,
        higher_is_better=False,
    ),
    Indicator(
        "transfer_within_24h_share",
        _("Emergencies hospitalised within 24 hours"),
        Kind.SHARE,
        Source.TRANSFERS,
    ),
    Indicator("results", _("Results released"), Kind.COUNT, Source.RESULTS),
    Indicator(
        "result_minutes_median",
        _("Order to released result, median"),
        Kind.MINUTES,
        Source.RESULTS,
        higher_is_better=False,
    ),
    Indicator(
        "result_minutes_p90",
        _("Order to released result, 90th percentile"),
        Kind.MINUTES,
        Source.RESULTS,
        higher_is_better=False,
    ),
    Indicator(
        "critical_ack_minutes_median",
        _("Critical result to acknowledgement, median"),
        Kind.MINUTES,
        Source.RESULTS,
        higher_is_better=False,
    ),
    Indicator("trained_staff", _("Staff in training"), Kind.COUNT, Source.TRAINING),
    Indicator(
        "training_coverage_share",
        _("Share of clinical staff in training"),
        Kind.SHARE,
        Source.TRAINING,
    ),
)
BY_CODE = {indicator.code: indicator for indicator in CATALOGUE}
# What the dashboard shows when nothing is chosen: access, speed, deadlines, escalation.
DEFAULT_CODES = (
    "consultations",
    "consultations_per_1000",
    "conclusion_minutes_median",
    "conclusion_minutes_p90",
    "deadline_met_share",
    "escalated",
    "rerouted",
)
# The partner's view: cross-border consultations only (counts, time to answer, outcomes).
PARTNER_CODES = (
    "consultations",
    "conclusion_minutes_median",
    "conclusion_minutes_p90",
    "deadline_met_share",
    "answered",
    "declined",
    "not_answered",
    "cancelled",
)


def percentile(values: list[int], share: float) -> float | None:
    """The nearest-rank percentile (0 < share <= 1) of `values`: an observed value, so that a
    median of minutes is a real waiting time, not an average of two. None for no values."""
    if not values:
        return None
    if not 0 < share <= 1:
        raise ValueError("a percentile's share lies in (0, 1]")
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * share // 1))  # ceil without floats' surprises
    return float(ordered[int(rank) - 1])
