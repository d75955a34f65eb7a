"""The live room of an online session: the SFU room of the calls app (Janus's video room, made
and unmade with `farcare.calls.janus`), entered by the programme's trainers and enrolled
learners while the session is on. Each join and leave of a learner becomes their `Attendance`
(online, minutes within the session's time).

The room's pin and secret are derived from the server's secret and the session, as a
consilium's are from its call: nothing to store, the same after a Janus restart.

A teaching session has a trainer, perhaps co-trainers (a presenting clinician is made a
co-trainer of the programme) and 10-40 learners, more than the five a consilium's room holds.
So the room admits only `PUBLISHERS` senders of media, and learners join it listen only
(subscribers: no camera or microphone asked for); a learner who wants to speak raises a hand,
which the trainers see."""

from __future__ import annotations

import hashlib
import hmac
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from django.conf import settings
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.calls import janus
from farcare.calls.quality import clean_link_figures

from .models import AttendanceHow, LiveSeat, Session, SessionMode, SessionStatus
from .selectors import is_enrolled, is_trainer_of
from .services import attendance_record

logger = logging.getLogger(__name__)

# The room opens this long before the start and stays open this long after the planned end.
EARLY = timedelta(minutes=30)
LATE = timedelta(minutes=60)
# Who may send media in a session's room at once: the trainer, a co-trainer and a presenting
# clinician. Listeners are not counted (Janus counts only those who publish).
PUBLISHERS = 3


class LiveUnavailable(Exception):
    """No SFU configured, or Janus did not answer."""


@dataclass(frozen=True)
class LiveSeatInfo:
    room: int
    pin: str
    token: str
    ws_url: str
    display: str
    listen_only: bool


def _derived(session: Session, purpose: str) -> str:
    key = settings.SECRET_KEY.encode()
    message = f"farcare-training-{purpose}:{session.uuid}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:32]


def room_refusal(user: User | None, session: Session, now: datetime | None = None) -> str:
    """Why the user may not enter the session's live room now ('' when they may)."""
    if user is None or not (
        is_trainer_of(user, session.programme) or is_enrolled(user, session.programme)
    ):
        return _("Only the trainers and the learners of this programme join its sessions.")
    if session.mode == SessionMode.IN_PERSON:
        return _("This session is held in a room, not online.")
    if session.status not in (SessionStatus.SCHEDULED, SessionStatus.LIVE):
        return _("This session is not on.")
    now = now or timezone.now()
    if now < session.starts_at - EARLY:
        return _("The live room opens 30 minutes before the session.")
    if now > session.starts_at + timedelta(minutes=session.duration_minutes) + LATE:
        return _("This session is over.")
    return ""


def listens_only(user: User, session: Session) -> bool:
    """Learners listen (and may raise a hand); the programme's trainers speak and show."""
    return not is_trainer_of(user, session.programme)


def _ensure_room(session: Session) -> janus.Room:
    client = janus.JanusClient()
    with transaction.atomic():
        locked = Session.objects.select_for_update().get(pk=session.pk)
        pin, secret = _derived(locked, "pin"), _derived(locked, "secret")
        if locked.live_room and client.room_exists(int(locked.live_room)):
            return janus.Room(int(locked.live_room), pin, secret)
        made = client.create_room(
            pin=pin,
            secret=secret,
            description=f"training {locked.uuid}",
            room_id=int(locked.live_room) if locked.live_room else None,
            publishers=PUBLISHERS,
        )
        changed = ["live_room"]
        locked.live_room = str(made.id)
        if locked.status == SessionStatus.SCHEDULED:
            locked.status = SessionStatus.LIVE
            changed.append("status")
        locked.save(update_fields=changed)
        session.live_room, session.status = locked.live_room, locked.status
        return made


def live_join(*, accessor: Accessor, session: Session) -> LiveSeatInfo:
    user = accessor.user
    refusal = room_refusal(user, session)
    if refusal:
        raise PermissionDenied(refusal)
    assert user is not None
    if not janus.configured():
        raise LiveUnavailable("FARCARE_JANUS_URL is not set")
    try:
        room = _ensure_room(session)
    except janus.JanusError as error:
        raise LiveUnavailable(str(error)) from error
    now = timezone.now()
    with transaction.atomic():
        seat, created = LiveSeat.objects.select_for_update().get_or_create(
            session=session, user=user, defaults={"joined_at": now, "seen_at": now}
        )
        if not created:
            if seat.left_at is None:
                seat.reconnects += 1
            else:
                seat.joined_at = now
                seat.hand_raised_at = None
            seat.left_at = None
            seat.seen_at = now
            seat.save()
    return LiveSeatInfo(
        room=room.id,
        pin=room.pin,
        token=janus.browser_token(),
        ws_url=settings.FARCARE_JANUS_WS_URL,
        display=str(user.uuid),
        listen_only=listens_only(user, session),
    )


