"""In a real browser on a phone: the demo patient's blood count comes back from the laboratory;
he logs in and reads it in Russian, Korean and English: his haemoglobin below the usual range
for men of his age, with the number written as his language writes it, and the report as PDF.

Debian's Chromium through Playwright, against the live server (tests/browser/conftest.py: no
host but loopback, no script error, no CSP violation)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn
from farcare.diagnostics.services.results import report_receive
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

from .conftest import log_in

pytestmark = pytest.mark.browser

PHONE = {"width": 390, "height": 844}
SEEN = {
    "ru": (
        "ru-RU",
        "Мои результаты",
        "Гемоглобин",
        "118 г/л",
        "Ниже обычного диапазона для мужчин вашего возраста.",
        "Скачать PDF",
    ),
    "ko": (
        "ko-KR",
        "내 검사 결과",
        "혈색소",
        "118 g/L",
        "같은 연령대 남성의 일반적인 범위보다 낮습니다.",
        "PDF로 내려받기",
    ),
    "en": (
        "en-US",
        "My results",
        "Haemoglobin",
        "118 g/L",
        "Below the usual range for men of your age.",
        "Download as PDF",
    ),
}


@pytest.fixture
def blood_count(demo) -> str:  # type: ignore[no-untyped-def]
    """The regional hospital's laboratory reports the demo patient's blood count."""
    patient = Patient.objects.get(user__username="patient")
    laboratory = Facility.objects.filter(kind=FacilityKind.REGIONAL_HUB, region="Chukotka").first()
    taken = timezone.now() - timedelta(hours=3)
    outcome = report_receive(
        accessor=Accessor(None, "127.0.0.1", "hl7"),
        report=LabReportIn(
            patient=PatientRef(uuid=str(patient.uuid)),
            code="58410-2",
            effective_at=taken,
            issued_at=taken + timedelta(hours=1),
            results=(
                ResultIn(sequence=1, code="718-7", value="118", unit="g/L"),
                ResultIn(sequence=2, code="6690-2", value="7.2", unit="10*9/L"),
            ),
            source="hl7",
            external_id="browser-cbc-1",
            sending_facility=str(laboratory.uuid),  # type: ignore[union-attr]
        ),
    )
    return outcome.report_uuid


@pytest.mark.parametrize("language", ["ru", "ko", "en"])
def test_the_patient_reads_his_result_on_a_phone(new_context, blood_count, language) -> None:
    locale, heading, test_name, value, words, pdf_link = SEEN[language]
    context = new_context(locale=locale)
    page = log_in(context, "patient", language=language)
    page.set_viewport_size(PHONE)

    page.goto("/my/results/")
    expect(page.get_by_role("heading", level=1)).to_have_text(heading)
    page.locator(f'[data-report="{blood_count}"] a').click()
    page.wait_for_url(f"**/my/results/{blood_count}/")

    haemoglobin = page.locator('[data-code="718-7"]')
    expect(haemoglobin).to_contain_text(test_name)
    expect(haemoglobin.get_by_test_id("value")).to_have_text(value)
    expect(haemoglobin.get_by_test_id("words")).to_have_text(words)
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]

    with page.expect_response(lambda r: r.url.endswith("/pdf/")) as answer:
        page.evaluate(
            "(href) => fetch(href)", page.get_by_role("link", name=pdf_link).get_attribute("href")
        )
    assert answer.value.status == 200
    assert answer.value.headers["content-type"] == "application/pdf"

    patient = Patient.objects.get(user__username="patient")
    assert AuditEvent.objects.filter(
        patient_uuid=patient.uuid, action=AuditAction.EXPORT, record_id=blood_count
    ).exists()
