"""The diastolic pressure (LOINC 8462-4, mm[Hg]) crosses FHIR as its own vital-sign Observation,
like the systolic one: posted alone, contained in a ServiceRequest, or recorded on the form, it
is kept, found by its code, and read back; NEWS2 still scores the systolic only."""

from __future__ import annotations

from farcare.clinical.news2 import news2_score
from farcare.consults.models import Consultation, VitalObservation
from farcare.fhir import systems

from .test_clinical import READINGS, entries, heart_rate_observation, loinc
from .test_consultation import request_resource

DIASTOLIC = {"system": systems.LOINC, "code": "8462-4"}
MMHG = {"value": 58, "unit": "mmHg", "system": systems.UCUM, "code": "mm[Hg]"}


def test_the_diastolic_pressure_of_a_request_is_an_observation_of_its_own(scene, fhir_as):
    consultation = scene.submit("emergency", vitals={**READINGS, "diastolic_bp": 58})
    client = fhir_as(scene.feldsher)
    found = entries(
        client.get("Observation", **{"based-on": f"ServiceRequest/{consultation.uuid}"})
    )
    by_code = {loinc(resource): resource for resource in found}
    assert by_code["8462-4"]["valueQuantity"] == MMHG
    assert by_code["8462-4"]["code"]["coding"][0]["display"] == "Diastolic blood pressure"
    assert [r["id"] for r in entries(client.get("Observation", code="8462-4"))] == [
        by_code["8462-4"]["id"]
    ]
    consultation.refresh_from_db()
    assert consultation.news2_total == news2_score(READINGS).total == 11  # systolic only


def test_a_diastolic_reading_posted_alone_joins_the_request(scene, fhir_as):
    consultation = scene.submit("emergency", vitals={"systolic_bp": 95})
    client = fhir_as(scene.feldsher)
    posted = client.post(
        "Observation",
        heart_rate_observation(
            scene.patient,
            code={"coding": [DIASTOLIC]},
            valueQuantity=MMHG,
            basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
        ),
    )
    assert posted.status_code == 201, posted.content
    kept = VitalObservation.objects.get(uuid=posted.json()["id"])
    assert (kept.key, kept.value, kept.unit, kept.consultation) == (
        "diastolic_bp",
        "58",
        "mm[Hg]",
        consultation,
    )


def test_a_service_request_may_contain_the_diastolic_pressure(scene, fhir_as):
    resource = request_resource(scene)
    resource["contained"].append(
        {
            "resourceType": "Observation",
            "id": "dia",
            "status": "final",
            "code": {"coding": [DIASTOLIC]},
            "valueQuantity": {"value": 58, "unit": "mmHg"},
        }
    )
    resource["supportingInfo"].append({"reference": "#dia"})
    created = fhir_as(scene.feldsher).post("ServiceRequest", resource)
    assert created.status_code == 201, created.content
    consultation = Consultation.objects.get(uuid=created.json()["id"])
    assert consultation.vitals.get(key="diastolic_bp").value == "58"


def test_a_blood_pressure_panel_is_refused_saying_how_to_send_it(scene, fhir_as):
    consultation = scene.submit("emergency", vitals={"heart_rate": 88})
    client = fhir_as(scene.feldsher)
    panel = heart_rate_observation(
        scene.patient,
        code={"coding": [{"system": "http://loinc.org", "code": "85354-9"}]},
        basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
        component=[
            {
                "code": {"coding": [{"system": "http://loinc.org", "code": "8480-6"}]},
                "valueQuantity": {**MMHG, "value": 95},
            },
            {"code": {"coding": [DIASTOLIC]}, "valueQuantity": MMHG},
        ],
    )
    panel.pop("valueQuantity", None)
    posted = client.post("Observation", panel)
    assert posted.status_code == 422, posted.content
    said = posted.json()["issue"][0]["diagnostics"]
    assert "8480-6" in said and "8462-4" in said and "85354-9" in said
    assert not VitalObservation.objects.filter(
        consultation=consultation, key__in=("systolic_bp", "diastolic_bp")
    ).exists()
