"""Time windows of time-critical conditions, and what they mean for a patient far away
(issue 16, point 4). Source: domain.md §10 (ESC/AHA guidance) and §2 (the national target).

The advice is shown to the feldsher and the consultant, not decided for them: it says whether the
window is expected to be exceeded and which local protocol the guidance points to, as codes and
numbers that pages translate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Condition(StrEnum):
    STEMI = "stemi"
    ISCHAEMIC_STROKE = "ischaemic_stroke"
    EMERGENCY = "emergency"  # any emergency patient: the national 24-hour target


class CountedFrom(StrEnum):
    FIRST_MEDICAL_CONTACT = "first_medical_contact"
    SYMPTOM_ONSET = "symptom_onset"  # or last known well, for a stroke noticed on waking


class LocalProtocol(StrEnum):
    # STEMI, reachable in time: transfer straight to the PCI centre for primary PCI.
    TRANSFER_FOR_PRIMARY_PCI = "transfer_for_primary_pci"
    # STEMI, not reachable in time: fibrinolysis on site under teleconsultation within 10 minutes
    # of the diagnosis, then transfer to the PCI centre.
    FIBRINOLYSIS_ON_SITE_THEN_TRANSFER = "fibrinolysis_on_site_then_transfer"
    # Stroke, reachable within 4.5 h of onset: transfer to a stroke centre for thrombolysis.
    TRANSFER_FOR_THROMBOLYSIS = "transfer_for_thrombolysis"
    # Stroke, outside the window on arrival: transfer for stroke care without IV thrombolysis.
    TRANSFER_WITHOUT_THROMBOLYSIS = "transfer_without_thrombolysis"
    TRANSFER = "transfer"
    # The 24-hour target cannot be met: stabilise and keep the patient under teleconsultation
    # until the transfer (the target is counted against the region, not the patient).
    STABILISE_UNDER_TELECONSULTATION_THEN_TRANSFER = (
        "stabilise_under_teleconsultation_then_transfer"
    )


@dataclass(frozen=True)
class TimeWindow:
    condition: Condition
    window_minutes: int
    counted_from: CountedFrom
    within: LocalProtocol
    exceeded: LocalProtocol
    # When the window is exceeded, the local treatment is due within this many minutes of the
    # diagnosis (fibrinolysis for STEMI), or None.
    local_treatment_within_minutes: int | None = None


WINDOWS: tuple[TimeWindow, ...] = (
    # ESC: primary PCI when first medical contact to wire crossing is expected within 120 min.
    TimeWindow(
        Condition.STEMI,
        window_minutes=120,
        counted_from=CountedFrom.FIRST_MEDICAL_CONTACT,
        within=LocalProtocol.TRANSFER_FOR_PRIMARY_PCI,
        exceeded=LocalProtocol.FIBRINOLYSIS_ON_SITE_THEN_TRANSFER,
        local_treatment_within_minutes=10,
    ),
    # ESC/AHA: intravenous thrombolysis within 4.5 h of onset.
    TimeWindow(
        Condition.ISCHAEMIC_STROKE,
        window_minutes=270,
        counted_from=CountedFrom.SYMPTOM_ONSET,
        within=LocalProtocol.TRANSFER_FOR_THROMBOLYSIS,
        exceeded=LocalProtocol.TRANSFER_WITHOUT_THROMBOLYSIS,
    ),
    # National target: 90 % of emergency patients hospitalised within 24 h.
    TimeWindow(
        Condition.EMERGENCY,
        window_minutes=24 * 60,
        counted_from=CountedFrom.FIRST_MEDICAL_CONTACT,
        within=LocalProtocol.TRANSFER,
        exceeded=LocalProtocol.STABILISE_UNDER_TELECONSULTATION_THEN_TRANSFER,
    ),
)


def window_for(condition: Condition) -> TimeWindow:
    for window in WINDOWS:
        if window.condition == condition:
            return window
    raise KeyError(condition)


@dataclass(frozen=True)
class Advice:
    condition: Condition
    window_minutes: int
    counted_from: CountedFrom
    elapsed_minutes: float
    expected_minutes: float  # elapsed + to the capable hospital + arrival to treatment
    margin_minutes: float  # window − expected; negative when exceeded
    exceeded: bool
    protocol: LocalProtocol
    local_treatment_within_minutes: int | None  # set only when the local protocol applies


def advice(
    condition: Condition,
    estimated_minutes_to_capable: float,
    minutes_since_onset_or_contact: float,
    *,
    arrival_to_treatment_minutes: float = 0.0,
) -> Advice:
    """Whether the patient is expected to be treated at a capable hospital within the window.

    The window is met when expected ≤ window: exactly 4.5 h after onset is still within. The
    estimate from `estimates.estimate` ends at the hospital door; door-to-wire or door-to-needle
    time is 0 unless the caller gives `arrival_to_treatment_minutes`, so near the edge the
    advice errs towards transfer — which is why it is shown with its numbers, not decided.
    """
    if min(estimated_minutes_to_capable, minutes_since_onset_or_contact) < 0:
        raise ValueError("minutes cannot be negative")
    if arrival_to_treatment_minutes < 0:
        raise ValueError("minutes cannot be negative")
    window = window_for(condition)
    expected = (
        minutes_since_onset_or_contact + estimated_minutes_to_capable + arrival_to_treatment_minutes
    )
    exceeded = expected > window.window_minutes
    return Advice(
        condition=condition,
        window_minutes=window.window_minutes,
        counted_from=window.counted_from,
        elapsed_minutes=minutes_since_onset_or_contact,
        expected_minutes=expected,
        margin_minutes=window.window_minutes - expected,
        exceeded=exceeded,
        protocol=window.exceeded if exceeded else window.within,
        local_treatment_within_minutes=window.local_treatment_within_minutes if exceeded else None,
    )
