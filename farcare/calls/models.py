"""A live call of a consultation and who took part, with the quality each side measured.

A call is a record, not media: nothing of the audio or video is kept unless recording is enabled
and the patient's consent to it is on file (`recorded` says which)."""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class CallKind(models.TextChoices):
    # Two people, browser to browser (WebRTC; TURN where the network needs it).
    PAIR = "pair", _("call of two")
    # Three to five through the SFU (Janus video room), never a mesh of our own.
    CONSILIUM = "consilium", _("consilium call")


class MediaMode(models.TextChoices):
    VIDEO = "video", _("video")
    AUDIO = "audio", _("audio only")


class Call(models.Model):
    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    consultation = models.ForeignKey(
        "consults.Consultation", on_delete=models.PROTECT, related_name="calls"
    )
    kind = models.CharField(max_length=12, choices=CallKind.choices)
    started_at = models.DateTimeField()
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+"
    )
    ended_at = models.DateTimeField(null=True, blank=True)
    # Whether media was recorded: only with recording enabled and the patient's consent on file.
    recorded = models.BooleanField(default=False)
    # The SFU's room for a consilium (a number in Janus's video room plugin); empty for a pair.
    room = models.CharField(max_length=40, blank=True)

    class Meta:
        ordering = ["-started_at", "pk"]
        constraints = [
            # One open call per consultation and kind: a second "start" joins it.
            models.UniqueConstraint(
                fields=["consultation", "kind"],
                condition=models.Q(ended_at__isnull=True),
                name="one_open_call_per_consultation_and_kind",
            )
        ]

    def __str__(self) -> str:
        return f"{self.kind} call {self.uuid}"


class CallParticipant(models.Model):
    """One person's presence in a call: each join is a row (a reconnect after a drop keeps the
    row and counts the reconnect), with the last quality the browser measured."""

    call = models.ForeignKey(Call, on_delete=models.CASCADE, related_name="participants")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    joined_at = models.DateTimeField()
    left_at = models.DateTimeField(null=True, blank=True)
    # When the browser last gave a sign of life (the join, every quality report, ~5 s apart);
    # `farcare calls sweep` marks a presence silent for too long as left at this moment.
    # Empty on rows from before it was kept: the join time stands in.
    last_seen_at = models.DateTimeField(null=True, blank=True)
    reconnects = models.PositiveIntegerField(default=0)
    mode = models.CharField(max_length=8, choices=MediaMode.choices, default=MediaMode.VIDEO)
    # The last figures the browser reported (getStats): kbit/s sent and received, round trip
    # in ms, fraction of packets lost; kept as the call's quality on the record.
    sent_kbps = models.PositiveIntegerField(null=True, blank=True)
    received_kbps = models.PositiveIntegerField(null=True, blank=True)
    rtt_ms = models.PositiveIntegerField(null=True, blank=True)
    loss_percent = models.DecimalField(max_digits=5, decimal_places=2, null=True, blank=True)

    class Meta:
        ordering = ["joined_at", "pk"]
        constraints = [
            models.UniqueConstraint(fields=["call", "user"], name="one_presence_per_call_and_user")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.call}"
