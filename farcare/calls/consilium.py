"""A consilium call (three to five people) through Janus's video room: joining it, leaving it, and
who is in it with the quality of each link.

Joining is `call_join(kind=CONSILIUM)` (which checks `may_join` and audits) plus the call's room
in Janus, made by the first one in and kept under `Call.room`. The room's pin (to join) and
secret (to destroy it) are not stored: they are derived from the deployment's SECRET_KEY and the
call, so only this server knows them and every participant's browser gets the same pin. Only
someone `may_join` lets in receives the room number, the pin and a Janus token; the page itself
carries none of them. The last one out ends the call (`call_leave`), and the room is destroyed
after the commit; a Janus that is down by then does not undo the leave.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db import transaction

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation

from . import janus
from .models import Call, CallKind, CallParticipant
from .services import call_join, call_leave

logger = logging.getLogger(__name__)


class ConsiliumUnavailable(Exception):
    """No SFU configured, or Janus did not answer."""


@dataclass(frozen=True)
class Seat:
    """What one authorised browser needs to enter the room."""

    call: Call
    participant: CallParticipant
    room: int
    pin: str
    token: str
    ws_url: str
    # What Janus shows the others as this publisher's name: the user's uuid (no name goes to
    # the SFU); the page maps it to a name through `consilium_people`.
    display: str


@dataclass(frozen=True)
class Person:
    user_uuid: str
    name: str
    role: str
    me: bool
    joined_at: datetime
    reconnects: int
    mode: str
    sent_kbps: int | None
    received_kbps: int | None
    rtt_ms: int | None
    loss_percent: Decimal | None


def _derived(call: Call, purpose: str) -> str:
    key = settings.SECRET_KEY.encode()
    message = f"farcare-consilium-{purpose}:{call.uuid}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def room_of(call: Call) -> janus.Room | None:
    if not call.room:
        return None
    return janus.Room(int(call.room), _derived(call, "pin"), _derived(call, "secret"))


def _ensure_room(call: Call) -> janus.Room:
    """The call's room in Janus: made by the first one in, made again under the same number if
    Janus restarted and forgot it. The call row is locked, so two first joiners make one room."""
    client = janus.JanusClient()
    with transaction.atomic():
        locked = Call.objects.select_for_update().get(pk=call.pk)
        room = room_of(locked)
        if room is not None and client.room_exists(room.id):
            return room
        made = client.create_room(
            pin=_derived(locked, "pin"),
            secret=_derived(locked, "secret"),
            description=f"consilium {locked.uuid}",
            room_id=room.id if room is not None else None,
        )
        if room is None:
            locked.room = str(made.id)
            locked.save(update_fields=["room"])
        call.room = locked.room
        return made


def consilium_join(*, accessor: Accessor, consultation: Consultation) -> Seat:
    """Join (or start) the consultation's consilium call and make sure its room is up. A refusal
    is audited by `call_join`; a Janus that does not answer undoes the join."""
    if not janus.configured():
        raise ConsiliumUnavailable("FARCARE_JANUS_URL is not set")
    participant = call_join(accessor=accessor, consultation=consultation, kind=CallKind.CONSILIUM)
    call = participant.call
    try:
        room = _ensure_room(call)
    except janus.JanusError as error:
        call_leave(accessor=accessor, call=call)
        destroy_room_if_ended(call)
        raise ConsiliumUnavailable(str(error)) from error
    user = accessor.user
    assert user is not None
    return Seat(
        call=call,
        participant=participant,
        room=room.id,
        pin=room.pin,
        token=janus.browser_token(),
        ws_url=settings.FARCARE_JANUS_WS_URL,
        display=str(user.uuid),
    )


def consilium_leave(*, accessor: Accessor, call: Call) -> None:
    """Leave; the last one out ends the call, and its room goes after the commit."""
    call_leave(accessor=accessor, call=call)
    destroy_room_if_ended(call)


def destroy_room_if_ended(call: Call) -> None:
    call.refresh_from_db(fields=["ended_at", "room"])
    room = room_of(call)
    if call.ended_at is None or room is None:
        return

    def destroy() -> None:
        try:
            janus.JanusClient().destroy_room(room)
        except janus.JanusError:
            # The room empties itself; Janus forgets it when it restarts. Not worth undoing
            # the end of the call for.
            logger.warning("could not destroy Janus room %s of call %s", room.id, call.uuid)

    transaction.on_commit(destroy)


# --- selectors ---------------------------------------------------------------------------------


def open_consilium(consultation: Consultation) -> Call | None:
    return Call.objects.filter(
        consultation=consultation, kind=CallKind.CONSILIUM, ended_at__isnull=True
    ).first()


def consilium_people(call: Call, viewer: User) -> list[Person]:
    """Who is in the call now, with the last quality each one's browser reported. Staff only
    (a call has no patient in it), so names are shown to every participant."""
    present = (
        CallParticipant.objects.filter(call=call, left_at__isnull=True)
        .select_related("user")
        .order_by("joined_at", "pk")
    )
    return [
        Person(
            user_uuid=str(p.user.uuid),
            name=p.user.get_full_name() or p.user.username,
            role=p.user.get_role_display(),
            me=p.user_id == viewer.pk,
            joined_at=p.joined_at,
            reconnects=p.reconnects,
            mode=p.mode,
            sent_kbps=p.sent_kbps,
            received_kbps=p.received_kbps,
            rtt_ms=p.rtt_ms,
            loss_percent=p.loss_percent,
        )
        for p in present
    ]
