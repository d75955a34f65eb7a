"""Reads of imaging: the hub that reads a facility's images, a radiologist's worklist, and a
study's series and slices."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import QuerySet

from farcare.accounts.models import Role, User
from farcare.diagnostics.models import Capability, Category
from farcare.network.models import Facility
from farcare.network.selectors import referral_chain

from .models import ImagingInstance, ImagingStudy, ReadingStatus
from .reading_rules import worklist_key

__all__ = ["SeriesSlices", "reading_facility_for", "reading_worklist", "study_series"]


def reading_facility_for(facility: Facility) -> Facility | None:
    """Whose radiologists read the images made at `facility`: the facility itself when it reads
    images (`Capability.reads_images`), else the nearest facility up its referral chain that
    does (breadth first, by the links' rank), else None (the study waits unassigned)."""
    candidates = [facility, *(step.facility for step in referral_chain(facility))]
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
    studies: QuerySet[ImagingStudy] = ImagingStudy.objects.filter(
        reading_facility_id=user.facility_id
    ).select_related("patient", "facility", "reader")
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
