"""A station's readings sent in one transaction are created at once (bundles.py, runs; the
Observation part of vital signs, `create_many`): the feldsher gets back exactly what each entry
answered on its own — statuses, locations, resources, refusals — and the record holds the same
readings, versions, remainders and audit records. A reading for a consultation, or an SpO2 with
its oxygen flow, still goes on its own (it locks and rescores the request; it is two rows)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import VitalObservation
from farcare.fhir import systems
from farcare.fhir.models import ResourceVersion
from farcare.fhir.registry import handler_for
from farcare.fhir.resources.clinical import ACVPU_SYSTEM
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import PatientFactory
from . import test_bundle_runs as runs_of_patients
from .test_bundle_runs import urn
from .test_bundles import post, statuses
from .test_bundles import transaction as bundle_of
from .test_clinical import OXYGEN_FLOW, TWO_LITRES, heart_rate_observation
from .test_patient import patient_resource

pytestmark = pytest.mark.django_db


def vitals_part():
    return next(p for p in handler_for("Observation").parts if p.model is VitalObservation)


@pytest.fixture
def one_by_one(monkeypatch):
    """Every reading created on its own, as before runs of Observations existed."""

    def switch() -> None:
        monkeypatch.setattr(vitals_part(), "creates_many", False)

    return switch


@pytest.fixture
def readings_stored(monkeypatch):
    """What a bundle of readings stored: the rows, their versions and remainders, the audit."""

    def stored_since(audit_id: int) -> dict[str, Any]:
        return {
            "readings": sorted(
                (
                    {name: str(value) for name, value in row.items()}
                    for row in VitalObservation.objects.values(
                        "patient__uuid", "consultation", "key", "loinc", "value", "unit"
                    )
                ),
                key=lambda row: (row["key"], row["value"]),
            ),
            "recorded_at": sorted(
                str(moment) for moment in VitalObservation.objects.values_list("recorded_at")
            ),
            **runs_of_patients.resources_stored_since("Observation", audit_id),
        }

    monkeypatch.setattr(runs_of_patients, "stored_since", stored_since)


def spo2(patient_reference: str, value: int = 96, **overrides: Any) -> dict:
    resource = reading(patient_reference, "59408-5", value, "%")
    resource.update(overrides)
    return resource


def new_confusion(patient: Patient) -> dict:
    resource = heart_rate_observation(
        patient,
        code={"coding": [{"system": systems.LOINC, "code": "67775-7"}]},
        valueCodeableConcept={"coding": [{"system": ACVPU_SYSTEM, "code": "C"}]},
    )
    del resource["valueQuantity"]
    return resource


def reading(patient_reference: str, loinc: str, value: Any, unit: str) -> dict:
    resource = heart_rate_observation(
        Patient(uuid=uuid.uuid4()),
        code={"coding": [{"system": systems.LOINC, "code": loinc}]},
        valueQuantity={"value": value, "unit": unit, "system": systems.UCUM, "code": unit},
    )
    resource["subject"] = {"reference": patient_reference}
    return resource


# --- the same answer and the same record -------------------------------------------------------


def test_a_stations_readings_at_once_answer_and_store_what_one_by_one_did(
    scene, chain, fhir_as, one_by_one, readings_stored
):
    client = fhir_as(scene.feldsher)
    known = f"Patient/{scene.patient.uuid}"
    neighbour = PatientFactory(home_facility=chain.post, family="Рультына", given="Анна")
    bundle = bundle_of(
        # A newcomer registered in the same bundle: the readings refer to its fullUrl.
        post(patient_resource(chain), urn(1)),
        post(heart_rate_observation(scene.patient, value=118)),
        post(reading(urn(1), "9279-1", 24, "/min")),
        post(reading(urn(1), "8310-5", 38.4, "Cel")),
        # What the record does not hold is kept beside it.
        post(spo2(known, note=[{"text": "Cold fingers: read twice."}])),
        post(new_confusion(scene.patient)),
        # With its oxygen flow: two rows, created on its own between the runs.
        post(spo2(known, 93, component=[{"code": OXYGEN_FLOW, "valueQuantity": TWO_LITRES}])),
        post(
            heart_rate_observation(
                neighbour, value=64, effectiveDateTime="2025-01-20T07:31:00+09:00"
            )
        ),
    )

    at_once, alone = runs_of_patients.both_paths(client, one_by_one, bundle)

    assert at_once["status"] == 200, at_once["answer"]
    assert statuses(at_once["answer"]) == ["201 Created"] * 8
    assert at_once == alone
    stored = at_once["stored"]
    assert len(stored["readings"]) == 8  # the SpO2 with its flow is two rows
    # Kept beside the record: the note, and the loose SpO2's flow (it joins a request later).
    assert len(stored["versions"]) == 7 and len(stored["remainders"]) == 2
    creates = [row for row in stored["audit"] if row["action"] == AuditAction.CREATE]
    assert len(creates) == 8  # the patient and each reading


def test_a_reading_read_back_is_what_its_create_answered(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    response = client.post(
        "",
        bundle_of(
            post(heart_rate_observation(scene.patient, value=118)),
            post(spo2(f"Patient/{scene.patient.uuid}", note=[{"text": "on air"}])),
        ),
    )

    assert response.status_code == 200, response.content
    for entry in response.json()["entry"]:
        created = entry["resource"]
        assert client.get(f"Observation/{created['id']}").json() == created
    found = client.get(f"Observation?patient={scene.patient.uuid}&code=8867-4")
    assert [e["resource"]["valueQuantity"]["value"] for e in found.json()["entry"]] == [118]


# --- refusals are what they were ----------------------------------------------------------------


def test_a_pulse_of_900_among_readings_is_refused_with_its_entry(
    scene, fhir_as, one_by_one, readings_stored
):
    client = fhir_as(scene.feldsher)
    bundle = bundle_of(
        post(heart_rate_observation(scene.patient, value=118)),
        post(heart_rate_observation(scene.patient, value=900)),
        post(heart_rate_observation(scene.patient, value=64)),
    )

    at_once, alone = runs_of_patients.both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 422
    issue = at_once["answer"]["issue"][0]
    assert issue["diagnostics"].startswith("Entry 1:")
    assert issue["expression"] == ["Bundle.entry[1].resource.valueQuantity.value"]
    assert client.post("", bundle).status_code == 422
    assert not VitalObservation.objects.exists()
    assert not ResourceVersion.objects.filter(resource_type="Observation").exists()


def test_a_reading_for_a_patient_out_of_reach_is_refused_and_the_refusal_kept(
    scene, chain, fhir_as, one_by_one, readings_stored
):
    stranger = PatientFactory(home_facility=chain.other_region_post)
    client = fhir_as(scene.feldsher)
    bundle = bundle_of(
        post(heart_rate_observation(scene.patient, value=118)),
        post(heart_rate_observation(stranger, value=70)),
    )

    at_once, alone = runs_of_patients.both_paths(client, one_by_one, bundle)

    assert at_once == alone
    assert at_once["status"] == 403
    assert at_once["answer"]["issue"][0]["diagnostics"].startswith("Entry 1:")
    assert client.post("", bundle).status_code == 403
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=stranger.uuid)
    assert denied.count() == 1  # the try at once left nothing behind; the refusal is kept
    assert not VitalObservation.objects.exists()


def test_an_unknown_patient_is_refused_with_the_element(scene, fhir_as, one_by_one):
    client = fhir_as(scene.feldsher)
    bundle = bundle_of(
        post(heart_rate_observation(scene.patient)),
        post(heart_rate_observation(PatientFactory.build())),
    )

    response = client.post("", bundle)

    assert response.status_code == 422
    assert response.json()["issue"][0]["expression"] == ["Bundle.entry[1].resource.subject"]


def test_a_reader_who_may_not_change_the_record_adds_no_reading(scene, chain, fhir_as):
    consultant = make_user(Role.CONSULTANT, chain.hub)
    response = fhir_as(consultant).post(
        "",
        bundle_of(*(post(heart_rate_observation(scene.patient, value=v)) for v in (70, 72))),
    )

    assert response.status_code == 403
    assert not VitalObservation.objects.exists()
