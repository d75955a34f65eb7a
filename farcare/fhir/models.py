from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class ResourceVersion(models.Model):
    """Every version of every resource the FHIR API shows: vread, _history and ETags read here.
    A new version is written whenever the domain object behind a resource changes, whether
    through a page or through the API."""

    resource_type = models.CharField(max_length=40)
    logical_id = models.CharField(max_length=64)
    version_id = models.PositiveIntegerField()
    last_updated = models.DateTimeField(default=timezone.now, db_index=True)
    deleted = models.BooleanField(default=False)
    content = models.JSONField()
    patient_uuid = models.UUIDField(null=True, db_index=True)
    # When a rendering last agreed with this content: the start of that rendering (empty: when
    # it was written). A read serves the stored content only while this is later than every
    # change of what renderings read beyond their own rows (`RenderEpoch`).
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "logical_id", "version_id"], name="fhir_version_unique"
            )
        ]
        # The latest version of a resource (`ORDER BY version_id DESC LIMIT 1`) is a backward
        # scan of the constraint's index; a second index in the other direction only cost every
        # version written another insertion.

    def __str__(self) -> str:
        return f"{self.resource_type}/{self.logical_id}/_history/{self.version_id}"


class RenderEpoch(models.Model):
    """One row: when something a resource's rendering reads beyond its own rows last changed
    (a facility's name, a settlement's region...). A stored version confirmed before this is
    re-rendered before it is served again (fhir/lean.py); the rendering confirms it or writes a
    new version."""

    changed_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"renderings older than {self.changed_at:%Y-%m-%d %H:%M:%S} are re-checked"


class StoredRemainder(models.Model):
    """What a client wrote into a resource that FarCare's record does not hold (remainder.py),
    merged into every rendering of the resource; each version keeps it as it was then."""

    resource_type = models.CharField(max_length=40)
    logical_id = models.CharField(max_length=64)
    content = models.JSONField(default=dict)
    # The fingerprint of the rendering it was computed against (a narrative goes stale after).
    basis = models.CharField(max_length=64, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["resource_type", "logical_id"], name="fhir_remainder_unique"
            )
        ]

    def __str__(self) -> str:
        return f"remainder of {self.resource_type}/{self.logical_id}"


class SystemClient(models.Model):
    """A system that calls the FHIR API on its own behalf (SMART Backend Services): a regional
    health information system, a laboratory, a partner hospital's gateway. It acts through its
    own service account, so the access policy and the audit trail treat it like any user."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    client_id = models.CharField(max_length=64, unique=True)
    name = models.CharField(_("name"), max_length=200)
    secret_hash = models.CharField(max_length=200, blank=True)
    jwks = models.JSONField(_("public keys (JWKS)"), default=dict, blank=True)
    scopes = models.CharField(_("scopes"), max_length=1000)
    account = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="fhir_client"
    )
    bulk_export = models.BooleanField(_("may run bulk export"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    class Meta:
        verbose_name = _("FHIR system client")
        verbose_name_plural = _("FHIR system clients")

    def __str__(self) -> str:
        return self.name


class AccessToken(models.Model):
    """An issued bearer token; only its SHA-256 is stored."""

    token_hash = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    client = models.ForeignKey(SystemClient, null=True, blank=True, on_delete=models.CASCADE)
    scopes = models.CharField(max_length=1000)
    issued_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField(db_index=True)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"token of {self.user_id} until {self.expires_at:%Y-%m-%d %H:%M}"


class ExportJob(models.Model):
    """A bulk export ($export): started, polled, and its NDJSON files fetched."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT)
    request_url = models.TextField()
    types = models.CharField(max_length=500, blank=True)
    since = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, default="accepted")
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    output = models.JSONField(default=list)
    error = models.TextField(blank=True)

    def __str__(self) -> str:
        return f"export {self.uuid} ({self.status})"
