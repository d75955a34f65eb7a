"""A report as a person reads it, through FHIR: a released laboratory report and a radiologist's
signed report each name their PDF in presentedForm, a Binary the same bearer token fetches.
A patient's own token gets neither the report, its values nor its PDF before the report is
released to them: for them it does not exist (404, never 403), and a search does not list it."""

from __future__ import annotations

import base64

import pytest
from django.utils import timezone

from farcare.diagnostics.models import DiagnosticReport, ResultObservation

from ..diagnostics.scene import make_scene
from ..imaging.conftest import reading  # noqa: F401  (a district's study read at the hub)
from ..imaging.test_reading_report import read_and_sign
from .conftest import FhirClient
from .test_diagnostics_results import report_json

pytestmark = pytest.mark.django_db


@pytest.fixture
def dx(chain):
    return make_scene(chain)


def _pdf_of(client: FhirClient, report_body: dict) -> bytes:
    (form,) = report_body["presentedForm"]
    binary = client.get(form["url"])
    assert binary.status_code == 200, binary.json()
    body = binary.json()
    assert body["contentType"] == "application/pdf"
    assert body["securityContext"] == {"reference": f"DiagnosticReport/{report_body['id']}"}
    return base64.b64decode(body["data"])


def test_a_released_laboratory_report_names_its_pdf(dx, fhir_as):
    order = dx.order(["51990-0"])
    created = fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).json()
    feldsher = fhir_as(dx.feldsher)

    report = feldsher.get(f"DiagnosticReport/{created['id']}").json()

    (form,) = report["presentedForm"]
    assert form["contentType"] == "application/pdf"
    assert form["url"] == f"Binary/{created['id']}"
    assert form["title"] and form["creation"] == report["issued"]
    pdf = _pdf_of(feldsher, report)
    assert pdf.startswith(b"%PDF")
    # The same report gives the same file: reading it again makes no new version.
    first = feldsher.get(f"Binary/{created['id']}").headers["ETag"]
    assert feldsher.get(f"Binary/{created['id']}").headers["ETag"] == first
    # The patient reads it with their own token once it is released.
    own = fhir_as(dx.patient_user, "patient/*.read")
    assert _pdf_of(own, own.get(f"DiagnosticReport/{created['id']}").json()) == pdf


def test_an_unreleased_report_does_not_exist_for_the_patient(dx, fhir_as):
    order = dx.order(["51990-0"])
    created = fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).json()
    report = DiagnosticReport.objects.get(uuid=created["id"])
    value = ResultObservation.objects.filter(report=report).first()
    DiagnosticReport.objects.filter(pk=report.pk).update(released_at=None)
    ResultObservation.objects.filter(report=report).update(released_at=None)
    own = fhir_as(dx.patient_user, "patient/*.read")

    for path in (
        f"DiagnosticReport/{report.uuid}",
        f"DiagnosticReport/{report.uuid}/_history",
        f"DiagnosticReport/{report.uuid}/_history/1",
        f"Observation/{value.first_uuid}",
        f"Binary/{report.uuid}",
    ):
        answer = own.get(path)
        assert answer.status_code == 404, (path, answer.status_code)
        assert answer.json()["resourceType"] == "OperationOutcome"
    assert own.get("DiagnosticReport").json()["total"] == 0
    assert own.get("DiagnosticReport", _id=str(report.uuid)).json()["total"] == 0
    # The clinician still reads the report; its PDF waits for the release.
    feldsher = fhir_as(dx.feldsher)
    body = feldsher.get(f"DiagnosticReport/{report.uuid}").json()
    assert "presentedForm" not in body
    assert feldsher.get(f"Binary/{report.uuid}").status_code == 404

    DiagnosticReport.objects.filter(pk=report.pk).update(released_at=timezone.now())
    assert own.get(f"DiagnosticReport/{report.uuid}").status_code == 200
    assert own.get(f"Binary/{report.uuid}").status_code == 200


def test_another_patients_token_is_refused_the_pdf(dx, fhir_as):
    order = dx.order(["51990-0"])
    created = fhir_as(dx.district_lab).post("DiagnosticReport", report_json(dx, order)).json()
    from ..conftest import make_user
    from ..factories import PatientFactory

    stranger = make_user("patient", None, language="en")
    PatientFactory(home_facility=dx.chain.post, user=stranger)
    answer = fhir_as(stranger, "patient/*.read").get(f"Binary/{created['id']}")
    assert answer.status_code in (403, 404)
    assert "data" not in answer.json()


def test_a_signed_imaging_report_names_the_signed_report_as_pdf(reading, fhir_as):  # noqa: F811
    study = reading.store_ct(seed=501, slices=1, size=64)
    report = read_and_sign(reading, study)
    doctor = fhir_as(reading.district_doctor)

    body = doctor.get(f"DiagnosticReport/{report.uuid}").json()

    (form,) = body["presentedForm"]
    assert form["url"] == f"Binary/{report.uuid}" and form["contentType"] == "application/pdf"
    pdf = _pdf_of(doctor, body)
    assert pdf.startswith(b"%PDF") and len(pdf) > 1000
    # The radiologist who signed it reads the same file.
    radiologist = fhir_as(reading.radiologist)
    assert _pdf_of(radiologist, radiologist.get(f"DiagnosticReport/{report.uuid}").json()) == pdf
