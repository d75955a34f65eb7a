"""Vital signs, the NEWS2 total and consents over FHIR: a feldsher's readings become coded
Observations a regional system can search; a typo such as a pulse of 900 is refused with the
element to fix; a consent is recorded and revoked, never deleted."""

from __future__ import annotations

import uuid

import pytest

from farcare.accounts.models import Role
from farcare.clinical.news2 import SNOMED_CT_NEWS2_TOTAL
from farcare.consults.models import Consultation, VitalObservation
from farcare.fhir import systems
from farcare.fhir.resources.clinical import ACVPU_SYSTEM, CONSENT_KIND_SYSTEM, VITAL_SYSTEM
from farcare.fhir.validation import validated
from farcare.patients.models import Consent, ConsentKind

from ..conftest import make_user
from ..factories import PatientFactory

# A patient deteriorating at a post in Chukotka, on 2 L/min of oxygen.
READINGS = {
    "respiratory_rate": 24,
    "spo2": 93,
    "on_oxygen": True,
    "oxygen_flow": "2.0",
    "systolic_bp": 95,
    "heart_rate": 118,
    "consciousness": "A",
    "temperature": "38.4",
}


def outcome(response):
    body = response.json()
    assert body["resourceType"] == "OperationOutcome"
    return body["issue"][0]


def entries(response):
    assert response.status_code == 200, response.content
    bundle = response.json()
    assert bundle["resourceType"] == "Bundle"
    resources = [entry["resource"] for entry in bundle.get("entry", [])]
    for resource in resources:
        validated(resource["resourceType"], resource)
    return resources


def loinc(resource):
    return next(c["code"] for c in resource["code"]["coding"] if c["system"] == systems.LOINC)


def heart_rate_observation(patient, value=72, **overrides):
    resource = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": "8867-4"}]},
        "subject": {"reference": f"Patient/{patient.uuid}"},
        "effectiveDateTime": "2025-01-20T07:30:00+12:00",
        "valueQuantity": {
            "value": value,
            "unit": "/min",
            "system": systems.UCUM,
            "code": "/min",
        },
    }
    resource.update(overrides)
    return resource


# --- Observation ----------------------------------------------------------------------------


def test_the_vitals_of_a_request_are_coded_vital_sign_observations(scene, fhir_as):
    consultation = scene.submit("emergency", vitals=READINGS)
    client = fhir_as(scene.feldsher)

    found = entries(
        client.get("Observation", **{"based-on": f"ServiceRequest/{consultation.uuid}"})
    )
    by_code = {loinc(resource): resource for resource in found}
    # Air or oxygen is not a vital sign of its own: it is a component of the NEWS2 total.
    assert set(by_code) == {"9279-1", "59408-5", "3151-8", "8480-6", "8867-4", "67775-7", "8310-5"}
    for resource in found:
        assert resource["status"] == "final"
        assert resource["category"][0]["coding"][0]["code"] == "vital-signs"
        assert resource["subject"] == {"reference": f"Patient/{scene.patient.uuid}"}
        assert resource["basedOn"] == [{"reference": f"ServiceRequest/{consultation.uuid}"}]

    ucum = {code: r["valueQuantity"] for code, r in by_code.items() if "valueQuantity" in r}
    assert ucum["8867-4"] == {"value": 118, "unit": "/min", "system": systems.UCUM, "code": "/min"}
    assert ucum["8480-6"]["code"] == "mm[Hg]"
    assert ucum["8310-5"]["code"] == "Cel" and ucum["8310-5"]["value"] == 38.4
    assert ucum["59408-5"]["code"] == "%"
    assert ucum["3151-8"]["code"] == "L/min"
    assert ucum["9279-1"]["code"] == "/min"
    assert by_code["67775-7"]["valueCodeableConcept"]["coding"][0] == {
        "system": ACVPU_SYSTEM,
        "code": "A",
        "display": "Alert",
    }
    # The SpO2 reading says how much oxygen the patient was on, as the vital-signs profile does.
    assert by_code["59408-5"]["component"][0]["valueQuantity"]["value"] == 2


