"""Every FHIR search links each patient it showed in the audit trail, so the patient's "who
looked at my record" lists the search (323-FZ art. 13: even that a person sought care is a
medical secret)."""

from __future__ import annotations

from django.utils import translation

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.selectors import who_accessed

from ..factories import PatientFactory


def searches_showing(patient):
    with translation.override("en"):
        return [line for line in who_accessed(patient.uuid) if line.action == "searched"]


def test_a_name_search_is_on_the_record_of_every_patient_it_showed(scene, fhir_as):
    other = PatientFactory(home_facility=scene.chain.post, family="Тынетегина")
    hidden = PatientFactory(home_facility=scene.chain.other_region_post, family="Тынетегин")

    response = fhir_as(scene.feldsher).get("Patient", name="Тынетегин")

    assert response.status_code == 200
    assert len(response.json()["entry"]) == 2
    for patient in (scene.patient, other):
        lines = searches_showing(patient)
        assert [line.channel for line in lines] == ["fhir"]
    assert searches_showing(hidden) == []


def test_searches_of_a_patients_data_and_its_includes_are_on_their_record(scene, fhir_as):
    consultation = scene.submit("emergency", vitals={"heart_rate": 120})
    client = fhir_as(scene.feldsher)

    client.get("Observation", patient=f"Patient/{scene.patient.uuid}")
    client.client.post(
        "/fhir/ServiceRequest/_search",
        {"_id": str(consultation.uuid)},
        headers=client.headers,
    )
    client.get("Task", _id=str(consultation.uuid), _include="Task:patient")

    assert len(searches_showing(scene.patient)) == 3
    include = AuditEvent.objects.filter(action=AuditAction.SEARCH, details__fhir="Task").get()
    assert str(scene.patient.uuid) in include.details["patients_shown"]


def test_an_included_patient_is_linked_even_when_the_matches_are_not_patient_bound(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.feldsher)
    client.get("ServiceRequest", _id=str(consultation.uuid), _include="ServiceRequest:patient")
    assert len(searches_showing(scene.patient)) == 1
