"""A person with only a basic phone texts "АД 150/95 П 88"; the SMS gateway posts it to the
inbound webhook, the readings are recorded as if typed on a page, and a reply confirms them (or
asks back) through a real HTTP gateway on loopback. A retried webhook changes nothing; bad input
gets a 400 that says why, never a 500."""

# ruff: noqa: F811 - `gateway` is the notifications tests' loopback gateway fixture, imported
from __future__ import annotations

import json
import threading
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.monitoring.measures import Code
from farcare.monitoring.models import (
    HomeReading,
    MonitoringAlert,
    ReadingSource,
    ReplyStatus,
    SmsMessage,
    SmsOutcome,
)
from farcare.monitoring.services.enrolment import enrol, phone_register
from farcare.patients.models import Patient
from tests.conftest import Chain, make_user
from tests.factories import PatientFactory
from tests.notifications.conftest import Gateway, gateway  # noqa: F401 - the loopback gateway

TOKEN = "inbound-secret"
PHONE = "+79141234567"
URL = "/api/sms/inbound/"


@pytest.fixture
def inbound(settings: Any) -> None:
    settings.FARCARE_SMS_INBOUND_TOKEN = TOKEN


@pytest.fixture
def person(chain: Chain, inbound: None) -> Patient:
    """A man at the Uelen post followed for hypertension, texting from his own basic phone."""
    feldsher = make_user(Role.CLINICIAN, chain.post, language="ru")
    doctor = make_user(Role.CLINICIAN, chain.district, language="ru")
    patient = PatientFactory(home_facility=chain.post)
    enrol(
        accessor=Accessor(feldsher),
        patient=patient,
        programme="hypertension",
        responsible_feldsher=feldsher,
        responsible_doctor=doctor,
        in_person_visit_on=timezone.now().date() - timedelta(days=1),
    )
    phone_register(accessor=Accessor(feldsher), patient=patient, number=PHONE, language="ru")
    return patient


