"""The reply to an SMS reading waits in an outbox: a gateway that is down keeps the reading (it
was stored first) and leaves the reply pending with the reason; `farcare monitoring replies`
(sms_replies.deliver_due) sends it later with backoff, and after the last attempt marks it failed
and keeps it."""

# ruff: noqa: F811 - `gateway` is the notifications tests' loopback gateway fixture, imported
from __future__ import annotations

import io
import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.monitoring import sms_replies
from farcare.monitoring.models import HomeReading, ReplyStatus, SmsMessage
from farcare.monitoring.services.enrolment import phone_register
from farcare.patients.models import Patient
from tests.conftest import Chain, make_user
from tests.factories import PatientFactory
from tests.notifications.conftest import Gateway, free_port, gateway  # noqa: F401

TOKEN = "inbound-secret"
PHONE = "+79141234567"


@pytest.fixture
def person(chain: Chain, settings: Any) -> Patient:
    settings.FARCARE_SMS_INBOUND_TOKEN = TOKEN
    feldsher = make_user(Role.CLINICIAN, chain.post)
    patient = PatientFactory(home_facility=chain.post)
    phone_register(accessor=Accessor(feldsher), patient=patient, number=PHONE, language="en")
    return patient


def text_in(text: str, gateway_id: str = "gw-1") -> Any:
    return Client().post(
        "/api/sms/inbound/",
        data=json.dumps({"id": gateway_id, "from": PHONE, "text": text}),
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {TOKEN}",
    )


def test_a_gateway_that_is_down_keeps_the_reading_and_the_reply_is_sent_later(
    person: Patient, settings: Any, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    gateway.fail_next = 1  # the first attempt is answered 503
    with django_capture_on_commit_callbacks(execute=True):
        response = text_in("BP 150/95 HR 88")

    assert response.status_code == 200
    assert HomeReading.objects.filter(patient=person).count() == 2
    message = SmsMessage.objects.get()
    assert message.reply_status == ReplyStatus.PENDING
    assert message.reply_attempts == 1
    assert "503" in message.reply_last_error
    assert message.reply_next_attempt_at is not None
    first_retry = message.reply_next_attempt_at

    # Not due yet: nothing is sent.
    assert sms_replies.deliver_due(now=timezone.now()).counts()["sent"] == 0
    assert len(gateway.requests) == 1

    report = sms_replies.deliver_due(now=first_retry + timedelta(seconds=1))
    assert report.counts() == {"sent": 1, "retrying": 0, "failed": 0}
    message.refresh_from_db()
    assert message.reply_status == ReplyStatus.SENT
    assert message.reply_last_error == ""
    assert len(gateway.requests) == 2
    # The same id on the retry: a gateway that got the first one drops the repeat.
    assert {r["json"]["id"] for r in gateway.requests} == {str(message.uuid)}
    assert gateway.requests[1]["json"]["text"] == "Received: BP 150/95, HR 88. Thank you!"


def test_no_gateway_at_all_backs_off_and_gives_up_after_the_last_attempt(
    person: Patient, settings: Any, django_capture_on_commit_callbacks: Any
):
    settings.FARCARE_SMS_GATEWAY_URL = f"http://127.0.0.1:{free_port()}/sms"  # nobody listens
    settings.FARCARE_SMS_TIMEOUT_SECONDS = 2
    settings.FARCARE_SMS_REPLY_MAX_ATTEMPTS = 3
    with django_capture_on_commit_callbacks(execute=True):
        text_in("BP 150/95")

    message = SmsMessage.objects.get()
    assert message.reply_status == ReplyStatus.PENDING
    assert "unreachable" in message.reply_last_error
    delays = []
    now = timezone.now()
    for _attempt in range(2):
        assert message.reply_next_attempt_at is not None
        delays.append(message.reply_next_attempt_at - now)
        now = message.reply_next_attempt_at + timedelta(seconds=1)
        sms_replies.deliver_due(now=now)
        message.refresh_from_db()
    # Backoff: the second wait is twice the first; the third failure is the last.
    assert delays[1] > delays[0] * 1.5
    assert message.reply_attempts == 3
    assert message.reply_status == ReplyStatus.FAILED
    assert message.reply_next_attempt_at is None
    assert HomeReading.objects.filter(patient=person).count() == 1  # the reading stays


def test_the_console_command_sends_what_is_due(
    person: Patient, settings: Any, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    gateway.fail_next = 1
    with django_capture_on_commit_callbacks(execute=True):
        text_in("BP 150/95")
    SmsMessage.objects.update(reply_next_attempt_at=timezone.now())  # its retry is due now

    out = io.StringIO()
    call_command("monitoring", "replies", stdout=out)
    assert out.getvalue().strip() == "sent 1, retrying 0, failed 0"
    assert SmsMessage.objects.get().reply_status == ReplyStatus.SENT


def test_the_retry_delay_doubles_up_to_an_hour():
    assert sms_replies.retry_delay(1) == timedelta(minutes=1)
    assert sms_replies.retry_delay(2) == timedelta(minutes=2)
    assert sms_replies.retry_delay(3) == timedelta(minutes=4)
    assert sms_replies.retry_delay(30) == timedelta(hours=1)
