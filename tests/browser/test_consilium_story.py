"""The consilium through Janus: the feldsher at Uelen and two cardiologists (Anadyr, Moscow) join
one consilium call from three browsers with Chromium's made-up camera and microphone. Each sees
the other two connected, with every link's quality; audio and video arrive at each of them
through the SFU; when all have left, the case's timeline keeps the consilium with its three
people and no media recorded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from farcare.demo.loader import DEMO_PASSWORD
from farcare.testing.janus import JanusServer, janus_for_farcare

from ..calls.consilium_scene import Consilium, consilium_case
from ..conftest import Chain
from .conftest import log_in

pytestmark = pytest.mark.browser

MEDIA_TIMEOUT_MS = 40_000
PEOPLE = ("Anna Rultyneut", "Pavel Kergitagin", "Irina Sokolova")


@pytest.fixture
def janus_server(tmp_path: Path) -> Iterator[JanusServer]:
    with janus_for_farcare(tmp_path / "janus") as server:
        yield server


def _inbound(page: Any) -> dict[str, int]:
    stats = page.evaluate("() => window.farcareConsilium.stats")
    return {"audio": stats["inboundAudioBytes"], "video": stats["inboundVideoBytes"]}


def test_three_people_hold_a_consilium_through_janus(
    janus_server: JanusServer,
    new_asgi_context: Callable[..., Any],
    new_asgi_browser_context: Callable[..., Any],
    asgi_server: str,
    chain: Chain,
) -> None:
    case: Consilium = consilium_case(chain, password=DEMO_PASSWORD)
    path = f"/calls/{case.consultation.uuid}/consilium/"
    pages = []
    # Three Chromium processes, as three machines: the shared one and two of their own.
    contexts = (new_asgi_context, new_asgi_browser_context, new_asgi_browser_context)
    for user, context in zip(
        (case.feldsher, case.hub_cardiologist, case.federal_cardiologist), contexts, strict=True
    ):
        page = log_in(context(), user.username)
        page.goto(path)
        page.get_by_test_id("consilium-join").click()
        pages.append(page)

    for page in pages:
        # Each sees the other two publishing in the room, and themselves connected.
        page.wait_for_function(
            "() => window.farcareConsilium.inRoom.length === 2", timeout=MEDIA_TIMEOUT_MS
        )
        page.wait_for_function(
            "() => document.querySelectorAll('#consilium-people li[data-connected=yes]')"
            ".length === 3",
            timeout=MEDIA_TIMEOUT_MS,
        )
        for name in PEOPLE:
            assert page.get_by_test_id("consilium-people").get_by_text(name).is_visible()
        assert page.get_by_test_id("consilium-feed").count() == 2

    # Sound and picture of the other two arrive through Janus, and keep arriving.
    first = []
    for page in pages:
        page.wait_for_function(
            "() => { const s = window.farcareConsilium.stats;"
            " return s && s.inboundAudioBytes > 0 && s.inboundVideoBytes > 0; }",
            timeout=MEDIA_TIMEOUT_MS,
        )
        first.append(_inbound(page))
    for page, before in zip(pages, first, strict=True):
        page.wait_for_function(
            f"() => window.farcareConsilium.stats.inboundAudioBytes > {before['audio']}"
            f" && window.farcareConsilium.stats.inboundVideoBytes > {before['video']}",
            timeout=MEDIA_TIMEOUT_MS,
        )

    # Every link's quality, as each browser measured it, on each page.
    for page in pages:
        page.wait_for_function(
            "() => window.farcareConsilium.people.length === 3 &&"
            " window.farcareConsilium.people.every(p => p.sent_kbps > 0 && p.received_kbps > 0)",
            timeout=MEDIA_TIMEOUT_MS,
        )
        shown = page.get_by_test_id("link-quality").all_inner_texts()
        assert len(shown) == 3 and all("kbit/s" in text for text in shown)
    figures = pages[0].evaluate("() => window.farcareConsilium.people")
    print("\nconsilium links:", [(p["name"], p["sent_kbps"], p["received_kbps"]) for p in figures])
    # Video capped at 128 kbit/s per publisher by the room: nobody sends much more than that
    # plus audio, whatever the fake camera could give.
    assert all(p["sent_kbps"] < 128 + 100 for p in figures)

    for page in pages:
        page.get_by_test_id("consilium-leave").click()
        page.get_by_test_id("consilium-status").get_by_text("You left the consilium.").wait_for()

    case_page = pages[0]
    case_page.goto(f"/consultations/{case.consultation.uuid}/")
    timeline = case_page.get_by_test_id("timeline")
    ended = timeline.locator("li", has_text="consilium call").last
    text = ended.inner_text()
    for name in PEOPLE:
        assert name in text
    assert "no media recorded" in text
