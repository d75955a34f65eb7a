"""The feldsher's story in two browsers (Debian's Chromium): order a basic metabolic panel from
the patient's page, collect the tube, ship it; the hub's laboratory receives it by its label and
types a critical potassium; the feldsher's list shows the alert at once and the feldsher
acknowledges it with what was done. No script of our own, no inline style: the strict CSP
holds (the shared browser fixtures fail a test on any violation)."""

from __future__ import annotations

from typing import Any

import pytest
from django.conf import settings
from django.test import Client
from playwright.sync_api import expect

from farcare.diagnostics.models import AlertStatus, CriticalAlert, DiagnosticOrder

from ..conftest import Chain
from ..diagnostics.test_pages_ordering import LabScene, make_lab_scene
from ..factories import PASSWORD

pytestmark = pytest.mark.browser


@pytest.fixture
def lab_scene(chain: Chain) -> LabScene:
    return make_lab_scene(chain)


def _log_in(context: Any, base_url: str, username: str) -> Any:
    """A session made by the one login service (the browser tests of accounts drive the login
    form itself), handed to the browser as its cookie."""
    client = Client()
    assert client.login(username=username, password=PASSWORD)
    cookie = client.cookies[settings.SESSION_COOKIE_NAME]
    context.add_cookies([{"name": cookie.key, "value": cookie.value, "url": base_url}])
    page = context.new_page()
    page.goto("/")
    return page


def test_a_critical_potassium_from_order_to_acknowledgement(
    live_server: Any,
    lab_scene: LabScene,
    new_context: Any,
) -> None:
    feldsher = _log_in(new_context("en-US"), live_server.url, lab_scene.feldsher.username)
    feldsher.goto(f"/patients/{lab_scene.patient.uuid}/")
    feldsher.get_by_test_id("order-tests").click()
    # A full page load: HTMX (deferred) listens only once the page has loaded; on a busy machine
    # the typing could otherwise come first and never ask the server.
    feldsher.wait_for_url(f"**/diagnostics/new/{lab_scene.patient.uuid}/")
    feldsher.wait_for_load_state()
    # The catalogue found as it is typed (an HTMX fragment).
    feldsher.get_by_test_id("catalogue-search").fill("metabolic")
    panel = feldsher.get_by_test_id("test-51990-0")
    expect(panel).to_be_visible()
    # The whole catalogue until the search's answer replaces it (slow on a busy machine).
    expect(feldsher.get_by_test_id("test-2823-3")).to_have_count(0, timeout=30_000)
    panel.locator("input").check()
    feldsher.get_by_label("Reason for the order").fill("Weakness, palpitations; on digoxin.")
    feldsher.get_by_label("Priority").select_option("urgent")
    feldsher.get_by_test_id("place-order").click()
    expect(feldsher.get_by_test_id("placer-number")).to_be_visible()
    order = DiagnosticOrder.objects.get()
    specimen = order.specimens.get()
    feldsher.get_by_test_id(f"collect-{specimen.label}").click()
    feldsher.get_by_role("link", name="Ship it").click()
    feldsher.get_by_label("Transport").fill("Mi-8 helicopter to Anadyr")
    feldsher.get_by_test_id("ship").click()
    expect(feldsher.get_by_test_id("flash")).to_contain_text("is on its way")

    lab = _log_in(new_context("en-US"), live_server.url, lab_scene.lab.username)
    lab.goto("/diagnostics/laboratory/")
    expect(lab.get_by_test_id(f"way-{specimen.label}")).to_contain_text("Mi-8")
    lab.get_by_label("Scan or type the specimen's label").fill(specimen.label.lower())
    lab.get_by_test_id("receive").click()
    lab.get_by_test_id(f"results-{order.placer_number}").click()
    values = {
        "Glucose": "5.4",
        "Creatinine": "88",
        "Sodium": "138",
        "Potassium": "6.8",
        "Chloride": "101",
        "Carbon dioxide, total": "24",
    }
    for name, value in values.items():
        lab.get_by_label(name, exact=True).fill(value)
    lab.get_by_test_id("submit-results").click()
    expect(lab.get_by_test_id("flash")).to_contain_text("Critical values: 1")

    feldsher.goto("/diagnostics/")
    banner = feldsher.get_by_test_id("critical-banner")
    expect(banner).to_contain_text("Potassium")
    expect(banner).to_contain_text("6.8")
    expect(feldsher.get_by_test_id(f"order-{order.placer_number}")).to_contain_text("critical")
    banner.get_by_role("link").first.click()
    expect(feldsher.get_by_test_id("alert-value")).to_contain_text("critically high")
    feldsher.get_by_test_id("acknowledge").click()  # empty: refused, in words
    expect(feldsher.get_by_test_id("error-summary")).to_contain_text("Say what was done")
    feldsher.get_by_label("What was done").fill("Called back: ECG, calcium gluconate, repeat K.")
    feldsher.get_by_test_id("acknowledge").click()
    expect(feldsher.get_by_test_id("time-to-ack")).to_be_visible()
    alert = CriticalAlert.objects.get()
    assert alert.status == AlertStatus.ACKNOWLEDGED
    assert alert.acknowledged_by == lab_scene.feldsher
