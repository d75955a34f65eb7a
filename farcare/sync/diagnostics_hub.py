"""The hub's side of diagnostics at a station (issue 13): applying what the post did offline
(an order, a tube collected or shipped, an order cancelled, a critical result acknowledged, a
result reviewed)
through the diagnostics services as the person who did it, and what a station pulls back: every
order of its patients and every report, with values and alerts, changed since its cursor.

An acknowledgement made at both ends: the first to be recorded at the hub stands (who, when,
what was done); the other is not lost: it is written to the audit trail with its own time and
action, and the station takes the hub's acknowledgement at its next pull. An acknowledgement
made offline counts from when the feldsher made it, not from when it crossed.

Refusals are `ValidationError`s (the push answers them item by item, in the actor's language)."""

from __future__ import annotations

import uuid as uuid_lib
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import station_patients
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.diagnostics.models import (
    AlertStatus,
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    OrderStatus,
    Specimen,
    SpecimenStatus,
)
from farcare.diagnostics.services.critical import critical_acknowledge
from farcare.diagnostics.services.ordering import order_cancel, order_place
from farcare.diagnostics.services.results import report_review
from farcare.diagnostics.services.specimens import specimen_collect, specimen_ship
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .diagnostics_records import order_copy, report_copy
from .models import Station

# ---------------------------------------------------------------- push


def _time(value: Any) -> datetime:
    moment = datetime.fromisoformat(str(value))
    if moment.tzinfo is None:
        raise ValueError("a time without its zone")
    return min(moment, timezone.now())  # a station's clock ahead of the hub's


def _patient(station: Station, value: Any) -> Patient:
    patient = station_patients(station.facility).filter(uuid=value).first()
    if patient is None:
        raise ValidationError(_("The patient is not known to the hub yet."))
    return patient


def _order(station: Station, value: Any) -> DiagnosticOrder:
    order = (
        DiagnosticOrder.objects.select_related("patient", "ordering_facility", "orderer")
        .filter(uuid=uuid_lib.UUID(str(value)), patient__in=station_patients(station.facility))
        .first()
    )
    if order is None:
        raise ValidationError(_("The order is not known to the hub yet."))
    return order


def order_placed(station: Station, accessor: Accessor, payload: dict[str, Any]) -> dict[str, Any]:
    order = DiagnosticOrder.objects.filter(
        client_token=uuid_lib.UUID(str(payload["client_token"]))
    ).first()
    if order is not None and str(order.uuid) != str(payload["order"]):
        raise ValidationError(_("This form was used for another order."))
    if order is None:
        number = str(payload["placer_number"])
        if DiagnosticOrder.objects.filter(placer_number=number).exists():
            raise ValidationError(
                _("The order number %(number)s is already used at the hub.") % {"number": number}
            )
        performer = (
            Facility.objects.filter(uuid=payload["performer"]).first()
            if payload.get("performer")
            else None
        )
        consultation = None
        if payload.get("consultation"):
            consultation = Consultation.objects.filter(uuid=payload["consultation"]).first()
        order = order_place(
            accessor=accessor,
            patient=_patient(station, payload["patient"]),
            category=str(payload["category"]),
            codes=[str(code) for code in payload["codes"]],
            reason=str(payload["reason"]),
            priority=str(payload["priority"]),
            client_token=uuid_lib.UUID(str(payload["client_token"])),
            consultation=consultation,
            performer=performer,
            specimen_kind=payload.get("specimen_kind"),
            uuid=uuid_lib.UUID(str(payload["order"])),
            placer_number=number,
        )
        labels = sorted(order.specimens.values_list("label", flat=True))
        if labels != sorted(str(label) for label in payload.get("labels") or []):
            # The tubes at the post carry labels the laboratory would not find.
            raise ValidationError(_("The tubes' labels differ from the hub's for this order."))
    return {
        "order": str(order.uuid),
        "placer_number": order.placer_number,
        "performer": str(order.performer.uuid) if order.performer else None,
    }


