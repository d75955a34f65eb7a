"""The hub's side of transfers at a station (issue 16): every transfer of the station's patients
changed since its cursor, with its timeline, the treatment given and the aircraft carrying the
patient, so that the post sees where its patient is after the next sync, even with no link in
between. Read-only at the station: transfers are decided at the hub (the coordinator, the
receiving hospital) and nothing about them is pushed up (`evacuation_mirror`).

The pull that carries them is audited by `hub.pull` with each patient linked, as the rest of
what it sends."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.db.models import Q, QuerySet

from farcare.access.policy import station_patients
from farcare.evacuation.models import Aircraft, Transfer, TransferEvent, TreatmentGiven

from .models import Station
from .training_hub import _person


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _aircraft(plane: Aircraft | None) -> dict[str, Any] | None:
    if plane is None:
        return None
    base = plane.base
    return {
        "uuid": str(plane.uuid),
        "registration": plane.registration,
        "profile": plane.profile,
        "kind": plane.kind,
        "cruise_kmh": plane.cruise_kmh,
        "range_km": plane.range_km,
        "crew": plane.crew,
        "status": plane.status,
        "base": {
            "uuid": str(base.uuid),
            "name_en": base.name_en,
            "name_ru": base.name_ru,
            "name_ko": base.name_ko,
            "region": base.region,
            "settlement": str(base.settlement.uuid),
            "latitude": base.latitude,
            "longitude": base.longitude,
        },
    }


def _event(event: TransferEvent) -> dict[str, Any]:
    return {
        "from_status": event.from_status,
        "to_status": event.to_status,
        "event": event.event,
        "at": event.at.isoformat(),
        "actor": _person(event.actor) if event.actor else None,
        "note": event.note,
        "data": event.data,
    }


def _treatment(treatment: TreatmentGiven) -> dict[str, Any]:
    return {
        "uuid": str(treatment.uuid),
        "given_at": treatment.given_at.isoformat(),
        "description": treatment.description,
        "by": _person(treatment.by),
    }


def transfer_copy(t: Transfer) -> dict[str, Any]:
    return {
        "uuid": str(t.uuid),
        "patient": str(t.patient.uuid),
        "consultation": str(t.consultation.uuid) if t.consultation else None,
        "conclusion": str(t.conclusion.uuid) if t.conclusion else None,
        "origin": str(t.origin.uuid),
        "destination": str(t.destination.uuid) if t.destination else None,
        "condition": t.condition,
        "reason": t.reason,
        "status": t.status,
        "requested_by": _person(t.requested_by),
        "first_contact_at": t.first_contact_at.isoformat(),
        "onset_at": _time(t.onset_at),
        "decided_at": t.decided_at.isoformat(),
        "accepted_at": _time(t.accepted_at),
        "accepted_by": _person(t.accepted_by) if t.accepted_by else None,
        "bed_note": t.bed_note,
        "transport_mode": t.transport_mode,
        "aircraft": _aircraft(t.aircraft),
        "ground_mode": t.ground_mode,
        "dispatched_at": _time(t.dispatched_at),
        "departed_at": _time(t.departed_at),
        "arrived_at": _time(t.arrived_at),
        "handed_over_at": _time(t.handed_over_at),
        "ended_at": _time(t.ended_at),
        "estimate": t.estimate,
        "advice": t.advice,
        "decision_choice": t.decision_choice,
        "decision_note": t.decision_note,
        "held_from": t.held_from,
        "held_since": _time(t.held_since),
        "hold_reason": t.hold_reason,
        "hold_expected_until": _time(t.hold_expected_until),
        "held_seconds": t.held_seconds,
        "stall_alerted_at": _time(t.stall_alerted_at),
        "version": t.version,
        "events": [_event(e) for e in t.events.all()],
        "treatments": [_treatment(g) for g in t.treatments.all()],
    }


def _transfers(station: Station, cutoff: datetime | None) -> QuerySet[Transfer]:
    transfers = Transfer.objects.filter(patient__in=station_patients(station.facility))
    if cutoff is None:
        return transfers
    # Every move saves the transfer; a treatment is its own row and counts too.
    return transfers.filter(
        Q(updated_at__gte=cutoff) | Q(treatments__created_at__gte=cutoff)
    ).distinct()


def changes(station: Station, cutoff: datetime | None) -> dict[str, list[dict[str, Any]]]:
    """The station's patients' transfers changed since `cutoff` (all when None), whole."""
    transfers = (
        _transfers(station, cutoff)
        .select_related(
            "patient",
            "consultation",
            "conclusion",
            "origin",
            "destination",
            "requested_by",
            "accepted_by",
            "aircraft__base__settlement",
        )
        .prefetch_related("events__actor", "treatments__by")
        .order_by("updated_at", "pk")
    )
    return {"transfers": [transfer_copy(t) for t in transfers]}
