"""Issue 14, the call of two: the feldsher at Uelen and the cardiologist in Anadyr talk and see
each other through coturn on loopback (relay only, so the media must cross TURN), the feldsher
switches to audio only and the link carries less than 40 kbit/s, her signalling socket drops
and the call carries on without redialling; the call is on the case's timeline.

Two contexts of the shared Chromium with fake camera and microphone; farcare.asgi under uvicorn
(sockets). Needs coturn: skipped without it unless FARCARE_REQUIRE_CALLS=1."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from farcare.calls.models import Call, CallParticipant
from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.turn import running_turnserver

from ..calls.conftest import live_case
from ..consults.conftest import scene  # noqa: F401  (the consultations' scene)
from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.calls]

MEDIA_TIMEOUT_MS = 30_000


@pytest.fixture
def turn(tmp_path: Path, settings):
    with running_turnserver(tmp_path) as server:
        settings.FARCARE_ICE_SERVERS = []
        settings.FARCARE_TURN_SECRET = server.secret
        settings.FARCARE_TURN_URLS = [server.url]
        settings.FARCARE_ICE_TRANSPORT_POLICY = "relay"
        yield server


def stats(page) -> dict:
    return page.evaluate("() => window.farcareCall.stats")


def call_state(page) -> dict:
    return page.evaluate(
        "() => ({gum: window.farcareCall.getUserMediaCalls, reconnects: "
        "window.farcareCall.reconnects, connectMs: window.farcareCall.connectMs, "
        "reconnectMs: window.farcareCall.reconnectMs, mode: window.farcareCall.mode})"
    )


def wait_for_media(page) -> None:
    page.wait_for_function(
        "() => { const s = window.farcareCall && window.farcareCall.stats;"
        " return s && s.bytesReceived.audio > 0 && s.bytesReceived.video > 0; }",
        timeout=MEDIA_TIMEOUT_MS,
    )


def grows(page, seconds: float = 6.0) -> dict[str, int]:
    """Bytes received per kind over `seconds`, read from getStats through call.js (which reads
    them every 2 s). An ICE restart may start the counters again: only increases count."""
    growth = {"audio": 0, "video": 0}
    before = stats(page)["bytesReceived"]
    for _ in range(int(seconds / 2)):
        time.sleep(2)
        after = stats(page)["bytesReceived"]
        for kind in growth:
            growth[kind] += max(0, after[kind] - before[kind])
        before = after
    return growth


def sent_kbps(page, seconds: float = 6.0) -> float:
    before = stats(page)
    time.sleep(seconds)
    after = stats(page)
    bits = 8 * sum(after["bytesSent"][k] - before["bytesSent"][k] for k in ("audio", "video"))
    return bits / (after["at"] - before["at"])  # bits per ms = kbit/s


def test_a_call_through_turn_adapts_and_survives_a_dropped_socket(
    asgi_server,
    new_asgi_context,
    new_asgi_browser_context,
    scene,  # noqa: F811
    turn,
):
    case = live_case(scene)
    for user in (scene.feldsher, scene.hub_cardiologist):
        user.set_password(DEMO_PASSWORD)
        user.save()

    feldsher = log_in(new_asgi_context(), scene.feldsher.username)
    feldsher.goto(f"/consultations/{case.uuid}/")
    feldsher.get_by_role("link", name="Join the call").click()
    feldsher.get_by_role("button", name="Start the call").click()
    feldsher.get_by_test_id("call-status").wait_for()

    # The consultant in another Chromium process, as on another machine.
    consultant = log_in(new_asgi_browser_context(), scene.hub_cardiologist.username)
    consultant.goto(f"/calls/{case.uuid}/")
    consultant.get_by_role("button", name="Join the call").click()

    # Sound and picture both ways, over the TURN relay.
    for page in (feldsher, consultant):
        wait_for_media(page)
        assert stats(page)["candidateType"] == "relay"
        assert page.get_by_test_id("call-status").inner_text() == "Connected"
    for page in (feldsher, consultant):
        growth = grows(page)
        assert growth["audio"] > 0 and growth["video"] > 0, growth
    video_kbps = sent_kbps(feldsher)
    print(f"connect ms: {call_state(feldsher)['connectMs']}, {call_state(consultant)['connectMs']}")
    print(f"video mode sends {video_kbps:.0f} kbit/s")
    assert video_kbps > 40

    # Audio only, by the feldsher's choice: the video stops and Opus is capped.
    feldsher.get_by_label("Audio only", exact=False).check()
    feldsher.wait_for_function("() => window.farcareCall.mode === 'audio'")
    time.sleep(3)
    audio_kbps = sent_kbps(feldsher)
    print(f"audio-only mode sends {audio_kbps:.1f} kbit/s")
    assert 0 < audio_kbps < 40
    assert grows(consultant)["audio"] > 0
    # The consultant's page shows the feldsher's mode once her next report arrives.
    consultant.wait_for_function(
        "() => document.querySelector('[data-testid=remote-quality]')"
        ".textContent.startsWith('audio only')",
        timeout=12_000,
    )
    feldsher.get_by_label("Audio only", exact=False).uncheck()

    # The feldsher's signalling socket drops: it reconnects, nothing is redialled.
    feldsher.evaluate("() => window.farcareCall.dropSocket()")
    feldsher.wait_for_function("() => window.farcareCall.reconnects === 1", timeout=15_000)
    state = call_state(feldsher)
    print(f"socket reconnected in {state['reconnectMs']} ms")
    assert state["gum"] == 1
    for page in (feldsher, consultant):
        growth = grows(page)
        assert growth["audio"] > 0 and growth["video"] > 0, growth
    call = Call.objects.get(consultation=case)
    assert CallParticipant.objects.get(call=call, user=scene.feldsher).reconnects == 1

    # The consultant hangs up; the call is on the case's timeline for both.
    consultant.get_by_role("button", name="Hang up").click()
    feldsher.get_by_test_id("call-status").filter(has_text="The call has ended.").wait_for()
    feldsher.goto(f"/consultations/{case.uuid}/")
    timeline = feldsher.get_by_test_id("timeline").inner_text()
    assert "call started" in timeline and "call ended" in timeline
    assert "no media recorded" in timeline
