"""Logging in: Argon2, lockout after repeated failures, an optional second factor, idle expiry."""

import io
import sys

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent

from ..conftest import make_user
from ..factories import PASSWORD


def login(client, username, password):
    return client.post("/accounts/login/", {"username": username, "password": password})


def token_for(device):
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def test_passwords_are_stored_with_argon2(db):
    user = make_user(Role.ANALYST)
    assert user.password.startswith("argon2")


def test_a_user_logs_in_and_the_login_is_audited(db):
    user = make_user(Role.ANALYST)
    client = Client()
    response = login(client, user.username, PASSWORD)
    assert response.status_code == 302
    assert client.get("/").status_code == 200
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN, actor_uuid=user.uuid).exists()


def test_five_wrong_passwords_lock_the_account_even_against_the_right_one(db):
    user = make_user(Role.ANALYST)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(settings.FARCARE_LOCKOUT_ATTEMPTS):
        response = login(client, user.username, "wrong-password")
        assert response.status_code == 200
    assert "locked" in response.content.decode()
    refused = login(client, user.username, PASSWORD)
    assert refused.status_code == 200
    assert "locked" in refused.content.decode()
    user.refresh_from_db()
    assert user.locked_until is not None
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).count() == 6


def test_a_wrong_password_in_russian(db):
    user = make_user(Role.ANALYST)
    response = login(Client(HTTP_ACCEPT_LANGUAGE="ru"), user.username, "wrong")
    assert "Неверн" in response.content.decode()


def test_sessions_end_after_inactivity():
    assert settings.SESSION_SAVE_EVERY_REQUEST
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_a_second_factor_once_set_up_is_asked_at_every_login(db):
    user = make_user(Role.CLINICIAN)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    login(client, user.username, PASSWORD)
    setup = client.get("/accounts/otp/setup/")
    assert setup.status_code == 200
    device = TOTPDevice.objects.get(user=user, confirmed=False)
    wrong = client.post("/accounts/otp/setup/", {"token": "000000"})
    assert "wrong" in wrong.content.decode()
    # django-otp slows down guessing after a failure; the user waits a moment, then retries
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    done = client.post("/accounts/otp/setup/", {"token": token_for(device)})
    assert done.status_code == 302
    device.refresh_from_db()
    assert device.confirmed

    fresh = Client()
    login(fresh, user.username, PASSWORD)
    blocked = fresh.get("/patients/")
    assert blocked.status_code == 302
    assert blocked["Location"].startswith("/accounts/otp/verify/")
    device.refresh_from_db()
    device.last_t = -1  # the same 30-second window may be used once only
    device.save()
    verified = fresh.post(
        "/accounts/otp/verify/", {"token": token_for(device), "next": "/patients/"}
    )
    assert verified.status_code == 302
    assert fresh.get("/patients/").status_code == 200


@override_settings(FARCARE_REQUIRE_OTP=True)
def test_production_requires_clinical_roles_to_set_up_a_second_factor(db):
    clinician = make_user(Role.CLINICIAN)
    analyst = make_user(Role.ANALYST)
    client = Client()
    login(client, clinician.username, PASSWORD)
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == "/accounts/otp/setup/"
    other = Client()
    login(other, analyst.username, PASSWORD)
    assert other.get("/").status_code == 200


def test_console_adds_a_user_with_the_password_from_stdin(chain, monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-safe-password\n"))
    out = io.StringIO()
    call_command(
        "user",
        "add",
        "--username",
        "fel2",
        "--role",
        "clinician",
        "--facility",
        chain.post.name_en,
        "--password-stdin",
        stdout=out,
    )
    user = User.objects.get(username="fel2")
    assert user.facility == chain.post
    assert user.check_password("a-long-safe-password")
    assert user.password.startswith("argon2")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--role", "clinician", "--facility", "Nowhere"], "No facility"),
        (["--role", "clinician"], "facility|учрежд"),
        (["--role", "analyst", "--password-stdin-missing"], ""),
    ],
)
def test_console_refuses_bad_users(chain, monkeypatch, args, message):
    monkeypatch.setattr(sys, "stdin", io.StringIO("a-long-safe-password\n"))
    if "--password-stdin-missing" in args:
        with pytest.raises(CommandError, match="password"):
            call_command("user", "add", "--username", "x", "--role", "analyst")
        return
    with pytest.raises(CommandError, match=message):
        call_command("user", "add", "--username", "x", *args, "--password-stdin")
    assert not User.objects.filter(username="x").exists()