def test_a_code_search_finds_the_heart_rate_and_only_within_access(scene, chain, fhir_as):
    scene.submit("emergency", vitals=READINGS)
    client = fhir_as(scene.feldsher)

    found = entries(client.get("Observation", code=f"{systems.LOINC}|8867-4"))
    assert [r["valueQuantity"]["value"] for r in found] == [118]
    assert entries(client.get("Observation", code="8867-4"))[0]["id"] == found[0]["id"]
    assert entries(client.get("Observation", code=f"{systems.SNOMED}|8867-4")) == []
    assert len(entries(client.get("Observation", category="vital-signs"))) == 7
    assert len(entries(client.get("Observation", subject=f"Patient/{scene.patient.uuid}"))) == 7
    assert entries(client.get("Observation", date="lt2000-01-01")) == []

    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    other = fhir_as(stranger)
    assert entries(other.get("Observation", code=f"{systems.LOINC}|8867-4")) == []
    refused = other.get(f"Observation/{found[0]['id']}")
    assert refused.status_code == 403
    assert outcome(refused)["code"] == "forbidden"


def test_the_news2_total_is_an_observation_derived_from_its_vitals(scene, fhir_as):
    consultation = scene.submit("emergency", vitals=READINGS)
    consultation.refresh_from_db()
    client = fhir_as(scene.feldsher)
    vitals = entries(client.get("Observation", patient=f"Patient/{scene.patient.uuid}"))

    news2_id = uuid.uuid5(consultation.uuid, "news2")
    response = client.get(f"Observation/{news2_id}")
    assert response.status_code == 200, response.content
    news2 = response.json()
    validated("Observation", news2)
    assert news2["code"]["coding"][0]["system"] == systems.SNOMED
    assert news2["code"]["coding"][0]["code"] == SNOMED_CT_NEWS2_TOTAL
    assert news2["valueInteger"] == consultation.news2_total
    assert news2["interpretation"][0]["coding"][0]["code"] == consultation.news2_band == "high"
    assert {ref["reference"] for ref in news2["derivedFrom"]} == {
        f"Observation/{resource['id']}" for resource in vitals
    }
    on_oxygen = next(
        part
        for part in news2["component"]
        if part["code"]["coding"][0] == {"system": VITAL_SYSTEM, "code": "on_oxygen"}
    )
    assert on_oxygen["valueBoolean"] is True
    assert client.get(f"Observation/{news2_id}/_history/1").status_code == 200

    # Search lists vital signs; asking it for NEWS2 says where to read it instead.
    refused = client.get("Observation", code=f"{systems.SNOMED}|{SNOMED_CT_NEWS2_TOTAL}")
    assert refused.status_code == 400
    assert outcome(refused)["code"] == "not-supported"


