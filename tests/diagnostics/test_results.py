"""Results in: a laboratory system sends a report; it is filed under the right patient and
order, interpreted, kept once, corrected as new versions with the history kept, and released
to the patient with a message that says nothing medical."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.diagnostics.inbound import LabReportIn, ReportRefused, ResultIn
from farcare.diagnostics.models import (
    DiagnosticReport,
    OrderStatus,
    ReportStatus,
    ResultObservation,
)
from farcare.diagnostics.selectors import observation_history, released_reports
from farcare.diagnostics.services.results import report_receive, report_review
from farcare.diagnostics.watch import watch_diagnostics
from farcare.notifications.channels import sms_text

from ..factories import PatientFactory
from .scene import make_scene

HL7 = Accessor(None, channel="hl7")


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def values(report: DiagnosticReport) -> dict[str, tuple[Decimal, str, str]]:
    return {
        row.code: (row.value_number, row.interpretation, row.reference_text)
        for row in report.observations.filter(superseded_by__isnull=True)
    }


def test_a_panel_is_filed_under_its_order_interpreted_and_released(dx):
    order = dx.order(["51990-0"])
    outcome = report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6"))
    assert outcome.created and outcome.critical == 0
    report = DiagnosticReport.objects.get(uuid=outcome.report_uuid)
    assert report.order == order and report.patient == dx.patient
    assert report.performer == dx.chain.district and report.status == ReportStatus.FINAL
    shown = values(report)
    assert len(shown) == 6
    assert shown["2823-3"] == (Decimal("5.6"), "H", "3.5-5.1")
    # A woman of 45: creatinine 70 µmol/L is within 44-80.
    assert shown["2160-0"] == (Decimal("70"), "N", "44-80")
    order.refresh_from_db()
    assert order.status == OrderStatus.COMPLETED and order.filler_number == "F-77"
    assert report.released_at is not None
    assert AuditEvent.objects.filter(
        record_type="DiagnosticReport", patient_uuid=dx.patient.uuid, action="create"
    ).exists()
    assert dx.notifications(dx.feldsher, "diagnostics.results")


def test_the_patient_is_told_a_result_is_ready_with_nothing_medical_in_the_sms(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6"))
    [ready] = dx.notifications(dx.patient_user, "diagnostics.result_ready")
    for language in ("ru", "ko", "en"):
        ready.subject, ready.body = ready.texts[language]
        text = sms_text(ready).casefold()
        for medical in ("potassium", "калий", "칼륨", "5.6", "51990", "metabolic", "high"):
            assert medical not in text, (language, text)
    assert released_reports(dx.patient).count() == 1


def test_the_same_message_twice_is_stored_once(dx):
    order = dx.order(["51990-0"])
    first = report_receive(accessor=HL7, report=dx.bmp(order))
    again = report_receive(accessor=HL7, report=dx.bmp(order))
    assert first.created and not again.created
    assert again.report_uuid == first.report_uuid
    assert ResultObservation.objects.count() == 6
    assert len(dx.notifications(dx.patient_user, "diagnostics.result_ready")) == 1


def test_a_correction_is_a_new_version_and_the_history_is_kept(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, potassium="5.6", external_id="M1"))
    corrected = report_receive(
        accessor=HL7, report=dx.bmp(order, potassium="4.6", status="C", external_id="M2")
    )
    assert corrected.created and corrected.corrected == 6  # status C on every value
    history = list(observation_history(dx.patient, "2823-3"))
    assert [(row.value_number, row.status) for row in history] == [
        (Decimal("5.6"), "final"),
        (Decimal("4.6"), "corrected"),
    ]
    assert history[0].superseded_by == history[1]
    report = DiagnosticReport.objects.get()
    assert report.status == ReportStatus.CORRECTED and report.version == 2
    assert values(report)["2823-3"][:2] == (Decimal("4.6"), "N")


def test_preliminary_values_wait_and_the_final_ones_replace_them(dx):
    order = dx.order(["51990-0"])
    report_receive(accessor=HL7, report=dx.bmp(order, status="P", external_id="M1"))
    report = DiagnosticReport.objects.get()
    assert report.status == ReportStatus.PRELIMINARY and report.released_at is None
    order.refresh_from_db()
    assert order.status == OrderStatus.ACTIVE
    report_receive(accessor=HL7, report=dx.bmp(order, status="F", external_id="M2"))
    report.refresh_from_db()
    assert report.status == ReportStatus.FINAL and report.released_at is not None
    assert ResultObservation.objects.filter(superseded_by__isnull=False).count() == 6
    assert ResultObservation.objects.filter(superseded_by__isnull=True, status="final").count() == 6


def test_the_laboratorys_flags_and_range_come_before_ours(dx):
    order = dx.order(["51990-0"])
    sent = dx.bmp(order, potassium="5.3", flags=("N",))
    results = tuple(
        ResultIn(**{**r.__dict__, "reference_range": "3.4-5.4"}) if r.code == "2823-3" else r
        for r in sent.results
    )
    report_receive(accessor=HL7, report=LabReportIn(**{**sent.__dict__, "results": results}))
    row = ResultObservation.objects.get(code="2823-3")
    assert (row.interpretation, row.reference_low, row.reference_high) == (
        "N",
        Decimal("3.4"),
        Decimal("5.4"),
    )


@pytest.mark.parametrize(
    "override, field",
    [
        ({"family": "Петрова"}, "patient"),
        ({"birth_date": "1981-05-17"}, "patient"),
        ({"identifiers": (("SNILS", "00000000000"),)}, "patient"),
        ({"identifiers": ()}, "patient"),
    ],
)
def test_a_report_that_does_not_match_the_patient_is_refused(dx, override, field):
    order = dx.order(["51990-0"])
    with pytest.raises(ReportRefused) as refused:
        report_receive(accessor=HL7, report=dx.bmp(order, patient=dx.ref(**override)))
    assert refused.value.field == field
    assert not DiagnosticReport.objects.exists()


def test_the_patient_is_found_by_oms_number_or_farcare_id(dx):
    dx.patient.oms_policy = "1234567890123456"
    dx.patient.save()
    by_oms = dx.ref(identifiers=(("OMS", "1234 5678 9012 3456"),))
    report_receive(
        accessor=HL7, report=dx.bmp(None, patient=by_oms, sending_facility="LAVRENTIYA district")
    )
    by_id = dx.ref(identifiers=(), uuid=str(dx.patient.uuid))
    order = dx.order(["51990-0"])
    assert report_receive(accessor=HL7, report=dx.bmp(order, patient=by_id, external_id="B"))


def test_an_order_number_of_another_patient_is_refused(dx):
    other = PatientFactory(home_facility=dx.chain.post)
    order = dx.order(["51990-0"], patient=other)
    with pytest.raises(ReportRefused) as refused:
        report_receive(accessor=HL7, report=dx.bmp(order))
    assert refused.value.field == "placer_number"


def test_unsolicited_results_need_a_known_laboratory(dx):
    unknown = dx.bmp(None, sending_facility="Some lab somewhere")
    with pytest.raises(ReportRefused) as refused:
        report_receive(accessor=HL7, report=unknown)
    assert refused.value.field == "sending_facility"
    known = dx.bmp(None, sending_facility=str(dx.chain.district.uuid))
    outcome = report_receive(accessor=HL7, report=known)
    report = DiagnosticReport.objects.get(uuid=outcome.report_uuid)
    assert report.order is None and report.performer == dx.chain.district
    # Entered on a page by the laboratory itself: its own facility is the performer.
    page = dx.bmp(None, source="page", external_id="", code="2823-3")
    outcome = report_receive(accessor=Accessor(dx.hub_lab), report=page)
    assert DiagnosticReport.objects.get(uuid=outcome.report_uuid).performer == dx.chain.hub


def test_a_laboratory_reports_only_its_own_orders(dx):
    order = dx.order(["51990-0"])  # performed at the district hospital
    with pytest.raises(PermissionDenied):
        report_receive(accessor=Accessor(dx.hub_lab), report=dx.bmp(order, source="page"))
    outcome = report_receive(accessor=Accessor(dx.district_lab), report=dx.bmp(order))
    assert outcome.created


def test_a_pregnancy_test_waits_for_the_clinician_then_is_released(dx):
    order = dx.order(["2106-3"])
    hcg = LabReportIn(
        patient=dx.ref(),
        code="2106-3",
        placer_number=order.placer_number,
        results=(ResultIn(sequence=1, code="2106-3", value_type="ST", value="positive"),),
        external_id="H1",
    )
    outcome = report_receive(accessor=HL7, report=hcg)
    report = DiagnosticReport.objects.get(uuid=outcome.report_uuid)
    assert report.review_required and report.released_at is None
    assert not released_reports(dx.patient).exists()
    assert not dx.notifications(dx.patient_user, "diagnostics.result_ready")
    with pytest.raises(PermissionDenied):
        report_review(accessor=Accessor(dx.district_lab), report=report, version=report.version)
    reviewed = report_review(accessor=Accessor(dx.feldsher), report=report, version=report.version)
    assert reviewed.reviewed_by == dx.feldsher and reviewed.released_at is not None
    assert dx.notifications(dx.patient_user, "diagnostics.result_ready")


def test_an_unreviewed_result_is_released_after_the_delay(dx, settings):
    settings.FARCARE_RESULTS_RELEASE_HOURS = 48
    order = dx.order(["67151-1"])
    report_receive(
        accessor=HL7,
        report=LabReportIn(
            patient=dx.ref(),
            code="67151-1",
            placer_number=order.placer_number,
            results=(ResultIn(sequence=1, code="67151-1", value="9", unit="ng/L"),),
        ),
    )
    report = DiagnosticReport.objects.get()
    assert watch_diagnostics(timezone.now() + timedelta(hours=47)).released == []
    assert watch_diagnostics(timezone.now() + timedelta(hours=49)).released == [str(report.uuid)]
    report.refresh_from_db()
    assert report.released_at is not None


def test_ten_values_are_stored_in_a_bounded_number_of_queries(dx, django_assert_max_num_queries):
    order = dx.order(["58410-2", "51990-0"])
    sent = dx.bmp(order)
    extra = (
        ResultIn(sequence=7, code="718-7", value="128", unit="g/L"),
        ResultIn(sequence=8, code="6690-2", value="6.1", unit="10*9/L"),
        ResultIn(sequence=9, code="777-3", value="250", unit="10*9/L"),
        ResultIn(sequence=10, code="789-8", value="4.2", unit="10*12/L"),
    )
    report = LabReportIn(**{**sent.__dict__, "results": sent.results + extra})
    with django_assert_max_num_queries(40):
        report_receive(accessor=HL7, report=report)
    assert ResultObservation.objects.count() == 10


def test_a_correction_of_an_unsolicited_result_finds_it_by_the_laboratorys_number(dx):
    sender = str(dx.chain.district.uuid)
    report_receive(accessor=HL7, report=dx.bmp(None, sending_facility=sender, external_id="MSG-1"))
    outcome = report_receive(
        accessor=HL7,
        report=dx.bmp(
            None, potassium="3.1", status="C", sending_facility=sender, external_id="MSG-2"
        ),
    )
    assert DiagnosticReport.objects.count() == 1
    assert outcome.corrected == 6
    assert [row.value_number for row in observation_history(dx.patient, "2823-3")] == [
        Decimal("4.2"),
        Decimal("3.1"),
    ]
