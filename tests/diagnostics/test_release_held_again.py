"""A troponin needs the ordering clinician's word before the patient sees it. Once it was
reviewed and released, a correction or a value added by the laboratory waits for that word
again: the patient keeps seeing what was released, the clinician is asked to review again,
and only then does the patient see (and hear of) the new value."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, ResultIn
from farcare.diagnostics.models import DiagnosticOrder, DiagnosticReport
from farcare.diagnostics.services.results import report_receive, report_review

from ..conftest import logged_in
from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def lab_sends(dx, order: DiagnosticOrder, *values: tuple[str, str, str], status: str = "F"):
    """The laboratory's system sends the troponin report again under its own number:
    (LOINC, value, unit) per value, in order."""
    outcome = report_receive(
        accessor=HL7,
        report=LabReportIn(
            patient=dx.ref(),
            code="10839-9",
            placer_number=order.placer_number,
            filler_number="TROP-1",
            status=status,
            results=tuple(
                ResultIn(sequence=n, code=code, value=value, unit=unit, status=status)
                for n, (code, value, unit) in enumerate(values, start=1)
            ),
            source="hl7",
            external_id="LIS|TROP-1",
        ),
    )
    return DiagnosticReport.objects.get(uuid=outcome.report_uuid)


def reviewed(dx, report: DiagnosticReport) -> None:
    report.refresh_from_db()
    report_review(accessor=Accessor(dx.feldsher), report=report, version=report.version)


def patient_page(dx, report: DiagnosticReport) -> str:
    return logged_in(dx.patient_user).get(f"/my/results/{report.uuid}/").content.decode()


def shows(page: str, number: str) -> bool:
    return re.search(rf"(?<![\w.:-]){re.escape(number)}(?![\w.:-])", page) is not None


def told_updated(dx) -> int:
    return len(dx.notifications(dx.patient_user, "diagnostics.result_updated"))


def test_a_corrected_troponin_waits_for_the_review_again_while_the_patient_sees_the_first(dx):
    order = dx.order(["10839-9"], priority="stat")
    report = lab_sends(dx, order, ("10839-9", "48", "ng/L"))
    reviewed(dx, report)
    assert shows(patient_page(dx, report), "48 ng/L")

    # The laboratory corrects the value after the patient has seen it.
    report = lab_sends(dx, order, ("10839-9", "12", "ng/L"), status="C")

    page = patient_page(dx, report)
    assert shows(page, "48 ng/L") and not shows(page, "12 ng/L")
    assert told_updated(dx) == 0
    # The orderer is asked to review the report again and sees the corrected value.
    doctor_page = logged_in(dx.feldsher).get(reverse("diagnostics:report", args=[report.uuid]))
    body = doctor_page.content.decode()
    assert 'data-testid="review"' in body
    assert re.search(r'data-testid="value-10839-9">.*?<strong>12</strong>', body)

    reviewed(dx, report)

    page = patient_page(dx, report)
    assert shows(page, "12 ng/L") and not shows(page, "48 ng/L")
    assert told_updated(dx) == 1


def test_a_value_added_to_a_released_troponin_is_not_shown_before_the_review(dx):
    order = dx.order(["10839-9"], priority="stat")
    report = lab_sends(dx, order, ("10839-9", "48", "ng/L"))
    reviewed(dx, report)

    # The laboratory adds a C-reactive protein to the same report.
    report = lab_sends(dx, order, ("10839-9", "48", "ng/L"), ("1988-5", "37", "mg/L"))

    listing = logged_in(dx.patient_user).get("/my/results/").content.decode()
    assert str(report.uuid) in listing
    page = patient_page(dx, report)
    assert shows(page, "48 ng/L") and not shows(page, "37 mg/L")
    assert logged_in(dx.patient_user).get(f"/my/results/{report.uuid}/pdf/").status_code == 200

    reviewed(dx, report)

    page = patient_page(dx, report)
    assert shows(page, "48 ng/L") and shows(page, "37 mg/L")


def test_without_a_review_rule_a_correction_is_shown_at_once_as_before(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="4.2"))
    report = report_receive(accessor=HL7, report=dx.bmp(order, potassium="4.6", status="C"))
    stored = DiagnosticReport.objects.get(uuid=report.report_uuid)

    page = patient_page(dx, stored)
    assert shows(page, "4.6") and not shows(page, "4.2")
    assert told_updated(dx) == 1
