"""The demo's radiologist in Anadyr, in Russian and in Korean: opens the reading worklist,
opens the chest CT waiting there, changes the window to lung and steps a slice, starts
reading, writes the report, signs it with the password again; the district hospital's doctor
who asked for the study is told and reads the signed report with a link to the images. The
worklist and the viewer pass axe-core with no violation, and the viewer fits a phone."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import expect

from farcare.demo.loader import DEMO_PASSWORD
from farcare.imaging.models import ImagingStudy
from farcare.notifications.models import Notification

from .conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LOCALES = {"ru": "ru-RU", "ko": "ko-KR"}


def _no_axe_violations(page: Any, where: str) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, f"{where}: {results.generate_report()}"


@pytest.mark.parametrize("language", ["ru", "ko"])
def test_the_radiologist_reads_and_signs_a_ct_and_the_doctor_reads_the_report(
    demo, new_context, language
):
    study = ImagingStudy.objects.get(modality="CT")
    context = new_context(LOCALES[language])
    page = log_in(context, "radiologist.anadyr", language=language)
    page.set_viewport_size(DESKTOP)

    page.goto("/imaging/reading/")
    card = page.get_by_test_id(f"study-{study.uuid}")
    expect(card).to_contain_text("Тынетегин")
    _no_axe_violations(page, f"worklist ({language})")
    card.get_by_role("link").first.click()
    page.wait_for_url(f"**/imaging/studies/{study.uuid}/**")
    _no_axe_violations(page, f"viewer ({language})")

    frame = page.get_by_test_id("frame")
    first_src = frame.get_attribute("src")
    page.get_by_test_id("preset-lung").click()
    page.wait_for_function(
        "() => document.querySelector('[data-testid=frame]').src.includes('w=lung')"
    )
    position_before = page.get_by_test_id("position").inner_text()
    page.get_by_test_id("next").click()
    expect(page.get_by_test_id("position")).not_to_have_text(position_before)
    assert page.get_by_test_id("frame").get_attribute("src") != first_src
    page.wait_for_function(  # the server drew the new slice
        "() => { const f = document.querySelector('[data-testid=frame]');"
        " return f.complete && f.naturalWidth > 0; }"
    )

    page.set_viewport_size(PHONE)
    page.reload()
    width = page.evaluate("document.scrollingElement.scrollWidth")
    assert width <= PHONE["width"], f"the viewer scrolls sideways on a phone: {width} px"
    _no_axe_violations(page, f"viewer on a phone ({language})")
    page.set_viewport_size(DESKTOP)

    page.get_by_test_id("claim").click()
    page.locator("textarea[name=findings]").fill("Очаговых и инфильтративных изменений нет.")
    page.locator("textarea[name=impression]").fill("КТ-признаков патологии не выявлено.")
    page.get_by_test_id("review").click()
    page.locator("input[name=secret]").fill(DEMO_PASSWORD)
    page.get_by_test_id("sign-confirm").click()
    expect(page.get_by_test_id("verification")).to_have_class("ok")

    study.refresh_from_db()
    assert study.reading_status == "reported"
    told = Notification.objects.get(event="imaging.report_signed")
    assert told.recipient.username == "doctor"

    doctor = log_in(new_context("ru-RU"), "doctor", language="ru")
    doctor.goto(told.link)
    expect(doctor.get_by_test_id("impression")).to_contain_text("патологии не выявлено")
    doctor.get_by_test_id("open-viewer").click()
    expect(doctor.get_by_test_id("frame")).to_be_visible()
