"""The shapes of diagnostics that cross the link from the hub to a station (issue 13): an order
with its tests and tubes, a report with its values (every version: corrections keep the rows
they replace) and its critical alerts. One module for both ends, so that what the hub writes is
what the station reads. People and facilities go by UUID: the station links its own staff and
its copy of the network, and keeps a name for anyone else."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from farcare.diagnostics.models import (
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    ResultObservation,
    Specimen,
)


def when(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _uuid(obj: Any) -> str | None:
    return str(obj.uuid) if obj is not None else None


def _number(value: Decimal | None) -> str | None:
    return str(value) if value is not None else None


def _name(user: Any) -> str:
    return (user.get_full_name() or user.username) if user is not None else ""


def specimen_copy(specimen: Specimen) -> dict[str, Any]:
    return {
        "uuid": str(specimen.uuid),
        "label": specimen.label,
        "kind": specimen.kind,
        "status": specimen.status,
        "collected_at": when(specimen.collected_at),
        "collected_by": _uuid(specimen.collected_by),
        "batch": specimen.batch,
        "transport": specimen.transport,
        "shipped_at": when(specimen.shipped_at),
        "received_at": when(specimen.received_at),
        "rejected_at": when(specimen.rejected_at),
        "rejection_reason": specimen.rejection_reason,
        "rejection_note": specimen.rejection_note,
        "version": specimen.version,
    }


def order_copy(order: DiagnosticOrder) -> dict[str, Any]:
    return {
        "uuid": str(order.uuid),
        "client_token": str(order.client_token),
        "patient": str(order.patient.uuid),
        "orderer": str(order.orderer.uuid),
        "ordering_facility": str(order.ordering_facility.uuid),
        "performer": _uuid(order.performer),
        "category": order.category,
        "priority": order.priority,
        "reason": order.reason,
        "status": order.status,
        "placer_number": order.placer_number,
        "filler_number": order.filler_number,
        "placed_at": when(order.placed_at),
        "due_at": when(order.due_at),
        "note": order.note,
        "version": order.version,
        "tests": [
            {
                "code": t.code,
                "display": t.display,
                "modality": t.modality,
                "body_site": t.body_site,
            }
            for t in order.tests.all()
        ],
        "specimens": [specimen_copy(s) for s in order.specimens.all()],
    }


def observation_copy(value: ResultObservation) -> dict[str, Any]:
    return {
        "uuid": str(value.uuid),
        "code": value.code,
        "display": value.display,
        "value_type": value.value_type,
        "value_number": _number(value.value_number),
        "value_text": value.value_text,
        "unit": value.unit,
        "reference_low": _number(value.reference_low),
        "reference_high": _number(value.reference_high),
        "reference_text": value.reference_text,
        "interpretation": value.interpretation,
        "status": value.status,
        "performer": _uuid(value.performer),
        "effective_at": when(value.effective_at),
        "issued_at": when(value.issued_at),
        "sequence": value.sequence,
        "superseded_by": _uuid(value.superseded_by),
        "first_uuid": str(first) if (first := getattr(value, "first_uuid", None)) else None,
    }


def alert_copy(alert: CriticalAlert, observation: ResultObservation) -> dict[str, Any]:
    return {
        "uuid": str(alert.uuid),
        "observation": str(observation.uuid),
        "recipient": _uuid(alert.recipient),
        "kind": alert.kind,
        "status": alert.status,
        "raised_at": when(alert.raised_at),
        "ack_deadline": when(alert.ack_deadline),
        "escalated_at": when(alert.escalated_at),
        "escalated_again_at": when(getattr(alert, "escalated_again_at", None)),
        "acknowledged_at": when(alert.acknowledged_at),
        "acknowledged_by": _uuid(alert.acknowledged_by),
        "acknowledged_by_name": _name(alert.acknowledged_by),
        "action_taken": alert.action_taken,
        "version": alert.version,
    }


def report_copy(report: DiagnosticReport) -> dict[str, Any]:
    values = list(report.observations.all())
    return {
        "uuid": str(report.uuid),
        "patient": str(report.patient.uuid),
        "order": _uuid(report.order),
        "performer": _uuid(report.performer),
        "author": _uuid(report.author),
        "author_name": _name(report.author),
        "category": report.category,
        "code": report.code,
        "display": report.display,
        "status": report.status,
        "source": report.source,
        "external_id": report.external_id,
        "filler_number": report.filler_number,
        "effective_at": when(report.effective_at),
        "issued_at": when(report.issued_at),
        "findings": report.findings,
        "conclusion": report.conclusion,
        "conclusion_codes": report.conclusion_codes,
        "review_required": report.review_required,
        "reviewed_at": when(report.reviewed_at),
        "reviewed_by": _uuid(report.reviewed_by),
        "released_at": when(report.released_at),
        "version": report.version,
        "observations": [observation_copy(v) for v in values],
        "alerts": [alert_copy(a, v) for v in values for a in v.critical_alerts.all()],
    }
