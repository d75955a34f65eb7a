"""The consilium holds on a bad link. Three people in a consilium through Janus; the feldsher's
connection to the video server drops (its WebSocket closes under it): the page joins again by
itself, with the camera and microphone it already had; the others see her back and her sound
and picture arrive again, and her presence counts the reconnect. Then she ticks "audio only":
she stops sending video and Janus stops relaying the others' video to her, so her link carries
little more than three voices."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from farcare.calls.models import CallParticipant
from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.janus import JanusServer, janus_for_farcare

from ..calls.consilium_scene import Consilium, consilium_case
from ..conftest import Chain
from .conftest import log_in

pytestmark = pytest.mark.browser

MEDIA_TIMEOUT_MS = 40_000
# Counts how often the page asks for the camera and microphone.
COUNT_GET_USER_MEDIA = """
(() => {
  window.getUserMediaCalls = 0;
  const devices = navigator.mediaDevices;
  if (!devices) { return; }
  const original = devices.getUserMedia.bind(devices);
  devices.getUserMedia = (constraints) => {
    window.getUserMediaCalls += 1;
    return original(constraints);
  };
})();
"""


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _inbound_from(page: Any) -> dict[str, int]:
    # After a reconnect a page's counters start again: the first report comes a moment later
    # (a wait for readiness, not a timed assertion).
    page.wait_for_function("() => !!window.farcareConsilium.stats", timeout=MEDIA_TIMEOUT_MS)
    stats = page.evaluate("() => window.farcareConsilium.stats")
    return {"audio": stats["inboundAudioBytes"], "video": stats["inboundVideoBytes"]}


def test_the_consilium_reconnects_by_itself_and_goes_audio_only(
    janus_server: JanusServer,
    new_asgi_context: Callable[..., Any],
    asgi_server: str,
    chain: Chain,
) -> None:
    case: Consilium = consilium_case(chain, password=DEMO_PASSWORD)
    path = f"/calls/{case.consultation.uuid}/consilium/"
    pages = []
    for user in (case.feldsher, case.hub_cardiologist, case.federal_cardiologist):
        context = new_asgi_context()
        context.add_init_script(COUNT_GET_USER_MEDIA)
        page = log_in(context, user.username)
        page.goto(path)
        page.get_by_test_id("consilium-join").click()
        pages.append(page)
    feldsher, hub, federal = pages
    for page in pages:
        page.wait_for_function(
            "() => window.farcareConsilium.inRoom.length === 2", timeout=MEDIA_TIMEOUT_MS
        )
    feldsher_id = str(case.feldsher.uuid)

    # Her link to the video server drops.
    feldsher.evaluate("() => window.farcareConsilium.dropSocket()")
    for page in (hub, federal):
        page.wait_for_function(
            f"() => !window.farcareConsilium.inRoom.includes('{feldsher_id}')",
            timeout=MEDIA_TIMEOUT_MS,
        )
    # ... and comes back by itself: the others see her in the room again.
    feldsher.wait_for_function(
        "() => window.farcareConsilium.reconnects === 1 && window.farcareConsilium.publishing",
        timeout=MEDIA_TIMEOUT_MS,
    )
    for page in (hub, federal):
        page.wait_for_function(
            f"() => window.farcareConsilium.inRoom.includes('{feldsher_id}')",
            timeout=MEDIA_TIMEOUT_MS,
        )
    # Her sound and picture reach them again, theirs reach her (fresh counters after the drop).
    feldsher.wait_for_function(
        "() => { const s = window.farcareConsilium.stats;"
        " return s && s.inboundAudioBytes > 0 && s.inboundVideoBytes > 0; }",
        timeout=MEDIA_TIMEOUT_MS,
    )
    for page in (hub, federal):
        before = _inbound_from(page)
        page.wait_for_function(
            f"() => window.farcareConsilium.stats.inboundAudioBytes > {before['audio']}"
            f" && window.farcareConsilium.stats.inboundVideoBytes > {before['video']}",
            timeout=MEDIA_TIMEOUT_MS,
        )
        assert page.locator(f'figure[data-person="{feldsher_id}"]').count() == 1
    # The same camera and microphone: asked for once, on her click.
    assert feldsher.evaluate("() => window.getUserMediaCalls") == 1
    presence = CallParticipant.objects.get(call__consultation=case.consultation, user=case.feldsher)
    assert presence.reconnects == 1 and presence.left_at is None

    # The link is bad: she ticks "audio only".
    feldsher.get_by_test_id("consilium-audio-only").check()
    feldsher.wait_for_function(
        "() => { const s = window.farcareConsilium.stats;"
        " return s && s.summary.mode === 'audio' && s.summary.sent_kbps !== null"
        " && s.summary.sent_kbps < 40 && s.summary.received_kbps < 80; }",
        timeout=MEDIA_TIMEOUT_MS,
    )
    # Two reports later it still holds (not a lucky gap).
    feldsher.wait_for_timeout(10_500)
    summary = feldsher.evaluate("() => window.farcareConsilium.stats.summary")
    print("\naudio-only link of the feldsher:", summary)
    assert summary["sent_kbps"] < 40 and summary["received_kbps"] < 80
    # Every page shows her link as audio only, the others' as video.
    for page in pages:
        page.wait_for_function(
            f'() => document.querySelector(\'#consilium-people li[data-person="{feldsher_id}"]'
            " [data-testid=link-mode]')?.dataset.mode === 'audio'",
            timeout=MEDIA_TIMEOUT_MS,
        )
    hub_item = hub.locator(f'#consilium-people li[data-person="{case.hub_cardiologist.uuid}"]')
    assert hub_item.get_by_test_id("link-mode").get_attribute("data-mode") == "video"
    assert (
        "audio only"
        in feldsher.locator(f'#consilium-people li[data-person="{feldsher_id}"]').inner_text()
    )
    # The others keep hearing her.
    before = _inbound_from(hub)
    hub.wait_for_function(
        f"() => window.farcareConsilium.stats.inboundAudioBytes > {before['audio']}",
        timeout=MEDIA_TIMEOUT_MS,
    )
