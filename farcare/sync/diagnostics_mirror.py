"""At a station: the hub's diagnostics for the post's patients, kept as the station's own rows
under the hub's UUIDs (issue 13), so that the station's pages (the post's orders, a patient's
results, a critical alert to acknowledge) show them as the hub's pages do. The post's
clinicians ordered these tests: they see every report the hub shows them, released to the
patient or not.

What the post did and has not yet sent (an order cancelled, a tube collected, an alert
acknowledged) wins here until the hub has applied it; then the hub's copy does. A member of
staff the station does not know (the laboratory's, a district doctor who acknowledged) is left
unlinked."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from farcare.accounts.models import User
from farcare.diagnostics.models import (
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    OrderedTest,
    ResultObservation,
    Specimen,
)
from farcare.network.models import Facility
from farcare.patients.models import Patient

from .diagnostics_out import waiting


def _time(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _required(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _number(value: str | None) -> Decimal | None:
    return Decimal(value) if value is not None else None


class _Known:
    """The station's own rows by UUID, looked up once per pull."""

    def __init__(self) -> None:
        self.users: dict[str, User | None] = {}
        self.facilities: dict[str, Facility | None] = {}

    def user(self, value: str | None) -> User | None:
        if not value:
            return None
        if value not in self.users:
            self.users[value] = User.objects.filter(uuid=value).first()
        return self.users[value]

    def facility(self, value: str | None) -> Facility | None:
        if not value:
            return None
        if value not in self.facilities:
            self.facilities[value] = Facility.objects.filter(uuid=value).first()
        return self.facilities[value]


def mirror(data: dict[str, list[dict[str, Any]]]) -> int:
    """Apply a pull's diagnostics; returns how many orders and reports came."""
    known = _Known()
    orders = data.get("orders") or []
    reports = data.get("reports") or []
    for copy in orders:
        _order(copy, known)
    for copy in reports:
        _report(copy, known)
    return len(orders) + len(reports)


def _order(copy: dict[str, Any], known: _Known) -> None:
    order = DiagnosticOrder.objects.filter(uuid=copy["uuid"]).first()
    if order is None:
        patient = Patient.objects.filter(uuid=copy["patient"]).first()
        orderer = known.user(copy["orderer"])
        facility = known.facility(copy["ordering_facility"])
        if patient is None or orderer is None or facility is None:
            # Ordered by someone the post does not know (a consultant, a district doctor): its
            # reports still come, without the order.
            return
        order = DiagnosticOrder(
            uuid=copy["uuid"],
            client_token=copy["client_token"],
            patient=patient,
            orderer=orderer,
            ordering_facility=facility,
            category=copy["category"],
            reason=copy["reason"],
        )
    elif waiting(order=copy["uuid"]) and order.status != copy["status"]:
        return  # a cancellation still on its way to the hub
    for name in ("priority", "status", "placer_number", "filler_number", "note", "version"):
        setattr(order, name, copy[name])
    order.performer = known.facility(copy["performer"])
    order.placed_at = _time(copy["placed_at"])
    order.due_at = _time(copy["due_at"])
    order.save()
    if not order.tests.exists():
        OrderedTest.objects.bulk_create([OrderedTest(order=order, **t) for t in copy["tests"]])
    for tube in copy["specimens"]:
        _specimen(order, tube, known)


def _specimen(order: DiagnosticOrder, copy: dict[str, Any], known: _Known) -> None:
    if waiting(label=copy["label"]):
        return  # collected or shipped here; the hub has not applied it yet
    specimen = Specimen.objects.filter(label=copy["label"]).first() or Specimen(
        uuid=copy["uuid"], order=order, label=copy["label"]
    )
    for name in (
        "kind",
        "status",
        "batch",
        "transport",
        "rejection_reason",
        "rejection_note",
        "version",
    ):
        setattr(specimen, name, copy[name])
    for name in ("collected_at", "shipped_at", "received_at", "rejected_at"):
        setattr(specimen, name, _time(copy[name]))
    specimen.collected_by = known.user(copy["collected_by"]) or specimen.collected_by
    specimen.save()


