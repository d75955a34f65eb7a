"""Telling users things. `notify` writes the inbox entry and one outbox row per external channel
the recipient chose, in one transaction; sending happens after commit and again from
`deliver_due` (run by `farcare notifications deliver`) until each row is sent or given up on.

Messages are rendered once, when created, in the recipient's language (what e-mail and SMS
send) and in every other interface language (what the inbox shows a reader of that language):
pass `subject` and `body` as gettext_lazy strings (optionally with `params` for
%-interpolation) or as callables returning a string; both are evaluated under
translation.override(each language)::

    notify(
        recipient=consultant,
        event="consult.new_emergency",
        subject=gettext_lazy("Emergency consult from %(facility)s"),
        body=gettext_lazy("%(clinician)s asks for an emergency consult."),
        params={"facility": facility.name, "clinician": str(clinician)},
        link=reverse("consults:detail", args=[consult.uuid]),
        urgent=True,
    )

A plain str is taken as already translated. Values in `params` may be lazy strings too; they are
rendered in the recipient's language as well.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.functional import Promise

from farcare.accounts.models import User

from .channels import SENDERS, ChannelError
from .models import Channel, Delivery, DeliveryStatus, Notification, NotificationPreference

logger = logging.getLogger(__name__)

Text = str | Promise | Callable[[], str]

DEFAULT_MAX_ATTEMPTS = 12
RETRY_BASE_SECONDS = 60
URGENT_RETRY_BASE_SECONDS = 15
RETRY_CAP_SECONDS = 60 * 60
# A claimed row is hidden from other workers this long; longer than any send can take with the
# SMTP and gateway timeouts, so only a crashed worker's row is picked up again.
CLAIM_LEASE = timedelta(minutes=5)
BATCH_SIZE = 50
SUBJECT_MAX_CHARS = 200
ERROR_MAX_CHARS = 2000


# --- creating ---------------------------------------------------------------------------------


def preference_for(user: User) -> NotificationPreference:
    preference, _created = NotificationPreference.objects.get_or_create(user=user)
    return preference


def _stored_preference(user: User) -> NotificationPreference:
    # Reading only: an unsaved row carries the defaults without writing one for every user.
    return NotificationPreference.objects.filter(user=user).first() or NotificationPreference(
        user=user
    )


def notification_language(user: User, preference: NotificationPreference | None = None) -> str:
    """The override in the notification preferences, else the interface language, else the
    site's default: a user who never chose a language still gets a language they can read."""
    supported = {code for code, _name in settings.LANGUAGES}
    preference = preference or _stored_preference(user)
    for code in (preference.language, user.language):
        if code in supported:
            return code
    return str(settings.LANGUAGE_CODE)


def _render(text: Text, params: Mapping[str, Any] | None) -> str:
    rendered = text() if callable(text) else str(text)
    if params:
        rendered = rendered % dict(params)
    return rendered


def _check_link(link: str) -> None:
    # Only paths inside FarCare: a notification must not send a clinician to another site.
    if link and (not link.startswith("/") or link.startswith("//") or "\\" in link):
        raise ValueError(f"A notification link must be a path on this site, not {link!r}")


def _addresses(user: User, preference: NotificationPreference) -> list[tuple[str, str]]:
    if not user.is_active:  # a deactivated account is told nothing outside the app
        return []
    chosen: list[tuple[str, str]] = []
    if preference.email_enabled and user.email:
        chosen.append((Channel.EMAIL, user.email))
    if preference.sms_enabled and preference.phone:
        chosen.append((Channel.SMS, preference.phone))
    return chosen


