"""Signing keys and the signatures made with them.

A `Signature` is evidence: once written it is never changed or removed through the ORM, and
`services.verify_document` re-checks it against the public key, so a row rewritten directly in
the database is caught at verification rather than trusted."""

from __future__ import annotations

import base64
import uuid
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class ImmutableSignatureError(RuntimeError):
    pass


class SigningKey(models.Model):
    """One key pair of a user. The private half is kept encrypted with a key derived from
    SECRET_KEY (see `keystore`); signers whose keys live in a token or HSM (a certified crypto
    provider) leave `encrypted_private_key` empty and keep only the public key here."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    algorithm = models.CharField(_("algorithm"), max_length=32)
    # Text, not a fixed length: GOST R 34.10-2012 public keys are 64 or 128 bytes, not 32.
    public_key = models.TextField(_("public key"))
    encrypted_private_key = models.TextField(blank=True, editable=False)
    created_at = models.DateTimeField(_("created at"))
    revoked_at = models.DateTimeField(_("revoked at"), null=True, blank=True)

    class Meta:
        verbose_name = _("signing key")
        verbose_name_plural = _("signing keys")
        ordering = ["-created_at"]
        constraints = [
            # A signer never has to choose between keys: one active key per user.
            models.UniqueConstraint(
                fields=["user"],
                condition=Q(revoked_at__isnull=True),
                name="signatures_one_active_key_per_user",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.algorithm} {self.uuid}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None

    @property
    def public_key_bytes(self) -> bytes:
        return base64.b64decode(self.public_key, validate=True)


class SignatureQuerySet(models.QuerySet["Signature"]):
    def delete(self) -> tuple[int, dict[str, int]]:
        # The bulk path skips Model.delete(); close it as well.
        raise ImmutableSignatureError("signatures cannot be deleted")


class Signature(models.Model):
    """A signature over the canonical bytes of a document (see `services` for exactly which
    bytes are signed)."""

    uuid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    signer = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signer"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    key = models.ForeignKey(
        SigningKey, verbose_name=_("key"), on_delete=models.PROTECT, related_name="signatures"
    )
    algorithm = models.CharField(_("algorithm"), max_length=32)
    signed_at = models.DateTimeField(_("signed at"))
    document_type = models.CharField(_("document type"), max_length=40)
    document_id = models.CharField(_("document"), max_length=64)
    digest = models.CharField(_("SHA-256 digest"), max_length=64)
    signature = models.TextField(_("signature"))

    objects = SignatureQuerySet.as_manager()

    class Meta:
        verbose_name = _("signature")
        verbose_name_plural = _("signatures")
        ordering = ["-signed_at"]
        indexes = [
            models.Index(fields=["document_type", "document_id"], name="signatures_document_idx")
        ]

    def __str__(self) -> str:
        return f"{self.document_type} {self.document_id} ({self.signed_at:%Y-%m-%d %H:%M} UTC)"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if not self._state.adding:
            raise ImmutableSignatureError("signatures cannot be changed")
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> tuple[int, dict[str, int]]:
        raise ImmutableSignatureError("signatures cannot be deleted")
