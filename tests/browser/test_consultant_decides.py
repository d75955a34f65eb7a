"""The consultant decides, in Russian on a desktop and in Korean on a phone: "Accept" is the one
primary button and the refusals are one folded choice with one reason (refused without it, the
summary on top takes focus); the diagnosis is typed as "I21,0" and found by words in the reader's
language, each code described beside the field in that language; an emergency has no default
transfer; signing shows the document and asks for the password again. axe-core finds nothing on
the case page or the signing page."""

from __future__ import annotations

from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from django.utils.translation import gettext, override
from playwright.sync_api import expect

from farcare.access.policy import consult_sides
from farcare.accounts.models import User
from farcare.clinical.icd10 import label
from farcare.consults.models import Consultation, ConsultForm, Status
from farcare.consults.workflow import Side
from farcare.demo.loader import DEMO_PASSWORD

from .conftest import log_in

pytestmark = pytest.mark.browser

DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LOCALES = {"ru": "ru-RU", "ko": "ko-KR", "en": "en-US"}
# What the consultant types, in the case's language: a word to search the diagnoses by, the
# findings and the recommendations, and a wrong password.
SEARCH = {"ru": "гипертенз", "ko": "고혈압", "en": "hypertens"}
FINDINGS = {
    "ru": "Острый передний инфаркт с подъёмом ST, Killip II.",
    "ko": "ST 분절 상승 급성 전벽 심근경색, Killip II.",
    "en": "Acute anterior STEMI, Killip II.",
}
RECOMMENDATIONS = {
    "ru": "Аспирин 250 мг разжевать; готовить к вылету.",
    "ko": "아스피린 250 mg 씹어서 복용; 후송 준비.",
    "en": "Aspirin 250 mg chewed; prepare for the flight.",
}
WRONG_PASSWORD = {"ru": "не тот пароль", "ko": "틀린 비밀번호", "en": "not the password"}
WHITE = "rgb(255, 255, 255)"


def _emergency_for(username: str) -> Consultation:
    user = User.objects.get(username=username)
    for case in Consultation.objects.filter(status=Status.REQUESTED, form=ConsultForm.EMERGENCY):
        if Side.CONSULTANT in consult_sides(user, case):
            return case
    raise AssertionError(f"the demo network has an emergency waiting for {username}")


def _t(language: str, msgid: str) -> str:
    """What the interface says for `msgid` in `language` (the catalogue, not a copy of it)."""
    with override(language):
        return gettext(msgid)


def _background(locator: Any) -> str:
    return str(locator.evaluate("el => getComputedStyle(el).backgroundColor"))


def _no_axe_violations(page: Any) -> None:
    results = Axe().run(page)
    assert results.violations_count == 0, results.generate_report()