def notify(
    *,
    recipient: User,
    event: str,
    subject: Text,
    body: Text,
    params: Mapping[str, Any] | None = None,
    link: str = "",
    urgent: bool = False,
) -> Notification:
    """Put a notification in the recipient's inbox and queue it for e-mail and SMS as they
    chose. Sending starts once the surrounding transaction commits, so a rolled-back action
    tells nobody anything; an unsendable message stays in the outbox and is retried."""
    _check_link(link)
    preference = _stored_preference(recipient)
    language = notification_language(recipient, preference)
    texts = {}
    for code, _name in settings.LANGUAGES:
        with translation.override(code):
            texts[code] = [
                " ".join(_render(subject, params).split())[:SUBJECT_MAX_CHARS],
                _render(body, params).strip(),
            ]
    subject_text, body_text = texts[language]
    now = timezone.now()
    with transaction.atomic():
        notification = Notification.objects.create(
            recipient=recipient,
            event=event,
            language=language,
            subject=subject_text,
            body=body_text,
            texts=texts,
            link=link,
            urgent=urgent,
        )
        deliveries = [
            Delivery(
                notification=notification, channel=channel, address=address, next_attempt_at=now
            )
            for channel, address in _addresses(recipient, preference)
        ]
        Delivery.objects.bulk_create(deliveries)
        if deliveries:
            # robust: a task backend that is down must not undo the action that notified;
            # the rows are pending and `deliver_due` sends them later.
            transaction.on_commit(partial(_enqueue, notification.uuid, urgent), robust=True)
    return notification


def notify_each(
    recipients: Iterable[User | None],
    *,
    event: str,
    subject: Text,
    body: Text,
    params: Mapping[str, Any] | None = None,
    link: str = "",
    urgent: bool = False,
) -> list[User]:
    """`notify` each active recipient once (a list built from several roles may name someone
    twice, or nobody: None); returns who was told, for the audit record."""
    told: list[User] = []
    seen: set[int] = set()
    for user in recipients:
        if user is None or user.pk in seen or not user.is_active:
            continue
        seen.add(user.pk)
        notify(
            recipient=user,
            event=event,
            subject=subject,
            body=body,
            params=params,
            link=link,
            urgent=urgent,
        )
        told.append(user)
    return told


def _enqueue(notification_uuid: uuid.UUID, urgent: bool) -> None:
    from .tasks import deliver_notification_task

    task = deliver_notification_task
    if urgent and task.get_backend().supports_priority:
        task = task.using(priority=50)
    task.enqueue(str(notification_uuid))


# --- the inbox --------------------------------------------------------------------------------


def mark_read(*, user: User, notification: Notification) -> Notification:
    if notification.recipient_id != user.pk:
        raise PermissionDenied("This notification is someone else's.")
    if notification.read_at is None:
        # Conditional update: a second click keeps the first reading time.
        Notification.objects.filter(pk=notification.pk, read_at__isnull=True).update(
            read_at=timezone.now()
        )
        notification.refresh_from_db(fields=["read_at"])
    return notification


def unread_count(user: User | AnonymousUser) -> int:
    if not getattr(user, "is_authenticated", False):
        return 0
    return Notification.objects.filter(recipient_id=user.pk, read_at__isnull=True).count()


# --- the outbox -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    delivery: uuid.UUID
    channel: str
    address: str
    attempts: int
    error: str = ""
    next_attempt_at: datetime | None = None


@dataclass
class DeliveryReport:
    sent: list[Attempt] = field(default_factory=list)
    retrying: list[Attempt] = field(default_factory=list)
    failed: list[Attempt] = field(default_factory=list)  # given up after the last attempt

    @property
    def total(self) -> int:
        return len(self.sent) + len(self.retrying) + len(self.failed)

    def counts(self) -> dict[str, int]:
        return {"sent": len(self.sent), "retrying": len(self.retrying), "failed": len(self.failed)}


def max_attempts() -> int:
    return max(1, int(getattr(settings, "FARCARE_NOTIFICATION_MAX_ATTEMPTS", DEFAULT_MAX_ATTEMPTS)))