def order_cancelled(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    order = _order(station, payload["order"])
    if order.status != OrderStatus.REVOKED:
        order = order_cancel(
            accessor=accessor, order=order, reason=str(payload["reason"]), version=order.version
        )
    return {"order": str(order.uuid), "status": order.status}


def specimen_changed(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    """A tube collected or shipped at the post; a step already taken at the hub is not taken
    again (the laboratory may have received the tube before the post's record arrived)."""
    order = _order(station, payload["order"])
    specimen = Specimen.objects.filter(order=order, label=str(payload["label"])).first()
    if specimen is None:
        raise ValidationError(_("The specimen is not known to the hub yet."))
    event = payload["event"]
    done = False
    if event == "collect":
        if specimen.status == SpecimenStatus.AWAITING:
            specimen = specimen_collect(
                accessor=accessor, specimen=specimen, collected_at=_time(payload["collected_at"])
            )
            done = True
    elif event == "ship":
        if specimen.status == SpecimenStatus.COLLECTED:
            specimen = specimen_ship(
                accessor=accessor,
                specimens=[specimen],
                batch=str(payload["batch"]),
                transport=str(payload["transport"]),
            )[0]
            # When it left the post, not when the record crossed.
            specimen.shipped_at = _time(payload["shipped_at"])
            Specimen.objects.filter(pk=specimen.pk).update(shipped_at=specimen.shipped_at)
            done = True
    else:
        raise ValidationError(_("Unknown specimen event: %(event)s") % {"event": event})
    return {"specimen": specimen.label, "status": specimen.status, "applied": done}


def alert_acknowledged(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    # Locked (the push runs in a transaction): an acknowledgement at the hub between this read
    # and the service's own lock would otherwise turn the post's into a refusal, unrecorded.
    alert = (
        CriticalAlert.objects.select_for_update(of=("self",))
        .select_related("patient", "observation", "acknowledged_by")
        .filter(
            uuid=uuid_lib.UUID(str(payload["alert"])),
            patient__in=station_patients(station.facility),
        )
        .first()
    )
    if alert is None:
        raise ValidationError(_("The alert is not known to the hub."))
    at = _time(payload["acknowledged_at"])
    action = str(payload["action_taken"])
    if alert.status == AlertStatus.ACKNOWLEDGED:
        # Acknowledged at both ends: the hub's stands; the post's is kept in the audit trail.
        audit_record(
            accessor=accessor,
            action=AuditAction.UPDATE,
            patient_uuid=alert.patient.uuid,
            record=alert,
            details={
                "event": "acknowledge",
                "kept": "hub",
                "station_acknowledged_at": at.isoformat(),
                "action_taken": action,
            },
        )
        return {"alert": str(alert.uuid), "kept": "hub"}
    alert = critical_acknowledge(
        accessor=accessor,
        alert=alert,
        action_taken=action,
        version=alert.version,
        acknowledged_at=at,
    )
    return {"alert": str(alert.uuid), "kept": "station"}


def report_reviewed(
    station: Station, accessor: Accessor, payload: dict[str, Any]
) -> dict[str, Any]:
    report = (
        DiagnosticReport.objects.select_related("patient", "order")
        .filter(
            uuid=uuid_lib.UUID(str(payload["report"])),
            patient__in=station_patients(station.facility),
        )
        .first()
    )
    if report is None:
        raise ValidationError(_("The report is not known to the hub."))
    if report.reviewed_at is None:
        report = report_review(accessor=accessor, report=report, version=report.version)
    return {"report": str(report.uuid), "released": report.released_at is not None}


HANDLERS = {
    "diag.order": order_placed,
    "diag.cancel": order_cancelled,
    "diag.specimen": specimen_changed,
    "diag.ack": alert_acknowledged,
    "diag.review": report_reviewed,
}


# ---------------------------------------------------------------- pull


def _reports(patients: QuerySet[Patient], cutoff: datetime | None) -> QuerySet[DiagnosticReport]:
    reports = DiagnosticReport.objects.filter(patient__in=patients)
    if cutoff is None:
        return reports
    return reports.filter(
        Q(created_at__gte=cutoff)
        | Q(issued_at__gte=cutoff)
        | Q(reviewed_at__gte=cutoff)
        | Q(released_at__gte=cutoff)
        | Q(observations__created_at__gte=cutoff)
        | Q(observations__critical_alerts__raised_at__gte=cutoff)
        | Q(observations__critical_alerts__escalated_at__gte=cutoff)
        | Q(observations__critical_alerts__escalated_again_at__gte=cutoff)
        | Q(observations__critical_alerts__acknowledged_at__gte=cutoff)
    ).distinct()


def _orders(
    patients: QuerySet[Patient], cutoff: datetime | None, report_orders: set[int]
) -> QuerySet[DiagnosticOrder]:
    orders = DiagnosticOrder.objects.filter(patient__in=patients)
    if cutoff is None:
        return orders
    return orders.filter(
        Q(updated_at__gte=cutoff)
        | Q(pk__in=report_orders)
        | Q(specimens__collected_at__gte=cutoff)
        | Q(specimens__shipped_at__gte=cutoff)
        | Q(specimens__received_at__gte=cutoff)
        | Q(specimens__rejected_at__gte=cutoff)
    ).distinct()


def changes(station: Station, cutoff: datetime | None) -> dict[str, list[dict[str, Any]]]:
    """Orders and reports of the station's patients changed since `cutoff` (all when None), as
    the hub has them: released or not, the post's clinicians ordered them."""
    patients = station_patients(station.facility)
    reports = list(
        _reports(patients, cutoff)
        .select_related("patient", "order", "performer", "author", "reviewed_by")
        .prefetch_related(
            "observations__performer",
            "observations__superseded_by",
            "observations__critical_alerts__recipient",
            "observations__critical_alerts__acknowledged_by",
        )
        .order_by("issued_at", "pk")
    )
    touched = {r.order_id for r in reports if r.order_id is not None}
    orders = (
        _orders(patients, cutoff, touched)
        .select_related("patient", "orderer", "ordering_facility", "performer")
        .prefetch_related("tests", "specimens__collected_by")
        .order_by("created_at", "pk")
    )
    return {
        "orders": [order_copy(o) for o in orders],
        "reports": [report_copy(r) for r in reports],
    }
