"""Passwords: at least 12 characters and none of the common ones; a change (by the user on their
preferences page, or a reset by an administrator in the registry) ends everything that trusted
the old one: the user's other sessions and their personal FHIR tokens. The session in which the
user changed it stays logged in."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.conf import settings
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.fhir.models import AccessToken
from farcare.fhir.oauth import issue_token

from ..conftest import logged_in, make_user
from ..factories import PASSWORD

NEW_PASSWORD = "tundra-aurora-2027-walrus"
PASSWORD_PAGE = "/accounts/password/"


def personal_token(user: User) -> str:
    token, _record = issue_token(user=user, scopes=["user/*.read"], lifetime=timedelta(hours=8))
    return token


def fhir_answers(token: str) -> int:
    return Client().get("/fhir/Patient", HTTP_AUTHORIZATION=f"Bearer {token}").status_code


def change_own_password(client: Client, old: str, new: str, again: str | None = None):
    return client.post(
        PASSWORD_PAGE,
        {"old_password": old, "new_password1": new, "new_password2": again or new},
    )


def test_a_password_change_ends_other_sessions_and_tokens_but_not_this_session(feldsher):
    here = logged_in(feldsher)
    elsewhere = logged_in(feldsher)
    token = personal_token(feldsher)
    assert fhir_answers(token) == 200

    response = change_own_password(here, PASSWORD, NEW_PASSWORD)

    assert response.status_code == 302
    assert here.get("/").status_code == 200  # still logged in here
    assert elsewhere.get("/").status_code == 302  # the laptop left logged in at the post: out
    assert fhir_answers(token) == 401
    assert not AccessToken.objects.filter(user=feldsher, revoked=False).exists()
    feldsher.refresh_from_db()
    assert feldsher.check_password(NEW_PASSWORD)
    changed = AuditEvent.objects.get(action=AuditAction.UPDATE, record_id=str(feldsher.uuid))
    assert changed.details["what"] == "password"
    revoked = AuditEvent.objects.get(
        action=AuditAction.UPDATE, details__what="fhir_user_token", details__why="password_changed"
    )
    assert revoked.details["count"] == 1


def test_a_password_reset_by_an_administrator_ends_the_users_sessions_and_tokens(feldsher):
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    registry = logged_in(admin)
    at_the_post = logged_in(feldsher)
    token = personal_token(feldsher)

    response = registry.post(
        f"/{settings.FARCARE_ADMIN_URL}accounts/user/{feldsher.pk}/password/",
        {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD},
    )

    assert response.status_code == 302
    assert at_the_post.get("/").status_code == 302
    assert fhir_answers(token) == 401
    assert registry.get(f"/{settings.FARCARE_ADMIN_URL}").status_code == 200
    reset = AuditEvent.objects.get(action=AuditAction.UPDATE, record_id=str(feldsher.uuid))
    assert reset.actor_uuid == admin.uuid
    assert reset.details == {"what": "password", "change": "reset"}


def test_the_wrong_current_password_is_refused_and_counts_towards_the_lockout(feldsher):
    client = logged_in(feldsher)
    token = personal_token(feldsher)
    response = change_own_password(client, "not-my-password", NEW_PASSWORD)
    assert response.status_code == 200
    assert "wrong" in response.content.decode()
    feldsher.refresh_from_db()
    assert feldsher.check_password(PASSWORD)
    assert feldsher.failed_logins == 1
    assert fhir_answers(token) == 200


@pytest.mark.parametrize(
    "password",
    [
        "short-pass1",  # 11 characters
        "password1234",  # 12, but on every list of common passwords
        "1qaz2wsx3edc",
    ],
)
def test_a_short_or_common_password_is_refused(feldsher, password):
    with pytest.raises(ValidationError):
        validate_password(password, feldsher)
    client = logged_in(feldsher)
    response = change_own_password(client, PASSWORD, password)
    assert response.status_code == 200
    assert response.context["form"].errors["new_password2"]
    feldsher.refresh_from_db()
    assert feldsher.check_password(PASSWORD)


def test_the_demo_password_is_long_enough():
    validate_password("farcare-demo")


def test_the_password_page_in_russian(feldsher):
    client = logged_in(feldsher, "ru")
    feldsher.language = "ru"
    feldsher.save(update_fields=["language"])
    response = client.get(PASSWORD_PAGE)
    assert response.status_code == 200
    assert "Пароль" in response.content.decode() or "пароль" in response.content.decode()
