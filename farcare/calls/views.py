"""Pages of calls (thin: services write, selectors read).

The call page of two: GET shows it (the call the user is in, or a button to join), POST joins
(starting the call when none is open) and comes back to it. The page opens camera and
microphone, so it sets its own Permissions-Policy allowing them to this origin alone."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.selectors import case_patient

from .access import require_join
from .ice import ice_servers_for
from .models import CallKind
from .room_page import with_camera
from .selectors import open_call, presence
from .services import call_join


def _texts() -> dict[str, str]:
    """What call.js writes into the page, in the reader's language."""
    return {
        "connecting": _("Connecting…"),
        "waiting": _("Waiting for the other side to join…"),
        "connected": _("Connected"),
        "reconnecting": _("The link dropped; reconnecting without redialling…"),
        "ended": _("The call has ended."),
        "no_devices": _("The camera or microphone could not be opened: %(error)s"),
        "video": _("video"),
        "audio": _("audio only"),
        "audio_weak": _("audio only (the link is too weak for video)"),
        "audio_peer": _("audio only (the other side takes no video)"),
        "quality": _(
            "%(mode)s · sent %(sent)s kbit/s · received %(received)s kbit/s · "
            "round trip %(rtt)s ms · %(loss)s%% lost"
        ),
        "no_figures": _("no figures yet"),
        "photo_sending": _("Sending the photo: %(percent)s%%"),
        "photo_sent": _("The photo is sent and filed with the consultation."),
        "photo_failed": _("The photo was not sent: %(error)s"),
        "photo_from_you": _("Your photo"),
        "photo_from_other": _("A photo from the other side"),
        "photo_withheld": _("This photo is not shown to you here; see the consultation's files."),
    }


# Filled in by call.js with an attachment's UUID (reversed once: the URL pattern is the case
# page's, so the preview is authorised and audited exactly as it is there).
_PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


def _attachment_urls() -> dict[str, str]:
    return {
        "photo_preview_url": reverse("consults:attachment_preview", args=[_PLACEHOLDER]),
        "photo_url": reverse("consults:attachment", args=[_PLACEHOLDER]),
        "photo_placeholder": _PLACEHOLDER,
    }


@login_required
@require_http_methods(["GET", "POST"])
def call_page(request: HttpRequest, consultation_uuid: str) -> HttpResponse:
    consultation = get_object_or_404(
        Consultation.objects.select_related("patient", "specialty"), uuid=consultation_uuid
    )
    accessor = Accessor.from_request(request)
    view = require_join(accessor, consultation)
    user = request.user
    assert isinstance(user, User)
    if request.method == "POST":
        participant = call_join(accessor=accessor, consultation=consultation, kind=CallKind.PAIR)
        if request.headers.get("Accept") == "application/json":
            # call.js after its socket found the call ended (both sides dropped at once).
            return JsonResponse({"call": str(participant.call.uuid)})
        return redirect("calls:call", consultation_uuid=consultation.uuid)
    audit_record(
        accessor=accessor,
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"call_page": True, **({"pseudonymised": True} if view.pseudonymised else {})},
    )
    call = open_call(consultation, CallKind.PAIR)
    me = presence(call, user) if call is not None else None
    config = {
        "call": str(call.uuid) if call is not None else "",
        "join_url": request.path,
        "socket_path": f"/ws/call/{call.uuid}/" if call is not None else "",
        "ice_servers": ice_servers_for(user),
        "ice_transport_policy": settings.FARCARE_ICE_TRANSPORT_POLICY,
        "audio_only_below_kbps": settings.FARCARE_CALL_AUDIO_ONLY_BELOW_KBPS,
        "audio_kbps": settings.FARCARE_CALL_AUDIO_KBPS,
        "csrf": get_token(request),
        "consultation": str(consultation.uuid),
        "upload_url": reverse("uploads:collection"),
        **_attachment_urls(),
        "texts": _texts(),
    }
    response = render(
        request,
        "calls/call.html",
        {
            "c": consultation,
            "patient": case_patient(consultation, view, timezone.localdate()),
            "call": call,
            "joined": me is not None and me.left_at is None,
            # A consultant abroad sees a pseudonymised case and files nothing into the record
            # (farcare.uploads.purposes: the upload would be refused anyway).
            "may_send_photo": not view.pseudonymised,
            "config": config,
        },
    )
    return with_camera(response)
