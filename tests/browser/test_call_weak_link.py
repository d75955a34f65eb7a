"""Issue 14, a call that holds at 64 kbit/s: the feldsher at Uelen is behind the satellite
(64 kbit/s, 600 ms round trip: the weak-link proxy in front of coturn's TCP listener, and her
page may only relay, so every byte of her call crosses it as TURN over TCP); the cardiologist in
Anadyr reaches the same coturn directly. Her page finds the link too weak for video and falls
back to audio by itself; sound keeps arriving both ways, what she sends stays under the link's
rate, and the call stays connected. Audio is cheap on both sides: Opus with DTX and an average
bitrate cap in both descriptions.

Each page reads its ICE servers when it loads, so the two joins in turn with the settings
pointing first at the proxy, then at coturn itself. Needs coturn: skipped without it unless
FARCARE_REQUIRE_CALLS=1."""

from __future__ import annotations

import time

import pytest

from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.weaklink import WeakLink

from ..calls.conftest import live_case
from ..consults.conftest import scene  # noqa: F401  (the consultations' scene)
from .conftest import log_in
from .test_call_story import stats, turn  # noqa: F401  (coturn on loopback, relay only)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.calls,
    pytest.mark.weaklink,
    pytest.mark.long(45),
]

RATE_BPS = 64_000
RTT_MS = 600
CONNECTED_TIMEOUT_MS = 60_000
AUDIO_ONLY_TIMEOUT_MS = 60_000
HOLD_SECONDS = 24
WINDOW_SECONDS = 4


def connected(page) -> bool:
    return page.get_by_test_id("call-status").inner_text() == "Connected"


def test_a_call_over_a_64_kbit_satellite_link_holds_in_audio_only(
    asgi_server,
    new_asgi_context,
    scene,  # noqa: F811
    turn,  # noqa: F811
    settings,
):
    case = live_case(scene)
    for user in (scene.feldsher, scene.hub_cardiologist):
        user.set_password(DEMO_PASSWORD)
        user.save()
    # turn:127.0.0.1:<port>?transport=udp; coturn listens on TCP at the same port.
    coturn_port = int(turn.url.split("?")[0].rsplit(":", 1)[1])

    with WeakLink("127.0.0.1", coturn_port, rate_bps=RATE_BPS, rtt_ms=RTT_MS) as link:
        settings.FARCARE_TURN_URLS = [f"turn:127.0.0.1:{link.port}?transport=tcp"]
        feldsher = log_in(new_asgi_context(), scene.feldsher.username)
        feldsher.goto(f"/calls/{case.uuid}/")
        feldsher.get_by_role("button", name="Start the call").click()
        feldsher.get_by_test_id("call-status").wait_for()

        settings.FARCARE_TURN_URLS = [turn.url]
        consultant = log_in(new_asgi_context(), scene.hub_cardiologist.username)
        consultant.goto(f"/calls/{case.uuid}/")
        consultant.get_by_role("button", name="Join the call").click()

        for page in (feldsher, consultant):
            page.get_by_test_id("call-status").filter(has_text="Connected").wait_for(
                timeout=CONNECTED_TIMEOUT_MS
            )
            page.wait_for_function(
                "() => window.farcareCall.stats && window.farcareCall.stats.candidateType",
                timeout=CONNECTED_TIMEOUT_MS,
            )
            assert stats(page)["candidateType"] == "relay"

        # Nobody ticked "audio only": the feldsher's page measured the link and chose it.
        feldsher.wait_for_function(
            "() => window.farcareCall.weakLink && window.farcareCall.mode === 'audio'",
            timeout=AUDIO_ONLY_TIMEOUT_MS,
        )
        # The video encoder stops (a frame or two may still leave as the switch is made).
        feldsher.wait_for_function(
            "() => { const s = window.farcareCall.stats;"
            " return s.mode === 'audio' && s.sentKbps.video === 0; }",
            timeout=10_000,
        )
        assert not feldsher.get_by_label("Audio only", exact=False).is_checked()
        assert "too weak for video" in feldsher.get_by_test_id("local-quality").inner_text()
        # Both descriptions ask for cheap audio: DTX and an average rate cap.
        for page in (feldsher, consultant):
            sdp = page.evaluate("() => window.farcareCall.descriptions()")
            for side in ("local", "remote"):
                assert "usedtx=1" in sdp[side], side
                assert f"maxaveragebitrate={settings.FARCARE_CALL_AUDIO_KBPS * 1000}" in sdp[side]

        # For more than 20 s: sound arrives on both sides in every window, the feldsher sends
        # less than the link carries, the call stays connected, and it all crosses the link.
        crossed_before = link.counters.total
        # The hold begins once the switch has taken effect: a video frame already queued when
        # the call went to audio may still leave (a few hundred bytes), then nothing more.
        settled = time.monotonic() + 10
        video = stats(feldsher)["bytesSent"]["video"]
        while time.monotonic() < settled:
            time.sleep(1)
            now_video = stats(feldsher)["bytesSent"]["video"]
            if now_video == video:
                break
            video = now_video
        first = {page: stats(page) for page in (feldsher, consultant)}
        before = dict(first)
        for _ in range(HOLD_SECONDS // WINDOW_SECONDS):
            time.sleep(WINDOW_SECONDS)
            for page in (feldsher, consultant):
                now = stats(page)
                assert now["bytesReceived"]["audio"] > before[page]["bytesReceived"]["audio"]
                assert connected(page)
                before[page] = now
            assert feldsher.evaluate("() => window.farcareCall.mode") == "audio"
        last = before[feldsher]
        sent_bits = 8 * sum(
            last["bytesSent"][kind] - first[feldsher]["bytesSent"][kind]
            for kind in ("audio", "video")
        )
        sent_kbps = sent_bits / (last["at"] - first[feldsher]["at"])  # bits per ms = kbit/s
        print(f"feldsher sends {sent_kbps:.1f} kbit/s over a {RATE_BPS // 1000} kbit/s link")
        assert 0 < sent_kbps < RATE_BPS / 1000
        assert last["bytesSent"]["video"] == first[feldsher]["bytesSent"]["video"]
        assert link.counters.total > crossed_before
        for page in (feldsher, consultant):
            assert page.evaluate("() => window.farcareCall.getUserMediaCalls") == 1
