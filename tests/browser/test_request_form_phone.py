"""The feldsher's request form, in Russian on a 390×844 phone and in English on a desktop, in
Chromium: a form sent too soon
puts its error summary in focus; the vitals typed make NEWS2 choose the emergency form; what
is typed is autosaved and comes back after a reload; a dropped link shows a plain banner that
goes once the link returns and the draft is saved."""

from __future__ import annotations

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils.translation import gettext, override
from playwright.sync_api import expect

from farcare.consults.models import Consultation, Status
from farcare.demo.loader import demo_snils
from farcare.patients.models import Patient

from .conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
LOCALES = {"ru": "ru-RU", "ko": "ko-KR", "en": "en-US"}
QUESTIONS = {
    "ru": "Давящая боль за грудиной два часа, холодный пот. Тромболизис или эвакуация?",
    "ko": "2시간 전부터 흉골 뒤 압박성 통증, 식은땀. 혈전용해 또는 후송?",
    "en": "Crushing chest pain for two hours, cold sweat. Thrombolysis or evacuation?",
}
GIVEN = {"ru": " Аспирин дан.", "ko": " 아스피린 투여함.", "en": " Aspirin given."}
# A Russian keyboard types a decimal comma; the others a point.
TEMPERATURE = {"ru": "39,1", "ko": "39.1", "en": "39.1"}
VITALS = {  # NEWS2 3+3+0+3+3+3+2 = 17
    "respiratory_rate": "25",
    "spo2": "91",
    "systolic_bp": "90",
    "diastolic_bp": "60",
    "heart_rate": "131",
}


def _t(language: str, msgid: str) -> str:
    """What the interface says for `msgid` in `language` (the catalogue, not a copy of it)."""
    with override(language):
        return gettext(msgid)


@pytest.mark.parametrize(
    ("language", "viewport"),
    [pytest.param("ru", PHONE, id="ru-phone"), pytest.param("en", DESKTOP, id="en-desktop")],
)
def test_the_request_form(demo, new_context, language, viewport):
    patient = Patient.objects.get(snils=demo_snils(1))
    question = QUESTIONS[language]
    vitals = {**VITALS, "temperature": TEMPERATURE[language]}
    context = new_context(locale=LOCALES[language])
    page = log_in(context, "feldsher", language=language)
    page.set_viewport_size(viewport)
    url = f"/consultations/new/{patient.uuid}/?new=1"
    page.goto(url)

    # Sent with nothing on it: the summary at the top lists what to correct, and has the focus.
    page.get_by_role("button", name=_t(language, "Send the request"), exact=True).click()
    summary = page.get_by_test_id("error-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text(_t(language, "Question"))
    page.wait_for_function(
        "() => document.activeElement && document.activeElement.matches('.error-summary')"
    )
    assert page.evaluate("document.activeElement.getAttribute('data-testid')") == "error-summary"

    # The vitals make NEWS2 17, and the emergency form is chosen for the feldsher.
    for key, value in vitals.items():
        page.locator(f'[name="vital_{key}"]').fill(value)
    page.locator('[name="vital_on_oxygen"]').select_option("air")
    page.locator('[name="vital_consciousness"]').select_option("C")
    expect(page.locator("#news2")).to_contain_text("NEWS2: 17")
    expect(page.locator('input[name="form"][value="emergency"]')).to_be_checked()

    # What is typed is kept on the server as it is typed.
    page.locator('select[name="specialty"]').select_option("cardiology")
    page.locator('textarea[name="question"]').fill(question)
    saved = _t(language, "Draft saved")
    expect(page.get_by_test_id("autosave-status")).to_contain_text(saved)
    draft = Consultation.objects.get(patient=patient, status=Status.DRAFT, question=question)
    assert draft.form == "emergency"

    # The link drops: a plain banner says so; it goes when the link is back and the draft saved.
    context.set_offline(True)
    page.locator('textarea[name="question"]').fill(question + GIVEN[language])
    banner = page.get_by_test_id("link-banner")
    expect(banner).to_be_visible(timeout=8_000)
    expect(banner).to_contain_text(
        _t(
            language,
            "The hub cannot be reached. Keep this page open: what you type stays here and"
            " is saved as soon as the link returns.",
        )
    )
    context.set_offline(False)
    expect(banner).to_be_hidden(timeout=15_000)
    expect(page.get_by_test_id("autosave-status")).to_contain_text(saved)

    # A reload (or the form opened again) brings the draft back whole.
    page.goto(f"/consultations/new/{patient.uuid}/")
    expect(page.get_by_test_id("draft-restored")).to_be_visible()
    expect(page.locator('textarea[name="question"]')).to_have_value(question + GIVEN[language])
    expect(page.locator('[name="vital_temperature"]')).to_have_value(TEMPERATURE[language])
    expect(page.locator('[name="vital_diastolic_bp"]')).to_have_value("60")
    expect(page.locator('input[name="form"][value="emergency"]')).to_be_checked()
    expect(page.locator("#news2")).to_contain_text("NEWS2: 17")

    # The form as the feldsher now has it passes an automated accessibility audit.
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()
