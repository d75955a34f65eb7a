"""What a user is told: the in-app inbox (`Notification`) and an outbox of external sends
(`Delivery`), one row per channel, kept until sent or given up on, never deleted."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


class Channel(models.TextChoices):
    EMAIL = "email", _("E-mail")
    SMS = "sms", _("SMS")


class DeliveryStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    SENT = "sent", _("Sent")
    FAILED = "failed", _("Failed")


class NotificationPreference(models.Model):
    """How a user wants to be reached besides the inbox, which is always on."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notification_preference",
        verbose_name=_("user"),
    )
    email_enabled = models.BooleanField(_("send e-mail"), default=True)
    sms_enabled = models.BooleanField(_("send SMS"), default=False)
    phone = models.CharField(
        _("phone number for SMS"),
        max_length=16,
        blank=True,
        help_text=_("International format, for example +79141234567."),
    )
    language = models.CharField(
        _("language of notifications"),
        max_length=5,
        blank=True,
        help_text=_("Empty: the same as your interface language."),
    )

    class Meta:
        verbose_name = _("notification preference")
        verbose_name_plural = _("notification preferences")

    def __str__(self) -> str:
        return str(self.user)


class Notification(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    recipient = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="notifications",
        verbose_name=_("recipient"),
    )
    event = models.CharField(_("event"), max_length=64, db_index=True)
    # Rendered once, in the recipient's language, so a retried e-mail says the same thing.
    language = models.CharField(_("language"), max_length=5)
    subject = models.CharField(_("subject"), max_length=200)
    body = models.TextField(_("text"), blank=True)
    # The same subject and body in every interface language, {"en": [subject, body], …}: the
    # inbox shows the one the reader reads the site in now, which is not always the one it was
    # sent in (a user who never chose a language follows the browser; e-mail cannot).
    texts = models.JSONField(_("texts"), default=dict, blank=True)
    link = models.CharField(_("link"), max_length=500, blank=True)
    urgent = models.BooleanField(_("urgent"), default=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    read_at = models.DateTimeField(_("read"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["recipient", "read_at"], name="notif_recipient_read")]

    def __str__(self) -> str:
        return self.subject

    def _in_reader_language(self) -> tuple[str, str]:
        text = self.texts.get((get_language() or "")[:2]) if self.texts else None
        return (text[0], text[1]) if text else (self.subject, self.body)

    @property
    def shown_subject(self) -> str:
        return self._in_reader_language()[0]

    @property
    def shown_body(self) -> str:
        return self._in_reader_language()[1]


class Delivery(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    notification = models.ForeignKey(
        Notification,
        on_delete=models.CASCADE,
        related_name="deliveries",
        verbose_name=_("notification"),
    )
    channel = models.CharField(_("channel"), max_length=10, choices=Channel.choices)
    # The address as it was when the notification was made: a later change of phone number
    # does not redirect a message already in the outbox.
    address = models.CharField(_("address"), max_length=254)
    status = models.CharField(
        _("status"), max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.PENDING
    )
    attempts = models.PositiveIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next attempt"), null=True, blank=True)
    last_error = models.TextField(_("last error"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("delivery")
        verbose_name_plural = _("deliveries")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["notification", "channel"], name="one_delivery_per_channel"
            )
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"], name="delivery_due")]

    def __str__(self) -> str:
        return f"{self.channel} → {self.address} ({self.status})"
