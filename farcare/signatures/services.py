"""Signing documents, verifying signatures, revoking keys.

What is signed is not the document alone but the canonical bytes of a short statement that
binds the document's digest to who signed it, when, and which document it is::

    {"algorithm": "ed25519", "digest": "<SHA-256 hex of canonical_bytes(document)>",
     "document_id": "...", "document_type": "...", "signed_at": "<ISO 8601 UTC>",
     "signer": "<user UUID>"}

so a signature moved to another document, another signer or another time (for instance to
before its key was revoked) fails verification just as a changed document does."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.db.models import CharField
from django.utils import timezone
from django.utils.translation import gettext

from farcare.accounts.models import User

from .canonical import canonical_bytes
from .models import Signature, SigningKey
from .signers import SigningError, get_signer, lock_user_keys, signer_for


@dataclass(frozen=True)
class VerificationResult:
    valid: bool
    reason: str


def document_digest(document: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_bytes(document)).hexdigest()


def signed_statement(
    *,
    algorithm: str,
    digest: str,
    document_type: str,
    document_id: str,
    signed_at: dt.datetime,
    signer: User,
) -> bytes:
    """The exact bytes a signer signs (see the module docstring)."""
    return canonical_bytes(
        {
            "algorithm": algorithm,
            "digest": digest,
            "document_id": document_id,
            "document_type": document_type,
            "signed_at": signed_at,
            "signer": signer.uuid,
        }
    )


def sign_document(
    *,
    signer_user: User,
    document_type: str,
    document_id: str,
    document: Mapping[str, Any],
) -> Signature:
    _check_length("document_type", document_type)
    _check_length("document_id", document_id)
    signer = get_signer()
    digest = document_digest(document)
    signed_at = timezone.now()
    data = signed_statement(
        algorithm=signer.algorithm,
        digest=digest,
        document_type=document_type,
        document_id=document_id,
        signed_at=signed_at,
        signer=signer_user,
    )
    with transaction.atomic():
        key, value = signer.sign(user=signer_user, data=data)
        # A plugged-in signer is outside our control: never store a signature that would
        # be attributed to someone else's key or to the wrong algorithm.
        if key.user_id != signer_user.pk or key.algorithm != signer.algorithm:
            raise SigningError(f"{type(signer).__name__} returned a key that does not fit")
        return Signature.objects.create(
            signer=signer_user,
            key=key,
            algorithm=signer.algorithm,
            signed_at=signed_at,
            document_type=document_type,
            document_id=document_id,
            digest=digest,
            signature=base64.b64encode(value).decode("ascii"),
        )


def verify_document(*, signature: Signature, document: Mapping[str, Any]) -> VerificationResult:
    if document_digest(document) != signature.digest:
        return VerificationResult(False, gettext("The document was changed after it was signed."))
    mismatch = VerificationResult(False, gettext("The signature does not match the signer's key."))
    key = signature.key
    if key.user_id != signature.signer_id or key.algorithm != signature.algorithm:
        return mismatch
    signer = signer_for(signature.algorithm)
    if signer is None:
        return VerificationResult(
            False, gettext("No signer is configured for this signature's algorithm.")
        )
    try:
        value = base64.b64decode(signature.signature, validate=True)
    except binascii.Error:
        return mismatch
    data = signed_statement(
        algorithm=signature.algorithm,
        digest=signature.digest,
        document_type=signature.document_type,
        document_id=signature.document_id,
        signed_at=signature.signed_at,
        signer=signature.signer,
    )
    if not signer.verify(key=key, data=data, signature=value):
        return mismatch
    # Revocation after signing leaves the signature valid: it was made while the key was good.
    if key.revoked_at is not None and key.revoked_at <= signature.signed_at:
        return VerificationResult(
            False, gettext("The signing key was revoked before the signature was made.")
        )
    return VerificationResult(True, gettext("The signature is valid."))


def revoke_key(*, user: User) -> SigningKey | None:
    """Revoke the user's active key, if any; the next signature creates a new one."""
    with transaction.atomic():
        lock_user_keys(user)
        key = SigningKey.objects.filter(user=user, revoked_at__isnull=True).first()
        if key is None:
            return None
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key


def _check_length(field: str, value: str) -> None:
    # SQLite does not enforce VARCHAR lengths; check here so every database behaves alike.
    model_field = Signature._meta.get_field(field)
    assert isinstance(model_field, CharField) and model_field.max_length is not None
    max_length = model_field.max_length
    if not value or len(value) > max_length:
        raise ValueError(f"{field} must be 1 to {max_length} characters")
