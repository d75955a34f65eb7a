"""The signalling socket of a call of two: `ws/call/<call uuid>/`.

Authorised at connect through the same rule as the page (farcare.calls.access; 4403 otherwise,
audited like the page's refusal), and again at every quality report (a consultant unassigned
meanwhile is closed with 4403); then a relay within the call's group: the browsers' offers,
answers and ICE candidates go to the other participant and nowhere else. No patient data
travels here: SDP, candidates, the mode, the link figures, and the UUID of a photo filed with
the consultation during the call.
Connecting again after a drop rejoins the call and counts the reconnect; the socket closing
leaves it (the last one out ends it, farcare.calls.services)."""

from __future__ import annotations

import uuid
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.core.exceptions import PermissionDenied, ValidationError

from farcare.access.policy import consult_sides
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Attachment, Consultation
from farcare.consults.workflow import Side
from farcare.core.jsonbody import parse_json

from .access import may_join, require_join
from .models import Call
from .selectors import others_present, presence
from .services import call_end, call_join, call_leave, call_quality

# Close codes: not allowed in this call; the call is over (join again over HTTP).
FORBIDDEN = 4403
ENDED = 4410
# What a browser may send, and the largest message accepted (an SDP with many candidates).
SIGNAL_KINDS = frozenset({"description", "candidate"})
MAX_MESSAGE_CHARS = 64_000


def _accessor(scope: dict[str, Any], user: User) -> Accessor:
    client = scope.get("client") or (None, None)
    return Accessor(user, client[0], "socket")


@database_sync_to_async
def _enter(call_uuid: str, scope: dict[str, Any], user: User) -> tuple[int, Call | None, bool, int]:
    """(close code or 0, the call, whether this side is polite, how many others are in it)."""
    call = (
        Call.objects.select_related("consultation__patient", "consultation__requesting_facility")
        .filter(uuid=call_uuid)
        .first()
    )
    if call is None:
        # Audited like any refused join, with no patient (there is none to link); 4403 rather
        # than 4404, so that a knock does not learn whether such a call exists.
        audit_record(
            accessor=_accessor(scope, user),
            action=AuditAction.DENIED,
            outcome="denied",
            details={"wanted": "call", "call": call_uuid},
        )
        return FORBIDDEN, None, False, 0
    try:
        require_join(_accessor(scope, user), call.consultation)
    except PermissionDenied:
        return FORBIDDEN, None, False, 0
    if call.ended_at is not None:
        return ENDED, call, False, 0
    me = presence(call, user)
    if me is None or me.left_at is not None:
        # Back after a drop (or straight from a page that joined): the same presence again.
        call_join(accessor=_accessor(scope, user), consultation=call.consultation, kind=call.kind)
    # Perfect negotiation: the requesting side yields when both offer at once.
    polite = Side.REQUESTER in consult_sides(user, call.consultation)
    return 0, call, polite, others_present(call, user)


