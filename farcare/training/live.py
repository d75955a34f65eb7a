"""The live room page of an online session and its small JSON endpoints, for the calls app's
consilium.js (included as a static file, driven by the JSON config this page writes): `join`
gives the room, pin and Janus token to the programme's trainers and learners only; `quality`
takes the browser's link figures and answers who is in the room; `hand` raises or lowers a
listener's hand; `leave` ends the learner's stay and records it as attendance. Learners' pages
are listen only (`listen_only` in the config: consilium.js asks for no camera or microphone).
The page sets its own Content-Security-Policy (Janus's WebSocket in connect-src) and lets this
origin use the camera and microphone (a trainer's), as the consilium page does."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.calls import janus
from farcare.calls.quality import quality_report
from farcare.calls.room_page import room_texts, sfu_audio_only_below_kbps, with_camera_and_sfu
from farcare.core.jsonbody import parse_json_body
from farcare.core.timezones import local_moment

from .live_room import (
    LiveUnavailable,
    listens_only,
    live_hand,
    live_join,
    live_leave,
    live_quality,
    people_in,
    room_refusal,
    speaker_ids,
)
from .models import LiveSeat, Session
from .selectors import may_see_programme


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _session(request: HttpRequest, session_uuid: UUID) -> Session:
    session = get_object_or_404(Session.objects.select_related("programme"), uuid=session_uuid)
    if not may_see_programme(_user(request), session.programme):
        raise PermissionDenied(_("You may not see this programme."))
    return session


def _texts() -> dict[str, str]:
    return {
        **room_texts(),
        "connecting": _("Connecting to the session…"),
        "connected": _("In the session"),
        "left": _("You left the session."),
        "listening": _("You are listening. To ask to speak, raise your hand."),
        "listening_person": _("listening"),
        "raise_hand": _("Raise hand"),
        "lower_hand": _("Lower hand"),
        "hand_raised": _("raised a hand"),
    }


def _people(session: Session, viewer: User) -> list[dict[str, Any]]:
    speakers = speaker_ids(session)
    return [_person(seat, viewer, speakers) for seat in people_in(session)]


def _person(seat: LiveSeat, viewer: User, speakers: set[int]) -> dict[str, Any]:
    return {
        "id": str(seat.user.uuid),
        "name": str(seat.user),
        "role": seat.user.get_role_display(),
        "me": seat.user_id == viewer.pk,
        "listening": seat.user_id not in speakers,
        "hand": seat.hand_raised_at is not None,
        "joined": local_moment(seat.joined_at),
        "reconnects": seat.reconnects,
        "mode": seat.mode,
        "sent_kbps": seat.sent_kbps,
        "received_kbps": seat.received_kbps,
        "rtt_ms": seat.rtt_ms,
        "loss_percent": float(seat.loss_percent) if seat.loss_percent is not None else None,
    }


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


@login_required
@require_GET
def room(request: HttpRequest, session_uuid: UUID) -> HttpResponse:
    session = _session(request, session_uuid)
    user = _user(request)
    base = request.path
    listen_only = listens_only(user, session)
    config: dict[str, Any] = {
        "join_url": f"{base}join/",
        "quality_url": f"{base}quality/",
        "leave_url": f"{base}leave/",
        "listen_only": listen_only,
        **({"hand_url": f"{base}hand/"} if listen_only else {}),
        "audio_only_below_kbps": sfu_audio_only_below_kbps(),
        "audio_kbps": settings.FARCARE_CALL_AUDIO_KBPS,
        "texts": _texts(),
    }
    response = render(
        request,
        "training/live.html",
        {
            "session": session,
            "programme": session.programme,
            "refusal": room_refusal(user, session),
            "available": janus.configured(),
            "people": people_in(session),
            "config": config,
            "listen_only": listen_only,
        },
    )
    return with_camera_and_sfu(request, response)


@login_required
@require_POST
def join(request: HttpRequest, session_uuid: UUID) -> JsonResponse:
    session = _session(request, session_uuid)
    try:
        seat = live_join(accessor=Accessor.from_request(request), session=session)
    except PermissionDenied as refusal:
        return _error(str(refusal), 403)
    except LiveUnavailable:
        return _error(_("The video server for live sessions is not reachable."), 503)
    viewer = _user(request)
    return JsonResponse(
        {
            "call": str(session.uuid),
            "room": seat.room,
            "pin": seat.pin,
            "token": seat.token,
            "server": seat.ws_url,
            "display": seat.display,
            "listen_only": seat.listen_only,
            "people": _people(session, viewer),
        }
    )


@login_required
@require_POST
def quality(request: HttpRequest, session_uuid: UUID) -> JsonResponse:
    session = _session(request, session_uuid)
    try:
        figures = quality_report(request.body)
    except ValidationError as error:
        return _error(" ".join(error.messages), 400)
    try:
        live_quality(
            accessor=Accessor.from_request(request, channel="api"),
            session=session,
            mode=str(figures.get("mode", "video")),
            sent_kbps=figures.get("sent_kbps"),
            received_kbps=figures.get("received_kbps"),
            rtt_ms=figures.get("rtt_ms"),
            loss_percent=figures.get("loss_percent"),
        )
    except PermissionDenied as refusal:
        return _error(str(refusal), 403)
    except ValidationError as error:
        return _error(" ".join(error.messages), 400)
    viewer = _user(request)
    return JsonResponse({"people": _people(session, viewer)})


@login_required
@require_POST
def hand(request: HttpRequest, session_uuid: UUID) -> JsonResponse:
    """{"raised": true|false}: a listener asks to speak, or no longer does."""
    session = _session(request, session_uuid)
    try:
        body = parse_json_body(request.body)
    except ValueError:
        return _error(_("The request is not valid JSON."), 400)
    if not isinstance(body, dict) or not isinstance(body.get("raised"), bool):
        return _error(_('Say whether the hand is raised: {"raised": true or false}.'), 400)
    unknown = sorted(set(body) - {"raised"})
    if unknown:
        return _error(_("Unknown fields: %(names)s") % {"names": ", ".join(unknown)}, 400)
    try:
        live_hand(accessor=Accessor.from_request(request), session=session, raised=body["raised"])
    except PermissionDenied as refusal:
        return _error(str(refusal), 403)
    viewer = _user(request)
    return JsonResponse({"people": _people(session, viewer)})


@login_required
@require_POST
def leave(request: HttpRequest, session_uuid: UUID) -> JsonResponse:
    """Also the target of the page's beacon when the tab closes (a form POST with the token)."""
    session = _session(request, session_uuid)
    live_leave(accessor=Accessor.from_request(request), session=session)
    return JsonResponse({"left": True})
