"""Everything a user is told goes through the outbox: a failed send is retried, never lost."""

from __future__ import annotations

import io
from datetime import timedelta
from unittest import mock

import pytest
from django.core.management import call_command
from django.db import transaction
from django.utils import timezone, translation
from django.utils.translation import get_language, gettext, gettext_lazy

from farcare.accounts.models import Role
from farcare.notifications.channels import SMS_MAX_CHARS, sms_text
from farcare.notifications.models import (
    Channel,
    Delivery,
    DeliveryStatus,
    Notification,
    NotificationPreference,
)
from farcare.notifications.services import deliver_due, notify, retry_delay
from tests.factories import UserFactory

PHONE = "+79141234567"


def sms_user(role=Role.COORDINATOR, email="", **kwargs):
    user = UserFactory(role=role, email=email, **kwargs)
    NotificationPreference.objects.create(
        user=user, email_enabled=False, sms_enabled=True, phone=PHONE
    )
    return user


def test_a_korean_consultant_gets_the_inbox_entry_and_an_email_in_korean(
    db, smtp, settings, django_capture_on_commit_callbacks
):
    settings.FARCARE_SITE_URL = "https://farcare.example/"
    consultant = UserFactory(role=Role.CONSULTANT, language="ko", email="kim@hospital.example")
    with translation.override("ko"):
        korean = gettext("Consultant")  # a message the project's Korean catalogue translates
    assert korean != "Consultant"
    languages = []

    def body() -> str:
        languages.append(get_language())
        return f"{gettext('Consultant')}: 긴급 자문 요청"

    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(
            recipient=consultant,
            event="consult.new_emergency",
            subject=gettext_lazy("Consultant"),
            body=body,
            link="/consults/42/",
            urgent=True,
        )

    # Rendered at creation only (a retried e-mail says the same thing): in the recipient's
    # language for the e-mail, and in the others for the inbox of a reader who switches.
    assert sorted(languages) == ["en", "ko", "ru"]
    assert notification.language == "ko"
    assert notification.subject == korean
    assert consultant.notifications.get() == notification  # the in-app inbox
    assert notification.read_at is None

    assert len(smtp.messages) == 1
    mail = smtp.messages[0]
    delivery = notification.deliveries.get()
    assert mail["To"] == "kim@hospital.example"
    assert mail["From"] == "FarCare <noreply@farcare.test>"
    assert mail["Subject"] == korean
    assert mail["X-FarCare-Delivery"] == str(delivery.uuid)
    text = mail.get_content()
    assert f"{korean}: 긴급 자문 요청" in text
    assert "https://farcare.example/consults/42/" in text
    delivery.refresh_from_db()
    assert (delivery.channel, delivery.status, delivery.attempts) == (Channel.EMAIL, "sent", 1)
    assert delivery.sent_at is not None


def test_params_are_interpolated_after_translation_in_the_recipients_language(db):
    user = UserFactory(language="en", email="")
    notification = notify(
        recipient=user,
        event="test.params",
        subject=gettext_lazy("%(who)s: %(count)d new"),
        body="",
        params={"who": gettext_lazy("Consultant"), "count": 3},
    )
    assert notification.subject == "Consultant: 3 new"


def test_an_sms_is_retried_until_the_gateway_takes_it_and_arrives_once(db, gateway):
    coordinator = sms_user()
    gateway.fail_next = 2
    # The test transaction never commits, so the after-commit attempt does not run here: the
    # three attempts below are the three deliver_due runs.
    notification = notify(
        recipient=coordinator, event="consult.assigned", subject="Case assigned", body="Uelen"
    )
    delivery = notification.deliveries.get()
    start = timezone.now()

    first = deliver_due(now=start)
    assert first.counts() == {"sent": 0, "retrying": 1, "failed": 0}
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    assert "HTTP 503" in delivery.last_error
    assert delivery.next_attempt_at == start + timedelta(minutes=1)

    assert deliver_due(now=start + timedelta(seconds=30)).total == 0  # not due yet
    assert deliver_due(now=start + timedelta(minutes=1)).counts()["retrying"] == 1
    delivery.refresh_from_db()
    assert delivery.next_attempt_at == start + timedelta(minutes=1) + timedelta(minutes=2)

    assert deliver_due(now=start + timedelta(minutes=3)).counts()["sent"] == 1
    assert deliver_due(now=start + timedelta(hours=5)).total == 0  # nothing sent twice

    assert len(gateway.requests) == 3
    assert {r["json"]["id"] for r in gateway.requests} == {str(delivery.uuid)}
    assert all(r["json"]["to"] == PHONE for r in gateway.requests)
    assert all(r["headers"]["Authorization"] == "Bearer gateway-secret" for r in gateway.requests)
    assert gateway.requests[-1]["json"]["text"] == "Case assigned: Uelen"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 3)


def test_without_a_gateway_sms_wait_and_go_once_one_is_configured(db, gateway, settings):
    settings.FARCARE_SMS_GATEWAY_URL = ""
    notification = notify(
        recipient=sms_user(), event="consult.urgent", subject="Now", body="", urgent=True
    )
    start = timezone.now()
    deliver_due(now=start)
    delivery = notification.deliveries.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert "FARCARE_SMS_GATEWAY_URL" in delivery.last_error
    assert delivery.next_attempt_at == start + timedelta(seconds=15)  # urgent: a short wait

    settings.FARCARE_SMS_GATEWAY_URL = gateway.url
    assert deliver_due(now=start + timedelta(seconds=15)).counts()["sent"] == 1
    assert len(gateway.requests) == 1