class CallConsumer(AsyncJsonWebsocketConsumer):
    call: Call | None = None
    user: User

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            await self.close(code=FORBIDDEN)
            return
        self.user = user
        call_uuid = str(self.scope["url_route"]["kwargs"]["call_uuid"])
        try:
            code, call, polite, others = await _enter(call_uuid, self.scope, user)
        except PermissionDenied:
            code, call, polite, others = FORBIDDEN, None, False, 0
        await self.accept()
        if code:
            await self.close(code=code)
            return
        assert call is not None
        self.call = call
        self.group = f"call.{call.uuid.hex}"
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.send_json({"type": "hello", "polite": polite, "peers": others})
        await self._to_others({"type": "peer-joined"})

    async def disconnect(self, code: int) -> None:
        if self.call is None:
            return
        await self.channel_layer.group_discard(self.group, self.channel_name)
        await self._to_others({"type": "peer-left"})
        await database_sync_to_async(_leave)(self.scope, self.user, self.call)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if self.call is None:
            return
        kind = content.get("type") if isinstance(content, dict) else None
        if kind == "signal":
            data = content.get("data")
            if not isinstance(data, dict) or not SIGNAL_KINDS & data.keys():
                await self._refuse("signal")
                return
            await self._to_others({"type": "signal", "data": data})
        elif kind == "quality":
            error = await database_sync_to_async(_quality)(
                self.scope, self.user, self.call, content
            )
            if error == "forbidden":
                # No longer in the call (unassigned, the case closed): `disconnect` leaves it.
                await self.close(code=FORBIDDEN)
                return
            if error:
                await self._refuse(error)
                return
            figures = {key: content.get(key) for key in QUALITY_FIELDS}
            # Whether the sender wants no video (its choice or its link): the other side then
            # sends none either.
            figures["audio_only"] = content.get("audio_only") is True
            await self._to_others({"type": "quality", **figures})
        elif kind == "photo":
            attachment = await database_sync_to_async(_photo)(self.call, content)
            if not attachment:
                await self._refuse("photo")
                return
            await self._to_others({"type": "photo", "attachment": attachment})
        elif kind == "hangup":
            await database_sync_to_async(call_end)(
                accessor=_accessor(self.scope, self.user), call=self.call
            )
            ended = {"type": "call.relay", "sender": "", "message": {"type": "ended"}}
            await self.channel_layer.group_send(self.group, ended)
        else:
            await self._refuse("type")

    @classmethod
    async def decode_json(cls, text_data: str) -> Any:
        # NaN, Infinity and deep nesting are refused like any text that is not JSON.
        return parse_json(text_data)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        text = message.get("text") or ""
        if len(text) > MAX_MESSAGE_CHARS:
            await self._refuse("size")
            return
        try:
            await super().websocket_receive(message)
        except ValueError:
            await self._refuse("json")

    async def _refuse(self, what: str) -> None:
        # Nothing sent is dropped silently: the browser hears what was not accepted.
        await self.send_json({"type": "error", "refused": what})

    async def _to_others(self, message: dict[str, Any]) -> None:
        await self.channel_layer.group_send(
            self.group, {"type": "call.relay", "sender": self.channel_name, "message": message}
        )

    async def call_relay(self, event: dict[str, Any]) -> None:
        if event.get("sender") != self.channel_name:
            await self.send_json(event["message"])


QUALITY_FIELDS = ("mode", "sent_kbps", "received_kbps", "rtt_ms", "loss_percent")


def _quality(scope: dict[str, Any], user: User, call: Call, content: dict[str, Any]) -> str:
    """ "" when the figures are kept; "forbidden" when the user may no longer be in the call
    (checked at every report, every few seconds: access removed after joining ends there);
    "quality" for figures that are not accepted."""
    # The consultation as it is now (its status may have moved on since the socket opened).
    consultation = Consultation.objects.select_related("patient", "requesting_facility").get(
        pk=call.consultation_id
    )
    if not may_join(user, consultation):
        return "forbidden"
    try:
        call_quality(
            accessor=_accessor(scope, user),
            call=call,
            mode=str(content.get("mode")),
            sent_kbps=content.get("sent_kbps"),
            received_kbps=content.get("received_kbps"),
            rtt_ms=content.get("rtt_ms"),
            loss_percent=content.get("loss_percent"),
        )
    except (ValidationError, PermissionDenied):
        return "quality"
    return ""


def _photo(call: Call, content: dict[str, Any]) -> str:
    """The UUID of a file of this call's consultation, or "" for anything else: a photo sent
    during the call is announced by its attachment's UUID alone (the file went by tus, and the
    other side opens it through the case's own authorised URLs)."""
    try:
        key = uuid.UUID(str(content.get("attachment", "")))
    except ValueError:
        return ""
    found = Attachment.objects.filter(uuid=key, consultation_id=call.consultation_id).exists()
    return str(key) if found else ""


def _leave(scope: dict[str, Any], user: User, call: Call) -> None:
    try:
        call_leave(accessor=_accessor(scope, user), call=call)
    except PermissionDenied:
        # Already out: the call was hung up for everyone before this socket closed.
        return
