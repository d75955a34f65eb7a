"""Programmes, their sessions and materials, who enrolled and who attended.

Times are UTC; pages show them in each reader's zone. A session is held online (a live room
through the SFU, as consiliums are), in a room, or both."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class ProgrammeStatus(models.TextChoices):
    DRAFT = "draft", _("draft")
    OPEN = "open", _("open for enrolment")
    CLOSED = "closed", _("closed")


class Programme(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    title = models.CharField(_("title"), max_length=200)
    summary = models.TextField(_("summary"), blank=True)
    # The language the programme is taught in (ru, ko, en); pages around it follow the reader's.
    language = models.CharField(_("language"), max_length=8, default="ru")
    audience = models.CharField(_("for whom"), max_length=200, blank=True)
    specialty = models.ForeignKey(
        "network.Specialty",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        verbose_name=_("specialty"),
    )
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="programmes_owned"
    )
    trainers = models.ManyToManyField(
        settings.AUTH_USER_MODEL, blank=True, related_name="programmes_taught"
    )
    status = models.CharField(
        max_length=10, choices=ProgrammeStatus.choices, default=ProgrammeStatus.DRAFT
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "pk"]
        verbose_name = _("programme")
        verbose_name_plural = _("programmes")

    def __str__(self) -> str:
        return self.title


class SessionMode(models.TextChoices):
    ONLINE = "online", _("online")
    IN_PERSON = "in_person", _("in a room")
    BOTH = "both", _("online and in a room")


class SessionStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("scheduled")
    LIVE = "live", _("under way")
    HELD = "held", _("held")
    CANCELLED = "cancelled", _("cancelled")


class Session(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="sessions")
    number = models.PositiveSmallIntegerField(_("number"))
    title = models.CharField(_("title"), max_length=200)
    starts_at = models.DateTimeField(_("starts at"))
    # Project ECHO: about 90 minutes, a lecture of at most 30, then case presentations.
    duration_minutes = models.PositiveSmallIntegerField(_("duration, minutes"), default=90)
    lecture_minutes = models.PositiveSmallIntegerField(_("lecture, minutes"), default=30)
    mode = models.CharField(max_length=10, choices=SessionMode.choices, default=SessionMode.ONLINE)
    room = models.CharField(_("room"), max_length=200, blank=True)
    credit_hours = models.DecimalField(
        _("credit hours"), max_digits=4, decimal_places=1, default=Decimal("1.5")
    )
    status = models.CharField(
        max_length=10, choices=SessionStatus.choices, default=SessionStatus.SCHEDULED
    )
    # The SFU's room while the session is live online (a number in Janus's video room plugin).
    live_room = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["starts_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "number"], name="one_session_number_per_programme"
            )
        ]

    def __str__(self) -> str:
        return f"{self.programme} #{self.number}"


class MaterialKind(models.TextChoices):
    PDF = "pdf", _("document (PDF)")
    SLIDES = "slides", _("slides")
    RECORDING = "recording", _("recording")
    OTHER = "other", _("other file")


class Material(models.Model):
    """A file of a programme or of one session, and its light version for weak links (smaller
    images, audio only), which is what a post downloads first and what a station keeps."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="materials")
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.CASCADE, related_name="materials"
    )
    title = models.CharField(_("title"), max_length=200)
    kind = models.CharField(max_length=10, choices=MaterialKind.choices)
    file = models.FileField(upload_to="training/materials/")
    content_type = models.CharField(max_length=100)
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    light_file = models.FileField(upload_to="training/light/", blank=True)
    light_content_type = models.CharField(max_length=100, blank=True)
    light_size = models.PositiveBigIntegerField(null=True, blank=True)
    # A station checks the light file it assembled range by range against this.
    light_sha256 = models.CharField(max_length=64, blank=True)
    added_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    added_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["added_at", "pk"]

    def __str__(self) -> str:
        return self.title


class Enrolment(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    programme = models.ForeignKey(Programme, on_delete=models.CASCADE, related_name="enrolments")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="enrolments"
    )
    enrolled_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["enrolled_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["programme", "learner"], name="one_enrolment_per_programme_and_learner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner} in {self.programme}"


class AttendanceHow(models.TextChoices):
    ONLINE = "online", _("online")
    IN_PERSON = "in_person", _("in the room")


class Attendance(models.Model):
    """One learner at one session: online from the live room's join and leave, in the room as
    the trainer marks it. Minutes present decide whether the session's credit hours count."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="attendance")
    learner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="attendance"
    )
    how = models.CharField(max_length=10, choices=AttendanceHow.choices)
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    minutes = models.PositiveIntegerField(default=0)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["session", "learner"], name="one_attendance_per_session_and_learner"
            )
        ]

    def __str__(self) -> str:
        return f"{self.learner} at {self.session}"


class LiveSeat(models.Model):
    """One person in an online session's live room: who is connected now (left_at empty) and the
    figures of their link, as the consilium page shows them. A learner's joins and leaves also
    make their `Attendance`."""

    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="seats")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField()
    seen_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    reconnects = models.PositiveIntegerField(default=0)
    mode = models.CharField(max_length=10, default="video")
    sent_kbps = models.PositiveIntegerField(null=True, blank=True)
    received_kbps = models.PositiveIntegerField(null=True, blank=True)
    rtt_ms = models.PositiveIntegerField(null=True, blank=True)
    loss_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)
    # A listener's raised hand (they ask to speak): shown to the trainers until lowered.
    hand_raised_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["session", "user"], name="one_seat_per_session_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.session}"
