"""Private keys at rest: AES-256-GCM under a key-encryption key derived from SECRET_KEY.

The key-encryption key is HKDF-SHA256(SECRET_KEY, info=KEK_INFO); the app-specific info string
keeps it unrelated to every other use Django makes of SECRET_KEY (sessions, password resets).
The stored blob is base64(nonce || ciphertext+tag). The signing key's UUID is the associated
data, so an encrypted private key copied onto another key's row does not decrypt.

Rotating SECRET_KEY: list the old value in SECRET_KEY_FALLBACKS, or the stored private keys can
no longer be used for signing (signatures already made still verify: that needs only the public
key). Revoking the affected keys lets users sign again with fresh ones."""

from __future__ import annotations

import base64
import os
import uuid

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings

KEK_INFO = b"farcare.signatures private-key encryption v1"
NONCE_BYTES = 12


class KeyDecryptionError(RuntimeError):
    """The private key cannot be decrypted: SECRET_KEY changed, or the blob was altered."""


def _key_encryption_key(secret: str) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=KEK_INFO).derive(
        secret.encode("utf-8")
    )


def encrypt_private_key(raw: bytes, *, key_uuid: uuid.UUID) -> str:
    nonce = os.urandom(NONCE_BYTES)
    ciphertext = AESGCM(_key_encryption_key(settings.SECRET_KEY)).encrypt(
        nonce, raw, key_uuid.bytes
    )
    return base64.b64encode(nonce + ciphertext).decode("ascii")


def decrypt_private_key(blob: str, *, key_uuid: uuid.UUID) -> bytes:
    try:
        data = base64.b64decode(blob, validate=True)
    except ValueError as error:
        raise KeyDecryptionError("the encrypted private key is not valid base64") from error
    nonce, ciphertext = data[:NONCE_BYTES], data[NONCE_BYTES:]
    for secret in [settings.SECRET_KEY, *getattr(settings, "SECRET_KEY_FALLBACKS", [])]:
        try:
            return AESGCM(_key_encryption_key(secret)).decrypt(nonce, ciphertext, key_uuid.bytes)
        except InvalidTag:
            continue
    raise KeyDecryptionError(
        "the private key cannot be decrypted with SECRET_KEY or SECRET_KEY_FALLBACKS"
    )
