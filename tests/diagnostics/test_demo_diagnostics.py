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
    xray = DiagnosticOrder.objects.get(category="imaging")
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
