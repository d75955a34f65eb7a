"""The story of one emergency teleconsultation, in three browsers against the ASGI server: the
feldsher in Uelen (Chukotka, UTC+12) asks, the cardiologist in Khabarovsk (UTC+10) sees it arrive
on a page nobody reloads, accepts, asks back, signs a conclusion with an air evacuation, and the
coordinator in Anadyr watches the case move across the board until it leaves it."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta
from urllib.parse import urlsplit

import pytest
from channels.layers import get_channel_layer
from django.utils import timezone
from playwright.sync_api import expect

from farcare.accounts.models import User
from farcare.consults.live import _slug
from farcare.consults.models import Consultation, OnCallShift
from farcare.demo.loader import DEMO_PASSWORD, demo_snils
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

from .conftest import log_in

pytestmark = pytest.mark.browser

CASE_URL = re.compile(r"/consultations/([0-9a-f-]{36})/$")
# "2025-03-01 14:05 (Asia/Anadyr, UTC+12)": the `when` filter, in English.
MOMENT = re.compile(r"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}) \(([A-Za-z_/]+), (UTC[+−]\d+)\)")
LIVE_BUDGET_MS = 5_000
QUESTION = "Crushing chest pain for an hour, sweating, now confused. Thrombolysis or evacuation?"
ASKED_BACK = "Is there ST elevation on the ECG, and in which leads?"
ANSWER = "Yes: ST elevation in V1–V4, 3 mm."
HOLD = "This is a question to the requester: put the request on hold"

# The feldsher's readings: NEWS2 3+3+0+3+3+3+2 = 17, an emergency.
VITALS = {
    "respiratory_rate": "25",
    "spo2": "91",
    "systolic_bp": "90",
    "heart_rate": "131",
    "temperature": "39.1",
}


def _field(page, label):
    """The form field whose label reads exactly `label` (Django adds a colon)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))


def _listening(*users: User, region: str, timeout: float = 10.0) -> None:
    """Wait until the worklist pages' WebSockets have joined their groups, so that the change the
    test is about to make cannot slip past them. The in-memory layer runs in this process."""
    layer = get_channel_layer()
    wanted = {f"user.{user.uuid.hex}" for user in users} | {f"region.{_slug(region)}"}
    deadline = time.monotonic() + timeout
    while True:
        joined = {group for group in wanted if layer.groups.get(group)}
        if joined == wanted:
            return
        assert time.monotonic() < deadline, f"WebSockets not listening: {wanted - joined}"
        time.sleep(0.05)


def _open_worklist(page):
    with page.expect_websocket(lambda ws: ws.url.endswith("/ws/worklist/")) as socket:
        page.goto("/consultations/")
    page.evaluate("window.sameDocument = true")
    return socket.value


def _received(page, zone: str, offset: str) -> datetime:
    """The case's received-at moment as this page shows it, checked to be in `zone`."""
    text = page.locator("dt", has_text=re.compile(r"^Received$")).locator("+ dd").inner_text()
    found = MOMENT.fullmatch(text.strip())
    assert found, f"received-at is not 'YYYY-MM-DD HH:MM (Zone, UTC±N)': {text!r}"
    assert found.group(2, 3) == (zone, offset), text
    return datetime.strptime(found.group(1), "%Y-%m-%d %H:%M")


def _times_in(page, zone_label: str) -> None:
    """Every time on the case page names the viewer's zone, and only that one."""
    labels = page.locator("main time small").all_inner_texts()
    assert labels, "no times on the case page"
    assert set(labels) == {f"({zone_label})"}, labels


