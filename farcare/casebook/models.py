from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CaseStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    IN_REVIEW = "in_review", _("in review")
    AWAITING_CLINICIANS = "awaiting_clinicians", _("waiting for the clinicians")
    PUBLISHED = "published", _("published")
    WITHDRAWN = "withdrawn", _("withdrawn")


class TeachingCase(models.Model):
    """A closed consultation de-identified for teaching. Only the de-identified fields and
    `content` are ever shown; `source` and `date_shift_days` stay inside (never on a page)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    # PROTECT: the link is what lets a patient's later refusal find and withdraw the case, so
    # the consultation cannot go while a case made from it exists.
    source = models.ForeignKey(
        "consults.Consultation", on_delete=models.PROTECT, related_name="teaching_cases"
    )
    language = models.CharField(max_length=2, default="ru")
    title = models.CharField(_("title"), max_length=200)
    specialty = models.ForeignKey(
        "network.Specialty", on_delete=models.PROTECT, related_name="+", null=True
    )
    question = models.TextField(_("question"), blank=True)
    summary = models.TextField(_("clinical summary"), blank=True)
    findings = models.TextField(_("findings"), blank=True)
    recommendations = models.TextField(_("recommendations"), blank=True)
    follow_up = models.TextField(_("follow-up"), blank=True)
    teaching_notes = models.TextField(_("teaching notes"), blank=True)
    # The rest of the case: patient (sex, age, place generalised), settings, vitals, thread and
    # timeline with shifted times, diagnoses, outcome (casebook.deidentify).
    content = models.JSONField(default=dict)
    # What was replaced, by kind, with counts (never the originals): shown to the reviewer.
    replaced = models.JSONField(default=dict)
    # Secret: every date of the case moved by this many days (intervals kept).
    date_shift_days = models.IntegerField()
    status = models.CharField(
        max_length=24, choices=CaseStatus.choices, default=CaseStatus.DRAFT, db_index=True
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teaching_cases"
    )
    reviewer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="reviewed_teaching_cases",
    )
    presented_at = models.ForeignKey(
        "training.Session",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="teaching_cases",
        verbose_name=_("presented at"),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    published_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    withdrawn_because = models.CharField(max_length=40, blank=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("teaching case")
        verbose_name_plural = _("teaching cases")
        ordering = ["-updated_at", "pk"]

    def __str__(self) -> str:
        return self.title

    @property
    def code(self) -> str:
        """A short name for the case in files and on pages (no link to the consultation)."""
        return self.uuid.hex[:8].upper()


def case_file_path(instance: CaseFile, filename: str) -> str:
    return f"casebook/{instance.case.uuid}/{uuid.uuid4().hex}"


class CaseFile(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(TeachingCase, on_delete=models.CASCADE, related_name="files")
    position = models.PositiveSmallIntegerField()
    kind = models.CharField(max_length=8)  # image, dicom, text
    name = models.CharField(max_length=40)  # neutral: image-1.jpg
    file = models.FileField(upload_to=case_file_path)
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    preview = models.FileField(upload_to=case_file_path, blank=True)
    preview_content_type = models.CharField(max_length=100, blank=True)

    class Meta:
        ordering = ["case", "position"]
        constraints = [
            models.UniqueConstraint(fields=["case", "position"], name="case_file_position")
        ]

    def __str__(self) -> str:
        return self.name


class AskPart(models.TextChoices):
    REQUESTER = "requester", _("requesting clinician")
    CONSULTANT = "consultant", _("consultant")


class Answer(models.TextChoices):
    PENDING = "pending", _("not answered yet")
    AGREED = "agreed", _("agreed")
    OBJECTED = "objected", _("objected")


class ClinicianAsk(models.Model):
    """A clinician who made the consultation is asked whether it may be taught from; an
    objection keeps the case unpublished."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    case = models.ForeignKey(TeachingCase, on_delete=models.CASCADE, related_name="asks")
    clinician = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="teaching_asks"
    )
    part = models.CharField(max_length=12, choices=AskPart.choices)
    asked_at = models.DateTimeField()
    answer = models.CharField(max_length=10, choices=Answer.choices, default=Answer.PENDING)
    reason = models.TextField(_("reason"), blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["case", "asked_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["case", "clinician"], name="one_ask_per_clinician")
        ]

    def __str__(self) -> str:
        return f"{self.case_id}: {self.clinician_id} {self.answer}"
