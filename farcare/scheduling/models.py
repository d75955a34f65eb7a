"""A consultant's published times and the appointments booked in them (FHIR Schedule, Slot,
Appointment; domain.md §6). Every moment is stored in UTC; the zone a slot was published in is
kept beside it so that both sides can be shown the other's local time."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class Schedule(models.Model):
    """One consultant's availability: the FHIR Schedule whose actor is the consultant."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultant = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="schedule"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")

    def __str__(self) -> str:
        return f"{self.consultant}"


class SlotStatus(models.TextChoices):
    FREE = "free", _("free")
    BOOKED = "booked", _("booked")
    BLOCKED = "blocked", _("removed")


class Slot(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    schedule = models.ForeignKey(Schedule, on_delete=models.PROTECT, related_name="slots")
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    # The IANA zone the consultant published it in: their local time is shown beside it.
    zone = models.CharField(max_length=64)
    status = models.CharField(
        max_length=8, choices=SlotStatus.choices, default=SlotStatus.FREE, db_index=True
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("slot")
        verbose_name_plural = _("slots")
        ordering = ["starts_at", "pk"]
        constraints = [
            # Publishing the same week twice adds nothing.
            models.UniqueConstraint(fields=["schedule", "starts_at"], name="slot_once_per_start"),
            models.CheckConstraint(
                condition=models.Q(starts_at__lt=models.F("ends_at")), name="slot_order"
            ),
        ]
        indexes = [models.Index(fields=["schedule", "status", "starts_at"])]

    def __str__(self) -> str:
        return f"{self.schedule}: {self.starts_at:%Y-%m-%d %H:%M} UTC ({self.status})"


class AppointmentStatus(models.TextChoices):
    """FHIR Appointment.status, and `rescheduled` (FHIR: cancelled, with the reason
    "rescheduled" and the new appointment pointing back at it)."""

    BOOKED = "booked", _("booked")
    ARRIVED = "arrived", _("in progress")
    FULFILLED = "fulfilled", _("held")
    CANCELLED = "cancelled", _("cancelled")
    NOSHOW = "noshow", _("no-show")
    RESCHEDULED = "rescheduled", _("rescheduled")


# Statuses that hold their slot: at most one such appointment per slot (the database says so).
HOLDS_SLOT = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED, AppointmentStatus.FULFILLED)
UPCOMING = (AppointmentStatus.BOOKED, AppointmentStatus.ARRIVED)


class Party(models.TextChoices):
    """Who did not come to a call."""

    REQUESTER = "requester", _("the requesting clinician")
    CONSULTANT = "consultant", _("the consultant")


class Appointment(models.Model):
    """A call booked in one consultant's slot for a real-time or consilium consultation. A
    consilium holds one appointment per member at the same time. A reschedule closes this one
    (`rescheduled`) and books a new one that `replaces` it, so the history stays."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        "consults.Consultation", on_delete=models.PROTECT, related_name="appointments"
    )
    slot = models.ForeignKey(Slot, on_delete=models.PROTECT, related_name="appointments")
    consultant = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments_to_consult"
    )
    booked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="appointments_booked"
    )
    starts_at = models.DateTimeField(_("starts"))
    ends_at = models.DateTimeField(_("ends"))
    status = models.CharField(
        _("status"),
        max_length=12,
        choices=AppointmentStatus.choices,
        default=AppointmentStatus.BOOKED,
        db_index=True,
    )
    replaces = models.OneToOneField(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="replaced_by"
    )
    reason = models.CharField(_("reason"), max_length=300, blank=True)
    noshow_party = models.CharField(max_length=10, choices=Party.choices, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    version = models.PositiveIntegerField(default=1)

    class Meta:
        verbose_name = _("appointment")
        verbose_name_plural = _("appointments")
        ordering = ["starts_at", "pk"]
        constraints = [
            # Double booking is impossible: two concurrent bookings of one slot cannot both
            # commit, whatever the database's isolation (SQLite and PostgreSQL alike).
            models.UniqueConstraint(
                fields=["slot"],
                condition=models.Q(status__in=["booked", "arrived", "fulfilled"]),
                name="appointment_one_per_slot",
            ),
            # A consultant is booked once per consultation at a time (a consilium books each
            # member's slot).
            models.UniqueConstraint(
                fields=["consultation", "consultant"],
                condition=models.Q(status__in=["booked", "arrived"]),
                name="appointment_one_upcoming_per_consultant",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.consultation_id} with {self.consultant} at {self.starts_at} ({self.status})"

    @property
    def is_upcoming(self) -> bool:
        return self.status in UPCOMING


class AppointmentEvent(models.Model):
    """The appointment's history: every move of its workflow, who made it and why."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="events")
    from_status = models.CharField(max_length=12, choices=AppointmentStatus.choices, blank=True)
    to_status = models.CharField(max_length=12, choices=AppointmentStatus.choices)
    event = models.CharField(max_length=20)
    at = models.DateTimeField()
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.PROTECT, related_name="+"
    )
    note = models.CharField(max_length=300, blank=True)

    class Meta:
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.from_status}→{self.to_status} ({self.event})"


class Reminder(models.Model):
    """A reminder sent: one row per appointment, person and lead time, so each goes once."""

    appointment = models.ForeignKey(Appointment, on_delete=models.CASCADE, related_name="reminders")
    recipient = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE)
    minutes_before = models.PositiveIntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["appointment", "recipient", "minutes_before"], name="reminder_once"
            )
        ]

    def __str__(self) -> str:
        return f"{self.appointment_id} → {self.recipient_id}, {self.minutes_before} min"