def retry_delay(attempts: int, *, urgent: bool) -> timedelta:
    """1, 2, 4, 8 … minutes after the 1st, 2nd, 3rd … failure (15, 30, 60 … seconds when
    urgent), never more than an hour."""
    base = URGENT_RETRY_BASE_SECONDS if urgent else RETRY_BASE_SECONDS
    exponent = min(max(attempts, 1) - 1, 16)
    return timedelta(seconds=min(base * 2**exponent, RETRY_CAP_SECONDS))


def _claim(now: datetime, notification_uuid: uuid.UUID | None) -> list[Delivery]:
    """Take a batch of due rows and push them out of sight for the lease, in a short transaction:
    the network sends happen outside it, so no lock is held (and SQLite is not blocked) while an
    SMTP server or gateway is slow. The attempt is counted here, so a worker that dies mid-send
    still uses one up."""
    lease_until = max(now, timezone.now()) + CLAIM_LEASE
    features = connection.features
    with transaction.atomic():
        due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
        if notification_uuid is not None:
            due = due.filter(notification__uuid=notification_uuid)
        ids = list(
            due.select_for_update(
                skip_locked=features.has_select_for_update_skip_locked,
                # Lock the delivery rows only, not the notifications joined for the filter.
                of=("self",) if features.has_select_for_update_of else (),
            )
            .order_by("next_attempt_at", "id")
            .values_list("pk", flat=True)[:BATCH_SIZE]
        )
        if not ids:
            return []
        Delivery.objects.filter(pk__in=ids).update(
            attempts=F("attempts") + 1, next_attempt_at=lease_until
        )
        return list(Delivery.objects.filter(pk__in=ids).select_related("notification"))


def _attempt(delivery: Delivery, now: datetime, report: DeliveryReport) -> None:
    claimed = Delivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    )
    try:
        sender = SENDERS.get(delivery.channel)
        if sender is None:
            raise ChannelError(f"Unknown channel {delivery.channel!r}")
        sender(delivery)
    except Exception as error:  # any failure of any sender is recorded and retried
        reason = (str(error) if isinstance(error, ChannelError) else repr(error))[:ERROR_MAX_CHARS]
        given_up = delivery.attempts >= max_attempts()
        retry_at = (
            None
            if given_up
            else now + retry_delay(delivery.attempts, urgent=delivery.notification.urgent)
        )
        claimed.update(
            status=DeliveryStatus.FAILED if given_up else DeliveryStatus.PENDING,
            last_error=reason,
            next_attempt_at=retry_at,
        )
        outcome = Attempt(
            delivery.uuid, delivery.channel, delivery.address, delivery.attempts, reason, retry_at
        )
        (report.failed if given_up else report.retrying).append(outcome)
        log = logger.error if given_up else logger.warning
        log(
            "Notification delivery %s (%s) attempt %d failed%s: %s",
            delivery.uuid,
            delivery.channel,
            delivery.attempts,
            ", giving up" if given_up else "",
            reason,
        )
    else:
        claimed.update(status=DeliveryStatus.SENT, sent_at=timezone.now(), next_attempt_at=None)
        report.sent.append(
            Attempt(delivery.uuid, delivery.channel, delivery.address, delivery.attempts)
        )


def _deliver(now: datetime | None, notification_uuid: uuid.UUID | None) -> DeliveryReport:
    now = now or timezone.now()
    report = DeliveryReport()
    # Claimed rows move past `now`, so each round takes new ones and the loop ends.
    while batch := _claim(now, notification_uuid):
        for delivery in batch:
            _attempt(delivery, now, report)
    return report


def deliver_due(now: datetime | None = None) -> DeliveryReport:
    """Send every pending delivery whose time has come. A failure counts an attempt, records
    the reason and schedules a retry with exponential backoff; after
    FARCARE_NOTIFICATION_MAX_ATTEMPTS the row is marked failed and kept."""
    return _deliver(now, None)


def deliver_notification(*, notification_uuid: uuid.UUID) -> DeliveryReport:
    """The first attempt right after `notify` commits, for one notification's deliveries."""
    return _deliver(None, notification_uuid)
