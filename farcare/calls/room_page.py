"""What every page with a camera shares: its headers, and what a page driving consilium.js (a
consilium, a training session's live room) tells the script.

The house's Permissions-Policy denies camera and microphone to every page; a call's page allows
them for this origin only, and a page talking to Janus adds the SFU's WebSocket origin to
connect-src of the house's Content-Security-Policy."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils.translation import gettext as _

from farcare.core.middleware import content_security_policy

from . import janus

MEDIA_PERMISSIONS_POLICY = settings.FARCARE_PERMISSIONS_POLICY.replace(
    "camera=()", "camera=(self)"
).replace("microphone=()", "microphone=(self)")


def with_camera(response: HttpResponse) -> HttpResponse:
    response["Permissions-Policy"] = MEDIA_PERMISSIONS_POLICY
    return response


def _janus_origin() -> str:
    parts = urlsplit(settings.FARCARE_JANUS_WS_URL)
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme and parts.netloc else ""


def with_camera_and_sfu(request: HttpRequest, response: HttpResponse) -> HttpResponse:
    policy = content_security_policy(request)
    origin = _janus_origin()
    if origin:
        policy = "; ".join(
            f"{directive} {origin}" if directive.startswith("connect-src ") else directive
            for directive in policy.split("; ")
        )
    response["Content-Security-Policy"] = policy
    return with_camera(response)


def sfu_audio_only_below_kbps() -> int:
    """The weak-link threshold in a Janus room. Janus asks each publisher (REMB) to keep under the
    room's cap, and the browser's estimate of its outgoing bandwidth never reports more than
    that, so the call of two's threshold would switch every room to audio; here it is at most
    half the cap (video still worth sending beside the voice)."""
    return min(settings.FARCARE_CALL_AUDIO_ONLY_BELOW_KBPS, janus.BITRATE_CAP // 1000 // 2)


def room_texts() -> dict[str, str]:
    """What consilium.js writes into the page, in the reader's language; a page names its own
    room in "connecting", "connected" and "left"."""
    return {
        "lost": _("The connection to the video server was lost. Join again."),
        "no_devices": _("The camera or microphone could not be opened: %(error)s"),
        "in_room": _("connected"),
        "not_in_room": _("joining…"),
        "you": _("you"),
        "quality": _(
            "sent %(sent)s kbit/s · received %(received)s kbit/s · round trip %(rtt)s ms · "
            "%(loss)s%% lost"
        ),
        "no_figures": _("no figures yet"),
        "failed": _("Could not join: %(error)s"),
        "reconnecting": _("The connection dropped. Reconnecting…"),
        "video": _("video"),
        "audio": _("audio only"),
        "audio_weak": _("audio only (the link is too weak for video)"),
    }
