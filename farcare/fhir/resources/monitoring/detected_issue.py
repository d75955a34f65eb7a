"""DetectedIssue ↔ monitoring.MonitoringAlert (issue 17): what a plan's rule found.

severity high / moderate / low (critical / urgent / watch); code the kind of rule
(urn:farcare:monitoring-alert-kind: threshold, repeated_threshold, trend, missed_reading);
implicated the readings (Observation); status preliminary while open or escalated, final once
acknowledged (mitigation: what was done, when, by whom), cancelled when the enrolment ended
first; our exact state, the clinician it was sent to and the acknowledgement deadline in
extensions. Read and search only: an alert is acknowledged on the pages. Flag is not served: a
DetectedIssue already says all an alert is, and a client lists the open ones by status."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.monitoring.models import AlertStatus, MonitoringAlert
from farcare.patients.models import Patient

from ...auth import Principal
from ...registry import Handler, Include, SearchParam, register
from ..consultation.common import _person
from ..diagnostics.common import negated, nothing, patient_reference, when
from .common import (
    ACK_DEADLINE_EXTENSION,
    ALERT_KIND_SYSTEM,
    ALERT_STATUS_EXTENSION,
    MITIGATION_SYSTEM,
    RECIPIENT_EXTENSION,
    measure_display,
    measure_unit,
    status_q,
)

SEVERITY = {"critical": "high", "urgent": "moderate", "watch": "low"}
DETECTED_ISSUE_STATUS: dict[str, str] = {
    AlertStatus.OPEN: "preliminary",
    AlertStatus.ESCALATED: "preliminary",
    AlertStatus.ACKNOWLEDGED: "final",
    AlertStatus.CLOSED: "cancelled",
}


def _severity_q(modifier: str, system: str, code: str) -> Q:
    wanted = [ours for ours, theirs in SEVERITY.items() if theirs == code]
    return negated(Q(severity__in=wanted) if wanted else nothing(), modifier)


def _kind_q(modifier: str, system: str, code: str) -> Q:
    if system and system != ALERT_KIND_SYSTEM:
        return negated(nothing(), modifier)
    return negated(Q(kind=code), modifier)


def _values(detail: dict[str, Any]) -> str:
    """The readings the alert quotes: "190/115 at 2026-12-07T05:00:00+00:00"."""
    shown = []
    for value in detail.get("values") or []:
        if not isinstance(value, dict):
            continue
        numbers = "/".join(str(v) for k, v in value.items() if k != "at")
        shown.append(f"{numbers} at {value.get('at', '?')}")
    return "; ".join(shown)


def _alert_detail(obj: MonitoringAlert) -> str:
    name = measure_display(obj.measure).lower()
    unit = f" {measure_unit(obj.measure)}" if measure_unit(obj.measure) else ""
    detail = obj.detail if isinstance(obj.detail, dict) else {}
    text = {
        "threshold": f"A reading of {name} crossed a threshold of the plan ({obj.rule})",
        "repeated_threshold": f"Readings of {name} over a threshold in a row ({obj.rule})",
        "trend": f"A trend in {name} ({obj.rule})",
        "missed_reading": f"No reading of {name} within its window",
    }.get(obj.kind, f"{obj.kind}: {name}")
    facts = [f"{key.replace('_', ' ')} {value}" for key, value in sorted(detail.items())]
    facts = [fact for fact in facts if not fact.startswith("values ")]
    values = _values(detail)
    if values:
        facts.append(f"readings{unit}: {values}")
    return f"{text}. {', '.join(facts)}." if facts else f"{text}."


@register
class DetectedIssueHandler(Handler):
    resource_type = "DetectedIssue"
    model = MonitoringAlert
    updated_field = "updated_at"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=status_q(DETECTED_ISSUE_STATUS)),
        "code": SearchParam("token", to_q=_kind_q),
        "identified": SearchParam("date", "raised_at", sortable=True),
        "implicated": SearchParam("reference", "readings__uuid", target="Observation"),
        "severity": SearchParam("token", to_q=_severity_q),
    }
    includes = (Include("patient", "Patient", "patient"),)

    def all_objects(self) -> QuerySet[MonitoringAlert]:
        return MonitoringAlert.objects.select_related(
            "patient",
            "enrolment__facility",
            "recipient__practitioner",
            "acknowledged_by__practitioner",
        ).prefetch_related("readings")

    def queryset(self, principal: Principal) -> QuerySet[MonitoringAlert]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: MonitoringAlert) -> Patient:
        return obj.patient

    def to_fhir(self, obj: MonitoringAlert) -> dict[str, Any]:
        kind_display = obj.kind.replace("_", " ")
        resource: dict[str, Any] = {
            "resourceType": "DetectedIssue",
            "id": str(obj.uuid),
            "status": DETECTED_ISSUE_STATUS[AlertStatus(obj.status)],
            "code": {
                "coding": [
                    {"system": ALERT_KIND_SYSTEM, "code": obj.kind, "display": kind_display}
                ],
                "text": kind_display,
            },
            "severity": SEVERITY.get(obj.severity, "low"),
            "patient": patient_reference(obj.patient),
            "identifiedDateTime": when(obj.raised_at),
            # The plan's rules found it; the clinician it was sent to is in the extension.
            "author": {"display": "FarCare remote monitoring rules"},
            "detail": _alert_detail(obj),
            "extension": [
                {"url": ALERT_STATUS_EXTENSION, "valueCode": obj.status},
                {"url": RECIPIENT_EXTENSION, "valueReference": _person(obj.recipient, None)},
                {"url": ACK_DEADLINE_EXTENSION, "valueDateTime": when(obj.ack_deadline)},
            ],
        }
        readings = sorted(obj.readings.all(), key=lambda r: (r.taken_at, r.pk))
        if readings:
            resource["implicated"] = [{"reference": f"Observation/{r.uuid}"} for r in readings]
        if obj.status == AlertStatus.ACKNOWLEDGED and obj.acknowledged_at is not None:
            mitigation: dict[str, Any] = {
                "action": {
                    "coding": [
                        {
                            "system": MITIGATION_SYSTEM,
                            "code": "acknowledged",
                            "display": "Acknowledged",
                        }
                    ],
                    "text": obj.ack_note or "Acknowledged",
                },
                "date": when(obj.acknowledged_at),
            }
            if obj.acknowledged_by is not None:
                mitigation["author"] = _person(obj.acknowledged_by, None)
            resource["mitigation"] = [mitigation]
        return resource

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        return [instance] if isinstance(instance, MonitoringAlert) else []
