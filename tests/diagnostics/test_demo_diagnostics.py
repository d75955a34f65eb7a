"""The demo shows diagnostics at work: the laboratory in Anadyr with its worklist, a released
blood count, a critical potassium waiting for the feldsher at Uelen to acknowledge."""

from __future__ import annotations

from farcare.access.policy import Action, decide, visible_patients
from farcare.accounts.models import Role, User
from farcare.demo.diagnostics import LABORATORY_USER, RADIOLOGIST_USER, load_diagnostics
from farcare.diagnostics.models import (
    AlertStatus,
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    ReceivedReport,
)
from farcare.diagnostics.selectors import laboratory_worklist, open_alerts
from farcare.patients.models import Patient


def test_the_demo_has_a_laboratory_a_radiologist_and_a_critical_potassium(demo_network):
    lab = User.objects.get(username=LABORATORY_USER)
    radiologist = User.objects.get(username=RADIOLOGIST_USER)
    assert (lab.role, radiologist.role) == (Role.LABORATORY, Role.RADIOLOGIST)
    assert lab.facility.name_en == radiologist.facility.name_en
    feldsher = User.objects.get(username="feldsher")
    [alert] = open_alerts(feldsher)
    assert alert.status == AlertStatus.OPEN
    assert (alert.observation.code, alert.observation.interpretation) == ("2823-3", "HH")
    patient = Patient.objects.get(family="Тынетегин")
    assert decide(lab, Action.VIEW, patient)
    assert set(visible_patients(lab)) == set(
        Patient.objects.filter(diagnostic_orders__performer=lab.facility)
    )
    assert laboratory_worklist(lab).exists()
    released = DiagnosticReport.objects.filter(released_at__isnull=False)
    assert released.count() == 2
    xray = DiagnosticOrder.objects.get(category="imaging", tests__code="36643-5")
    assert xray.performer.name_en != lab.facility.name_en  # X-ray at the district hospital


def test_loading_the_demo_diagnostics_twice_changes_nothing(demo_network):
    counts = (
        DiagnosticOrder.objects.count(),
        DiagnosticReport.objects.count(),
        CriticalAlert.objects.count(),
        ReceivedReport.objects.count(),
    )
    load_diagnostics()
    assert counts == (
        DiagnosticOrder.objects.count(),
        DiagnosticReport.objects.count(),
        CriticalAlert.objects.count(),
        ReceivedReport.objects.count(),
    )


def test_the_demo_chest_ct_comes_from_an_order_the_worklist_shows(demo_network, client):
    from farcare.demo.loader import DEMO_PASSWORD
    from farcare.imaging.models import ImagingStudy

    study = ImagingStudy.objects.select_related("order__orderer", "order__performer").get(
        modality="CT"
    )
    order = study.order
    assert order is not None
    assert [test.code for test in order.tests.all()] == ["24627-2"]
    assert order.orderer.username == "doctor"
    assert order.performer == study.facility == study.reading_facility  # the CT in Anadyr
    assert study.accession_number == order.placer_number
    assert (study.priority, order.priority) == ("urgent", "urgent")

    assert client.login(username=RADIOLOGIST_USER, password=DEMO_PASSWORD)
    worklist = client.get("/imaging/reading/").content.decode()
    card = worklist.split(f'data-testid="study-{study.uuid}"', 1)[1].split("</li>", 1)[0]
    assert order.placer_number in card
    assert "a shadow on the chest X-ray" in card
    assert 'data-testid="priority"' in card
