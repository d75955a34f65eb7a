from __future__ import annotations

import uuid
from typing import Any

from django.db import models
from django.db.models import F
from django.utils.translation import gettext_lazy as _


class AuditAction(models.TextChoices):
    VIEW = "view", _("viewed")
    SEARCH = "search", _("searched")
    CREATE = "create", _("created")
    UPDATE = "update", _("changed")
    DELETE = "delete", _("deleted")
    EXPORT = "export", _("exported")
    DENIED = "denied", _("was refused access")
    BREAK_GLASS = "break_glass", _("broke the glass")
    LOGIN = "login", _("logged in")
    LOGIN_FAILED = "login_failed", _("failed to log in")
    LOGOUT = "logout", _("logged out")
    REVIEW = "review", _("reviewed")


class Purpose(models.TextChoices):
    NORMAL = "normal", _("normal care")
    BREAK_GLASS = "break_glass", _("break-glass emergency access")


# Newest first: records not sealed yet are the newest (NULL seq first on every database), in the
# order they were written.
NEWEST_FIRST = (F("seq").desc(nulls_first=True), "-id")


class AppendOnlyError(RuntimeError):
    pass


class AppendOnly(models.Model):
    """Rows that are written once and never changed or removed (the database refuses it too on
    PostgreSQL, by trigger)."""

    class Meta:
        abstract = True

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise AppendOnlyError("audit events are append-only")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise AppendOnlyError("audit events are append-only")


class AuditEvent(AppendOnly):
    """One link of the hash chain. `hash` covers every other field and the previous link's hash,
    so altering, removing or inserting a row breaks the chain at that row.

    A record is written "unsealed" (no `seq`, empty `prev_hash` and `hash`): appending takes one
    INSERT and no lock. The sequencer (`services.seal`) links unsealed records into the chain in
    id order, setting those three fields once; after that the row never changes (PostgreSQL's
    trigger allows exactly that one update, see migration 0004)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    seq = models.PositiveBigIntegerField(unique=True, null=True)
    created_at = models.DateTimeField(db_index=True)
    actor_uuid = models.UUIDField(null=True, db_index=True)
    actor_username = models.CharField(max_length=150, blank=True)
    actor_role = models.CharField(max_length=20, blank=True)
    patient_uuid = models.UUIDField(null=True, db_index=True)
    record_type = models.CharField(max_length=40, blank=True)
    record_id = models.CharField(max_length=64, blank=True)
    action = models.CharField(max_length=16, choices=AuditAction.choices)
    purpose = models.CharField(max_length=16, choices=Purpose.choices, default=Purpose.NORMAL)
    outcome = models.CharField(max_length=8, default="success")
    channel = models.CharField(max_length=8, default="page")
    ip_address = models.GenericIPAddressField(null=True)
    details = models.JSONField(default=dict)
    prev_hash = models.CharField(max_length=64, default="", blank=True)
    hash = models.CharField(max_length=64, default="", blank=True)

    class Meta:
        verbose_name = _("audit event")
        verbose_name_plural = _("audit events")
        ordering = list(NEWEST_FIRST)

    @property
    def sealed(self) -> bool:
        return bool(self.hash)

    def __str__(self) -> str:
        number = f"#{self.seq}" if self.seq is not None else "(unsealed)"
        return f"{number} {self.actor_username} {self.action} {self.patient_uuid or ''}"


class AuditEventPatient(AppendOnly):
    """A patient an audit record showed besides its own `patient_uuid`: everyone a search or a
    list put on the screen. The list itself is part of the record's hashed `details`
    ("patients_shown"), so the chain covers it; these rows index it, so that "who looked at my
    record" finds the searches that showed the patient. Append-only like the records."""

    event = models.ForeignKey(AuditEvent, on_delete=models.PROTECT, related_name="patient_links")
    patient_uuid = models.UUIDField(db_index=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["event", "patient_uuid"], name="audit_patient_once")
        ]

    def __str__(self) -> str:
        return f"#{self.event_id} showed {self.patient_uuid}"


class AuditChainHead(models.Model):
    """The newest sealed link: sealing locks this row, so links are numbered without gaps, and
    verification notices a chain whose tail was cut off. Appending never touches it."""

    seq = models.PositiveBigIntegerField(default=0)
    hash = models.CharField(max_length=64)

    def __str__(self) -> str:
        return f"head #{self.seq}"