def post(
    body: Any, *, token: str | None = TOKEN, raw: bytes | None = None, language: str = ""
) -> Any:
    headers: dict[str, Any] = {}
    if token is not None:
        headers["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    if language:
        headers["HTTP_ACCEPT_LANGUAGE"] = language
    data = raw if raw is not None else json.dumps(body)
    return Client().post(URL, data=data, content_type="application/json", **headers)


def sms(text: str, *, gateway_id: str = "gw-1", sender: str = PHONE) -> dict[str, str]:
    return {"id": gateway_id, "from": sender, "text": text}


def test_the_url_is_named():
    assert reverse("sms:inbound") == URL


def test_a_blood_pressure_and_pulse_by_sms_are_recorded_and_confirmed(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(sms("АД 150/95 П 88"))

    assert response.status_code == 200
    message = SmsMessage.objects.get()
    assert response.json() == {
        "id": "gw-1",
        "message": str(message.uuid),
        "outcome": "accepted",
        "readings": 2,
    }
    assert message.patient == person
    assert message.outcome == SmsOutcome.ACCEPTED
    readings = {r.code: r for r in HomeReading.objects.filter(patient=person)}
    assert set(readings) == {Code.BP_PANEL, Code.HEART_RATE}
    bp, pulse = readings[Code.BP_PANEL], readings[Code.HEART_RATE]
    assert (bp.value, bp.value_2, bp.unit) == (Decimal(150), Decimal(95), "mm[Hg]")
    assert (pulse.value, pulse.unit) == (Decimal(88), "/min")
    assert {r.source for r in readings.values()} == {ReadingSource.SMS}
    assert {r.sms_id for r in readings.values()} == {message.pk}

    # The reply went out through the gateway, to the sender, with the message's uuid as its id.
    assert len(gateway.requests) == 1
    sent = gateway.requests[0]
    assert sent["json"] == {
        "to": PHONE,
        "text": "Принято: АД 150/95, П 88. Спасибо!",
        "id": str(message.uuid),
    }
    assert sent["headers"]["Authorization"] == "Bearer gateway-secret"
    message.refresh_from_db()
    assert message.reply_status == ReplyStatus.SENT
    assert message.reply_sent_at is not None
    # 150/95 is above the target but below the plan's alert limits: no alert.
    assert not MonitoringAlert.objects.filter(patient=person).exists()

    # Recorded on the person's record in their audit trail, by SMS, not by a person.
    audited = AuditEvent.objects.filter(
        patient_uuid=person.uuid, record_type="HomeReading", action="create"
    )
    assert audited.count() == 2
    assert {e.channel for e in audited} == {"sms"}


def test_a_pressure_over_the_threshold_by_sms_alerts_the_responsible_clinician(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(sms("ад 185/115 п 96"))

    assert response.status_code == 200
    alert = MonitoringAlert.objects.get(patient=person)
    assert alert.measure == Code.BP_PANEL
    assert alert.severity == "urgent"
    assert alert.readings.get().sms is not None
    assert gateway.requests[0]["json"]["text"].startswith("Принято: АД 185/115, П 96.")


@pytest.mark.parametrize("written", ["79141234567", "8 914 123-45-67", "+7 (914) 123-45-67"])
def test_the_sender_is_found_however_the_gateway_writes_the_number(
    person: Patient, gateway: Gateway, written: str
):
    response = post(sms("АД 150/95", sender=written))
    assert response.json()["outcome"] == "accepted"
    assert SmsMessage.objects.get().sender == PHONE


def test_a_retried_webhook_answers_the_same_and_stores_and_replies_once(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        first = post(sms("АД 150/95 П 88"))
    with django_capture_on_commit_callbacks(execute=True):
        again = post(sms("АД 150/95 П 88"))

    assert again.status_code == 200
    assert again.json() == first.json()
    assert SmsMessage.objects.count() == 1
    assert HomeReading.objects.count() == 2
    assert len(gateway.requests) == 1


@pytest.mark.django_db(transaction=True)
def test_two_copies_of_one_sms_posted_at_once_are_stored_once(
    chain: Chain, settings: Any, gateway: Gateway
):
    settings.FARCARE_SMS_INBOUND_TOKEN = TOKEN
    feldsher = make_user(Role.CLINICIAN, chain.post)
    patient = PatientFactory(home_facility=chain.post)
    phone_register(accessor=Accessor(feldsher), patient=patient, number=PHONE, language="ru")
    barrier = threading.Barrier(2)
    answers: list[Any] = []

    def deliver() -> None:
        try:
            barrier.wait(timeout=10)
            response = post(sms("АД 150/95 П 88", gateway_id="gw-race"))
            answers.append((response.status_code, response.json()))
        except Exception as error:  # a server error would show here, by name
            answers.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(answers) == 2
    assert answers[0] == answers[1], answers
    assert answers[0][0] == 200
    assert SmsMessage.objects.filter(gateway_id="gw-race").count() == 1
    assert HomeReading.objects.filter(patient=patient).count() == 2
    assert len(gateway.requests) == 1


def test_a_pressure_without_its_lower_number_is_asked_about_and_nothing_is_recorded(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(sms("АД 150"))

    assert response.json()["outcome"] == "questioned"
    assert response.json()["readings"] == 0
    assert not HomeReading.objects.exists()
    message = SmsMessage.objects.get()
    assert message.problems[0]["code"] == "bp_incomplete"
    assert gateway.requests[0]["json"]["text"] == (
        "Давление нужно так: 150/95, а не «АД 150». Пример: АД 150/95 П 88"
    )
    # The message is the person's data even when nothing was recorded: audited on their record.
    assert AuditEvent.objects.filter(
        patient_uuid=person.uuid, record_type="SmsMessage", channel="sms"
    ).exists()


def test_what_is_understood_is_recorded_and_the_rest_asked_about(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    with django_capture_on_commit_callbacks(execute=True):
        response = post(sms("АД 150/95 сахар abc"))

    assert response.json()["outcome"] == "partly"
    reading = HomeReading.objects.get()
    assert (reading.code, reading.value, reading.value_2) == (Code.BP_PANEL, 150, 95)
    text = gateway.requests[0]["json"]["text"]
    assert text.startswith("Принято: АД 150/95.")
    assert "«сахар»" in text and "«abc»" in text


def test_a_message_the_gateway_held_too_long_is_kept_and_answered_not_recorded(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    weeks_ago = (timezone.now() - timedelta(days=40)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = post({**sms("АД 150/95"), "received_at": weeks_ago})

    assert response.status_code == 200
    assert response.json()["outcome"] == "questioned"
    assert not HomeReading.objects.exists()
    assert SmsMessage.objects.get().problems[-1]["code"] == "refused"
    assert gateway.requests[0]["json"]["text"] == (
        "Показания не удалось записать. Позвоните в свой фельдшерский пункт."
    )


def test_an_unknown_number_gets_a_neutral_reply_that_names_no_one(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    stranger = "+79990001122"
    with django_capture_on_commit_callbacks(execute=True):
        response = post(sms("АД 150/95", sender=stranger))

    assert response.status_code == 200
    assert response.json()["outcome"] == "unknown_sender"
    assert response.json()["readings"] == 0
    message = SmsMessage.objects.get()
    assert (message.outcome, message.patient) == (SmsOutcome.UNKNOWN_SENDER, None)
    assert not HomeReading.objects.exists()
    reply = gateway.requests[0]["json"]
    assert reply["to"] == stranger
    assert reply["text"] == (
        "Этот номер не подключён для передачи показаний. Обратитесь в свой фельдшерский пункт."
    )
    assert person.family not in reply["text"] and person.given not in reply["text"]
    assert not AuditEvent.objects.filter(patient_uuid=person.uuid, channel="sms").exists()

    # A second message from the same number the same day is kept but not answered again, so
    # two automatic senders never answer each other without end.
    with django_capture_on_commit_callbacks(execute=True):
        post(sms("?", gateway_id="gw-2", sender=stranger))
    assert SmsMessage.objects.count() == 2
    assert len(gateway.requests) == 1


@pytest.mark.parametrize(
    ("body", "raw", "code"),
    [
        ({"from": PHONE, "text": "АД 150/95"}, None, "missing_field"),
        ({"id": "x", "text": "АД 150/95"}, None, "missing_field"),
        ({"id": "x", "from": PHONE}, None, "missing_field"),
        (None, b"id=1&from=2", "not_json"),
        (None, b'{"id": NaN}', "not_json"),
        (None, b"[1, 2]", "not_json"),
        ({"id": "x", "from": PHONE, "text": "а" * 1601}, None, "too_long"),
        ({"id": "x", "from": "my phone", "text": "АД 150/95"}, None, "bad_phone"),
        ({"id": "x", "from": "+7", "text": "АД 150/95"}, None, "bad_phone"),
        ({"id": "x", "from": PHONE, "text": "АД 150/95\x00"}, None, "bad_field"),
        ({"id": "x\x00", "from": PHONE, "text": "АД 150/95"}, None, "bad_field"),
        ({"id": 5, "from": PHONE, "text": "АД 150/95"}, None, "bad_field"),
        ({"id": "x" * 101, "from": PHONE, "text": "АД 150/95"}, None, "bad_field"),
        (
            {"id": "x", "from": PHONE, "text": "АД 150/95", "received_at": "yesterday"},
            None,
            "bad_field",
        ),
        (
            {"id": "x", "from": PHONE, "text": "АД 150/95", "received_at": "2026-12-01T08:00"},
            None,
            "bad_field",
        ),
        # A lone surrogate passes Python's json but no database takes it: refused, not a 500.
        (None, b'{"id": "x", "from": "+79141234567", "text": "\\ud800"}', "not_json"),
        (None, b'{"id": "\\udfff", "from": "+79141234567", "text": "AD"}', "not_json"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_nothing_is_stored(
    person: Patient, body: Any, raw: bytes | None, code: str
):
    response = post(body, raw=raw)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/json"
    assert response.json()["code"] == code
    assert response.json()["detail"]
    assert not SmsMessage.objects.exists()


@pytest.mark.parametrize(
    ("received_at", "words"),
    [
        # Cannot even be put in UTC (year 1 at +14:00 is before year 1 in UTC).
        ("0001-01-01T00:00:00+14:00", "cannot be converted"),
        ("9999-12-31T23:59:59-14:00", "cannot be converted"),
        ("400 days ago", "more than a year ago"),
        ("2 days ahead", "more than a day ahead"),
    ],
)
def test_a_received_at_out_of_all_reason_is_refused_and_says_why(
    person: Patient, received_at: str, words: str
):
    if received_at == "400 days ago":
        received_at = (timezone.now() - timedelta(days=400)).isoformat()
    elif received_at == "2 days ahead":
        received_at = (timezone.now() + timedelta(days=2)).isoformat()
    response = post({**sms("АД 150/95"), "received_at": received_at}, language="en")

    assert response.status_code == 400
    assert response.json()["code"] == "bad_field"
    assert words in response.json()["detail"]
    assert "received_at" in response.json()["detail"]
    assert not SmsMessage.objects.exists()


def test_a_refused_reading_keeps_the_message_on_the_persons_audit_trail(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    weeks_ago = (timezone.now() - timedelta(days=40)).isoformat()
    with django_capture_on_commit_callbacks(execute=True):
        response = post({**sms("АД 150/95"), "received_at": weeks_ago})

    assert response.json()["outcome"] == "questioned"
    message = SmsMessage.objects.get()
    assert message.patient == person
    # Stored with the person's name on it, so its arrival is on their audit trail, by SMS.
    [event] = AuditEvent.objects.filter(patient_uuid=person.uuid, record_type="SmsMessage")
    assert (event.channel, event.action) == ("sms", "create")
    assert event.details["refused"] is True
    assert event.details["sms"] == str(message.uuid)


def test_an_unknown_number_is_answered_at_most_once_a_day(
    person: Patient, gateway: Gateway, django_capture_on_commit_callbacks: Any
):
    stranger = "+79990001122"
    with django_capture_on_commit_callbacks(execute=True):
        post(sms("АД 150/95", gateway_id="gw-a", sender=stranger))
    with django_capture_on_commit_callbacks(execute=True):
        second = post(sms("Кто это?", gateway_id="gw-b", sender=stranger))

    assert second.status_code == 200
    assert second.json()["outcome"] == "unknown_sender"
    assert len(gateway.requests) == 1
    first, skipped = SmsMessage.objects.order_by("gateway_id")
    assert first.reply_status == ReplyStatus.SENT
    assert skipped.reply_status == ReplyStatus.SKIPPED
    assert skipped.reply_text == ""
    assert "answered in the last 24 hours" in skipped.reply_last_error

    # A day later the number is answered again (its first message moved a day back).
    SmsMessage.objects.filter(sender=stranger).update(
        received_at=timezone.now() - timedelta(hours=25)
    )
    with django_capture_on_commit_callbacks(execute=True):
        post(sms("АД 150/95", gateway_id="gw-c", sender=stranger))
    assert len(gateway.requests) == 2
    assert gateway.requests[1]["json"]["to"] == stranger
    assert SmsMessage.objects.get(gateway_id="gw-c").reply_status == ReplyStatus.SENT


@pytest.mark.parametrize("token", [None, "wrong", ""])
def test_a_wrong_or_missing_token_is_refused(person: Patient, token: str | None):
    response = post(sms("АД 150/95"), token=token)
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorised"
    assert not SmsMessage.objects.exists()


def test_the_webhook_is_off_until_its_token_is_configured(db: None, settings: Any):
    settings.FARCARE_SMS_INBOUND_TOKEN = ""
    response = post(sms("АД 150/95"), token="")
    assert response.status_code == 503
    assert response.json()["code"] == "not_configured"
    assert not SmsMessage.objects.exists()


def test_only_post_is_accepted(inbound: None, db: None):
    response = Client().get(URL)
    assert response.status_code == 405
    assert response.json()["code"] == "method_not_allowed"