@pytest.mark.parametrize(
    ("language", "viewport"),
    [pytest.param("ru", DESKTOP, id="ru-desktop"), pytest.param("ko", PHONE, id="ko-phone")],
)
def test_the_consultant_accepts_looks_up_the_diagnosis_and_signs(
    demo, new_context, language, viewport
):
    case = _emergency_for("cardiologist")
    page = log_in(new_context(locale=LOCALES[language]), "cardiologist", language=language)
    page.set_viewport_size(viewport)
    page.goto(f"/consultations/{case.uuid}/")

    # One primary action; the refusals folded behind one secondary control.
    accept = page.get_by_test_id("accept")
    expect(accept).to_have_text(_t(language, "Accept"))
    refusals = page.get_by_test_id("cannot-take")
    summary = refusals.locator("summary")
    expect(summary).to_have_text(_t(language, "Cannot take it…"))
    assert _background(accept) != WHITE
    assert _background(summary) == WHITE
    expect(refusals.get_by_role("radio")).to_have_count(0)  # folded until opened
    _no_axe_violations(page)

    summary.click()
    expect(refusals.get_by_role("radio")).to_have_count(3)
    refusals.get_by_label(_t(language, "Pass it to the next consultant")).check()
    refusals.get_by_test_id("cannot-take-submit").click()  # no reason given
    errors = page.get_by_test_id("error-summary")
    expect(errors).to_contain_text(_t(language, "Say why: the requester reads it."))
    expect(page.get_by_test_id("error-summary")).to_be_focused()  # autofocus comes after load
    expect(page.get_by_test_id("cannot-take")).to_have_attribute("open", "")

    # On second thought, the consultant takes it.
    page.get_by_test_id("accept").click()
    expect(page.get_by_test_id("accept")).to_have_count(0)
    expect(page.get_by_test_id("cannot-take").locator("summary")).to_have_text(
        _t(language, "Cannot answer…")
    )

    # The diagnosis: a Russian keyboard's comma is read (whatever the interface language), words
    # of the reader's language are searched, a pick fills in.
    diagnoses = page.locator("#id_diagnoses")
    diagnoses.press_sequentially("I21,0", delay=30)
    panel = page.get_by_test_id("icd10")
    expect(panel).to_contain_text(f"I21.0 — {label('I21.0', language)}")
    diagnoses.press_sequentially(f", {SEARCH[language]}", delay=30)
    found = panel.get_by_role("button", name="I10")
    expect(found.first).to_be_visible()
    found.first.click()
    expect(page.locator("#id_diagnoses")).to_have_value("I21.0, I10, ")
    expect(page.locator("#id_diagnoses")).to_be_focused()
    page.wait_for_function(  # the caret waits at the end of what was picked
        "() => { const f = document.querySelector('#id_diagnoses');"
        " return f === document.activeElement && f.selectionStart === f.value.length; }"
    )
    diagnoses = page.locator("#id_diagnoses")
    diagnoses.press_sequentially("J18", delay=30)  # the caret waits at the end for the next code
    expect(diagnoses).to_have_value("I21.0, I10, J18")
    diagnoses.fill("I21.0, I10, ")
    expect(page.get_by_test_id("icd10-read").locator("li")).to_have_count(2)

    # An emergency: no transfer is chosen for the consultant, and one must be.
    evacuation = page.locator("input[name=evacuation]")
    expect(evacuation).to_have_count(3)
    for index in range(3):
        expect(evacuation.nth(index)).not_to_be_checked()
    page.locator("#id_findings").fill(FINDINGS[language])
    page.locator("#id_recommendations").fill(RECOMMENDATIONS[language])
    page.get_by_test_id("review").click()
    expect(page.get_by_test_id("error-summary")).to_contain_text(
        _t(language, "Choose the transfer advice: an emergency has no default.")
    )
    expect(page.get_by_test_id("error-summary")).to_be_focused()  # autofocus comes after load
    expect(page.locator("#id_diagnoses")).to_have_value("I21.0, I10, ")  # kept as typed

    page.get_by_label(_t(language, "urgent evacuation by air")).check()
    page.locator("#id_evacuation_destination").select_option(index=1)
    page.get_by_test_id("review").click()

    # The document as it will be signed, in the consultant's language; the password again.
    expect(page.get_by_role("heading", level=1)).to_have_text(
        _t(language, "Check and sign the conclusion")
    )
    expect(page.get_by_test_id("to-sign-diagnoses")).to_contain_text(
        f"I21.0 — {label('I21.0', language)}"
    )
    expect(page.get_by_test_id("to-sign-evacuation")).to_contain_text(
        _t(language, "urgent evacuation by air")
    )
    expect(page.locator("input[type=password]")).to_be_focused()
    _no_axe_violations(page)
    page.get_by_label(_t(language, "Your password")).fill(WRONG_PASSWORD[language])
    page.get_by_test_id("sign-confirm").click()
    expect(page.get_by_test_id("error-summary")).to_contain_text(
        _t(language, "The password is wrong.")
    )
    page.get_by_label(_t(language, "Your password")).fill(DEMO_PASSWORD)
    page.get_by_test_id("sign-confirm").click()

    page.wait_for_url(f"**/consultations/{case.uuid}/")
    expect(page.get_by_test_id("conclusion-1")).to_be_visible()
    expect(page.get_by_test_id("conclusion-1").get_by_test_id("signature")).to_contain_text(
        _t(language, "The signature is valid.")
    )
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
