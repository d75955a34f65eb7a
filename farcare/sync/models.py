"""Station ↔ hub synchronisation.

Hub side: `Station` (an enrolled laptop at a remote post, with its own bearer token),
`Receipt` (one per outbox item applied: the client-generated id makes every push idempotent)
and `PatientConflict` (a field edited at both ends; the hub's value stayed).

Station side: `StationConfig` (this laptop's enrolment), `OutboxItem` (what waits for the link,
in the order it must cross), `HubCopy` (the hub's view of each of our consultations) and
`LinkEvent` (the link's history, shown on the Outbox page) and `LinkMeter` (its recent rate,
for the estimate of time left)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

# ---------------------------------------------------------------- hub side


class Station(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(_("name"), max_length=120)
    facility = models.ForeignKey(
        "network.Facility", on_delete=models.PROTECT, related_name="stations"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    enrolled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    enrolled_at = models.DateTimeField(default=timezone.now)
    last_seen_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("station")
        verbose_name_plural = _("stations")

    def __str__(self) -> str:
        return self.name


class Receipt(models.Model):
    """The result of one applied outbox item, kept so that a repeated push answers the same."""

    op_id = models.UUIDField(unique=True)
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="receipts")
    kind = models.CharField(max_length=32)
    result = models.JSONField(default=dict)
    applied_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"{self.kind} {self.op_id}"


class PatientConflict(models.Model):
    """A field of a patient changed at the station and at the hub since the station last saw it.
    The hub's value stays (others may already have acted on it); the station's is kept here."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    patient = models.ForeignKey(
        "patients.Patient", on_delete=models.CASCADE, related_name="sync_conflicts"
    )
    field = models.CharField(max_length=40)
    base_value = models.CharField(max_length=300, blank=True)
    hub_value = models.CharField(max_length=300, blank=True)
    station_value = models.CharField(max_length=300, blank=True)
    station = models.ForeignKey(Station, on_delete=models.PROTECT, related_name="+")
    edited_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    edited_at = models.DateTimeField()
    recorded_at = models.DateTimeField(default=timezone.now)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-recorded_at"]

    def __str__(self) -> str:
        return f"{self.patient_id}.{self.field}"


# ---------------------------------------------------------------- station side


class StationConfig(models.Model):
    """This laptop's enrolment at its hub. At most one row; none on a hub."""

    hub_url = models.URLField()
    token = models.CharField(max_length=128)
    station_uuid = models.UUIDField()
    name = models.CharField(max_length=120)
    facility = models.ForeignKey("network.Facility", on_delete=models.PROTECT, related_name="+")
    enrolled_at = models.DateTimeField(default=timezone.now)
    pull_cursor = models.CharField(max_length=64, blank=True)
    # The password hash of each member of staff as the hub last sent it (user UUID → hash): a
    # new one there is a changed password; a local re-hash (another hasher here) is not.
    staff_hashes = models.JSONField(default=dict, blank=True)
    last_sync_at = models.DateTimeField(null=True, blank=True)
    # While the link is down: when the background loop will next try the hub (for the pages'
    # "next try in N s"); empty while it is up.
    next_try_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return self.name


class Phase(models.IntegerChoices):
    """Within one urgency, records cross first, then previews (with small clinical files: an
    ECG, a short document), then originals (see `sync.ordering`)."""

    RECORD = 0, _("record")
    PREVIEW = 1, _("preview")
    ORIGINAL = 2, _("original")


class ItemState(models.TextChoices):
    QUEUED = "queued", _("queued")
    SENDING = "sending", _("sending")
    DELIVERED = "delivered", _("delivered")
    READ = "read", _("read by the consultant")
    ON_REQUEST = "on-request", _("sent when the consultant asks")
    REFUSED = "refused", _("refused by the hub")


PENDING_STATES = (ItemState.QUEUED, ItemState.SENDING)


class OutboxItem(models.Model):
    """One thing waiting to cross the link. Its uuid is the idempotency key the hub keeps."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=32)
    label = models.CharField(max_length=200)
    payload = models.JSONField(default=dict)
    # 0 emergency, 1 urgent, 2 planned, 3 not tied to a request (see sync.outbox.RANKS)
    rank = models.PositiveSmallIntegerField(default=3)
    phase = models.PositiveSmallIntegerField(choices=Phase.choices, default=Phase.RECORD)
    # Bytes per unit of clinical value (`sync.ordering.cost`): within a rank and phase the
    # smaller crosses first. 0 for records, which keep the order they were made in.
    cost = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    state = models.CharField(max_length=12, choices=ItemState.choices, default=ItemState.QUEUED)
    patient_uuid = models.UUIDField(null=True, blank=True)
    consultation_uuid = models.UUIDField(null=True, blank=True, db_index=True)
    attachment_uuid = models.UUIDField(null=True, blank=True)
    file_name = models.CharField(max_length=300, blank=True)
    size = models.PositiveBigIntegerField(default=0)
    sent = models.PositiveBigIntegerField(default=0)
    upload_url = models.URLField(max_length=400, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    read_at = models.DateTimeField(null=True, blank=True)
    result = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["rank", "phase", "cost", "created_at", "pk"]
        indexes = [models.Index(fields=["state", "rank", "phase", "cost", "created_at"])]

    def __str__(self) -> str:
        return f"{self.kind} {self.label}"

    @property
    def percent(self) -> int:
        if self.state in (ItemState.DELIVERED, ItemState.READ):
            return 100
        return int(100 * self.sent / self.size) if self.size else 0


class HubCopy(models.Model):
    """The hub's view of one of our consultations, as last pulled."""

    consultation_uuid = models.UUIDField(unique=True)
    data = models.JSONField(default=dict)
    pulled_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return str(self.consultation_uuid)


class LinkEvent(models.Model):
    """Exchanges with the hub within a minute of each other, or a failed attempt: the link's
    history as the Outbox page lists it."""

    at = models.DateTimeField(default=timezone.now, db_index=True)
    up = models.BooleanField()
    bytes_sent = models.PositiveBigIntegerField(default=0)
    bytes_received = models.PositiveBigIntegerField(default=0)
    seconds = models.FloatField(default=0)
    note = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-at", "-pk"]

    def __str__(self) -> str:
        return f"{self.at:%H:%M:%S} {'up' if self.up else 'down'}"


class LinkMeter(models.Model):
    """The estimator of the link's recent rate (`sync.linkrate.RateMeter`), kept between
    exchanges: one row, its state as JSON so that the estimator can change without a
    migration."""

    state = models.JSONField(default=dict)
    updated_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return f"link meter {self.updated_at:%H:%M:%S}"
