"""The private key is stored encrypted under a key derived from SECRET_KEY, never in clear."""

from __future__ import annotations

import base64
import uuid

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.conf import settings
from django.test import override_settings

from farcare.signatures.keystore import KeyDecryptionError, decrypt_private_key
from farcare.signatures.models import SigningKey
from farcare.signatures.services import sign_document

from .conftest import conclusion

OTHER_SECRET = "another-deployment-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz"


def signing_key(user) -> SigningKey:
    signature = sign_document(
        signer_user=user, document_type="conclusion", document_id="1", document=conclusion()
    )
    return SigningKey.objects.get(pk=signature.key_id)


def test_the_private_key_is_not_stored_in_clear(consultant):
    key = signing_key(consultant)
    raw = decrypt_private_key(key.encrypted_private_key, key_uuid=key.uuid)

    # It is the private half of the stored public key...
    public = Ed25519PrivateKey.from_private_bytes(raw).public_key().public_bytes_raw()
    assert public == key.public_key_bytes
    # ...and appears in the stored blob neither raw nor base64-encoded.
    blob = base64.b64decode(key.encrypted_private_key)
    assert raw not in blob
    assert base64.b64encode(raw).decode() not in key.encrypted_private_key
    assert len(blob) == 12 + 32 + 16  # nonce, ciphertext, GCM tag


def test_another_secret_key_cannot_decrypt_it(consultant):
    key = signing_key(consultant)
    with override_settings(SECRET_KEY=OTHER_SECRET), pytest.raises(KeyDecryptionError):
        decrypt_private_key(key.encrypted_private_key, key_uuid=key.uuid)


def test_a_rotated_secret_key_still_decrypts_through_the_fallbacks(consultant):
    key = signing_key(consultant)
    with override_settings(SECRET_KEY=OTHER_SECRET, SECRET_KEY_FALLBACKS=[settings.SECRET_KEY]):
        assert decrypt_private_key(key.encrypted_private_key, key_uuid=key.uuid)


def test_an_encrypted_key_copied_to_another_row_does_not_decrypt(consultant):
    key = signing_key(consultant)
    with pytest.raises(KeyDecryptionError):
        decrypt_private_key(key.encrypted_private_key, key_uuid=uuid.uuid4())


def test_signing_after_the_secret_key_was_lost_fails_loudly(consultant):
    signing_key(consultant)
    with override_settings(SECRET_KEY=OTHER_SECRET), pytest.raises(KeyDecryptionError):
        sign_document(
            signer_user=consultant, document_type="conclusion", document_id="2", document={}
        )
