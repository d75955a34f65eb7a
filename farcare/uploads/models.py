from __future__ import annotations

import uuid
from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone


class Upload(models.Model):
    """A resumable (tus) upload: its bytes so far live in a part file named by `uuid` in
    FARCARE_UPLOAD_DIR; once complete, its purpose turns them into a record (an attachment)
    whose UUID is `result_uuid`, and the part file is removed."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    owner = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=50)
    metadata = models.JSONField(default=dict, blank=True)
    length = models.PositiveBigIntegerField()
    offset = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)
    failed_reason = models.TextField(blank=True)
    result_uuid = models.UUIDField(null=True, blank=True)

    class Meta:
        indexes = [
            # The expiry sweep reads unfinished uploads by expiry only.
            models.Index(
                fields=["expires_at"],
                name="uploads_unfinished_expiry",
                condition=Q(completed_at__isnull=True),
            )
        ]

    def __str__(self) -> str:
        return f"upload {self.uuid} ({self.offset}/{self.length})"

    @property
    def failed(self) -> bool:
        return bool(self.failed_reason)

    def expired(self, now: datetime | None = None) -> bool:
        """Unfinished and past its expiry; a completed upload never expires."""
        return self.completed_at is None and self.expires_at <= (now or timezone.now())
