"""What the monitoring resources share: code systems, extension URLs and the status token."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q

from farcare.monitoring.measures import MEASURES, PANELS, Code

from ..diagnostics.common import negated, nothing

PROGRAMME_SYSTEM = "urn:farcare:monitoring-programme"
ALERT_KIND_SYSTEM = "urn:farcare:monitoring-alert-kind"
ALERT_STATUS_EXTENSION = "urn:farcare:extension:alert-status"
MITIGATION_SYSTEM = "urn:farcare:monitoring-alert-action"
HOME_CATEGORY_SYSTEM = "urn:farcare:observation-category"
SOURCE_EXTENSION = "urn:farcare:extension:reading-source"
CONVERTED_EXTENSION = "urn:farcare:extension:converted-from"
TARGET_EXTENSION = "urn:farcare:extension:monitoring-target"
RECIPIENT_EXTENSION = "urn:farcare:extension:alert-recipient"
ACK_DEADLINE_EXTENSION = "urn:farcare:extension:acknowledge-by"
SOURCE_ID_SYSTEM = "urn:farcare:reading-source-id"  # a source id that names no system
CARE_TEAM_ROLE = "urn:farcare:monitoring-role"


def status_q(mapping: dict[str, str]) -> Callable[[str, str, str], Q]:
    """A status token over a FHIR status several of our states share."""

    def to_q(modifier: str, system: str, code: str) -> Q:
        statuses = [status for status, mapped in mapping.items() if mapped == code]
        return negated(Q(status__in=statuses) if statuses else nothing(), modifier)

    return to_q


def measure_display(code: str) -> str:
    """The English display of a measure's LOINC code; the panel has no `Measure` of its own."""
    try:
        known = Code(code)
    except ValueError:
        return code
    if known in PANELS:
        return "Blood pressure panel"
    return MEASURES[known].display if known in MEASURES else code


def measure_unit(code: str) -> str:
    try:
        known = Code(code)
    except ValueError:
        return ""
    return MEASURES[PANELS.get(known, (known,))[0]].unit