def live_quality(
    *,
    accessor: Accessor,
    session: Session,
    mode: str,
    sent_kbps: object = None,
    received_kbps: object = None,
    rtt_ms: object = None,
    loss_percent: object = None,
) -> LiveSeat:
    seat = LiveSeat.objects.filter(
        session=session, user=accessor.user, left_at__isnull=True
    ).first()
    if seat is None:
        raise PermissionDenied(_("You are not in this session's live room."))
    if mode not in ("video", "audio"):
        raise ValidationError({"mode": _("Video or audio only.")})
    # The same checks as a call's figures: finite numbers in range, or a ValidationError naming
    # the figure (never a 500 from a column that cannot hold it).
    figures = clean_link_figures(
        {
            "sent_kbps": sent_kbps,
            "received_kbps": received_kbps,
            "rtt_ms": rtt_ms,
            "loss_percent": loss_percent,
        }
    )
    seat.sent_kbps = figures.sent_kbps
    seat.received_kbps = figures.received_kbps
    seat.rtt_ms = figures.rtt_ms
    seat.loss_percent = figures.loss_percent
    seat.mode = mode
    seat.seen_at = timezone.now()
    seat.save()
    return seat


def live_hand(*, accessor: Accessor, session: Session, raised: bool) -> LiveSeat:
    """A listener raises (or lowers) their hand to ask to speak; trainers have the floor."""
    user = accessor.user
    if user is None or not listens_only(user, session):
        raise PermissionDenied(_("Trainers speak without raising a hand."))
    with transaction.atomic():
        seat = (
            LiveSeat.objects.select_for_update()
            .filter(session=session, user=user, left_at__isnull=True)
            .first()
        )
        if seat is None:
            raise PermissionDenied(_("You are not in this session's live room."))
        if raised != (seat.hand_raised_at is not None):
            seat.hand_raised_at = timezone.now() if raised else None
            seat.save(update_fields=["hand_raised_at"])
    return seat


def live_leave(*, accessor: Accessor, session: Session, at: datetime | None = None) -> None:
    """Leave the room: a learner's stay becomes attendance; the last one out closes the room."""
    user = accessor.user
    left = at or timezone.now()
    with transaction.atomic():
        seat = (
            LiveSeat.objects.select_for_update()
            .filter(session=session, user=user, left_at__isnull=True)
            .first()
        )
        if seat is None:
            return
        seat.left_at = left
        seat.hand_raised_at = None
        seat.save(update_fields=["left_at", "hand_raised_at"])
        if user is not None and is_enrolled(user, session.programme):
            attendance_record(
                accessor=accessor,
                session=session,
                learner=user,
                how=AttendanceHow.ONLINE,
                joined_at=seat.joined_at,
                left_at=left,
            )
        if not LiveSeat.objects.filter(session=session, left_at__isnull=True).exists():
            transaction.on_commit(partial(_close_room, session.pk), robust=True)


def _close_room(session_pk: int) -> None:
    session = Session.objects.filter(pk=session_pk).first()
    if session is None or not session.live_room:
        return
    if LiveSeat.objects.filter(session=session, left_at__isnull=True).exists():
        return  # someone came back in meanwhile
    room = janus.Room(int(session.live_room), _derived(session, "pin"), _derived(session, "secret"))
    try:
        janus.JanusClient().destroy_room(room)
    except janus.JanusError:
        logger.info("the live room of session %s could not be closed", session.uuid, exc_info=True)


def speaker_ids(session: Session) -> set[int]:
    """The users who speak in the session's room (its programme's trainers); the rest listen."""
    programme = session.programme
    return {programme.owner_id, *programme.trainers.values_list("pk", flat=True)}


def people_in(session: Session) -> list[LiveSeat]:
    return list(
        LiveSeat.objects.filter(session=session, left_at__isnull=True).select_related("user")
    )