def test_with_the_smtp_server_down_the_mail_waits_and_goes_when_it_comes_up(
    db, smtp_down, django_capture_on_commit_callbacks
):
    user = UserFactory(email="feldsher@uelen.example", language="ru")
    with django_capture_on_commit_callbacks(execute=True):
        notification = notify(recipient=user, event="consult.answered", subject="Ответ", body="…")
    delivery = notification.deliveries.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.attempts == 1
    assert "ConnectionRefused" in delivery.last_error
    assert delivery.next_attempt_at > timezone.now()

    smtp_down.start()
    assert deliver_due().total == 0  # the retry is not due yet
    report = deliver_due(now=timezone.now() + timedelta(minutes=1, seconds=1))
    assert report.counts() == {"sent": 1, "retrying": 0, "failed": 0}
    assert [m["Subject"] for m in smtp_down.messages] == ["Ответ"]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SENT, 2)


def test_after_the_last_attempt_the_delivery_is_failed_but_kept(db, gateway, settings):
    settings.FARCARE_NOTIFICATION_MAX_ATTEMPTS = 3
    gateway.fail_next = 100
    notification = notify(recipient=sms_user(), event="x.y", subject="Lost?", body="")
    moment = timezone.now()
    for _ in range(3):
        report = deliver_due(now=moment)
        moment += timedelta(hours=1)
    assert len(report.failed) == 1
    delivery = Delivery.objects.get(notification=notification)
    assert delivery.status == DeliveryStatus.FAILED
    assert delivery.attempts == 3
    assert delivery.next_attempt_at is None
    assert "503" in delivery.last_error
    assert deliver_due(now=moment + timedelta(days=1)).total == 0
    assert len(gateway.requests) == 3
    assert Notification.objects.filter(pk=notification.pk, read_at__isnull=True).exists()


def test_the_backoff_doubles_from_a_minute_and_stops_at_an_hour():
    minutes = [retry_delay(n, urgent=False) / timedelta(minutes=1) for n in range(1, 10)]
    assert minutes == [1, 2, 4, 8, 16, 32, 60, 60, 60]
    seconds = [retry_delay(n, urgent=True).total_seconds() for n in range(1, 5)]
    assert seconds == [15, 30, 60, 120]
    assert retry_delay(500, urgent=False) == timedelta(hours=1)


def test_only_the_channels_the_user_chose_get_a_delivery(db):
    plain = UserFactory(email="a@example.org")  # no preferences saved: e-mail on, SMS off
    no_email = UserFactory(email="")
    quiet = UserFactory(email="b@example.org")
    NotificationPreference.objects.create(user=quiet, email_enabled=False)
    inactive = UserFactory(email="c@example.org", is_active=False)
    both = sms_user(email="d@example.org")
    NotificationPreference.objects.filter(user=both).update(email_enabled=True)

    def channels(user):
        notification = notify(recipient=user, event="t", subject="s", body="b")
        return sorted(notification.deliveries.values_list("channel", flat=True))

    assert channels(plain) == ["email"]
    assert channels(no_email) == []
    assert channels(quiet) == []
    assert channels(inactive) == []
    assert channels(both) == ["email", "sms"]


def test_a_rolled_back_action_tells_nobody(db, smtp, django_capture_on_commit_callbacks):
    user = UserFactory(email="a@example.org")
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        notify(recipient=user, event="t", subject="never", body="")
        raise RuntimeError("the action failed")
    assert callbacks == []
    assert not Notification.objects.exists()
    assert smtp.messages == []


@pytest.mark.parametrize("link", ["https://elsewhere.example/", "//elsewhere.example/", "x/"])
def test_links_must_stay_on_the_site(db, link):
    with pytest.raises(ValueError, match="path on this site"):
        notify(recipient=UserFactory(), event="t", subject="s", body="b", link=link)


def test_a_long_sms_is_cut_at_a_word_and_keeps_the_link(db, settings):
    settings.FARCARE_SITE_URL = "https://farcare.example"
    notification = notify(
        recipient=UserFactory(email=""),
        event="t",
        subject="Ответ консультанта",
        body="слово " * 100,
        link="/consults/7/",
    )
    text = sms_text(notification)
    assert len(text) <= SMS_MAX_CHARS
    assert text.endswith("… https://farcare.example/consults/7/")
    assert "слово слово" in text and "сло…" not in text


def test_the_command_sends_once_and_says_what_happened(db, gateway):
    gateway.fail_next = 1
    first = notify(recipient=sms_user(), event="t", subject="first", body="")
    second = notify(recipient=sms_user(), event="t", subject="second", body="")
    out, err = io.StringIO(), io.StringIO()
    call_command("notifications", "deliver", stdout=out, stderr=err)
    output = out.getvalue()
    assert "Sent 1, retrying 1, failed 0." in output
    assert f"retrying  sms to {PHONE} ({first.deliveries.get().uuid}) attempt 1" in output
    assert f"sent      sms to {PHONE} ({second.deliveries.get().uuid})" in output


def test_the_command_loops_as_a_worker_until_stopped(db, gateway):
    notify(recipient=sms_user(), event="t", subject="s", body="")
    out = io.StringIO()
    with mock.patch("time.sleep", side_effect=[None, KeyboardInterrupt]) as sleep:
        call_command("notifications", "deliver", "--loop", "2", stdout=out)
    assert [c.args for c in sleep.call_args_list] == [(2.0,), (2.0,)]
    assert out.getvalue().count("Sent 1, retrying 0, failed 0.") == 1  # idle runs stay quiet
    assert out.getvalue().endswith("Stopped.\n")
    assert len(gateway.requests) == 1
