"""One SMS from the gateway's inbound webhook, received once: who sent it (by the registered
phone), what readings it holds (sms.parse), the readings recorded through the same service as
every other source (services.readings.reading_record, which evaluates the rules and audits),
and the reply that confirms or asks back (sms.reply), queued to be sent after commit.

Received once: the gateway's message id is unique. A webhook retried after a lost answer finds
the stored message and gets the same answer; two retries racing each other meet at the unique
index, and the loser's transaction (readings included) is rolled back and the winner's message
returned, so nothing is stored or replied to twice.

A number nobody registered gets a neutral reply that names no one and says nothing about whether
anyone is followed; it is stored (the post can see who tries) but linked to no one. Replies to
unknown numbers are sent at most once a day per number, so two automatic senders never answer
each other forever."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from . import sms
from .measures import Code
from .models import (
    ReadingPhone,
    ReadingSource,
    ReplyStatus,
    SmsMessage,
    SmsOutcome,
)
from .services.enrolment import normalise_number
from .services.readings import ReadingIn, reading_record
from .sms_replies import send_after_commit

MAX_TEXT_CHARS = 1600  # ten concatenated parts of Latin text; more is not an SMS
GATEWAY_ID_MAX_CHARS = 100
UNKNOWN_REPLY_EVERY = timedelta(hours=24)
SMS_CHANNEL = "sms"


def sender_number(value: str) -> str | None:
    """The sender as E.164 (+79141234567), normalised as the registered phones are
    (services.enrolment.normalise_number), so "+7 914…", "7914…" and "8 914…" all find the
    person; None when it is not a phone number."""
    try:
        return normalise_number(value)
    except ValidationError:
        return None


def reply_language(text: str) -> str:
    """For a number nobody registered: the language the person wrote in."""
    if any("\uac00" <= c <= "\ud7a3" for c in text):
        return "ko"
    if any("\u0400" <= c <= "\u04ff" for c in text):
        return "ru"
    return "en"


def unknown_sender_reply(language: str) -> str:
    with translation.override(language):
        # Kept within two SMS parts in every language (sms.MAX_PARTS); says nothing of anyone.
        return _(
            "This number is not registered for sending readings. Please ask at your health post."
        )


def _readings_in(parsed: sms.ParsedSms, at: datetime) -> list[ReadingIn]:
    readings = []
    for reading in parsed.readings:
        values = {q.code: q.value for q in reading.quantities}
        if reading.code == Code.BP_PANEL:
            value, value_2 = values[Code.SYSTOLIC], values.get(Code.DIASTOLIC)
        else:
            value, value_2 = values[reading.code], None
        readings.append(
            ReadingIn(
                code=reading.code.value,
                value=value,
                value_2=value_2,
                taken_at=at,
                converted_from=reading.converted_from,
            )
        )
    return readings


def _problems(parsed: sms.ParsedSms) -> list[dict[str, Any]]:
    return [
        {
            "code": p.code.value,
            "fragment": p.fragment,
            "measure": p.measure.value if p.measure else "",
        }
        for p in parsed.problems
    ]


def _outcome(parsed: sms.ParsedSms) -> str:
    if not parsed.readings:
        return SmsOutcome.QUESTIONED
    return SmsOutcome.PARTLY if parsed.problems else SmsOutcome.ACCEPTED


def sms_receive(
    *, gateway_id: str, sender: str, text: str, received_at: datetime | None = None
) -> SmsMessage:
    """Store one inbound SMS and what it holds, or return the one stored under `gateway_id`.

    `sender` must already be E.164 (`sender_number`). `received_at` is when the gateway got it
    (the time of the readings: an SMS has no other); a gateway clock ahead of ours is not
    trusted beyond now."""
    stored = SmsMessage.objects.filter(gateway_id=gateway_id).first()
    if stored is not None:
        return stored
    now = timezone.now()
    at = min(received_at or now, now)
    try:
        with transaction.atomic():
            message = _receive(gateway_id=gateway_id, sender=sender, text=text, at=at, now=now)
    except IntegrityError:
        # A retry that raced us: the first one's message stands, and this one did nothing.
        stored = SmsMessage.objects.filter(gateway_id=gateway_id).first()
        if stored is None:
            raise
        return stored
    return message


def _receive(*, gateway_id: str, sender: str, text: str, at: datetime, now: datetime) -> SmsMessage:
    phone = (
        ReadingPhone.objects.select_related("patient").filter(number=sender, active=True).first()
    )
    # Created first: a racing retry fails here, on the unique gateway id, before any reading.
    message = SmsMessage.objects.create(
        gateway_id=gateway_id,
        sender=sender,
        text=text,
        received_at=at,
        patient=phone.patient if phone else None,
        outcome=SmsOutcome.UNKNOWN_SENDER if phone is None else SmsOutcome.QUESTIONED,
        reply_next_attempt_at=now,
    )
    if phone is None:
        _unknown_sender(message, now)
    else:
        _from_patient(message, phone, at)
    message.save()
    send_after_commit(message)
    return message


def _unknown_sender(message: SmsMessage, now: datetime) -> None:
    message.reply_language = reply_language(message.text)
    recently = (
        SmsMessage.objects.filter(
            sender=message.sender,
            outcome=SmsOutcome.UNKNOWN_SENDER,
            received_at__gte=now - UNKNOWN_REPLY_EVERY,
        )
        .exclude(pk=message.pk)
        .exclude(reply_text="")
        .exists()
    )
    if recently:
        message.reply_status = ReplyStatus.SKIPPED
        message.reply_next_attempt_at = None
        message.reply_last_error = (
            "Not replied: this unregistered number was answered in the last 24 hours."
        )
        return
    message.reply_text = unknown_sender_reply(message.reply_language)


def _from_patient(message: SmsMessage, phone: ReadingPhone, at: datetime) -> None:
    parsed = sms.parse(message.text)
    language = phone.language if phone.language in sms.LANGUAGES else settings.LANGUAGE_CODE[:2]
    message.reply_language = language
    message.problems = _problems(parsed)
    message.outcome = _outcome(parsed)
    accessor = Accessor(None, None, SMS_CHANNEL)
    if parsed.readings:
        try:
            # A savepoint: a refusal of the readings keeps the message and answers it.
            with transaction.atomic():
                reading_record(
                    accessor=accessor,
                    patient=phone.patient,
                    readings=_readings_in(parsed, at),
                    source=ReadingSource.SMS,
                    sms=message,
                    source_id=f"sms:{message.gateway_id}",
                )
        except ValidationError as error:
            message.outcome = SmsOutcome.QUESTIONED
            message.problems = [
                *message.problems,
                {"code": "refused", "fragment": "", "measure": "", "detail": error.messages},
            ]
            message.reply_text = refused_reply(language)
            # Refused, so nothing recorded was audited; the message, linked to them, still is.
            _audit_message(accessor, message, phone, refused=True)
            return
    else:
        # Nothing recorded, so reading_record did not audit: the message itself is patient data.
        _audit_message(accessor, message, phone)
    message.reply_text = sms.reply(parsed, language)[:320]


def _audit_message(
    accessor: Accessor, message: SmsMessage, phone: ReadingPhone, *, refused: bool = False
) -> None:
    details: dict[str, Any] = {"sms": str(message.uuid), "outcome": message.outcome}
    if refused:
        details["refused"] = True
    audit_record(
        accessor=accessor,
        action=AuditAction.CREATE,
        patient_uuid=phone.patient.uuid,
        record=message,
        details=details,
    )


def refused_reply(language: str) -> str:
    with translation.override(language):
        return _("Your readings could not be recorded. Please call your post.")
