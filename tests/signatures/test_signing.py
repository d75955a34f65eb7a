"""A consultant signs a conclusion; every later change to the document, the stored signature or
its key is caught when the signature is verified."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.signatures.canonical import canonical_bytes
from farcare.signatures.models import ImmutableSignatureError, Signature, SigningKey
from farcare.signatures.services import revoke_key, sign_document, verify_document

from ..factories import UserFactory
from .conftest import conclusion

VALID = "The signature is valid."
CHANGED = "The document was changed after it was signed."
MISMATCH = "The signature does not match the signer's key."
REVOKED = "The signing key was revoked before the signature was made."


def sign(user, document=None, document_id="c0c1d2e3-0000-4000-8000-000000000001"):
    return sign_document(
        signer_user=user,
        document_type="conclusion",
        document_id=document_id,
        document=document if document is not None else conclusion(),
    )


def stored(signature):
    """The row as the database holds it now, not the instance the service returned."""
    return Signature.objects.get(pk=signature.pk)


def test_a_consultant_signs_a_conclusion_and_it_verifies(consultant):
    signature = sign(consultant)

    row = stored(signature)
    assert row.signer == consultant
    assert row.key.user == consultant
    assert row.algorithm == row.key.algorithm == "ed25519"
    assert row.document_type == "conclusion"
    assert row.digest == hashlib.sha256(canonical_bytes(conclusion())).hexdigest()
    assert row.signed_at.utcoffset() == dt.timedelta(0)
    assert len(base64.b64decode(row.signature)) == 64
    result = verify_document(signature=row, document=conclusion())
    assert result.valid
    assert result.reason == VALID


def test_the_same_key_signs_every_conclusion_of_a_consultant(consultant):
    first, second = sign(consultant), sign(consultant, document_id="other")
    assert first.key == second.key
    assert SigningKey.objects.filter(user=consultant).count() == 1


def test_one_changed_character_is_caught(consultant):
    signature = sign(consultant)
    document = conclusion()
    document["diagnosis"]["code"] = "J18.8"

    result = verify_document(signature=stored(signature), document=document)

    assert not result.valid
    assert result.reason == CHANGED


def test_a_tampered_signature_value_is_caught(consultant):
    signature = sign(consultant)
    value = bytearray(base64.b64decode(signature.signature))
    value[10] ^= 0x01
    # .update() skips the model's guard, as a direct write to the database would.
    Signature.objects.filter(pk=signature.pk).update(signature=base64.b64encode(value).decode())

    result = verify_document(signature=stored(signature), document=conclusion())

    assert not result.valid
    assert result.reason == MISMATCH


def test_a_signature_value_that_is_not_base64_is_caught(consultant):
    signature = sign(consultant)
    Signature.objects.filter(pk=signature.pk).update(signature="not base64!")
    assert verify_document(signature=stored(signature), document=conclusion()).reason == MISMATCH


def test_a_swapped_key_is_caught(consultant):
    signature = sign(consultant)
    colleague = UserFactory(role=Role.CONSULTANT)
    other_key = sign(colleague).key

    Signature.objects.filter(pk=signature.pk).update(key=other_key)
    assert verify_document(signature=stored(signature), document=conclusion()).reason == MISMATCH

    # Attributing the signature wholesale to the colleague does not help either.
    Signature.objects.filter(pk=signature.pk).update(signer=colleague)
    assert verify_document(signature=stored(signature), document=conclusion()).reason == MISMATCH


def test_a_new_key_of_the_same_consultant_does_not_verify_an_old_signature(consultant):
    signature = sign(consultant)
    revoke_key(user=consultant)
    new_key = sign(consultant).key
    Signature.objects.filter(pk=signature.pk).update(key=new_key)
    assert verify_document(signature=stored(signature), document=conclusion()).reason == MISMATCH


def test_a_changed_document_with_a_matching_digest_is_still_caught(consultant):
    signature = sign(consultant)
    document = conclusion()
    document["evacuation_advised"] = False
    forged_digest = hashlib.sha256(canonical_bytes(document)).hexdigest()
    Signature.objects.filter(pk=signature.pk).update(digest=forged_digest)

    assert verify_document(signature=stored(signature), document=document).reason == MISMATCH


@pytest.mark.parametrize(
    "change",
    [
        {"document_id": "c0c1d2e3-0000-4000-8000-000000000002"},
        {"document_type": "referral"},
        {"signed_at": dt.datetime(2020, 1, 1, tzinfo=dt.UTC)},
    ],
)
def test_a_signature_moved_to_another_document_or_time_is_caught(consultant, change):
    signature = sign(consultant)
    Signature.objects.filter(pk=signature.pk).update(**change)
    assert verify_document(signature=stored(signature), document=conclusion()).reason == MISMATCH


def test_revoking_a_key_keeps_old_signatures_and_the_next_signature_gets_a_new_key(consultant):
    old = sign(consultant)

    revoked = revoke_key(user=consultant)

    assert revoked == old.key
    assert revoked is not None and revoked.revoked_at is not None
    assert verify_document(signature=stored(old), document=conclusion()).valid
    new = sign(consultant, document_id="next")
    assert new.key != old.key
    assert new.key.revoked_at is None
    assert verify_document(signature=stored(new), document=conclusion()).valid
    assert SigningKey.objects.filter(user=consultant, revoked_at__isnull=True).count() == 1


def test_revoking_without_a_key_does_nothing(consultant):
    assert revoke_key(user=consultant) is None


def test_a_signature_made_after_its_key_was_revoked_is_refused(consultant):
    signature = sign(consultant)
    SigningKey.objects.filter(pk=signature.key_id).update(
        revoked_at=signature.signed_at - dt.timedelta(minutes=1)
    )

    result = verify_document(signature=stored(signature), document=conclusion())

    assert not result.valid
    assert result.reason == REVOKED


def test_a_user_has_at_most_one_active_key(consultant):
    key = sign(consultant).key
    with pytest.raises(IntegrityError), transaction.atomic():
        SigningKey.objects.create(
            user=consultant,
            algorithm="ed25519",
            public_key=key.public_key,
            created_at=timezone.now(),
        )


def test_signatures_cannot_be_changed_or_deleted_through_the_model(consultant):
    signature = sign(consultant)

    signature.document_id = "something else"
    with pytest.raises(ImmutableSignatureError):
        signature.save()
    with pytest.raises(ImmutableSignatureError):
        signature.delete()
    with pytest.raises(ImmutableSignatureError):
        Signature.objects.filter(pk=signature.pk).delete()

    row = stored(signature)
    assert row.document_id == "c0c1d2e3-0000-4000-8000-000000000001"
    assert verify_document(signature=row, document=conclusion()).valid


def test_an_overlong_document_type_is_refused(consultant):
    with pytest.raises(ValueError, match="document_type"):
        sign_document(
            signer_user=consultant,
            document_type="x" * 41,
            document_id="1",
            document=conclusion(),
        )
    assert not Signature.objects.exists()
