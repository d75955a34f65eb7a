"""Reads of diagnostics. Lists of patient data go through the access policy's scope; the
callers (pages, FHIR) write the audit record listing the patients shown."""

from __future__ import annotations

from django.db.models import Q, QuerySet

from farcare.access.policy import is_abroad, visible_patients
from farcare.accounts.models import Role, User
from farcare.patients.models import Patient

from .models import (
    AlertStatus,
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    ResultObservation,
    Specimen,
    SpecimenStatus,
)


def _active(user: User | None) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def orders_placed(user: User) -> QuerySet[DiagnosticOrder]:
    """Orders the user placed, or placed at their facility (a clinician)."""
    if not _active(user) or is_abroad(user):
        return DiagnosticOrder.objects.none()
    mine = Q(orderer=user)
    if user.role == Role.CLINICIAN and user.facility_id:
        mine |= Q(ordering_facility_id=user.facility_id)
    # Only patients the user may still see (moved away, a consultation ended: gone).
    return DiagnosticOrder.objects.filter(
        mine, patient__in=visible_patients(user).values("pk")
    ).select_related("patient", "performer", "ordering_facility")


def laboratory_worklist(user: User) -> QuerySet[Specimen]:
    """Specimens of orders performed at the user's facility that are on the way or received,
    most urgent first."""
    if not _active(user) or is_abroad(user) or user.role != Role.LABORATORY:
        return Specimen.objects.none()
    return (
        Specimen.objects.filter(
            order__performer_id=user.facility_id,
            status__in=(SpecimenStatus.COLLECTED, SpecimenStatus.SHIPPED, SpecimenStatus.RECEIVED),
        )
        .select_related("order__patient")
        .order_by("order__due_at", "pk")
    )


def reports_for_patient(user: User, patient: Patient) -> QuerySet[DiagnosticReport]:
    """Every report of the patient, for a user whose access the caller has checked
    (`access.services.authorise`)."""
    if not visible_patients(user).filter(pk=patient.pk).exists():
        return DiagnosticReport.objects.none()
    return DiagnosticReport.objects.filter(patient=patient).select_related("order", "performer")


def released_reports(patient: Patient) -> QuerySet[DiagnosticReport]:
    """What the patient sees of their own results: released reports only."""
    return DiagnosticReport.objects.filter(patient=patient, released_at__isnull=False)


def current_observations(report: DiagnosticReport) -> QuerySet[ResultObservation]:
    return ResultObservation.objects.filter(report=report, superseded_by__isnull=True)


def latest_version(observation: ResultObservation) -> ResultObservation:
    """The value as it stands now: the last row of its chain of corrections."""
    if observation.superseded_by_id is None:
        return observation
    if observation.first_uuid is not None:
        found = ResultObservation.objects.filter(
            first_uuid=observation.first_uuid, superseded_by__isnull=True
        ).first()
        if found is not None:
            return found
    row, seen = observation, 0
    while row.superseded_by_id is not None and seen < 100:
        row, seen = ResultObservation.objects.get(pk=row.superseded_by_id), seen + 1
    return row


def open_alerts(user: User) -> QuerySet[CriticalAlert]:
    """Alerts waiting for the user: sent to them, or escalated to them (a clinician or
    coordinator who may see the patient)."""
    if not _active(user) or is_abroad(user):
        return CriticalAlert.objects.none()
    waiting = CriticalAlert.objects.filter(
        status__in=(AlertStatus.OPEN, AlertStatus.ESCALATED)
    ).select_related("observation__report__order", "patient")
    mine = Q(recipient=user)
    if user.role in (Role.CLINICIAN, Role.COORDINATOR):
        mine |= Q(status=AlertStatus.ESCALATED)
    seen = visible_patients(user).values("pk")
    return waiting.filter(mine, patient__in=seen).order_by("ack_deadline")


def observation_history(patient: Patient, code: str) -> QuerySet[ResultObservation]:
    """Every version of every value of a code for the patient, oldest first (corrections keep
    the rows they replace: `superseded_by`)."""
    return ResultObservation.objects.filter(patient=patient, code=code).order_by(
        "effective_at", "created_at", "pk"
    )
