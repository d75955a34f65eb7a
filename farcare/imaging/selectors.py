"""Reads of imaging: the hub that reads a facility's images, a radiologist's worklist, and a
study's series and slices."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet

from farcare.accounts.models import Role, User
from farcare.diagnostics.models import Capability, Category, DiagnosticOrder, OrderStatus
from farcare.network.models import Facility
from farcare.network.selectors import referral_chain
from farcare.patients.models import Patient

from .access import visible_studies
from .models import ImagingInstance, ImagingStudy, ReadingStatus
from .reading_rules import worklist_key

__all__ = [
    "SeriesSlices",
    "makes_images",
    "open_imaging_orders",
    "reading_facility_for",
    "reading_worklist",
    "study_series",
]


def reading_facility_for(facility: Facility) -> Facility | None:
    """Whose radiologists read the images made at `facility`: the facility itself when it reads
    images (`Capability.reads_images`), else the nearest facility up its referral chain that
    does (breadth first, by the links' rank), else None (the study waits unassigned). Never a
    facility abroad: the study is routed before anyone asks whether the patient consented to
    the transfer of their data abroad, so it stays at home (decisions §14)."""
    candidates = [
        f
        for f in [facility, *(step.facility for step in referral_chain(facility))]
        if f.country == settings.FARCARE_HOME_COUNTRY
    ]
    readers = set(
        Capability.objects.filter(
            facility_id__in=[f.pk for f in candidates],
            category=Category.IMAGING,
            reads_images=True,
        ).values_list("facility_id", flat=True)
    )
    return next((f for f in candidates if f.pk in readers), None)


def reading_worklist(user: User, *, include_reported: bool = False) -> list[ImagingStudy]:
    """The studies the radiologist's facility reads, not yet reported (or all), most pressing
    priority first, then by deadline, then the oldest."""
    if user.role != Role.RADIOLOGIST or user.facility_id is None:
        return []
    # visible_studies: a reader abroad lists only the studies of patients who consented to
    # the transfer of their data abroad (as decide_study lets them open).
    studies: QuerySet[ImagingStudy] = visible_studies(user).select_related(
        "patient", "facility", "reader", "order"
    )
    if not include_reported:
        studies = studies.exclude(reading_status=ReadingStatus.REPORTED)
    return sorted(studies[:500], key=lambda s: worklist_key(s.priority, s.due_at, s.created_at))


@dataclass(frozen=True)
class SeriesSlices:
    series_uid: str
    number: int | None
    modality: str
    description: str
    instances: list[ImagingInstance]


def study_series(study: ImagingStudy) -> list[SeriesSlices]:
    """The study's series in order, each with its instances by instance number."""
    grouped: dict[str, list[ImagingInstance]] = {}
    for instance in study.instances.all():
        grouped.setdefault(instance.series_uid, []).append(instance)
    series = [
        SeriesSlices(
            series_uid=uid,
            number=rows[0].series_number,
            modality=rows[0].modality,
            description=rows[0].series_description,
            instances=sorted(rows, key=lambda r: (r.instance_number or 0, r.pk)),
        )
        for uid, rows in grouped.items()
    ]
    return sorted(series, key=lambda s: (s.number if s.number is not None else 0, s.series_uid))


def makes_images(facility: Facility | None) -> bool:
    """The facility makes images (an imaging Capability: a district hospital's X-ray, a hub's
    CT), so its clinicians add studies on the page "Add images"."""
    return facility is not None and (
        Capability.objects.filter(facility=facility, category=Category.IMAGING).exists()
    )


def open_imaging_orders(patient: Patient) -> QuerySet[DiagnosticOrder]:
    """The patient's imaging orders still waiting for their images."""
    return (
        DiagnosticOrder.objects.filter(
            patient=patient, category=Category.IMAGING, status=OrderStatus.ACTIVE
        )
        .prefetch_related("tests")
        .order_by("-created_at")
    )
