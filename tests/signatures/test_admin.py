"""Administrators may look at signing keys, never at the encrypted private key, and cannot
change them by hand."""

from __future__ import annotations

from django.urls import reverse

from farcare.accounts.models import Role
from farcare.signatures.models import SigningKey
from farcare.signatures.services import sign_document

from ..conftest import logged_in
from ..factories import UserFactory
from .conftest import conclusion


def test_the_admin_shows_keys_read_only_without_the_private_key(consultant):
    sign_document(
        signer_user=consultant, document_type="conclusion", document_id="1", document=conclusion()
    )
    key = SigningKey.objects.get(user=consultant)
    admin = UserFactory.create(role=Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client = logged_in(admin)

    listing = client.get(reverse("admin:signatures_signingkey_changelist"))
    page = client.get(reverse("admin:signatures_signingkey_change", args=[key.pk]))

    assert listing.status_code == page.status_code == 200
    for response in (listing, page):
        assert key.encrypted_private_key not in response.content.decode()
    assert key.public_key in page.content.decode()
    assert client.get(reverse("admin:signatures_signingkey_add")).status_code == 403
    assert (
        client.post(reverse("admin:signatures_signingkey_delete", args=[key.pk])).status_code == 403
    )
