"""A station's diagnostic writes in its outbox (issue 13): an order placed at the post, a tube
collected or shipped there, an order cancelled, a critical result acknowledged, a result
reviewed by its orderer. Each waits in the
write's own transaction and crosses as a record, with the urgency of the order (a stat order's
records with an emergency request's; an acknowledgement first of all: the hub stops escalating
it). The patient's own records take the order's urgency, so the order never arrives first."""

from __future__ import annotations

from typing import Any

from farcare.accounts.models import User
from farcare.diagnostics.models import (
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    Priority,
    Specimen,
)

from .models import PENDING_STATES, OutboxItem
from .outbox import _enqueue, _raise_rank

# Order priority → outbox rank (sync.outbox.RANKS: 0 emergency, 1 urgent, 2 planned).
PRIORITY_RANKS = {Priority.STAT: 0, Priority.ASAP: 1, Priority.URGENT: 1, Priority.ROUTINE: 2}
ACKNOWLEDGEMENT_RANK = 0

ORDER_PLACE = "diag.order"
ORDER_CANCEL = "diag.cancel"
SPECIMEN = "diag.specimen"
ACKNOWLEDGE = "diag.ack"
REVIEW = "diag.review"
KINDS = (ORDER_PLACE, ORDER_CANCEL, SPECIMEN, ACKNOWLEDGE, REVIEW)


def order_rank(order: DiagnosticOrder) -> int:
    return PRIORITY_RANKS.get(Priority(order.priority), 2)


def queue_order(*, order: DiagnosticOrder, actor: User) -> OutboxItem:
    rank = order_rank(order)
    _raise_rank(order.patient, rank)
    specimens = list(order.specimens.order_by("pk"))
    kinds = {s.kind for s in specimens}
    return _enqueue(
        kind=ORDER_PLACE,
        label=f"{order.placer_number}: {', '.join(t.display for t in order.tests.all())}",
        payload={
            "order": str(order.uuid),
            "client_token": str(order.client_token),
            "patient": str(order.patient.uuid),
            "category": order.category,
            "codes": [t.code for t in order.tests.all()],
            "reason": order.reason,
            "priority": order.priority,
            "placer_number": order.placer_number,
            "performer": str(order.performer.uuid) if order.performer else None,
            "consultation": str(order.consultation.uuid) if order.consultation else None,
            # One kind for every tube: the hub makes the same tubes with the same labels.
            "specimen_kind": kinds.pop() if len(kinds) == 1 else None,
            "labels": [s.label for s in specimens],
        },
        actor=actor,
        rank=rank,
        patient_uuid=order.patient.uuid,
    )


def queue_cancel(*, order: DiagnosticOrder, actor: User, reason: str) -> OutboxItem:
    return _enqueue(
        kind=ORDER_CANCEL,
        label=f"{order.placer_number} ✕",
        payload={"order": str(order.uuid), "reason": reason},
        actor=actor,
        rank=order_rank(order),
        patient_uuid=order.patient.uuid,
    )


def queue_specimen(*, specimen: Specimen, actor: User, event: str) -> OutboxItem:
    payload: dict[str, Any] = {
        "order": str(specimen.order.uuid),
        "label": specimen.label,
        "event": event,
    }
    if event == "collect":
        assert specimen.collected_at is not None
        payload["collected_at"] = specimen.collected_at.isoformat()
    elif event == "ship":
        assert specimen.shipped_at is not None
        payload.update(
            batch=specimen.batch,
            transport=specimen.transport,
            shipped_at=specimen.shipped_at.isoformat(),
        )
    else:
        raise ValueError(f"a station does not send the specimen event {event!r}")
    return _enqueue(
        kind=SPECIMEN,
        label=f"{specimen.label}: {event}",
        payload=payload,
        actor=actor,
        rank=order_rank(specimen.order),
        patient_uuid=specimen.order.patient.uuid,
    )


def queue_acknowledgement(*, alert: CriticalAlert, actor: User) -> OutboxItem:
    assert alert.acknowledged_at is not None
    return _enqueue(
        kind=ACKNOWLEDGE,
        label=f"{alert.observation.display}: {alert.action_taken[:100]}",
        payload={
            "alert": str(alert.uuid),
            "action_taken": alert.action_taken,
            "acknowledged_at": alert.acknowledged_at.isoformat(),
        },
        actor=actor,
        rank=ACKNOWLEDGEMENT_RANK,
        patient_uuid=alert.patient.uuid,
    )


def queue_review(*, report: DiagnosticReport, actor: User) -> OutboxItem:
    """The orderer reviewed a result that needed explaining: the hub releases it to the
    patient (and tells them) as if reviewed there."""
    assert report.reviewed_at is not None
    return _enqueue(
        kind=REVIEW,
        label=f"{report.display}: {report.reviewed_at:%Y-%m-%d %H:%M}",
        payload={"report": str(report.uuid), "reviewed_at": report.reviewed_at.isoformat()},
        actor=actor,
        rank=order_rank(report.order) if report.order else 2,
        patient_uuid=report.patient.uuid,
    )


def waiting(**payload: str) -> bool:
    """Whether a diagnostic record matching `payload` (e.g. order=…, label=…) still waits to
    cross: what the post did wins at the post until the hub has applied it."""
    lookups = {f"payload__{key}": value for key, value in payload.items()}
    return OutboxItem.objects.filter(kind__in=KINDS, state__in=PENDING_STATES, **lookups).exists()
