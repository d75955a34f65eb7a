"""The HL7 v2 interface's own records: which laboratory systems may send results and where
orders go (`LaboratoryInterface`), every message received with the answer it got
(`ReceivedMessage`, so a repeated control id is applied once and answered the same), and the
outbox of orders sent (`OutboundMessage`, retried until the laboratory accepts them)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class OrderMessage(models.TextChoices):
    NONE = "", _("no orders sent")
    ORM = "ORM^O01", _("ORM^O01 (HL7 v2.3 to 2.5)")
    OML = "OML^O21", _("OML^O21 (HL7 v2.5 laboratory order)")


class LaboratoryInterface(models.Model):
    """A laboratory information system (or analyser) at a facility. Its results arrive with
    MSH-4 = `sending_facility` and are stored as `account` (a laboratory system account of
    the facility, made by `farcare hl7 interface add`); orders performed at the facility go to
    `host`:`port` when it asked for them (`order_message`)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    facility = models.ForeignKey(
        "network.Facility", on_delete=models.PROTECT, related_name="hl7_interfaces"
    )
    sending_facility = models.CharField(_("sending facility (MSH-4)"), max_length=180, unique=True)
    account = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="hl7_interfaces"
    )
    active = models.BooleanField(default=True)
    order_message = models.CharField(
        max_length=8, choices=OrderMessage.choices, blank=True, default=OrderMessage.NONE
    )
    host = models.CharField(max_length=255, blank=True)
    port = models.PositiveIntegerField(null=True, blank=True)
    receiving_application = models.CharField(max_length=180, blank=True)  # MSH-5 of orders
    version = models.CharField(max_length=8, default="2.5.1")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["sending_facility"]

    def __str__(self) -> str:
        return f"{self.sending_facility} → {self.facility}"

    @property
    def sends_orders(self) -> bool:
        return bool(self.active and self.order_message and self.host and self.port)


class ReceivedMessage(models.Model):
    """One message as received (it holds identity: it is audited, and erased with the
    patient's data), the answer it got, and the reports it made. Unique by sender and control
    id: a repeat of an accepted message gets the stored answer and changes nothing; a repeat of
    one answered AE or AR is tried again."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    interface = models.ForeignKey(
        LaboratoryInterface,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="received",
    )
    sending_application = models.CharField(max_length=180)
    sending_facility = models.CharField(max_length=180)
    control_id = models.CharField(max_length=199)
    message_type = models.CharField(max_length=20)  # ORU^R01
    version = models.CharField(max_length=8, blank=True)
    digest = models.CharField(max_length=64)  # SHA-256 of the segments after MSH
    raw = models.TextField()
    received_at = models.DateTimeField()
    answered_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=1)
    ack_code = models.CharField(max_length=2, blank=True, db_index=True)
    ack_text = models.CharField(max_length=400, blank=True)
    ack_message = models.TextField(blank=True)
    report_uuids = models.JSONField(default=list, blank=True)
    patient_uuids = models.JSONField(default=list, blank=True)

    class Meta:
        ordering = ["-received_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["sending_application", "sending_facility", "control_id"],
                name="hl7_received_unique",
            )
        ]

    def __str__(self) -> str:
        return f"{self.message_type} {self.sending_facility} {self.control_id} {self.ack_code}"


class OutboundStatus(models.TextChoices):
    PENDING = "pending", _("waiting to be sent")
    SENT = "sent", _("accepted by the laboratory")
    FAILED = "failed", _("given up")
    CANCELLED = "cancelled", _("not sent: the order was cancelled")


class OrderControl(models.TextChoices):
    """HL7 table 0119 (ORC-1), as far as orders out go."""

    NEW = "NW", _("new order")
    CANCEL = "CA", _("cancel the order")


class OutboundMessage(models.Model):
    """An order on its way to a laboratory: queued in the order's transaction, built from the
    order when sent, retried with backoff until the laboratory answers AA (or CA). An order
    cancelled after its laboratory accepted it gets a second row: the cancel (ORC-1 "CA")."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    interface = models.ForeignKey(
        LaboratoryInterface, on_delete=models.PROTECT, related_name="outbound"
    )
    order = models.ForeignKey(
        "diagnostics.DiagnosticOrder", on_delete=models.PROTECT, related_name="+"
    )
    control_id = models.CharField(max_length=40, unique=True)
    message_type = models.CharField(max_length=8, choices=OrderMessage.choices)
    order_control = models.CharField(
        max_length=2, choices=OrderControl.choices, default=OrderControl.NEW
    )
    status = models.CharField(
        max_length=10,
        choices=OutboundStatus.choices,
        default=OutboundStatus.PENDING,
        db_index=True,
    )
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True, db_index=True)
    last_error = models.CharField(max_length=400, blank=True)
    message = models.TextField(blank=True)  # as last sent (holds identity)
    ack_code = models.CharField(max_length=2, blank=True)
    ack_text = models.CharField(max_length=400, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["created_at"]

    def __str__(self) -> str:
        return f"{self.message_type} {self.order_control} {self.control_id} {self.status}"
