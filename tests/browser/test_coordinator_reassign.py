"""The coordinator's story on a phone, in Russian: the board narrowed to emergencies with one tap,
the case, and the request handed to a consultant picked from a list (no username typed); every
tap target at least 44 px."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from farcare.consults.models import Consultation, ConsultForm

from .conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}


def test_the_coordinator_reassigns_by_picking_on_a_phone(demo, new_context):
    emergency = Consultation.objects.filter(
        form=ConsultForm.EMERGENCY, requesting_facility__region="Chukotka", status="requested"
    ).first()
    assert emergency is not None, "the demo network has an emergency waiting in Chukotka"
    page = log_in(new_context(locale="ru-RU"), "coordinator", language="ru")
    page.set_viewport_size(PHONE)

    page.get_by_role("link", name=re.compile("^экстренная")).first.click()
    page.wait_for_url(re.compile(r"/consultations/\?form=emergency$"))
    expect(page.get_by_test_id(f"case-{emergency.uuid}")).to_be_visible()
    chip = page.get_by_test_id("filter-form-emergency")
    expect(chip).to_have_attribute("aria-current", "true")
    assert chip.bounding_box()["height"] >= 44

    page.get_by_test_id(f"case-{emergency.uuid}").get_by_role("link").first.click()
    page.get_by_test_id("reassign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Переназначение запроса")
    candidates = page.get_by_test_id("candidates").get_by_role("radio")
    assert candidates.count() >= 1
    choice = page.locator("label.pick").first
    assert choice.bounding_box()["height"] >= 44
    name = choice.inner_text().strip()
    choice.click()
    page.get_by_label("Причина").fill("кардиолог на операции")
    page.get_by_test_id("reassign-submit").click()

    page.wait_for_url(f"**/consultations/{emergency.uuid}/")
    expect(page.locator(".messages")).to_contain_text("Запрос передан")
    family = name.split()[0]
    expect(page.get_by_test_id("consultants")).to_contain_text(family)
