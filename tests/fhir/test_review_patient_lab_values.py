"""A patient's own token shows laboratory values only once their report is released, and
never a preliminary value: not in a search, not by id, not in $everything."""

from __future__ import annotations

import pytest

from farcare.diagnostics.models import DiagnosticReport, ObservationStatus, ResultObservation

from ..diagnostics.scene import make_scene
from .test_diagnostics_results import report_json


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def test_the_patient_does_not_see_values_of_an_unreleased_report(dx, fhir_as):
    order = dx.order(["51990-0"])
    created = fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).json()
    report = DiagnosticReport.objects.get(uuid=created["id"])
    own = fhir_as(dx.patient_user, "patient/*.read")
    assert own.get("Observation", category="laboratory").json()["total"] == 6

    DiagnosticReport.objects.filter(pk=report.pk).update(released_at=None)
    value = ResultObservation.objects.filter(report=report).first()
    assert own.get("Observation", category="laboratory").json()["total"] == 0
    assert own.get(f"Observation/{value.first_uuid}").status_code == 404
    assert own.get(f"Observation/{value.first_uuid}/_history").status_code == 404
    assert own.get(f"Observation/{value.first_uuid}/_history/1").status_code == 404
    everything = own.get(f"Patient/{dx.patient.uuid}/$everything").json()
    kinds = [entry["resource"]["resourceType"] for entry in everything.get("entry", [])]
    assert "Observation" not in kinds
    # The clinician still sees them.
    assert fhir_as(dx.feldsher).get(f"Observation/{value.first_uuid}").status_code == 200


def test_the_patient_does_not_see_a_preliminary_value(dx, fhir_as):
    order = dx.order(["51990-0"])
    fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order))
    value = ResultObservation.objects.first()
    ResultObservation.objects.filter(pk=value.pk).update(status=ObservationStatus.PRELIMINARY)
    own = fhir_as(dx.patient_user, "patient/*.read")
    assert own.get("Observation", category="laboratory").json()["total"] == 5
    assert own.get(f"Observation/{value.first_uuid}").status_code == 404
