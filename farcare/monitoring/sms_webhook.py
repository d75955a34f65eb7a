"""The SMS gateway's inbound webhook: POST /api/sms/inbound/ with JSON
{"id", "from", "text", "received_at"?} and `Authorization: Bearer FARCARE_SMS_INBOUND_TOKEN`.

Every answer is JSON, for a machine: 200 with what was made of the message (the same on a
retry), 400 naming what is wrong with the request (the gateway's fault: retrying will not help),
401 for a wrong token, 503 when no token is configured (the webhook is off: refusing beats
accepting from anyone). Nothing is stored on a refusal."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta
from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt

from farcare.core.bearer import bearer_token
from farcare.core.jsonbody import NotJson, parse_json_body

from .models import SmsMessage
from .sms_inbound import GATEWAY_ID_MAX_CHARS, MAX_TEXT_CHARS, sender_number, sms_receive

MAX_BODY_BYTES = 16 * 1024  # a 1,600-character SMS in JSON with \u escapes is under 10 KiB
# A gateway holds an undelivered message for days, not years; its clock may be a little ahead.
RECEIVED_AT_PAST = timedelta(days=365)
RECEIVED_AT_AHEAD = timedelta(days=1)


class BadRequest(ValueError):
    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail)
        self.code = code


def _error(status: int, code: str, detail: str) -> JsonResponse:
    return JsonResponse({"code": code, "detail": detail}, status=status)


def _string(body: dict[str, Any], key: str, *, required: bool = True) -> str | None:
    value = body.get(key)
    if value is None or (value == "" and key != "text"):
        if required:
            raise BadRequest("missing_field", _('"%(field)s" is required.') % {"field": key})
        return None
    if not isinstance(value, str):
        raise BadRequest("bad_field", _('"%(field)s" must be a string.') % {"field": key})
    if "\x00" in value:
        raise BadRequest("bad_field", _('"%(field)s" contains a NUL character.') % {"field": key})
    return value


def _parse(request: HttpRequest) -> tuple[str, str, str, datetime | None]:
    if len(request.body) > MAX_BODY_BYTES:
        raise BadRequest(
            "too_large", _("The body is larger than %(limit)d bytes.") % {"limit": MAX_BODY_BYTES}
        )
    try:
        body = parse_json_body(request.body)
    except NotJson as error:
        raise BadRequest(
            "not_json", _("The body is not JSON: %(error)s") % {"error": error}
        ) from error
    if not isinstance(body, dict):
        raise BadRequest("not_json", _("The body must be a JSON object."))
    missing = [key for key in ("id", "from", "text") if key not in body]
    if missing:
        raise BadRequest(
            "missing_field", _("Missing: %(fields)s.") % {"fields": ", ".join(missing)}
        )
    gateway_id = _string(body, "id")
    sender = _string(body, "from")
    text = _string(body, "text")
    assert gateway_id is not None and sender is not None and text is not None
    if len(gateway_id) > GATEWAY_ID_MAX_CHARS:
        raise BadRequest(
            "bad_field",
            _('"%(field)s" is longer than %(limit)d characters.')
            % {"field": "id", "limit": GATEWAY_ID_MAX_CHARS},
        )
    if len(text) > MAX_TEXT_CHARS:
        raise BadRequest(
            "too_long",
            _('"%(field)s" is longer than %(limit)d characters.')
            % {"field": "text", "limit": MAX_TEXT_CHARS},
        )
    number = sender_number(sender)
    if number is None:
        raise BadRequest(
            "bad_phone", _('"from" is not a phone number in E.164 form (+79141234567).')
        )
    received = _string(body, "received_at", required=False)
    received_at = None
    if received is not None:
        try:
            received_at = datetime.fromisoformat(received)
        except ValueError as error:
            raise BadRequest("bad_field", _('"received_at" is not an ISO 8601 time.')) from error
        if received_at.tzinfo is None:
            raise BadRequest("bad_field", _('"received_at" needs its offset (Z or +hh:mm).'))
        received_at = _plausible_received_at(received_at)
    return gateway_id, number, text, received_at


def _plausible_received_at(received_at: datetime) -> datetime:
    """In UTC, and within a year back and a day ahead: year 1 at +14:00 has no UTC (the
    database would fail on it), and a gateway clock years off would file the readings under a
    time nobody looks at. A message held longer than the readings' own limit (30 days) is still
    taken and answered; reading_record refuses its readings."""
    try:
        received_at = received_at.astimezone(UTC)
    except OverflowError as error:
        raise BadRequest(
            "bad_field", _('"received_at" cannot be converted to UTC: it is out of range.')
        ) from error
    now = timezone.now()
    if received_at < now - RECEIVED_AT_PAST:
        raise BadRequest("bad_field", _('"received_at" is more than a year ago.'))
    if received_at > now + RECEIVED_AT_AHEAD:
        raise BadRequest("bad_field", _('"received_at" is more than a day ahead of our clock.'))
    return received_at


def answer(message: SmsMessage) -> dict[str, Any]:
    """What the gateway is told: the same for a retry as for the first post."""
    return {
        "id": message.gateway_id,
        "message": str(message.uuid),
        "outcome": message.outcome,
        "readings": message.readings.count(),
    }


@csrf_exempt  # a machine's POST, authenticated by its bearer token, not a browser's cookie
def inbound(request: HttpRequest) -> JsonResponse:
    if request.method != "POST":
        response = _error(405, "method_not_allowed", _("Only POST is accepted here."))
        response["Allow"] = "POST"
        return response
    expected = str(getattr(settings, "FARCARE_SMS_INBOUND_TOKEN", "") or "")
    if not expected:
        return _error(503, "not_configured", _("The SMS webhook is not configured."))
    token = bearer_token(request) or ""
    if not hmac.compare_digest(token.encode(), expected.encode()):
        response = _error(401, "unauthorised", _("A valid bearer token is required."))
        response["WWW-Authenticate"] = "Bearer"
        return response
    try:
        gateway_id, sender, text, received_at = _parse(request)
    except BadRequest as error:
        return _error(400, error.code, str(error))
    message = sms_receive(gateway_id=gateway_id, sender=sender, text=text, received_at=received_at)
    return JsonResponse(answer(message))
