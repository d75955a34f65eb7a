"""At a station: the hub's transfers of the post's patients, kept as the station's own rows under
the hub's UUIDs (issue 16), so that the patient's page and the transfer's page show where the
patient is — the state, the way from the post to the bed, the timeline and its times — as the hub
last said, with no link.

A read-only copy: every pull replaces what the station holds of a transfer with the hub's copy
(its timeline included), and nothing of a transfer is pushed up. The people named on the timeline
(a coordinator, the receiving doctor) are kept as inactive accounts only to be named, as training
does; the aircraft and its base are kept so the page can name them."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from django.db import IntegrityError, transaction

from farcare.consults.models import Conclusion, Consultation
from farcare.evacuation.models import (
    Aircraft,
    Transfer,
    TransferEvent,
    TransportBase,
    TreatmentGiven,
)
from farcare.network.models import Facility, Settlement
from farcare.patients.models import Patient

from .training_mirror import _person

logger = logging.getLogger(__name__)

# The fields copied as they come; times and links are handled below.
PLAIN = (
    "condition",
    "reason",
    "status",
    "bed_note",
    "transport_mode",
    "ground_mode",
    "estimate",
    "advice",
    "decision_choice",
    "decision_note",
    "held_from",
    "hold_reason",
    "held_seconds",
    "version",
)
TIMES = (
    "onset_at",
    "accepted_at",
    "dispatched_at",
    "departed_at",
    "arrived_at",
    "handed_over_at",
    "ended_at",
    "held_since",
    "hold_expected_until",
    "stall_alerted_at",
)


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def mirror(data: dict[str, list[dict[str, Any]]]) -> int:
    """Apply a pull's transfers; returns how many were kept. A transfer the station cannot hold
    (its patient or a facility not known here) is logged and comes again with the next change."""
    kept = 0
    for copy in data.get("transfers") or []:
        try:
            with transaction.atomic():
                kept += int(_transfer(copy))
        except IntegrityError:
            # Another of our copies still holds the patient's open slot or the aircraft (an
            # older state); the next pull brings both as the hub has them.
            logger.warning("transfer %s could not be kept at the station yet", copy["uuid"])
    return kept


def _facility(value: str | None) -> Facility | None:
    return Facility.objects.filter(uuid=value).first() if value else None


def _aircraft(copy: dict[str, Any] | None) -> Aircraft | None:
    if copy is None:
        return None
    base_copy = copy["base"]
    base = TransportBase.objects.filter(uuid=base_copy["uuid"]).first()
    if base is None:
        settlement = Settlement.objects.filter(uuid=base_copy["settlement"]).first()
        if settlement is None:
            return None
        base = TransportBase(uuid=base_copy["uuid"], settlement=settlement)
    for name in ("name_en", "name_ru", "name_ko", "region", "latitude", "longitude"):
        setattr(base, name, base_copy[name])
    base.save()
    plane = Aircraft.objects.filter(uuid=copy["uuid"]).first() or Aircraft(uuid=copy["uuid"])
    plane.base = base
    for name in ("registration", "profile", "kind", "cruise_kmh", "range_km", "crew", "status"):
        setattr(plane, name, copy[name])
    plane.save()
    return plane


def _transfer(copy: dict[str, Any]) -> bool:
    patient = Patient.objects.filter(uuid=copy["patient"]).first()
    origin = _facility(copy["origin"])
    if patient is None or origin is None:
        logger.warning("transfer %s: its patient or origin is not at this station", copy["uuid"])
        return False
    transfer = Transfer.objects.filter(uuid=copy["uuid"]).first() or Transfer(uuid=copy["uuid"])
    transfer.patient = patient
    transfer.origin = origin
    transfer.destination = _facility(copy["destination"])
    transfer.consultation = (
        Consultation.objects.filter(uuid=copy["consultation"]).first()
        if copy["consultation"]
        else None
    )
    transfer.conclusion = (
        Conclusion.objects.filter(uuid=copy["conclusion"]).first() if copy["conclusion"] else None
    )
    for name in PLAIN:
        setattr(transfer, name, copy[name])
    for name in TIMES:
        setattr(transfer, name, _time(copy[name]))
    transfer.first_contact_at = _required(copy["first_contact_at"])
    transfer.decided_at = _required(copy["decided_at"])
    transfer.requested_by = _person(copy["requested_by"])
    transfer.accepted_by = _person(copy["accepted_by"]) if copy["accepted_by"] else None
    transfer.aircraft = _aircraft(copy["aircraft"])
    transfer.save()
    # The timeline as the hub has it: replaced whole (its moves carry no identity of their own).
    transfer.events.all().delete()
    TransferEvent.objects.bulk_create(
        [
            TransferEvent(
                transfer=transfer,
                from_status=event["from_status"],
                to_status=event["to_status"],
                event=event["event"],
                at=_required(event["at"]),
                actor=_person(event["actor"]) if event["actor"] else None,
                note=event["note"],
                data=event["data"],
            )
            for event in copy["events"]
        ]
    )
    for given in copy["treatments"]:
        TreatmentGiven.objects.update_or_create(
            uuid=given["uuid"],
            defaults={
                "transfer": transfer,
                "given_at": _required(given["given_at"]),
                "description": given["description"],
                "by": _person(given["by"]),
            },
        )
    return True