def test_a_pulse_of_900_is_refused_with_the_element_to_fix(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    response = client.post("Observation", heart_rate_observation(scene.patient, value=900))
    assert response.status_code == 422
    issue = outcome(response)
    assert issue["code"] == "business-rule"
    assert issue["expression"] == ["Observation.valueQuantity.value"]
    assert "900" in issue["diagnostics"]

    wrong_unit = heart_rate_observation(scene.patient)
    wrong_unit["valueQuantity"]["code"] = "Hz"
    assert outcome(client.post("Observation", wrong_unit))["expression"] == [
        "Observation.valueQuantity.code"
    ]
    not_a_vital = heart_rate_observation(
        scene.patient, code={"coding": [{"system": systems.LOINC, "code": "2339-0"}]}
    )
    assert outcome(client.post("Observation", not_a_vital))["expression"] == ["Observation.code"]
    assert not VitalObservation.objects.exists()


def test_a_remote_station_sends_vitals_before_the_request(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    created = client.post("Observation", heart_rate_observation(scene.patient, value=126))
    assert created.status_code == 201, created.content
    body = created.json()
    validated("Observation", body)
    assert body["valueQuantity"]["value"] == 126
    assert "basedOn" not in body
    vital = VitalObservation.objects.get(uuid=body["id"])
    assert vital.patient == scene.patient and vital.consultation is None

    # A reading for a request that is still open joins it, and its NEWS2 is scored again.
    consultation = scene.submit("emergency", vitals={"spo2": 97, "consciousness": "A"})
    linked = client.post(
        "Observation",
        heart_rate_observation(
            scene.patient,
            value=135,
            basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
        ),
    )
    assert linked.status_code == 201, linked.content
    assert linked.json()["basedOn"] == [{"reference": f"ServiceRequest/{consultation.uuid}"}]
    consultation.refresh_from_db()
    assert consultation.news2_total == 3  # a pulse of 135 scores 3
    again = client.post(
        "Observation",
        heart_rate_observation(
            scene.patient, basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}]
        ),
    )
    assert again.status_code == 422
    assert outcome(again)["expression"] == ["Observation.basedOn[0]"]

    confused = client.post(
        "Observation",
        heart_rate_observation(
            scene.patient,
            code={"coding": [{"system": systems.LOINC, "code": "67775-7"}]},
            valueQuantity=None,
            valueCodeableConcept={"coding": [{"system": ACVPU_SYSTEM, "code": "C"}]},
        ),
    )
    assert confused.status_code == 201, confused.content
    assert confused.json()["valueCodeableConcept"]["coding"][0]["display"] == "New confusion"
    tomorrow = heart_rate_observation(scene.patient, effectiveDateTime="2099-01-01T00:00:00Z")
    assert outcome(client.post("Observation", tomorrow))["expression"] == [
        "Observation.effectiveDateTime"
    ]

    assert client.put(f"Observation/{vital.uuid}", body).status_code == 405
    assert client.delete(f"Observation/{vital.uuid}").status_code == 405


def test_only_someone_who_may_change_the_record_adds_a_reading(scene, chain, fhir_as):
    stranger = fhir_as(make_user(Role.CLINICIAN, chain.other_region_post))
    refused = stranger.post("Observation", heart_rate_observation(scene.patient))
    assert refused.status_code == 403
    unknown = PatientFactory.build()
    missing = fhir_as(scene.feldsher).post("Observation", heart_rate_observation(unknown))
    assert missing.status_code == 422
    assert outcome(missing)["expression"] == ["Observation.subject"]
    assert not VitalObservation.objects.exists()


# --- Consent --------------------------------------------------------------------------------


def consent_resource(patient, kind=ConsentKind.TRANSFER_ABROAD, **overrides):
    resource = {
        "resourceType": "Consent",
        "status": "active",
        "scope": {
            "coding": [
                {
                    "system": "http://terminology.hl7.org/CodeSystem/consentscope",
                    "code": "patient-privacy",
                }
            ],
            "text": "Pseudonymised case to partner hospitals in Korea",
        },
        "category": [
            {"coding": [{"system": systems.LOINC, "code": "59284-0"}]},
            {"coding": [{"system": CONSENT_KIND_SYSTEM, "code": str(kind)}]},
        ],
        "patient": {"reference": f"Patient/{patient.uuid}"},
        "policyRule": {"coding": [{"system": systems.V3_ACT_CODE, "code": "OPTIN"}]},
    }
    resource.update(overrides)
    return resource


