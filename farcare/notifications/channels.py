"""Sending one delivery over its channel. A sender returns on success and raises
`ChannelError` (or anything else) on failure; the outbox in services.py records the reason and
retries, so senders never retry by themselves."""

from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from email.message import Message
from typing import IO

from django.conf import settings
from django.core.mail import EmailMessage, get_connection

from .models import Channel, Delivery, Notification

SMS_MAX_CHARS = 300
ERROR_BODY_CHARS = 200


class ChannelError(Exception):
    """The channel refused or could not take the message; the text says why."""


def absolute_link(notification: Notification) -> str:
    """The notification's link as a full URL when FARCARE_SITE_URL is set, else ''. A relative
    path means nothing in an e-mail or an SMS."""
    site = str(getattr(settings, "FARCARE_SITE_URL", "") or "").rstrip("/")
    if not site or not notification.link:
        return ""
    return site + notification.link


def email_text(notification: Notification) -> str:
    link = absolute_link(notification)
    return f"{notification.body}\n\n{link}\n" if link else f"{notification.body}\n"


def _shorten(text: str, limit: int) -> str:
    """Cut at a word boundary with an ellipsis, so a long text does not end mid-word."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    space = cut.rfind(" ")
    if space > limit // 2:
        cut = cut[:space]
    return cut.rstrip(" ,.;:-") + "…"


def sms_text(notification: Notification) -> str:
    """Subject and body on one line, at most SMS_MAX_CHARS; the link is kept whole if it fits,
    since a truncated URL is worse than none."""
    main = " ".join(f"{notification.subject}: {notification.body}".split()).rstrip(": ")
    link = absolute_link(notification)
    if link and len(link) <= SMS_MAX_CHARS // 2:
        return f"{_shorten(main, SMS_MAX_CHARS - len(link) - 1)} {link}"
    return _shorten(main, SMS_MAX_CHARS)


def send_email(delivery: Delivery) -> None:
    notification = delivery.notification
    # Without a timeout a stalled SMTP server would hold the worker for good.
    connection = get_connection(timeout=getattr(settings, "EMAIL_TIMEOUT", None) or 30)
    message = EmailMessage(
        subject=notification.subject,
        body=email_text(notification),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=[delivery.address],
        connection=connection,
        headers={
            "Auto-Submitted": "auto-generated",  # RFC 3834: out-of-office replies stay quiet
            "X-FarCare-Delivery": str(delivery.uuid),
        },
    )
    message.send(fail_silently=False)


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """urllib would turn a redirected POST into a bodiless GET and report success."""

    def redirect_request(
        self,
        req: urllib.request.Request,
        fp: IO[bytes],
        code: int,
        msg: str,
        headers: Message,
        newurl: str,
    ) -> urllib.request.Request | None:
        return None


def _gateway_opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(_NoRedirects)


def send_sms(delivery: Delivery) -> None:
    post_sms(
        to=delivery.address, text=sms_text(delivery.notification), message_id=str(delivery.uuid)
    )


def post_sms(*, to: str, text: str, message_id: str) -> None:
    """One SMS handed to the gateway (FARCARE_SMS_GATEWAY_URL); returns when it accepted it,
    raises ChannelError saying why not. Notifications and the replies to readings sent by SMS
    (monitoring.sms_replies) both go this way, so one gateway setting serves them all.

    `message_id` goes as "id" and must stay the same on every retry of one message, so a gateway
    that received it but whose answer was lost can drop the repeat instead of sending twice."""
    url = str(getattr(settings, "FARCARE_SMS_GATEWAY_URL", "") or "")
    if not url:
        # Left pending and retried: configuring the gateway later delivers the backlog.
        raise ChannelError("No SMS gateway is configured (FARCARE_SMS_GATEWAY_URL is empty).")
    if urllib.parse.urlsplit(url).scheme not in {"http", "https"}:
        raise ChannelError(f"FARCARE_SMS_GATEWAY_URL must be an http(s) URL, not {url!r}.")
    token = str(getattr(settings, "FARCARE_SMS_GATEWAY_TOKEN", "") or "")
    timeout = float(getattr(settings, "FARCARE_SMS_TIMEOUT_SECONDS", 10))
    payload = {"to": to, "text": text, "id": message_id}
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    request = urllib.request.Request(  # noqa: S310 - the scheme is checked to be http(s) above
        url, data=json.dumps(payload).encode(), headers=headers, method="POST"
    )
    try:
        with _gateway_opener().open(request, timeout=timeout) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        detail = error.read(ERROR_BODY_CHARS).decode("utf-8", "replace").strip()
        raise ChannelError(
            f"SMS gateway answered HTTP {error.code}: {detail}".rstrip(": ")
        ) from error
    except urllib.error.URLError as error:
        raise ChannelError(f"SMS gateway unreachable: {error.reason}") from error
    except TimeoutError as error:
        raise ChannelError(f"SMS gateway did not answer within {timeout:g} s") from error
    except OSError as error:
        raise ChannelError(f"SMS gateway connection failed: {error}") from error
    if not 200 <= status < 300:
        raise ChannelError(f"SMS gateway answered HTTP {status}")


SENDERS: dict[str, Callable[[Delivery], None]] = {
    Channel.EMAIL: send_email,
    Channel.SMS: send_sms,
}
