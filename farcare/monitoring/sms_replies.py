"""The replies to readings sent by SMS: an outbox on `SmsMessage` (reply_status, attempts,
next attempt, last error), sent through the same gateway as notifications
(`notifications.channels.post_sms`) with the message's uuid as the gateway's "id", so a retry
after a lost answer is dropped by the gateway rather than sent twice.

The first attempt is a background task enqueued after the inbound SMS commits (with the immediate
backend it runs in the webhook's own request, once the reading is safely stored); `deliver_due`
(`farcare monitoring replies`, run by cron or the worker) sweeps up the rest with exponential
backoff, and after FARCARE_SMS_REPLY_MAX_ATTEMPTS marks the reply failed and keeps it. A gateway
that is down never touches the reading: it was committed before any send was tried."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone
from django_tasks import task

from farcare.notifications.channels import ChannelError, post_sms

from .models import ReplyStatus, SmsMessage

logger = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 8
RETRY_BASE_SECONDS = 60
RETRY_CAP_SECONDS = 60 * 60
# Longer than any send can take with the gateway's timeout: only a crashed worker's row is
# taken again before it ends.
CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
ERROR_MAX_CHARS = 2000


@dataclass(frozen=True)
class ReplyAttempt:
    message: uuid.UUID
    to: str
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None


@dataclass
class ReplyReport:
    sent: list[ReplyAttempt] = field(default_factory=list)
    retrying: list[ReplyAttempt] = field(default_factory=list)
    failed: list[ReplyAttempt] = field(default_factory=list)  # given up after the last attempt

    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed)}

    def __str__(self) -> str:
        """What `farcare monitoring replies` prints (an operator reads it)."""
        return ", ".join(f"{name} {count}" for name, count in self.counts().items())


def max_attempts() -> int:
    return max(1, int(getattr(settings, "FARCARE_SMS_REPLY_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))


def retry_delay(attempts: int) -> timedelta:
    """1, 2, 4, 8 … minutes after the 1st, 2nd, 3rd … failure, never more than an hour: a
    reply late by more than that is still worth sending (the person waits for it)."""
    exponent = min(max(attempts, 1) - 1, 16)
    return timedelta(seconds=min(RETRY_BASE_SECONDS * 2**exponent, RETRY_CAP_SECONDS))


def send_after_commit(message: SmsMessage) -> None:
    """Called inside the transaction that stored the message: the first attempt runs only once
    the message and its readings are committed, and its failure cannot undo them."""
    if message.reply_status == ReplyStatus.PENDING and message.reply_text:
        transaction.on_commit(partial(_enqueue, message.uuid), robust=True)


def _enqueue(message_uuid: uuid.UUID) -> None:
    deliver_reply_task.enqueue(str(message_uuid))


def _claim(now: datetime, message_uuid: uuid.UUID | None) -> list[SmsMessage]:
    """Take a batch of due replies out of sight for the lease in a short transaction; the sends
    happen outside it, so no lock is held while the gateway is slow. The attempt is counted here,
    so a worker that dies mid-send still uses one up."""
    lease_until = max(now, timezone.now()) + CLAIM_LEASE
    features = connection.features
    with transaction.atomic():
        due = SmsMessage.objects.filter(
            reply_status=ReplyStatus.PENDING, reply_next_attempt_at__lte=now
        ).exclude(reply_text="")
        if message_uuid is not None:
            due = due.filter(uuid=message_uuid)
        ids = list(
            due.select_for_update(skip_locked=features.has_select_for_update_skip_locked)
            .order_by("reply_next_attempt_at", "id")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return []
        SmsMessage.objects.filter(pk__in=ids).update(
            reply_attempts=F("reply_attempts") + 1, reply_next_attempt_at=lease_until
        )
        return list(SmsMessage.objects.filter(pk__in=ids))


def _attempt(message: SmsMessage, now: datetime, report: ReplyReport) -> None:
    claimed = SmsMessage.objects.filter(
        pk=message.pk, reply_status=ReplyStatus.PENDING, reply_attempts=message.reply_attempts
    )
    try:
        post_sms(to=message.sender, text=message.reply_text, message_id=str(message.uuid))
    except Exception as error:  # any failure is recorded and retried, never raised to the caller
        reason = (str(error) if isinstance(error, ChannelError) else repr(error))[:ERROR_MAX_CHARS]
        given_up = message.reply_attempts >= max_attempts()
        retry_at = None if given_up else now + retry_delay(message.reply_attempts)
        claimed.update(
            reply_status=ReplyStatus.FAILED if given_up else ReplyStatus.PENDING,
            reply_last_error=reason,
            reply_next_attempt_at=retry_at,
        )
        outcome = ReplyAttempt(
            message.uuid, message.sender, message.reply_attempts, reason, retry_at
        )
        (report.failed if given_up else report.retrying).append(outcome)
        (logger.error if given_up else logger.warning)(
            "SMS reply %s attempt %d failed%s: %s",
            message.uuid,
            message.reply_attempts,
            ", giving up" if given_up else "",
            reason,
        )
    else:
        claimed.update(
            reply_status=ReplyStatus.SENT,
            reply_sent_at=timezone.now(),
            reply_next_attempt_at=None,
            reply_last_error="",
        )
        report.sent.append(ReplyAttempt(message.uuid, message.sender, message.reply_attempts))


def _deliver(now: datetime | None, message_uuid: uuid.UUID | None) -> ReplyReport:
    now = now or timezone.now()
    report = ReplyReport()
    # Claimed rows move past `now`, so each round takes new ones and the loop ends.
    while batch := _claim(now, message_uuid):
        for message in batch:
            _attempt(message, now, report)
    return report


def deliver_due(now: datetime | None = None) -> ReplyReport:
    """Send every pending reply whose time has come (`farcare monitoring replies`)."""
    return _deliver(now, None)


def deliver_reply(*, message_uuid: uuid.UUID) -> ReplyReport:
    """The first attempt, right after the inbound SMS commits."""
    return _deliver(None, message_uuid)


@task()
def deliver_reply_task(message_uuid: str) -> dict[str, int]:
    # A str, not a UUID: task arguments must survive JSON for queueing backends.
    return deliver_reply(message_uuid=uuid.UUID(message_uuid)).counts()
