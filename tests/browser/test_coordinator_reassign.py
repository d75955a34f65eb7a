"""The coordinator's story, in Russian on a phone and in English on a desktop: the board narrowed
to emergencies with one tap, the case, and the request handed to a consultant picked from a list
(no username typed); every tap target at least 44 px."""

from __future__ import annotations

import re

import pytest
from django.utils.translation import gettext, override
from playwright.sync_api import expect

from farcare.consults.models import Consultation, ConsultForm

from .conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
REASON = {
    "ru": "кардиолог на операции",
    "ko": "심장내과 전문의 수술 중",
    "en": "cardiologist in theatre",
}
LOCALES = {"ru": "ru-RU", "ko": "ko-KR", "en": "en-US"}


def _t(language: str, msgid: str) -> str:
    """What the interface says for `msgid` in `language` (the catalogue, not a copy of it)."""
    with override(language):
        return gettext(msgid)


@pytest.mark.parametrize(
    ("language", "viewport"),
    [pytest.param("ru", PHONE, id="ru-phone"), pytest.param("en", DESKTOP, id="en-desktop")],
)
def test_the_coordinator_reassigns_by_picking(demo, new_context, language, viewport):
    emergency = Consultation.objects.filter(
        form=ConsultForm.EMERGENCY, requesting_facility__region="Chukotka", status="requested"
    ).first()
    assert emergency is not None, "the demo network has an emergency waiting in Chukotka"
    page = log_in(new_context(locale=LOCALES[language]), "coordinator", language=language)
    page.set_viewport_size(viewport)

    emergency_word = re.escape(_t(language, "emergency"))
    page.get_by_role("link", name=re.compile(f"^{emergency_word}")).first.click()
    page.wait_for_url(re.compile(r"/consultations/\?form=emergency$"))
    expect(page.get_by_test_id(f"case-{emergency.uuid}")).to_be_visible()
    chip = page.get_by_test_id("filter-form-emergency")
    expect(chip).to_have_attribute("aria-current", "true")
    assert chip.bounding_box()["height"] >= 44

    page.get_by_test_id(f"case-{emergency.uuid}").get_by_role("link").first.click()
    page.get_by_test_id("reassign").click()
    expect(page.get_by_role("heading", level=1)).to_have_text(_t(language, "Reassign the request"))
    candidates = page.get_by_test_id("candidates").get_by_role("radio")
    assert candidates.count() >= 1
    choice = page.locator("label.pick").first
    assert choice.bounding_box()["height"] >= 44
    name = choice.inner_text().strip()
    choice.click()
    page.get_by_label(_t(language, "Reason"), exact=True).fill(REASON[language])
    page.get_by_test_id("reassign-submit").click()

    page.wait_for_url(f"**/consultations/{emergency.uuid}/")
    # "Запрос передан: <name>." / "<name> now holds the request.": the words around the name.
    around = [
        re.escape(part)
        for part in _t(language, "%(name)s now holds the request.").split("%(name)s")
    ]
    expect(page.locator(".messages")).to_contain_text(re.compile(".+".join(around)))
    family = name.split()[0]
    expect(page.get_by_test_id("consultants")).to_contain_text(family)
