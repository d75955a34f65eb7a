"""Imaging studies read remotely (issue 13): a study made at a district hospital (or crossing
from a station) kept in a PACS reached over DICOMweb when `FARCARE_DICOMWEB_URL` is set, else in
FarCare's own storage (`ImagingInstance.file`), on a hub radiologist's reading worklist by
priority and deadline, and reported in a signed `diagnostics.DiagnosticReport`."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class StudyStatus(models.TextChoices):
    """FHIR ImagingStudy.status, with the reading's progress beside it (`reading`)."""

    REGISTERED = "registered", _("registered")
    AVAILABLE = "available", _("available")
    CANCELLED = "cancelled", _("cancelled")
    ENTERED_IN_ERROR = "entered-in-error", _("entered in error")


class ReadingStatus(models.TextChoices):
    WAITING = "waiting", _("waiting to be read")
    READING = "reading", _("being read")
    REPORTED = "reported", _("reported")


class Storage(models.TextChoices):
    EMBEDDED = "embedded", _("FarCare's own storage")
    PACS = "pacs", _("PACS (DICOMweb)")


class ImagingStudy(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    study_uid = models.CharField(max_length=64, unique=True)  # DICOM StudyInstanceUID
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.PROTECT, related_name="imaging_studies"
    )
    order = models.ForeignKey(
        "diagnostics.DiagnosticOrder",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="imaging_studies",
    )
    # Where the study was made, and the hub whose radiologists read it.
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    reading_facility = models.ForeignKey(
        "network.Facility",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="imaging_reading_worklist",
    )
    modality = models.CharField(max_length=8)  # DICOM modality of the first series
    body_site = models.CharField(max_length=40, blank=True)
    description = models.CharField(max_length=200, blank=True)
    accession_number = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(
        max_length=20, choices=StudyStatus.choices, default=StudyStatus.AVAILABLE
    )
    storage = models.CharField(max_length=10, choices=Storage.choices)
    priority = models.CharField(max_length=8, default="routine")  # diagnostics.Priority
    due_at = models.DateTimeField(null=True, blank=True, db_index=True)
    reading_status = models.CharField(
        max_length=10, choices=ReadingStatus.choices, default=ReadingStatus.WAITING, db_index=True
    )
    reader = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    claimed_at = models.DateTimeField(null=True, blank=True)
    reported_at = models.DateTimeField(null=True, blank=True)
    report = models.OneToOneField(
        "diagnostics.DiagnosticReport",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="imaging_study",
    )
    series_count = models.PositiveIntegerField(default=0)
    instance_count = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        ordering = ["due_at", "created_at"]
        verbose_name_plural = "imaging studies"

    def __str__(self) -> str:
        return f"{self.modality} {self.body_site or ''} {self.study_uid}".replace("  ", " ")


class ImagingInstance(models.Model):
    """One DICOM instance of a study; its bytes are in `file` when the study is kept in
    FarCare's own storage, else in the PACS (fetched by WADO-RS)."""

    study = models.ForeignKey(ImagingStudy, on_delete=models.CASCADE, related_name="instances")
    series_uid = models.CharField(max_length=64)
    series_number = models.IntegerField(null=True, blank=True)
    series_description = models.CharField(max_length=200, blank=True)
    modality = models.CharField(max_length=8)
    sop_uid = models.CharField(max_length=64, unique=True)
    sop_class_uid = models.CharField(max_length=64)
    instance_number = models.IntegerField(null=True, blank=True)
    frames = models.PositiveIntegerField(default=1)
    file = models.FileField(upload_to="imaging/%Y/%m/", blank=True)
    size = models.PositiveBigIntegerField(default=0)
    # DICOM Burned In Annotation (0028,0301) as the file says it, "" when it does not: only an
    # image marked "NO" is shown to a reader abroad (decisions §14).
    burned_in_annotation = models.CharField(max_length=8, blank=True)

    class Meta:
        ordering = ["series_number", "series_uid", "instance_number", "id"]

    @property
    def may_go_abroad(self) -> bool:
        return self.burned_in_annotation.strip().upper() == "NO"

    def __str__(self) -> str:
        return f"{self.modality} {self.series_number}/{self.instance_number} {self.sop_uid}"


class PacsPoll(models.Model):
    """Where `farcare imaging import-from-pacs` got to with a PACS: the time of its last
    finished poll (the next asks QIDO-RS for studies since the day before it)."""

    pacs_url = models.CharField(max_length=300, unique=True)
    polled_at = models.DateTimeField()
    studies_registered = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.pacs_url} @ {self.polled_at:%Y-%m-%d %H:%M}"
