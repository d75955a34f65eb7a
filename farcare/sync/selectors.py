"""What the station's pages show: each item's state, the link, the estimate of time left and
what the hub has said about our requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from math import ceil
from typing import Any

from django.db.models import Q
from django.utils import timezone

from farcare.consults.models import Consultation, Status
from farcare.consults.selectors import CaseFacts, TeamMember, ThreadEntry
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .models import (
    PENDING_STATES,
    HubCopy,
    LinkEvent,
    OutboxItem,
    PatientConflict,
    StationConfig,
)
from .outbox import QUEUE_ORDER, pending, station
from .station import conclusion_pdf_name, link_estimate, time_left_range

RECENT_ITEMS = 40


@dataclass(frozen=True)
class LinkSummary:
    up: bool | None
    since: Any
    rate_kbit: float | None
    seconds_left: float | None  # = time_left, the name the templates first used
    history: list[LinkEvent]
    # The time left (seconds) as a range while the rate is still being measured (less than
    # a minute of recent transfer), then one figure: low == time_left == high.
    time_left_low: float | None = None
    time_left_high: float | None = None
    time_left: float | None = None
    rate_bps: float | None = None  # bits per second over the last minutes of transfer
    measured_seconds: float = 0.0  # recent transfer time behind the rate
    # While the link is down: when the background loop tries the hub again, and in how many
    # seconds (None while it is up or no loop runs).
    next_try_at: datetime | None = None
    next_try_seconds: int | None = None


def link_summary() -> LinkSummary:
    history = list(LinkEvent.objects.filter(at__gte=timezone.now() - timedelta(hours=24))[:48])
    last = history[0] if history else None
    estimate = link_estimate()
    rate = estimate.rate
    left = time_left_range(estimate)
    return LinkSummary(
        up=last.up if last else None,
        since=last.at if last else None,
        rate_kbit=rate * 8 / 1000 if rate else None,
        seconds_left=left.middle,
        history=history,
        time_left_low=left.low,
        time_left_high=left.high,
        time_left=left.middle,
        rate_bps=rate * 8 if rate else None,
        measured_seconds=estimate.measured_seconds,
        **_next_try(),
    )


def _next_try() -> dict[str, Any]:
    config = station()
    at = config.next_try_at if config else None
    if at is None or at <= timezone.now():
        return {}
    return {"next_try_at": at, "next_try_seconds": ceil((at - timezone.now()).total_seconds())}


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
    copies = list(copies)
    # Facilities by UUID, named in the reader's language from the post's copy of the network
    # (one query for the whole list).
    wanted = {
        key
        for c in copies
        for key in [
            c.data.get("routed_facility_uuid"),
            *(p.get("facility_uuid") for p in c.data.get("consultants") or []),
        ]
        if key
    }
    facilities = {str(f.uuid): f.name for f in Facility.objects.filter(uuid__in=wanted)}
    return [{**_readable(c.data, facilities), "pulled_at": c.pulled_at} for c in copies]


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _readable(data: dict[str, Any], facilities: dict[str, str] | None = None) -> dict[str, Any]:
    """The pulled JSON with times as datetimes (for the `when` filter) and coded values in the
    reader's language. Copies pulled by an earlier version lack some keys: each is optional."""
    facilities = facilities or {}
    status = data.get("status", "")
    copy = {
        **data,
        "pdf_name": conclusion_pdf_name(data),
        "status_label": Status(status).label if status in Status.values else status,
        "routed_facility": facilities.get(data.get("routed_facility_uuid") or "")
        or data.get("routed_facility", ""),
        "consultants": [
            {
                **person,
                "facility": facilities.get(person.get("facility_uuid") or "")
                or person.get("facility", ""),
                "accepted_at": _time(person.get("accepted_at")),
            }
            for person in data.get("consultants") or []
            if person
        ],
    }
    for name in ("received_at", "deadline_at", "paused_at", "updated_at"):
        copy[name] = _time(data.get(name))
    copy["messages"] = [{**m, "at": _time(m.get("at"))} for m in data.get("messages", [])]
    if data.get("conclusion"):
        copy["conclusion"] = {
            **data["conclusion"],
            "signed_at": _time(data["conclusion"].get("signed_at")),
        }
    return copy


def hub_facts(local: CaseFacts, copy: dict[str, Any]) -> CaseFacts:
    """The head of a case page at the post as the hub has it (`copy` as `_readable` gives it):
    the hub routes the request, starts and keeps its clock and computes the score of record;
    until it has said something, what the post knows itself stands."""
    status = copy.get("status") or local.status
    hub_scored = copy.get("news2_total") is not None
    return CaseFacts(
        status=status,
        status_label=copy.get("status_label") or local.status_label,
        received_at=copy.get("received_at") or local.received_at,
        deadline_at=copy.get("deadline_at") or local.deadline_at,
        paused_at=copy.get("paused_at") if "paused_at" in copy else local.paused_at,
        team=[
            TeamMember(p.get("name", ""), p.get("facility", ""), p.get("accepted_at") is not None)
            for p in copy.get("consultants") or []
        ]
        or local.team,
        routed_facility=copy.get("routed_facility") or local.routed_facility,
        news2_total=copy["news2_total"] if hub_scored else local.news2_total,
        news2_band=copy.get("news2_band", "") if hub_scored else local.news2_band,
    )


def merged_thread(local: list[ThreadEntry], hub: list[dict[str, Any]]) -> list[ThreadEntry]:
    """The post's own messages and the hub's, in time order, each once. A message written here
    keeps its UUID at the hub and comes back in the hub's copy: the local one is shown (it has
    its files). Messages without a time (none are expected) go last."""
    known = {entry.uuid for entry in local}
    entries = list(local)
    for message in hub:
        if str(message.get("uuid")) in known:
            continue
        author = message.get("author") or {}
        entries.append(
            ThreadEntry(
                uuid=str(message.get("uuid", "")),
                author=author.get("name", ""),
                at=message.get("at"),
                body=message.get("body", ""),
                asks_requester=bool(message.get("asks_requester")),
            )
        )
    latest = datetime.max.replace(tzinfo=UTC)
    return sorted(entries, key=lambda entry: entry.at or latest)


def as_the_hub_has_it(
    facts: CaseFacts, thread: list[ThreadEntry], delivery: dict[str, Any] | None
) -> tuple[CaseFacts, list[ThreadEntry]]:
    """At a station, the case page's facts and thread as the hub last told them; elsewhere, or
    before the hub has answered, as they are here."""
    copy = (delivery or {}).get("copy")
    if not copy:
        return facts, thread
    return hub_facts(facts, copy), merged_thread(thread, copy.get("messages") or [])


def case_delivery(consultation: Consultation) -> dict[str, Any] | None:
    """For the case page at a station: how far each part of this request has got, and the
    hub's answer as last pulled."""
    if station() is None:
        return None
    items = OutboxItem.objects.filter(
        Q(consultation_uuid=consultation.uuid) | Q(patient_uuid=consultation.patient.uuid)
    ).order_by(*QUEUE_ORDER)
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
