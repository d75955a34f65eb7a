"""Every page opens for the roles that use it, and every form field has a visible label."""

import re

import pytest
from django.test import Client

from farcare.accounts.models import Role, User
from farcare.network.models import Facility
from farcare.patients.models import Patient


@pytest.fixture
def demo(demo_network):
    pass


def role_pages(username):
    uelen = Facility.objects.get(settlement__name_en="Uelen")
    patient = Patient.objects.filter(home_facility=uelen).first()
    pages = [
        "/",
        "/network/facilities/",
        f"/network/facilities/{uelen.uuid}/",
        "/network/practitioners/",
        "/accounts/preferences/",
    ]
    if username in ("feldsher", "coordinator"):
        pages += [
            "/patients/",
            "/patients/?q=тын",
            "/patients/register/",
            f"/patients/{patient.uuid}/",
            f"/patients/{patient.uuid}/edit/",
        ]
    if username == "admin":
        pages += ["/audit/", "/access/reviews/", "/admin/", "/admin/network/facility/"]
    if username == "patient":
        own = Patient.objects.get(user__username="patient")
        pages += [f"/patients/{own.uuid}/", f"/patients/{own.uuid}/access-log/"]
    return pages


FIELD = re.compile(r"<(input|select|textarea)\b([^>]*)>", re.S)


def unlabelled_fields(html):
    missing = []
    for _tag, attrs in FIELD.findall(html):
        if re.search(r'type="(hidden|submit|button)"', attrs):
            continue
        found = re.search(r'\bid="([^"]+)"', attrs)
        if not found or f'for="{found.group(1)}"' not in html:
            missing.append(attrs.strip()[:80])
    return missing


@pytest.mark.parametrize(
    "username",
    ["feldsher", "cardiologist", "coordinator", "trainer", "patient", "analyst", "admin"],
)
def test_every_page_of_a_role_opens_and_labels_its_fields(demo, username):
    user = User.objects.get(username=username)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(user)
    for path in role_pages(username):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.content.decode()
        if path.startswith("/admin/"):
            continue
        assert unlabelled_fields(html) == [], path


def test_the_login_page_labels_its_fields(db):
    html = Client().get("/accounts/login/").content.decode()
    assert unlabelled_fields(html) == []


def test_the_registry_is_for_administrators_only(demo):
    client = Client()
    client.force_login(User.objects.get(username="feldsher"))
    assert client.get("/admin/").status_code == 302  # to the admin login, not in


def test_an_unknown_time_zone_in_preferences_is_refused_in_the_users_language(demo):
    user = User.objects.get(username="feldsher")
    client = Client(HTTP_ACCEPT_LANGUAGE="ru")
    client.force_login(user)
    response = client.post(
        "/accounts/preferences/", {"language": "", "time_zone": "Asia/Atlantis", "email": ""}
    )
    assert response.status_code == 200
    assert "time_zone" in response.context["form"].errors
    assert "Выберите корректный вариант" in response.content.decode()
    user.refresh_from_db()
    assert user.time_zone == ""


def test_an_idle_session_ends(db):
    from datetime import timedelta

    from django.contrib.sessions.models import Session
    from django.utils import timezone

    user = User.objects.create_user("idle", password="a-long-safe-password", role=Role.ANALYST)
    client = Client()
    client.login(username="idle", password="a-long-safe-password")
    assert client.get("/").status_code == 200
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")
    assert user.is_authenticated
