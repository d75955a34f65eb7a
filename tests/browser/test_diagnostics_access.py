"""The diagnostics pages in the demo network, in Russian, Korean and English, on a 390×844 phone
and on a desktop: the feldsher's order form, orders list, the report of the metabolic panel and
its critical-potassium alert; the Anadyr laboratory's home page and its result entry for the
blood count it is waiting for; the patient's own results list (with the chest X-ray he is
waiting for) and his report. Every page passes axe-core with no violation, and on the phone
nothing scrolls sideways."""

from __future__ import annotations

from typing import Any

import pytest

from farcare.diagnostics.models import CriticalAlert, DiagnosticOrder, DiagnosticReport
from farcare.patients.models import Patient

from .conftest import log_in
from .test_phone_and_access import DESKTOP, LOCALES, PHONE, Findings, audit

pytestmark = pytest.mark.browser


def check(page: Any, path: str, where: str, findings: Findings) -> None:
    """The page on the phone, then on the desktop: axe-core, and no sideways scroll."""
    for screen, viewport in (("phone", PHONE), ("desktop", DESKTOP)):
        page.set_viewport_size(viewport)
        response = page.goto(path)
        page.wait_for_load_state()
        here = f"{where} ({path}) on the {screen}"
        if response is None or response.status != 200:
            findings.add(here, f"answered {response.status if response else 'nothing'}")
            continue
        audit(page, here, findings)
        width = page.evaluate("document.scrollingElement.scrollWidth")
        if width > viewport["width"]:
            findings.add(here, f"scrolls sideways: {width} px wide on {viewport['width']} px")


@pytest.mark.parametrize("language", list(LOCALES))
def test_diagnostics_pages_pass_axe_on_a_phone_and_a_desktop(demo, new_context, language):
    patient = Patient.objects.get(user__username="patient")
    report = DiagnosticReport.objects.get(patient=patient, code="51990-0")
    alert = CriticalAlert.objects.get(patient=patient)
    waiting = DiagnosticOrder.objects.filter(
        patient__family="Рультына", status="active", reports__isnull=True
    ).first()
    assert waiting is not None, "the demo's blood count still to be collected"
    findings = Findings()

    feldsher = log_in(new_context(locale=LOCALES[language]), "feldsher", language=language)
    check(feldsher, f"/diagnostics/new/{patient.uuid}/", "order form", findings)
    check(feldsher, "/diagnostics/", "orders list", findings)
    check(feldsher, f"/diagnostics/reports/{report.uuid}/", "orderer's report", findings)
    check(feldsher, f"/diagnostics/alerts/{alert.uuid}/", "critical alert", findings)

    laboratory = log_in(new_context(locale=LOCALES[language]), "lab.anadyr", language=language)
    check(laboratory, "/", "laboratory's home", findings)
    check(laboratory, f"/diagnostics/orders/{waiting.uuid}/results/", "result entry", findings)

    person = log_in(new_context(locale=LOCALES[language]), "patient", language=language)
    check(person, "/my/results/", "patient's results", findings)
    assert person.locator('[data-testid="my-waiting"]').count() == 1
    check(person, f"/my/results/{report.uuid}/", "patient's report", findings)

    assert not findings.problems, findings.report()