def test_an_emergency_cardiology_consultation_from_uelen_to_khabarovsk_and_back(
    asgi_demo, new_asgi_context
):
    started = time.monotonic()
    cardiologist_user = User.objects.get(username="cardiologist")
    coordinator_user = User.objects.select_related("facility").get(username="coordinator")
    assert coordinator_user.facility is not None
    region = coordinator_user.facility.region  # Chukotka, like Uelen
    patient = Patient.objects.get(snils=demo_snils(1))
    anadyr = Facility.objects.get(settlement__name_en="Anadyr", kind=FacilityKind.REGIONAL_HUB)
    # On duty whatever the real clock says in Khabarovsk.
    now = timezone.now()
    OnCallShift.objects.create(
        consultant=cardiologist_user,
        starts_at=now - timedelta(hours=1),
        ends_at=now + timedelta(hours=6),
    )

    # The cardiologist and the coordinator have their worklists open before anything happens.
    cardiologist = log_in(new_asgi_context(), "cardiologist")
    coordinator = log_in(new_asgi_context(), "coordinator")
    cardiologist_socket = _open_worklist(cardiologist)
    _open_worklist(coordinator)
    expect(coordinator.get_by_role("heading", level=1)).to_have_text("Coordinator's board")
    _listening(cardiologist_user, coordinator_user, region=region)

    # 1. The feldsher asks; NEWS2 is computed as the vitals are typed, before anything is sent.
    feldsher = log_in(new_asgi_context(), "feldsher")
    feldsher.goto(f"/patients/{patient.uuid}/")
    feldsher.get_by_test_id("ask").click()
    feldsher.wait_for_url(f"**/consultations/new/{patient.uuid}/")
    feldsher.evaluate("window.sameDocument = true")
    for key, value in VITALS.items():
        feldsher.locator(f'[name="vital_{key}"]').fill(value)
    feldsher.locator('[name="vital_on_oxygen"]').select_option("air")
    feldsher.locator('[name="vital_consciousness"]').select_option("C")
    news2 = feldsher.locator("#news2")
    expect(news2).to_contain_text("NEWS2: 17")
    expect(news2).to_contain_text("Suggested form: emergency")
    assert feldsher.evaluate("window.sameDocument") is True, "the NEWS2 box reloaded the page"

    feldsher.locator('input[name="form"][value="emergency"]').check()
    feldsher.locator('select[name="specialty"]').select_option("cardiology")
    feldsher.locator('textarea[name="question"]').fill(QUESTION)
    sent = time.monotonic()
    feldsher.get_by_role("button", name="Send the request", exact=True).click()
    feldsher.wait_for_url(CASE_URL)
    found = CASE_URL.search(urlsplit(feldsher.url).path)
    assert found
    case_uuid = found.group(1)
    case = Consultation.objects.get(uuid=case_uuid)
    assert (case.form, case.status, case.news2_total) == ("emergency", "requested", 17)
    assert case.assignments.get(ended_at__isnull=True).consultant == cardiologist_user

    # 2. It appears on the open worklists, without a reload, within 5 s of sending.
    queue_row = cardiologist.get_by_test_id(f"case-{case_uuid}")
    board_row = coordinator.get_by_test_id(f"case-{case_uuid}")
    left_ms = LIVE_BUDGET_MS - (time.monotonic() - sent) * 1000
    expect(queue_row).to_be_visible(timeout=max(left_ms, 1))
    left_ms = LIVE_BUDGET_MS - (time.monotonic() - sent) * 1000
    expect(board_row).to_be_visible(timeout=max(left_ms, 1))
    for page in (cardiologist, coordinator):
        assert page.evaluate("window.sameDocument") is True, "the worklist page was reloaded"
    assert not cardiologist_socket.is_closed()
    expect(queue_row).to_contain_text("17")
    board_status = board_row.locator("td").nth(4)
    expect(board_status).to_have_text("requested")

    # 3. The cardiologist opens it and accepts; the board follows.
    queue_row.get_by_role("link").click()
    cardiologist.wait_for_url(f"**/consultations/{case_uuid}/")
    expect(cardiologist.get_by_test_id("status")).to_have_text("requested")
    cardiologist.get_by_test_id("accept").click()
    expect(cardiologist.get_by_test_id("status")).to_have_text("accepted")
    expect(board_status).to_have_text("accepted")
    expect(board_row).to_contain_text("✓")

    # ... asks the feldsher, which puts the request on hold.
    _field(cardiologist, "Message").fill(ASKED_BACK)
    cardiologist.get_by_label(HOLD).check()
    cardiologist.get_by_role("button", name="Send", exact=True).click()
    expect(cardiologist.get_by_test_id("status")).to_have_text("on hold")
    expect(board_status).to_have_text("on hold")

    feldsher.reload()
    expect(feldsher.get_by_test_id("status")).to_have_text("on hold")
    question = feldsher.get_by_test_id("thread").locator("li", has_text=ASKED_BACK)
    expect(question).to_contain_text("question to the requester")
    _field(feldsher, "Message").fill(ANSWER)
    expect(feldsher.get_by_label(HOLD)).to_have_count(0)  # only a consultant asks back
    feldsher.get_by_role("button", name="Send", exact=True).click()
    expect(feldsher.get_by_test_id("status")).to_have_text("in progress")
    expect(board_status).to_have_text("in progress")

    # ... reads the answer and signs a conclusion: myocardial infarction, fly to Anadyr.
    cardiologist.reload()
    expect(cardiologist.get_by_test_id("thread")).to_contain_text(ANSWER)
    _field(cardiologist, "Findings").fill("Acute anterior STEMI, Killip II.")
    _field(cardiologist, "Diagnoses, ICD-10 codes").fill("I21.0")
    _field(cardiologist, "Recommendations").fill(
        "Aspirin 250 mg chewed, heparin 5000 IU IV; oxygen to SpO2 94–98 %; prepare for the flight."
    )
    cardiologist.get_by_label("urgent evacuation by air").check()  # no default: an emergency
    _field(cardiologist, "Destination").select_option(label=anadyr.name_en)
    # The document as it will be signed, then the password again (test_consultant_decides).
    cardiologist.get_by_test_id("review").click()
    expect(cardiologist.get_by_test_id("to-sign-diagnoses")).to_contain_text("I21.0")
    cardiologist.get_by_label("Your password").fill(DEMO_PASSWORD)
    cardiologist.get_by_test_id("sign-confirm").click()
    expect(cardiologist.get_by_test_id("status")).to_have_text("completed")
    expect(cardiologist.get_by_test_id("conclusion-1")).to_be_visible()

    # 4. The completed case leaves the coordinator's board of open requests, live.
    expect(board_row).to_have_count(0)
    assert coordinator.evaluate("window.sameDocument") is True, "the board was reloaded"

    # The feldsher reads the signed conclusion and closes the loop.
    feldsher.reload()
    conclusion = feldsher.get_by_test_id("conclusion-1")
    expect(conclusion.get_by_test_id("signature")).to_contain_text("The signature is valid.")
    expect(conclusion.get_by_test_id("evacuation")).to_have_text(
        f"urgent evacuation by air: {anadyr.name_en}"
    )
    expect(conclusion).to_contain_text("I21.0")
    _field(feldsher, "What was done").select_option("evacuated")
    _field(feldsher, "Did it help").select_option("yes")
    feldsher.get_by_test_id("acknowledge").click()
    expect(feldsher.get_by_test_id("acknowledged")).to_contain_text("evacuated, yes")

    # 5. Each side reads the times in its own zone: the same moment, two hours apart.
    feldsher_received = _received(feldsher, "Asia/Anadyr", "UTC+12")
    cardiologist_received = _received(cardiologist, "Asia/Vladivostok", "UTC+10")
    assert feldsher_received - cardiologist_received == timedelta(hours=2)
    _times_in(feldsher, "Asia/Anadyr, UTC+12")
    _times_in(cardiologist, "Asia/Vladivostok, UTC+10")
    received_utc = {
        page.locator("dt", has_text=re.compile(r"^Received$"))
        .locator("+ dd time")
        .get_attribute("datetime")
        for page in (feldsher, cardiologist)
    }
    assert len(received_utc) == 1, received_utc
    timeline = feldsher.get_by_test_id("timeline")
    for step in ("requested", "accepted", "on hold", "in progress", "completed", "acknowledged"):
        expect(timeline).to_contain_text(step)

    assert time.monotonic() - started < 60, "the story took more than a minute"
