"""Every way in goes through one path: the site's login, the registry's (admin) login, a station's
enrolment (tests/sync/test_enrol_auth.py) and Django's own `authenticate()`. Each counts wrong
passwords towards the lockout, refuses a locked account even with the right password, and leaves
a record in the audit trail that names the way the person came in."""

from datetime import timedelta

from django.conf import settings
from django.contrib.auth import authenticate
from django.test import Client
from django.utils import timezone

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction, AuditEvent

from ..conftest import make_user
from ..factories import PASSWORD

ADMIN_LOGIN = f"/{settings.FARCARE_ADMIN_URL}login/"
ADMIN_INDEX = f"/{settings.FARCARE_ADMIN_URL}"


def admin_login(client: Client, username: str, password: str):
    return client.post(
        ADMIN_LOGIN, {"username": username, "password": password, "next": ADMIN_INDEX}
    )


def lock(user: User) -> None:
    User.objects.filter(pk=user.pk).update(locked_until=timezone.now() + timedelta(minutes=15))


def failures(username: str, channel: str) -> list[AuditEvent]:
    return [
        event
        for event in AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED, channel=channel)
        if event.details.get("username") == username
    ]


def test_a_locked_administrator_is_kept_out_of_the_registry_even_with_the_right_password(db):
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    lock(admin)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    response = admin_login(client, admin.username, PASSWORD)

    assert response.status_code == 200
    assert "locked" in response.content.decode()
    assert client.get(ADMIN_INDEX).status_code == 302  # still outside
    assert [event.details["why"] for event in failures(admin.username, "admin")] == ["locked"]


def test_wrong_passwords_at_the_registry_login_lock_the_account_like_the_sites_login(db):
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for _ in range(settings.FARCARE_LOCKOUT_ATTEMPTS):
        assert admin_login(client, admin.username, "not-the-password").status_code == 200

    admin.refresh_from_db()
    assert admin.locked_until is not None
    assert len(failures(admin.username, "admin")) == settings.FARCARE_LOCKOUT_ATTEMPTS
    # The site's own login knows about it: the same account, the same lock.
    site = Client(HTTP_ACCEPT_LANGUAGE="en").post(
        "/accounts/login/", {"username": admin.username, "password": PASSWORD}
    )
    assert "locked" in site.content.decode()


def test_the_registry_login_lets_an_administrator_in_and_audits_it(db):
    admin = make_user(Role.ADMINISTRATOR, is_staff=True, is_superuser=True)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")

    response = admin_login(client, admin.username, PASSWORD)

    assert response.status_code == 302
    assert response["Location"] == ADMIN_INDEX
    assert client.get(ADMIN_INDEX).status_code == 200
    login = AuditEvent.objects.get(action=AuditAction.LOGIN, actor_uuid=admin.uuid)
    assert login.channel == "admin"


def test_a_clinician_logged_in_is_refused_the_registry_and_not_shown_a_second_login(db):
    clinician = make_user(Role.CLINICIAN)
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(clinician)
    assert client.get(ADMIN_LOGIN).status_code == 403


def test_djangos_authenticate_refuses_a_locked_account_and_counts_its_failures(db):
    """Any code that calls Django's `authenticate()` (the test client's login, a third-party
    view) meets the same lockout: it is enforced in the authentication backend too."""
    user = make_user(Role.ANALYST)
    lock(user)
    assert not Client().login(username=user.username, password=PASSWORD)
    assert authenticate(None, username=user.username, password=PASSWORD) is None

    other = make_user(Role.ANALYST)
    for _ in range(settings.FARCARE_LOCKOUT_ATTEMPTS):
        assert authenticate(None, username=other.username, password="wrong-password") is None
    other.refresh_from_db()
    assert other.locked_until is not None
    assert not Client().login(username=other.username, password=PASSWORD)


def test_the_sites_login_names_its_channel_in_the_audit_trail(db):
    user = make_user(Role.ANALYST)
    Client().post("/accounts/login/", {"username": user.username, "password": "wrong-password"})
    assert len(failures(user.username, "page")) == 1
    Client().post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    assert AuditEvent.objects.get(action=AuditAction.LOGIN, actor_uuid=user.uuid).channel == "page"
