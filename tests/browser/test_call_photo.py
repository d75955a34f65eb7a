"""Issue 14, a sharp photo during the call: the feldsher at Uelen photographs the rash with her
phone's camera while she talks to the cardiologist in Anadyr; the photo goes through the
resumable upload (a chunk is lost on the way and the upload carries on from where it was), the
cardiologist sees it on the call page, and it is on the case like any file.

Two contexts of the shared Chromium with fake camera and microphone, farcare.asgi under
uvicorn, coturn on loopback. Needs coturn: skipped without it unless FARCARE_REQUIRE_CALLS=1."""

from __future__ import annotations

import io
import random
from urllib.parse import urlsplit

import pytest
from PIL import Image

from farcare.consults.models import Attachment
from farcare.demo.loader import DEMO_PASSWORD

from ..calls.conftest import live_case
from ..consults.conftest import scene  # noqa: F401  (the consultations' scene)
from .conftest import log_in
from .test_call_story import turn  # noqa: F401  (coturn on loopback, relay only)

pytestmark = [pytest.mark.browser, pytest.mark.calls]

# A wait for readiness, not a target: with three workers and Chromium on two cores a call has
# taken more than 30 s to connect through coturn (a test of the photo, not of the speed).
CONNECTED_TIMEOUT_MS = 90_000
PHOTO_TIMEOUT_MS = 30_000


def rash_photo() -> bytes:
    """A JPEG of about 200 kB (noise compresses badly): several chunks of 64 KiB."""
    noise = random.Random(14)
    image = Image.new("RGB", (640, 480))
    image.frombytes(noise.randbytes(640 * 480 * 3))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=90)
    return out.getvalue()


def in_call(context, username: str, case, button: str):
    page = log_in(context, username)
    page.goto(f"/calls/{case.uuid}/")
    page.get_by_role("button", name=button).click()
    page.get_by_test_id("call-status").wait_for()
    return page


def test_the_feldsher_sends_a_photo_during_the_call_and_the_consultant_sees_it(
    asgi_server,
    new_asgi_context,
    scene,  # noqa: F811
    turn,  # noqa: F811
):
    case = live_case(scene)
    for user in (scene.feldsher, scene.hub_cardiologist):
        user.set_password(DEMO_PASSWORD)
        user.save()
    feldsher = in_call(new_asgi_context(), scene.feldsher.username, case, "Start the call")
    consultant = in_call(new_asgi_context(), scene.hub_cardiologist.username, case, "Join the call")
    for page in (feldsher, consultant):
        page.get_by_test_id("call-status").filter(has_text="Connected").wait_for(
            timeout=CONNECTED_TIMEOUT_MS
        )

    # The satellite drops once in the middle of the photo: the second chunk never arrives.
    patches: list[str] = []

    def lose_the_second_chunk(route) -> None:
        if route.request.method == "PATCH":
            patches.append(route.request.url)
            if len(patches) == 2:
                route.abort("connectionreset")
                return
        route.fallback()

    feldsher.route(lambda url: urlsplit(url).path.startswith("/uploads/"), lose_the_second_chunk)
    photo = rash_photo()
    input_box = feldsher.get_by_label("Send a photo")
    assert input_box.get_attribute("capture") == "environment"
    assert input_box.get_attribute("accept") == "image/*"
    input_box.set_input_files(
        files=[{"name": "rash.jpg", "mimeType": "image/jpeg", "buffer": photo}]
    )
    feldsher.get_by_test_id("photo-status").filter(
        has_text="The photo is sent and filed with the consultation."
    ).wait_for(timeout=PHOTO_TIMEOUT_MS)
    # One chunk was lost and sent again: more PATCHes than chunks, and one upload only.
    chunks = -(-len(photo) // (64 * 1024))
    assert len(patches) == chunks + 1, patches
    assert len(set(patches)) == 1

    # The consultant's call page shows it, through the case's own preview address.
    shown = consultant.get_by_test_id("photo-list").get_by_test_id("call-photo")
    shown.wait_for(timeout=PHOTO_TIMEOUT_MS)
    attachment = Attachment.objects.get(consultation=case)
    assert attachment.original_name == "rash.jpg"
    assert attachment.size == len(photo)
    assert attachment.file.read() == photo
    assert shown.get_attribute("src") == f"/consultations/attachments/{attachment.uuid}/preview/"
    consultant.wait_for_function(
        "() => { const i = document.querySelector('[data-testid=call-photo]');"
        " return i && i.complete && i.naturalWidth > 0; }"
    )
    assert "A photo from the other side" in consultant.get_by_test_id("photo-list").inner_text()
    assert feldsher.get_by_test_id("photo-list").get_by_test_id("call-photo").is_visible()

    # And it is on the case like any file.
    consultant.goto(f"/consultations/{case.uuid}/")
    files = consultant.get_by_test_id("attachments")
    assert "rash.jpg" in files.inner_text()
