"""What the station's pages show: each item's state, the link, the estimate of time left and
what the hub has said about our requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Q
from django.utils import timezone

from farcare.consults.models import Consultation, Status
from farcare.patients.models import Patient

from .models import (
    PENDING_STATES,
    HubCopy,
    LinkEvent,
    OutboxItem,
    PatientConflict,
    StationConfig,
)
from .outbox import pending, station
from .station import conclusion_pdf_name, link_rate, time_left

RECENT_ITEMS = 40


@dataclass(frozen=True)
class LinkSummary:
    up: bool | None
    since: Any
    rate_kbit: float | None
    seconds_left: float | None
    history: list[LinkEvent]


def link_summary() -> LinkSummary:
    history = list(LinkEvent.objects.filter(at__gte=timezone.now() - timedelta(hours=24))[:48])
    last = history[0] if history else None
    rate = link_rate()
    return LinkSummary(
        up=last.up if last else None,
        since=last.at if last else None,
        rate_kbit=rate * 8 / 1000 if rate else None,
        seconds_left=time_left(),
        history=history,
    )


def overview() -> dict[str, Any]:
    config: StationConfig | None = station()
    waiting = list(pending())
    done = list(
        OutboxItem.objects.exclude(state__in=PENDING_STATES).order_by("-created_at")[:RECENT_ITEMS]
    )
    return {
        "config": config,
        "waiting": waiting,
        "done": done,
        "link": link_summary(),
        "copies": _copies(HubCopy.objects.order_by("-pulled_at")[:RECENT_ITEMS]),
    }


def _copies(copies: Any) -> list[dict[str, Any]]:
    return [_readable(c.data) for c in copies]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _readable(data: dict[str, Any]) -> dict[str, Any]:
    """The pulled JSON with times as datetimes, for the `when` filter."""
    status = data.get("status", "")
    copy = {
        **data,
        "pdf_name": conclusion_pdf_name(data),
        "status_label": Status(status).label if status in Status.values else status,
    }
    for name in ("received_at", "deadline_at", "updated_at"):
        copy[name] = _time(data.get(name))
    copy["messages"] = [{**m, "at": _time(m.get("at"))} for m in data.get("messages", [])]
    if data.get("conclusion"):
        copy["conclusion"] = {
            **data["conclusion"],
            "signed_at": _time(data["conclusion"].get("signed_at")),
        }
    return copy


def case_delivery(consultation: Consultation) -> dict[str, Any] | None:
    """For the case page at a station: how far each part of this request has got, and the
    hub's answer as last pulled."""
    if station() is None:
        return None
    items = OutboxItem.objects.filter(
        Q(consultation_uuid=consultation.uuid) | Q(patient_uuid=consultation.patient.uuid)
    ).order_by("rank", "phase", "created_at")
    copy = HubCopy.objects.filter(consultation_uuid=consultation.uuid).first()
    return {
        "items": list(items),
        "copy": _copies([copy])[0] if copy else None,
        "link": link_summary(),
    }


def open_conflicts(patient: Patient) -> list[PatientConflict]:
    """Fields of the patient edited at a station and at the hub at once, not yet settled, each
    with its field's label in the reader's language."""
    conflicts = list(
        PatientConflict.objects.filter(patient=patient, resolved_at__isnull=True).select_related(
            "edited_by", "station"
        )
    )
    for conflict in conflicts:
        field = Patient._meta.get_field(conflict.field)
        conflict.label = str(getattr(field, "verbose_name", conflict.field))  # type: ignore[attr-defined]
    return conflicts
