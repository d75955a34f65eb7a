"""Enrolling a station is a login: a station's token reaches the post's patients and its staff's
password hashes, so `/api/sync/enrol` takes the same path as the site's login: the lockout, the
second factor where the user has or must have one, and the audit trail (channel "sync")."""

from __future__ import annotations

import io
import json
import sys
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client, override_settings
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from farcare.accounts.models import User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.sync.models import Station, StationConfig
from farcare.testing.hub import HubProcess

from ..factories import PASSWORD
from .conftest import DEMO_PASSWORD
from .helpers import hub_json


def enrol(username: str, password: str, **extra: str) -> Any:
    return Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/api/sync/enrol",
        json.dumps({"username": username, "password": password, "name": "Uelen laptop", **extra}),
        content_type="application/json",
    )


def code(device: TOTPDevice) -> str:
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


def second_factor(user: User) -> TOTPDevice:
    return TOTPDevice.objects.create(user=user, name="phone", confirmed=True)


def sync_failures(user: User) -> list[str]:
    return [
        event.details["why"]
        for event in AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, channel="sync")
        if event.details.get("username") == user.username
    ]


def test_a_clinician_enrols_with_the_right_password_and_the_login_is_audited(feldsher):
    response = enrol(feldsher.username, PASSWORD)
    assert response.status_code == 200, response.content
    assert Station.objects.filter(enrolled_by=feldsher).count() == 1
    login = AuditEvent.objects.get(action=AuditAction.LOGIN, actor_uuid=feldsher.uuid)
    assert login.channel == "sync"


def test_an_account_locked_on_the_web_cannot_enrol_a_station_with_the_right_password(feldsher):
    User.objects.filter(pk=feldsher.pk).update(locked_until=timezone.now() + timedelta(minutes=15))
    response = enrol(feldsher.username, PASSWORD)
    assert response.status_code == 403
    assert "locked" in response.json()["detail"]
    assert "token" not in response.json()
    assert not Station.objects.exists()
    assert sync_failures(feldsher) == ["locked"]


def test_wrong_passwords_at_enrolment_count_towards_the_lockout(feldsher):
    for _ in range(settings.FARCARE_LOCKOUT_ATTEMPTS):
        assert enrol(feldsher.username, "not-the-password").status_code == 403
    feldsher.refresh_from_db()
    assert feldsher.locked_until is not None
    assert sync_failures(feldsher) == ["password"] * settings.FARCARE_LOCKOUT_ATTEMPTS
    assert enrol(feldsher.username, PASSWORD).status_code == 403
    web = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/login/", {"username": feldsher.username, "password": PASSWORD}
    )
    assert "locked" in web.content.decode()
    assert not Station.objects.exists()


@override_settings(FARCARE_REQUIRE_OTP=True)
def test_where_a_second_factor_is_required_enrolment_asks_for_the_code(feldsher):
    device = second_factor(feldsher)

    asked = enrol(feldsher.username, PASSWORD)
    assert asked.status_code == 401
    assert asked.json()["code"] == "second_factor_required"
    assert "token" not in asked.json()

    wrong = enrol(feldsher.username, PASSWORD, otp="000000")
    assert wrong.status_code == 403
    assert sync_failures(feldsher)[-1] == "second_factor"
    assert not Station.objects.exists()

    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device.refresh_from_db()
    done = enrol(feldsher.username, PASSWORD, otp=code(device))
    assert done.status_code == 200, done.content
    assert done.json()["token"]
    login = AuditEvent.objects.get(action=AuditAction.LOGIN, actor_uuid=feldsher.uuid)
    assert login.channel == "sync"
    assert login.details["second_factor"] == "verified"


@override_settings(FARCARE_REQUIRE_OTP=True)
def test_where_a_second_factor_is_required_a_clinician_without_one_cannot_enrol(feldsher):
    response = enrol(feldsher.username, PASSWORD, otp="123456")
    assert response.status_code == 403
    assert "second factor" in response.json()["detail"]
    assert not Station.objects.exists()


def test_a_clinician_who_set_up_a_second_factor_must_give_it_even_where_none_is_required(
    feldsher,
):
    second_factor(feldsher)
    response = enrol(feldsher.username, PASSWORD)
    assert response.status_code == 401
    assert response.json()["code"] == "second_factor_required"
    assert not Station.objects.exists()


def test_the_station_command_passes_the_code_from_the_authenticator_app(
    db: None, hub: HubProcess, monkeypatch: pytest.MonkeyPatch
):
    """The feldsher at the post has a second factor at the hub: `farcare station` without a
    code is refused with a word about it; with --otp it enrols."""
    key = hub_json(
        hub,
        "from django_otp.plugins.otp_totp.models import TOTPDevice\n"
        "from farcare.accounts.models import User\n"
        "d = TOTPDevice.objects.create(user=User.objects.get(username='feldsher'),"
        " name='phone', confirmed=True)\n"
        "result = d.key\n",
    )
    device = TOTPDevice(key=key)
    hub_url = f"http://127.0.0.1:{hub.port}"

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{DEMO_PASSWORD}\n"))
    with pytest.raises(CommandError, match="--otp"):
        call_command(
            "station", "status", "--hub", hub_url, "--username", "feldsher", "--password-stdin"
        )
    assert not StationConfig.objects.exists()

    monkeypatch.setattr(sys, "stdin", io.StringIO(f"{DEMO_PASSWORD}\n"))
    out = io.StringIO()
    call_command(
        "station",
        "status",
        "--hub",
        hub_url,
        "--username",
        "feldsher",
        "--password-stdin",
        "--otp",
        code(device),
        stdout=out,
    )
    assert "Enrolled" in out.getvalue()
    assert StationConfig.objects.count() == 1


def test_a_station_cannot_be_enrolled_at_a_facility_abroad(db):
    """A station keeps its post's patients on the laptop; abroad that would move Russian
    patients' records out of the country (domain.md §3), so the hub refuses the enrolment."""
    from farcare.accounts.models import Role
    from farcare.network.models import FacilityKind

    from ..factories import FacilityFactory, UserFactory

    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
    )
    clinician = UserFactory(role=Role.CLINICIAN, facility=partner)
    response = enrol(clinician.username, PASSWORD)
    assert response.status_code == 403
    assert "home facility" in response.json()["detail"]
    assert not Station.objects.exists()
