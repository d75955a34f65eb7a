"""Signers: what turns bytes into a signature, and checks a signature against a key.

The product signs through a pluggable signer (domain.md §2). The built-in `Ed25519Signer` keeps
each user's key pair in the database, the private half encrypted at rest (see `keystore`), and
creates a user's key the first time the user signs. It makes the product work out of the box;
it is not a qualified electronic signature in the sense of Federal Law 63-FZ.

Plugging in a certified Russian crypto provider
-----------------------------------------------
A deployment that must sign with an enhanced qualified electronic signature (КриптоПро CSP or
КриптоПро DSS, GOST R 34.10-2012 with GOST R 34.11-2012 hashing) writes a class that satisfies
the `Signer` protocol and names it in the settings::

    FARCARE_SIGNER = "myclinic.cryptopro.CryptoProSigner"

Such a class:

- sets `algorithm` to a name of its own, e.g. "gost2012-256";
- in `sign`, finds the user's certificate in the provider, keeps a `SigningKey` row for it
  (the public key or certificate in `public_key`, `encrypted_private_key` left empty: the
  private key never leaves the token or the provider), and returns that row with the
  signature, e.g. a detached CAdES signature of `data`;
- in `verify`, checks the signature and the certificate chain, and returns False rather
  than raising when the signature does not hold.

`get_signer()` returns an instance of the configured class (built with no arguments).
`signer_for()` picks the signer for a stored signature's algorithm; the built-in Ed25519 signer
stays available for it, so signatures made before a switch of provider still verify."""

from __future__ import annotations

import base64
import uuid
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string

from farcare.accounts.models import User

from .keystore import decrypt_private_key, encrypt_private_key
from .models import SigningKey

DEFAULT_SIGNER = "farcare.signatures.signers.Ed25519Signer"


class SigningError(RuntimeError):
    pass


@runtime_checkable
class Signer(Protocol):
    algorithm: str

    def sign(self, *, user: User, data: bytes) -> tuple[SigningKey, bytes]:
        """Sign `data` with the user's active key; return the key used and the signature."""
        ...

    def verify(self, *, key: SigningKey, data: bytes, signature: bytes) -> bool:
        """Whether `signature` is a signature of `data` by `key`. Never raises for a bad
        signature."""
        ...


def lock_user_keys(user: User) -> None:
    """Serialise key changes of one user (creation, revocation) by locking the user's row, so
    two first signatures at once cannot both create a key."""
    list(User.objects.select_for_update().filter(pk=user.pk).values_list("pk", flat=True))


class Ed25519Signer:
    algorithm: str = "ed25519"

    def sign(self, *, user: User, data: bytes) -> tuple[SigningKey, bytes]:
        with transaction.atomic():
            lock_user_keys(user)
            key = SigningKey.objects.filter(user=user, revoked_at__isnull=True).first()
            if key is None:
                key = self._create_key(user)
            elif key.algorithm != self.algorithm:
                # Left over from another signer; silently replacing it would hide the switch.
                raise SigningError(
                    f"the active key of {user} is for {key.algorithm!r}; revoke it first"
                )
        raw = decrypt_private_key(key.encrypted_private_key, key_uuid=key.uuid)
        return key, Ed25519PrivateKey.from_private_bytes(raw).sign(data)

    def verify(self, *, key: SigningKey, data: bytes, signature: bytes) -> bool:
        if key.algorithm != self.algorithm:
            return False
        try:
            Ed25519PublicKey.from_public_bytes(key.public_key_bytes).verify(signature, data)
        except (InvalidSignature, ValueError):
            # ValueError: a public key that is not 32 bytes of valid base64.
            return False
        return True

    def _create_key(self, user: User) -> SigningKey:
        private = Ed25519PrivateKey.generate()
        # The UUID is fixed before encrypting: it is the associated data of the ciphertext.
        key_uuid = uuid.uuid4()
        return SigningKey.objects.create(
            uuid=key_uuid,
            user=user,
            algorithm=self.algorithm,
            public_key=base64.b64encode(private.public_key().public_bytes_raw()).decode("ascii"),
            encrypted_private_key=encrypt_private_key(
                private.private_bytes_raw(), key_uuid=key_uuid
            ),
            created_at=timezone.now(),
        )


def get_signer() -> Signer:
    path = getattr(settings, "FARCARE_SIGNER", DEFAULT_SIGNER)
    try:
        signer_class = import_string(path)
    except ImportError as error:
        raise ImproperlyConfigured(f"FARCARE_SIGNER: cannot import {path!r}") from error
    signer = signer_class()
    if not isinstance(signer, Signer):
        raise ImproperlyConfigured(f"FARCARE_SIGNER: {path!r} is not a Signer")
    return signer


def signer_for(algorithm: str) -> Signer | None:
    """The signer able to verify signatures of `algorithm`, or None when none is."""
    signer = get_signer()
    if signer.algorithm == algorithm:
        return signer
    if algorithm == Ed25519Signer.algorithm:
        return Ed25519Signer()
    return None
