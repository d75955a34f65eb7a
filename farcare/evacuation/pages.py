"""What the transfer pages show, in the reader's words: the decision support as text, the
estimate taken at the decision beside what happened, the timeline with labels. Pure over the
transfer's fields and JSON snapshots (no queries), so the pages stay thin."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

from .models import Transfer, TransferEvent
from .workflow import EVENT_LABELS

StrOrPromise = str | Promise

GROUND_LABELS: dict[str, StrOrPromise] = {
    "road": _("by road"),
    "winter_road": _("by winter road"),
    "river": _("by river"),
}

# The local protocol the advice points to (windows.LocalProtocol), as the clinician reads it.
PROTOCOL_TEXT: dict[str, StrOrPromise] = {
    "transfer_for_primary_pci": _(
        "The PCI centre can be reached within the window: transfer for primary PCI."
    ),
    "fibrinolysis_on_site_then_transfer": _(
        "The PCI centre cannot be reached within the window: local protocol — fibrinolysis on "
        "site under teleconsultation, within 10 minutes of the diagnosis, then transfer to the "
        "PCI centre."
    ),
    "transfer_for_thrombolysis": _(
        "The stroke centre can be reached within 4.5 hours of onset: transfer for thrombolysis."
    ),
    "transfer_without_thrombolysis": _(
        "The stroke centre cannot be reached within 4.5 hours of onset: transfer for stroke care "
        "without thrombolysis; discuss under teleconsultation."
    ),
    "transfer": _("Transfer within the national target of 24 hours."),
    "stabilise_under_teleconsultation_then_transfer": _(
        "The 24-hour target cannot be met: stabilise under teleconsultation until the transfer."
    ),
}

CONDITION_WINDOWS: dict[str, StrOrPromise] = {
    "stemi": _("STEMI: reperfusion within 120 minutes of first medical contact"),
    "ischaemic_stroke": _("Stroke: thrombolysis within 4.5 hours of onset"),
    "emergency": _("Emergency: in hospital within 24 hours"),
}


def ground_label(mode: str) -> StrOrPromise:
    return GROUND_LABELS.get(mode, mode)


def event_label(event: str) -> StrOrPromise:
    return EVENT_LABELS.get(event, event)


@dataclass(frozen=True)
class AdviceView:
    """Decision support as shown: the window, what is expected, the margin, the protocol."""

    window: StrOrPromise
    window_minutes: float | None
    expected_minutes: float | None
    margin_minutes: float | None
    exceeded: bool
    protocol: StrOrPromise

    @property
    def window_seconds(self) -> float | None:
        return None if self.window_minutes is None else self.window_minutes * 60

    @property
    def expected_seconds(self) -> float | None:
        return None if self.expected_minutes is None else self.expected_minutes * 60

    @property
    def margin_seconds(self) -> float | None:
        return None if self.margin_minutes is None else abs(self.margin_minutes) * 60


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def advice_view(advice: dict[str, Any] | None) -> AdviceView | None:
    """The stored (or freshly computed) advice; None when the condition has no window."""
    if not advice or not isinstance(advice, dict):
        return None
    condition = str(advice.get("condition", ""))
    protocol = str(advice.get("protocol", ""))
    return AdviceView(
        window=CONDITION_WINDOWS.get(condition, condition),
        window_minutes=_number(advice.get("window_minutes")),
        expected_minutes=_number(advice.get("expected_minutes")),
        margin_minutes=_number(advice.get("margin_minutes")),
        exceeded=bool(advice.get("exceeded")),
        protocol=PROTOCOL_TEXT.get(protocol, protocol),
    )


@dataclass(frozen=True)
class Comparison:
    """The estimate shown at the decision beside what happened (issue 16, point 3)."""

    estimated_seconds: float | None
    actual_seconds: float | None
    parts: list[tuple[StrOrPromise, float]]
    aircraft: str

    @property
    def difference_seconds(self) -> float | None:
        if self.estimated_seconds is None or self.actual_seconds is None:
            return None
        return self.actual_seconds - self.estimated_seconds


PART_LABELS: tuple[tuple[str, StrOrPromise], ...] = (
    ("dispatch", _("dispatch")),
    ("positioning", _("positioning from the base")),
    ("flight", _("flight")),
    ("refuel", _("refuelling")),
    ("ground", _("on the ground")),
)


def _seconds_between(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def comparison(transfer: Transfer) -> Comparison:
    estimate = transfer.estimate if isinstance(transfer.estimate, dict) else {}
    total = _number(estimate.get("total_minutes"))
    parts = []
    for key, label in PART_LABELS:
        value = _number(estimate.get(key) or estimate.get(f"{key}_minutes"))
        if value:
            parts.append((label, value * 60))
    # What happened: from the decision to the arrival (the same span the estimate counts).
    actual = _seconds_between(transfer.decided_at, transfer.arrived_at)
    aircraft = " ".join(
        str(estimate.get(key) or "") for key in ("aircraft_registration", "aircraft_profile")
    ).strip()
    if not aircraft and isinstance(estimate.get("aircraft"), str):
        aircraft = str(estimate["aircraft"])
    return Comparison(None if total is None else total * 60, actual, parts, aircraft)


@dataclass(frozen=True)
class TimelineRow:
    at: datetime
    label: StrOrPromise
    actor: Any
    note: str


def timeline_rows(events: list[TransferEvent]) -> list[TimelineRow]:
    return [TimelineRow(e.at, event_label(e.event), e.actor, e.note) for e in events]


def clock_rows(transfer: Transfer) -> list[tuple[StrOrPromise, datetime | None]]:
    """The moments the clocks count, in order; the page shows each in the viewer's zone."""
    return [
        (_("first medical contact"), transfer.first_contact_at),
        (_("symptom onset"), transfer.onset_at),
        (_("decision to transfer"), transfer.decided_at),
        (_("bed confirmed"), transfer.accepted_at),
        (_("dispatched"), transfer.dispatched_at),
        (_("departure with the patient"), transfer.departed_at),
        (_("arrived"), transfer.arrived_at),
        (_("handed over"), transfer.handed_over_at),
    ]