def _report(copy: dict[str, Any], known: _Known) -> None:
    patient = Patient.objects.filter(uuid=copy["patient"]).first()
    if patient is None or waiting(report=copy["uuid"]):
        return  # reviewed here; the hub has not applied it yet
    report = DiagnosticReport.objects.filter(uuid=copy["uuid"]).first() or DiagnosticReport(
        uuid=copy["uuid"], patient=patient
    )
    report.order = (
        DiagnosticOrder.objects.filter(uuid=copy["order"]).first() if copy["order"] else None
    )
    for name in (
        "category",
        "code",
        "display",
        "status",
        "source",
        "external_id",
        "filler_number",
        "findings",
        "conclusion",
        "conclusion_codes",
        "review_required",
        "version",
    ):
        setattr(report, name, copy[name])
    for name in ("effective_at", "reviewed_at", "released_at"):
        setattr(report, name, _time(copy[name]))
    report.issued_at = _required(copy["issued_at"])
    report.performer = known.facility(copy["performer"])
    report.author = known.user(copy["author"])
    report.reviewed_by = known.user(copy["reviewed_by"])
    report.save()
    values = {str(v.uuid): v for v in ResultObservation.objects.filter(report=report)}
    for entry in copy["observations"]:
        if entry["uuid"] not in values:
            values[entry["uuid"]] = _observation(report, patient, entry, known)
    # Corrections point at what replaced them, once both rows are here.
    for entry in copy["observations"]:
        newer = values.get(entry["superseded_by"] or "")
        row = values[entry["uuid"]]
        if newer is not None and row.superseded_by_id != newer.pk:
            row.superseded_by = newer
            row.save(update_fields=["superseded_by"])
    for entry in copy["alerts"]:
        observation = values.get(entry["observation"])
        if observation is not None:
            _alert(observation, patient, entry, known)


def _observation(
    report: DiagnosticReport, patient: Patient, copy: dict[str, Any], known: _Known
) -> ResultObservation:
    row = ResultObservation(
        uuid=copy["uuid"],
        report=report,
        patient=patient,
        code=copy["code"],
        display=copy["display"],
        value_type=copy["value_type"],
        value_number=_number(copy["value_number"]),
        value_text=copy["value_text"],
        unit=copy["unit"],
        reference_low=_number(copy["reference_low"]),
        reference_high=_number(copy["reference_high"]),
        reference_text=copy["reference_text"],
        interpretation=copy["interpretation"],
        status=copy["status"],
        performer=known.facility(copy["performer"]),
        effective_at=_required(copy["effective_at"]),
        issued_at=_required(copy["issued_at"]),
        sequence=copy["sequence"],
    )
    if copy.get("first_uuid") and hasattr(row, "first_uuid"):
        row.first_uuid = copy["first_uuid"]
    row.save()
    return row


def _alert(
    observation: ResultObservation, patient: Patient, copy: dict[str, Any], known: _Known
) -> None:
    if waiting(alert=copy["uuid"]):
        return  # acknowledged here; the hub has not applied it yet
    alert = CriticalAlert.objects.filter(uuid=copy["uuid"]).first() or CriticalAlert(
        uuid=copy["uuid"], observation=observation, patient=patient
    )
    for name in ("kind", "status", "action_taken", "version"):
        setattr(alert, name, copy[name])
    for name in ("raised_at", "ack_deadline", "escalated_at", "acknowledged_at"):
        setattr(alert, name, _time(copy[name]))
    if hasattr(alert, "escalated_again_at"):
        alert.escalated_again_at = _time(copy.get("escalated_again_at"))
    alert.recipient = known.user(copy["recipient"])
    alert.acknowledged_by = known.user(copy["acknowledged_by"])
    alert.save()