def test_a_consent_is_recorded_and_revoked_but_never_deleted(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    created = client.post("Consent", consent_resource(scene.patient))
    assert created.status_code == 201, created.content
    consent = created.json()
    validated("Consent", consent)
    assert consent["status"] == "active"
    assert consent["scope"]["coding"][0]["code"] == "patient-privacy"
    assert {"system": CONSENT_KIND_SYSTEM, "code": "transfer_abroad"}.items() <= consent[
        "category"
    ][1]["coding"][0].items()
    assert consent["provision"]["type"] == "permit"
    assert consent["provision"]["action"][0]["coding"][0]["code"] == "disclose"
    stored = Consent.objects.get(uuid=consent["id"])
    assert stored.kind == ConsentKind.TRANSFER_ABROAD and stored.is_active

    revoked = dict(consent, status="inactive")
    revoked["extension"] = [
        {
            "url": "urn:farcare:extension:consent-revocation-reason",
            "valueString": "The patient changed their mind",
        }
    ]
    response = client.put(f"Consent/{consent['id']}", revoked, **{"If-Match": 'W/"1"'})
    assert response.status_code == 200, response.content
    body = response.json()
    validated("Consent", body)
    assert body["status"] == "inactive"
    assert body["meta"]["versionId"] == "2"
    assert "end" in body["provision"]["period"]
    stored.refresh_from_db()
    assert not stored.is_active
    assert stored.revocation_reason == "The patient changed their mind"

    inactive = entries(client.get("Consent", status="inactive"))
    assert [c["id"] for c in inactive] == [consent["id"]]
    kinds = entries(client.get("Consent", category=f"{CONSENT_KIND_SYSTEM}|teleconsultation"))
    assert len(kinds) == 1  # the scene's consent to teleconsultation
    reactivated = client.put(f"Consent/{consent['id']}", dict(body, status="active"))
    assert reactivated.status_code == 422
    assert outcome(reactivated)["expression"] == ["Consent.status"]
    assert client.delete(f"Consent/{consent['id']}").status_code == 405
    assert Consent.objects.filter(uuid=consent["id"]).exists()


@pytest.mark.parametrize(
    ("change", "path"),
    [
        ({"category": [{"coding": [{"system": systems.LOINC, "code": "59284-0"}]}]}, "category"),
        ({"scope": {"coding": [{"code": "treatment"}]}}, "scope.text"),
        ({"status": "proposed"}, "status"),
    ],
)
def test_a_consent_must_say_what_it_is_and_covers(scene, fhir_as, change, path):
    response = fhir_as(scene.feldsher).post("Consent", consent_resource(scene.patient, **change))
    assert response.status_code == 422
    assert outcome(response)["expression"] == [f"Consent.{path}"]


# --- supplemental oxygen as FHIR clients send it --------------------------------------------


def spo2_observation(patient, consultation, value=93, **overrides):
    resource = heart_rate_observation(
        patient,
        code={"coding": [{"system": systems.LOINC, "code": "59408-5"}]},
        valueQuantity={"value": value, "unit": "%", "system": systems.UCUM, "code": "%"},
        basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
    )
    resource.update(overrides)
    return resource


OXYGEN_FLOW = {"coding": [{"system": systems.LOINC, "code": "3151-8"}]}
TWO_LITRES = {"value": 2, "unit": "L/min", "system": systems.UCUM, "code": "L/min"}


def news2_of(client, consultation):
    consultation.refresh_from_db()
    return client.get(f"Observation/{uuid.uuid5(consultation.uuid, 'news2')}").json()


def test_oxygen_as_a_flow_component_of_the_spo2_reading_scores_two(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    consultation = scene.submit("emergency", vitals={"consciousness": "A", "heart_rate": 80})
    reading = spo2_observation(
        scene.patient,
        consultation,
        value=97,
        component=[{"code": OXYGEN_FLOW, "valueQuantity": TWO_LITRES}],
    )

    response = client.post("Observation", reading)

    assert response.status_code == 201, response.content
    consultation.refresh_from_db()
    # SpO2 97 on scale 1 scores 0; oxygen scores 2.
    assert consultation.news2_total == 2
    on_oxygen = {vital.key: vital.value for vital in consultation.vitals.all()}
    assert on_oxygen["oxygen_flow"] == "2"
    news2 = news2_of(client, consultation)
    assert "Air or supplemental oxygen" not in news2.get("note", [{}])[0].get("text", "")
    flow = response.json()["component"]
    assert [part["valueQuantity"]["value"] for part in flow] == [2]


def test_oxygen_as_a_flow_observation_above_zero_scores_two(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    consultation = scene.submit("emergency", vitals={"spo2": 97})
    flow = heart_rate_observation(
        scene.patient,
        code=OXYGEN_FLOW,
        valueQuantity=TWO_LITRES,
        basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
    )

    assert client.post("Observation", flow).status_code == 201
    consultation.refresh_from_db()
    assert consultation.news2_total == 2
    components = news2_of(client, consultation)["component"]
    assert {"system": VITAL_SYSTEM, "code": "on_oxygen"} in [
        part["code"]["coding"][0] for part in components if part.get("valueBoolean") is True
    ]


def test_a_flow_of_zero_is_air_and_a_flow_on_a_patient_marked_on_air_is_refused(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    consultation = scene.submit("emergency", vitals={"spo2": 97, "on_oxygen": False})
    flow = heart_rate_observation(
        scene.patient,
        code=OXYGEN_FLOW,
        valueQuantity=TWO_LITRES,
        basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
    )
    refused = client.post("Observation", flow)
    assert refused.status_code == 422
    assert "breathing air" in outcome(refused)["diagnostics"]


def test_the_capability_statement_names_the_accepted_oxygen_codings(fhir_as, scene):
    statement = fhir_as(scene.feldsher).get("metadata").json()
    observation = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Observation")
    assert "3151-8" in observation["documentation"]


def request_taking(
    patient, observation_ids: list[str], note: str = "Pulse climbing since the morning."
) -> dict:
    """A cardiology request that takes in readings posted before it."""
    return {
        "resourceType": "ServiceRequest",
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "code": {"coding": [{"system": "urn:farcare:specialty", "code": "cardiology"}]},
        "subject": {"reference": f"Patient/{patient.uuid}"},
        "note": [{"text": note}],
        "supportingInfo": [{"reference": f"Observation/{i}"} for i in observation_ids],
    }


def test_a_loose_spo2_reading_on_oxygen_brings_its_flow_to_the_request(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    reading = heart_rate_observation(
        scene.patient,
        code={"coding": [{"system": systems.LOINC, "code": "59408-5"}]},
        valueQuantity={"value": 97, "unit": "%", "system": systems.UCUM, "code": "%"},
        component=[{"code": OXYGEN_FLOW, "valueQuantity": TWO_LITRES}],
    )
    posted = client.post("Observation", reading)
    assert posted.status_code == 201, posted.content
    assert posted.json()["component"][0]["valueQuantity"]["value"] == 2

    request = request_taking(scene.patient, [posted.json()["id"]], "Short of breath on 2 L/min.")
    created = client.post("ServiceRequest", request)
    assert created.status_code == 201, created.content
    consultation = Consultation.objects.get(uuid=created.json()["id"])
    assert consultation.news2_total == 2  # SpO2 97 scores 0, oxygen 2
    assert {v.key for v in consultation.vitals.all()} >= {"spo2", "oxygen_flow", "on_oxygen"}


def test_a_request_naming_two_readings_of_one_sign_is_refused_with_the_second(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    earlier, later = (
        client.post("Observation", heart_rate_observation(scene.patient, value=v)).json()["id"]
        for v in (96, 118)
    )
    request = request_taking(scene.patient, [earlier, later.upper()])

    refused = client.post("ServiceRequest", request)

    assert refused.status_code == 422, refused.content
    issue = outcome(refused)
    assert issue["expression"] == ["ServiceRequest.supportingInfo[1]"]
    assert "two readings of pulse rate" in issue["diagnostics"]
    assert not Consultation.objects.exists()
    request["supportingInfo"] = request["supportingInfo"][1:]
    taken = client.post("ServiceRequest", request)
    assert taken.status_code == 201, taken.content
    consultation = Consultation.objects.get(uuid=taken.json()["id"])
    assert [(v.key, v.value) for v in consultation.vitals.all()] == [("heart_rate", "118")]
