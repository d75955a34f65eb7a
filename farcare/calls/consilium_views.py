"""The consilium page and its small JSON endpoints (thin: farcare.calls.consilium does the work).

GET the page: the case in a line, a button to join, the list of who is connected. It carries no
room number, pin or token: the browser asks for them by POSTing `join`, which only someone the
call admits gets. Every ~5 s the browser POSTs the figures getStats gave to `quality` and gets
back who is in the call with theirs. The page talks to Janus's WebSocket, so it sets its own
Content-Security-Policy (the default plus that one origin in connect-src) and a
Permissions-Policy that lets this origin use the camera and microphone."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.selectors import case_patient
from farcare.core.timezones import local_moment

from . import janus
from .access import may_join, require_join
from .consilium import (
    ConsiliumUnavailable,
    Person,
    consilium_join,
    consilium_leave,
    consilium_people,
    open_consilium,
)
from .models import Call, CallKind
from .quality import quality_report
from .room_page import room_texts, sfu_audio_only_below_kbps, with_camera_and_sfu
from .services import call_quality


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _consultation(consultation_uuid: str) -> Consultation:
    return get_object_or_404(
        Consultation.objects.select_related("patient", "specialty", "requesting_facility"),
        uuid=consultation_uuid,
    )


def _texts() -> dict[str, str]:
    return {
        **room_texts(),
        "connecting": _("Connecting to the consilium…"),
        "connected": _("In the consilium"),
        "left": _("You left the consilium."),
    }


@login_required
@require_GET
def consilium_page(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    consultation = _consultation(consultation_uuid)
    accessor = Accessor.from_request(request)
    view = require_join(accessor, consultation)
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"consilium_page": True, **({"pseudonymised": True} if view.pseudonymised else {})},
    )
    call = open_consilium(consultation)
    available = janus.configured()
    config: dict[str, Any] = {
        "join_url": f"{request.path}join/",
        "quality_url": f"{request.path}quality/",
        "leave_url": f"{request.path}leave/",
        "audio_only_below_kbps": sfu_audio_only_below_kbps(),
        "audio_kbps": settings.FARCARE_CALL_AUDIO_KBPS,
        "texts": _texts(),
    }
    response = render(
        request,
        "calls/consilium.html",
        {
            "c": consultation,
            "patient": case_patient(consultation, view, timezone.localdate()),
            "call": call,
            "people": consilium_people(call, _user(request)) if call is not None else [],
            "available": available,
            "config": config,
        },
    )
    return with_camera_and_sfu(request, response)


def _person(person: Person) -> dict[str, Any]:
    return {
        "id": person.user_uuid,
        "name": person.name,
        "role": person.role,
        "me": person.me,
        "joined": local_moment(person.joined_at),
        "reconnects": person.reconnects,
        "mode": person.mode,
        "sent_kbps": person.sent_kbps,
        "received_kbps": person.received_kbps,
        "rtt_ms": person.rtt_ms,
        "loss_percent": float(person.loss_percent) if person.loss_percent is not None else None,
    }


def _error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _validation_message(error: ValidationError) -> str:
    if hasattr(error, "error_dict"):
        return "; ".join(
            f"{name}: {' '.join(str(m) for e in errors for m in e.messages)}"
            for name, errors in error.error_dict.items()
        )
    return " ".join(str(m) for m in error.messages)


@login_required
@require_POST
def consilium_join_view(request: HttpRequest, consultation_uuid: str) -> JsonResponse:
    consultation = _consultation(consultation_uuid)
    try:
        seat = consilium_join(accessor=Accessor.from_request(request), consultation=consultation)
    except PermissionDenied as refusal:
        if _was_in(request, consultation):
            # Put out of the call after joining: the page says so, not that it could not join.
            return _error(_("You are no longer in this call."), 403)
        return _error(str(refusal) or _("You are not in this consultation's call."), 403)
    except ConsiliumUnavailable:
        return _error(_("The video server for consilium calls is not reachable."), 503)
    except ValidationError as error:
        return _error(_validation_message(error), 400)
    return JsonResponse(
        {
            "call": str(seat.call.uuid),
            "room": seat.room,
            "pin": seat.pin,
            "token": seat.token,
            "server": seat.ws_url,
            "display": seat.display,
            "people": [_person(p) for p in consilium_people(seat.call, _user(request))],
        }
    )


def _was_in(request: HttpRequest, consultation: Consultation) -> bool:
    """The user was in this consultation's consilium (its call may have ended since)."""
    return Call.objects.filter(
        consultation=consultation, kind=CallKind.CONSILIUM, participants__user=_user(request)
    ).exists()


def _their_call(request: HttpRequest, consultation_uuid: str) -> Call | JsonResponse:
    consultation = _consultation(consultation_uuid)
    call = open_consilium(consultation)
    if call is None or not call.participants.filter(user=_user(request)).exists():
        return _error(_("You are not in this call."), 403)
    return call


@login_required
@require_POST
def consilium_quality_view(request: HttpRequest, consultation_uuid: str) -> JsonResponse:
    """The figures of the caller's links in; who is in the call with theirs out."""
    call = _their_call(request, consultation_uuid)
    if isinstance(call, JsonResponse):
        return call
    if not may_join(_user(request), call.consultation):
        # Access removed after joining (unassigned, the case closed): the presence ends here,
        # and the page, refused again when it tries to join, stops.
        consilium_leave(accessor=Accessor.from_request(request), call=call)
        return _error(_("You are no longer in this call."), 403)
    try:
        figures = quality_report(request.body)
    except ValidationError as error:
        return _error(" ".join(error.messages), 400)
    try:
        call_quality(
            accessor=Accessor.from_request(request, channel="api"),
            call=call,
            mode=str(figures.get("mode", "video")),
            sent_kbps=figures.get("sent_kbps"),
            received_kbps=figures.get("received_kbps"),
            rtt_ms=figures.get("rtt_ms"),
            loss_percent=figures.get("loss_percent"),
        )
    except PermissionDenied as refusal:
        return _error(str(refusal), 403)
    except ValidationError as error:
        return _error(_validation_message(error), 400)
    return JsonResponse({"people": [_person(p) for p in consilium_people(call, _user(request))]})


@login_required
@require_POST
def consilium_leave_view(request: HttpRequest, consultation_uuid: str) -> JsonResponse:
    call = _their_call(request, consultation_uuid)
    if isinstance(call, JsonResponse):
        return call
    consilium_leave(accessor=Accessor.from_request(request), call=call)
    call.refresh_from_db(fields=["ended_at"])
    return JsonResponse({"ended": call.ended_at is not None})
