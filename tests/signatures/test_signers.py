"""The signer is pluggable: FARCARE_SIGNER names the class, e.g. a certified GOST provider."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from django.utils import timezone

from farcare.signatures.models import Signature, SigningKey
from farcare.signatures.services import revoke_key, sign_document, verify_document
from farcare.signatures.signers import Ed25519Signer, SigningError, get_signer, signer_for

from .conftest import conclusion

TEST_SIGNER = "tests.signatures.test_signers.HmacTestSigner"


class HmacTestSigner:
    """A toy stand-in for a provider such as КриптоПро: an HMAC whose secret sits in
    `public_key`. Only the plumbing is under test, not the cryptography."""

    algorithm = "test-hmac"

    def sign(self, *, user, data):
        key = SigningKey.objects.filter(user=user, revoked_at__isnull=True).first()
        if key is None:
            key = SigningKey.objects.create(
                user=user,
                algorithm=self.algorithm,
                public_key=base64.b64encode(secrets.token_bytes(32)).decode(),
                created_at=timezone.now(),
            )
        return key, hmac.digest(key.public_key_bytes, data, hashlib.sha256)

    def verify(self, *, key, data, signature):
        return hmac.compare_digest(
            hmac.digest(key.public_key_bytes, data, hashlib.sha256), signature
        )


class NotASigner:
    pass


def sign(user, document_id="1"):
    return sign_document(
        signer_user=user, document_type="conclusion", document_id=document_id, document=conclusion()
    )


def test_the_default_signer_is_ed25519():
    assert isinstance(get_signer(), Ed25519Signer)


@override_settings(FARCARE_SIGNER=TEST_SIGNER)
def test_a_deployment_plugs_in_its_own_signer(consultant):
    assert isinstance(get_signer(), HmacTestSigner)

    signature = sign(consultant)

    row = Signature.objects.get(pk=signature.pk)
    assert row.algorithm == row.key.algorithm == "test-hmac"
    assert row.key.encrypted_private_key == ""
    assert verify_document(signature=row, document=conclusion()).valid
    changed = conclusion() | {"question": "Нужна ли эвакуация?!"}
    assert not verify_document(signature=row, document=changed).valid


def test_ed25519_signatures_still_verify_after_switching_provider(consultant):
    signature = sign(consultant)
    with override_settings(FARCARE_SIGNER=TEST_SIGNER):
        assert isinstance(signer_for("ed25519"), Ed25519Signer)
        assert verify_document(signature=signature, document=conclusion()).valid


def test_a_signature_no_configured_signer_understands_is_not_valid(consultant):
    with override_settings(FARCARE_SIGNER=TEST_SIGNER):
        signature = sign(consultant)
    result = verify_document(signature=signature, document=conclusion())
    assert not result.valid
    assert result.reason == "No signer is configured for this signature's algorithm."


@pytest.mark.parametrize(
    "path", ["tests.signatures.test_signers.Missing", "tests.signatures.test_signers.NotASigner"]
)
def test_a_misconfigured_signer_is_reported(path):
    with override_settings(FARCARE_SIGNER=path), pytest.raises(ImproperlyConfigured):
        get_signer()


def test_a_key_left_by_another_signer_must_be_revoked_before_switching(consultant):
    with override_settings(FARCARE_SIGNER=TEST_SIGNER):
        sign(consultant)
    with pytest.raises(SigningError, match="revoke it first"):
        sign(consultant, document_id="2")
    revoke_key(user=consultant)
    assert sign(consultant, document_id="2").algorithm == "ed25519"
