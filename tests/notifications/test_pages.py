"""The inbox, marking read, the preferences form and the header's unread count."""

from __future__ import annotations

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from farcare.notifications.models import NotificationPreference
from farcare.notifications.services import notify, unread_count
from tests.conftest import logged_in
from tests.factories import UserFactory

pytestmark = pytest.mark.urls("tests.notifications.urls")


def tell(user, subject, **kwargs):
    return notify(recipient=user, event="test.event", subject=subject, body="body", **kwargs)


def test_the_inbox_lists_newest_first_with_unread_in_bold(db):
    user = UserFactory(email="")
    older = tell(user, "Older news", link="/patients/")
    tell(user, "Newer news")
    tell(UserFactory(), "Someone else's news")
    client = logged_in(user)

    page = client.get("/notifications/").content.decode()

    assert page.index("Newer news") < page.index("Older news")
    assert "<strong>Older news</strong>" in page
    assert "Someone else" not in page
    assert 'href="/patients/"' in page
    assert "<time datetime=" in page
    assert "2 unread notifications." in page
    assert f'action="/notifications/{older.uuid}/read/"' in page


def test_marking_read_with_htmx_returns_the_row_and_without_redirects(db):
    user = UserFactory(email="")
    first, second = tell(user, "First"), tell(user, "Second")
    client = logged_in(user)

    row = client.post(f"/notifications/{first.uuid}/read/", HTTP_HX_REQUEST="true")
    assert row.status_code == 200
    html = row.content.decode()
    assert html.startswith(f'<tr id="notification-{first.uuid}" class="read">')
    assert "<strong>" not in html and "Mark read" not in html
    first.refresh_from_db()
    read_at = first.read_at
    assert read_at is not None

    plain = client.post(f"/notifications/{second.uuid}/read/")
    assert (plain.status_code, plain["Location"]) == (302, "/notifications/")
    assert unread_count(user) == 0
    client.post(f"/notifications/{first.uuid}/read/")  # again: the first reading time stays
    first.refresh_from_db()
    assert first.read_at == read_at


def test_nobody_can_mark_someone_elses_notification_read(db):
    owner, intruder = UserFactory(), UserFactory()
    notification = tell(owner, "Private")
    response = logged_in(intruder).post(f"/notifications/{notification.uuid}/read/")
    assert response.status_code == 404
    notification.refresh_from_db()
    assert notification.read_at is None


def test_the_pages_need_a_login_and_reading_needs_post(db):
    notification = tell(UserFactory(), "x")
    anonymous = logged_in(UserFactory())
    anonymous.logout()
    assert anonymous.get("/notifications/").status_code == 302
    assert anonymous.get("/notifications/preferences/").status_code == 302
    own = logged_in(notification.recipient)
    assert own.get(f"/notifications/{notification.uuid}/read/").status_code == 405


def test_preferences_reject_a_bad_phone_number_and_keep_what_was_typed(db):
    user = UserFactory(email="")
    client = logged_in(user)
    assert 'for="id_phone"' in client.get("/notifications/preferences/").content.decode()

    response = client.post(
        "/notifications/preferences/", {"sms_enabled": "on", "phone": "8914-12", "language": "ko"}
    )

    assert response.status_code == 200
    page = response.content.decode()
    assert "a plus sign and 8 to 15 digits" in page
    assert 'value="8914-12"' in page
    assert '<option value="ko" selected>' in page
    assert 'name="sms_enabled" id="id_sms_enabled" checked' in page
    assert not NotificationPreference.objects.filter(user=user).exists()


def test_preferences_are_saved_with_the_number_in_international_form(db):
    user = UserFactory(email="doc@example.org")
    client = logged_in(user)
    response = client.post(
        "/notifications/preferences/",
        {"email_enabled": "on", "sms_enabled": "on", "phone": "+7 (914) 123-45-67"},
    )
    assert (response.status_code, response["Location"]) == (302, "/notifications/preferences/")
    preference = NotificationPreference.objects.get(user=user)
    assert (preference.email_enabled, preference.sms_enabled) == (True, True)
    assert (preference.phone, preference.language) == ("+79141234567", "")


def test_sms_needs_a_number_and_email_needs_an_address(db):
    client = logged_in(UserFactory(email=""))
    page = client.post(
        "/notifications/preferences/", {"email_enabled": "on", "sms_enabled": "on"}
    ).content.decode()
    assert "Enter a phone number to receive SMS." in page
    assert "Your account has no e-mail address." in page


def test_the_unread_count_tag(db):
    user = UserFactory()
    tell(user, "one")
    tell(user, "two")
    request = RequestFactory().get("/")
    request.user = user
    template = Template("{% load notifications %}[{% unread_notifications %}]")
    assert template.render(Context({"request": request})) == "[2]"
    assert template.render(Context({})) == "[0]"


def test_the_inbox_reads_in_the_language_of_the_page_not_the_one_it_was_sent_in(db, settings):
    """A user who never chose a language was told in the deployment's Russian; reading the
    site in English, they read the notification in English."""
    from django.utils.translation import gettext_lazy

    settings.LANGUAGE_CODE = "ru"
    user = UserFactory(email="", language="")
    notify(
        recipient=user,
        event="test.event",
        subject=gettext_lazy("Consultant"),
        body=gettext_lazy("Coordinator"),
    )
    assert user.notifications.get().subject == "Консультант"  # what e-mail or SMS would send

    page = logged_in(user, "en").get("/notifications/").content.decode()

    assert "<strong>Consultant</strong>" in page
    assert "Консультант" not in page
