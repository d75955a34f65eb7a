"""At the post, in a real browser: the Outbox page shows what waits while the link is down, and
follows the sync as it happens, without a reload."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.accounts.models import User
from farcare.imaging.samples import photo_jpeg
from farcare.sync import station as sync
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from ..sync.helpers import hub_json, register, request
from ..sync.test_station_case_page import AT_HUB
from .conftest import log_in

pytestmark = [pytest.mark.browser, pytest.mark.weaklink]


def _enrol_the_post(link: WeakLink) -> None:
    """The feldsher enrols this laptop at the hub through the link; pages in English."""
    sync.enrol(
        hub_url=f"http://127.0.0.1:{link.port}",
        username="feldsher",
        password="farcare-demo",
        name="Uelen laptop",
    )
    User.objects.filter(username="feldsher").update(language="en")


def test_the_outbox_page_follows_the_sync_without_a_reload(
    new_context: Any, live_server: Any, hub: HubProcess
):
    with WeakLink("127.0.0.1", hub.port, rate_bps=2_000_000, rtt_ms=50) as link:
        _enrol_the_post(link)
        link.go_down()
        photo = SimpleUploadedFile("foot.jpg", photo_jpeg(1600, 1200, seed=12), "image/jpeg")
        request(register("Браузерова"), form="urgent", files=[photo])
        assert sync.sync_once().link_down

        page = log_in(new_context(), "feldsher")
        page.get_by_test_id("outbox").click()
        panel = page.get_by_test_id("station-panel")
        assert "4 items wait." in panel.inner_text()
        assert "down" in page.get_by_test_id("link").inner_text()
        waiting = page.get_by_test_id("outbox-items").inner_text()
        assert "Браузерова" in waiting and "foot.jpg" in waiting and "queued" in waiting
        page.evaluate("window.stillTheSamePage = true")

        link.come_up()
        sync.sync_until_done(pause=0.1)
        page.get_by_text("Nothing waits: everything has reached the hub.").wait_for(timeout=15_000)
        assert page.evaluate("window.stillTheSamePage") is True
        sent = page.get_by_test_id("outbox-done").inner_text()
        assert sent.count("delivered") == 4
        assert "Outbox (0)" in page.get_by_test_id("outbox").inner_text()


def test_the_case_page_at_the_post_reads_as_the_hubs(
    new_context: Any, live_server: Any, hub: HubProcess
):
    with WeakLink("127.0.0.1", hub.port, rate_bps=2_000_000, rtt_ms=50) as link:
        _enrol_the_post(link)
        consultation = request(register("Читаемова"), form="urgent")
        sync.sync_until_done(pause=0.1)
        hub.consultant_asks(consultation.uuid, "Сколько длится боль?")
        sync.sync_until_done(pause=0.1)
        consultant = hub_json(hub, AT_HUB.format(uuid=consultation.uuid))["consultant"]

        page = log_in(new_context(), "feldsher")
        page.goto(f"/consultations/{consultation.uuid}/")
        thread = page.get_by_test_id("thread").inner_text()
        assert thread.count("Сколько длится боль?") == 1
        assert "No messages yet" not in thread
        assert page.get_by_test_id("status").inner_text() == "on hold"
        assert "(Asia/Anadyr, UTC+12)" in page.get_by_test_id("received").inner_text()
        assert "left" in page.get_by_test_id("deadline").inner_text()
        assert consultant in page.get_by_test_id("consultants").inner_text()
        assert page.get_by_test_id("news2").inner_text() == "NEWS2: 5 — Medium"
