"""A laboratory reaches the patients of the orders routed to it, not anyone whose SNILS it puts
on a result: a result nobody ordered is stored and reaches the patient's clinicians, but it
opens nothing to the laboratory that sent it."""

from __future__ import annotations

import pytest
from django.urls import reverse

from farcare.access.policy import Action, decide, visible_patients
from farcare.audit.services import Accessor
from farcare.diagnostics.models import CriticalAlert, DiagnosticReport
from farcare.diagnostics.services.results import report_receive

from ..conftest import logged_in
from ..diagnostics.scene import Scene, make_scene
from ..factories import PatientFactory
from ..fhir.conftest import FhirClient, issue_token


@pytest.fixture
def dx(chain) -> Scene:
    return make_scene(chain)


def what_the_laboratory_opens(dx: Scene, user, patient) -> dict[str, int]:
    page = logged_in(user).get(reverse("patients:detail", args=[patient.uuid]))
    results = logged_in(user).get(reverse("diagnostics:patient", args=[patient.uuid]))
    fhir = FhirClient(issue_token(user, "user/*.read"))
    observations = fhir.get("Observation", patient=str(patient.uuid))
    return {
        "page": page.status_code,
        "results": results.status_code,
        "fhir_patient": fhir.get(f"Patient/{patient.uuid}").status_code,
        "fhir_values": len(observations.json().get("entry", []))
        if observations.status_code == 200
        else observations.status_code,
    }


def test_an_unordered_result_does_not_open_the_patients_record_to_the_laboratory(dx):
    # The hub's laboratory sends a critical potassium for a patient nobody ordered it for.
    outcome = report_receive(
        accessor=Accessor(dx.hub_lab, channel="hl7"),
        report=dx.bmp(None, potassium="7.0", external_id="HUB-LIS-9"),
    )

    # Stored, and the patient's clinicians at the post are told of the critical value.
    report = DiagnosticReport.objects.get(uuid=outcome.report_uuid)
    assert report.performer == dx.chain.hub and report.order is None
    assert CriticalAlert.objects.get(observation__report=report).recipient == dx.feldsher
    # The laboratory learns nothing more of the patient by it.
    assert not decide(dx.hub_lab, Action.VIEW, dx.patient)
    assert dx.patient not in visible_patients(dx.hub_lab)
    opened = what_the_laboratory_opens(dx, dx.hub_lab, dx.patient)
    assert opened["page"] == 403
    assert opened["results"] == 403
    assert opened["fhir_patient"] in (403, 404)
    assert opened["fhir_values"] in (0, 403, 404)


def test_the_laboratory_an_order_was_routed_to_still_opens_its_patient(dx):
    order = dx.order(["51990-0"])  # routed to the district hospital's laboratory
    report_receive(accessor=Accessor(dx.district_lab, channel="hl7"), report=dx.bmp(order))
    stranger = PatientFactory(home_facility=dx.chain.post)

    opened = what_the_laboratory_opens(dx, dx.district_lab, dx.patient)

    assert opened["page"] == 200
    assert opened["fhir_patient"] == 200
    assert decide(dx.district_lab, Action.VIEW, dx.patient)
    assert list(visible_patients(dx.district_lab)) == [dx.patient]
    assert what_the_laboratory_opens(dx, dx.district_lab, stranger)["page"] == 403
