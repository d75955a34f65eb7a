"""Remote monitoring over FHIR (issue 17, point 5): a blood pressure monitor's gateway POSTs a
reading as an Observation, FarCare stores it, runs the plan's rules and shows the alert as a
DetectedIssue; the enrolment reads as a CarePlan with its programme and team. A retry is the same
reading, bad input is an OperationOutcome naming the element, and a consultant abroad gets
nothing by any of these paths."""

from __future__ import annotations

import secrets
from datetime import date, timedelta
from typing import Any

import pytest
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import VitalObservation
from farcare.core.bearer import token_digest
from farcare.fhir import systems
from farcare.fhir.models import AccessToken
from farcare.fhir.oauth.clients import system_client_create
from farcare.fhir.validation import validated
from farcare.monitoring.models import (
    AlertStatus,
    HomeReading,
    MonitoringAlert,
    ReadingSource,
)
from farcare.monitoring.services.alerts import alert_acknowledge
from farcare.monitoring.services.enrolment import enrol

from ..conftest import make_user
from .conftest import FhirClient

GATEWAY_SCOPES = "system/Observation.write system/Observation.read system/DetectedIssue.read"
DEVICE = {"display": "Omron M3 (gateway of the Uelen post)"}
IDENTIFIER_SYSTEM = "urn:oid:1.2.643.5.1.13.99.1"  # the gateway's own numbering


def outcome(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def read(client: FhirClient, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    validated(body["resourceType"], body)
    return body


def found(client: FhirClient, path: str, **params: str) -> list[dict[str, Any]]:
    response = client.get(path, **params)
    assert response.status_code == 200, response.content
    resources = [entry["resource"] for entry in response.json().get("entry", [])]
    for resource in resources:
        validated(resource["resourceType"], resource)
    return resources


def pressure(
    patient: Any,
    systolic: Any = 150,
    diastolic: Any = 95,
    *,
    identifier: str = "",
    minutes_ago: int = 10,
    **overrides: Any,
) -> dict[str, Any]:
    taken = timezone.now() - timedelta(minutes=minutes_ago)
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "status": "final",
        "category": [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "vital-signs"}]}],
        "code": {"coding": [{"system": systems.LOINC, "code": "85354-9"}]},
        "subject": {"reference": f"Patient/{patient.uuid}"},
        "effectiveDateTime": taken.isoformat(),
        "device": DEVICE,
        "component": [
            {
                "code": {"coding": [{"system": systems.LOINC, "code": "8480-6"}]},
                "valueQuantity": {"value": systolic, "system": systems.UCUM, "code": "mm[Hg]"},
            },
            {
                "code": {"coding": [{"system": systems.LOINC, "code": "8462-4"}]},
                "valueQuantity": {"value": diastolic, "system": systems.UCUM, "code": "mm[Hg]"},
            },
        ],
    }
    if identifier:
        resource["identifier"] = [{"system": IDENTIFIER_SYSTEM, "value": identifier}]
    resource.update(overrides)
    return resource


def single(
    patient: Any, code: str, value: Any, unit: str, minutes_ago: int = 10, **overrides: Any
) -> dict[str, Any]:
    resource = pressure(patient, minutes_ago=minutes_ago)
    del resource["component"]
    resource["code"] = {"coding": [{"system": systems.LOINC, "code": code}]}
    resource["valueQuantity"] = {"value": value, "system": systems.UCUM, "code": unit}
    resource.update(overrides)
    return resource


class Monitored:
    """The scene's patient enrolled in hypertension at the Uelen post, with a gateway."""

    def __init__(self, scene: Any) -> None:
        self.scene = scene
        self.patient = scene.patient
        self.doctor = make_user(Role.CLINICIAN, scene.chain.district, username="doctor_lavr")
        self.enrolment = enrol(
            accessor=Accessor(scene.feldsher, "127.0.0.1"),
            patient=scene.patient,
            programme="hypertension",
            responsible_feldsher=scene.feldsher,
            responsible_doctor=self.doctor,
            in_person_visit_on=date.today() - timedelta(days=1),
            note="Amlodipine 5 mg since last month.",
            # Enrolled this morning: the plan counts readings taken from then on.
            at=timezone.now() - timedelta(hours=3),
        )
        new = system_client_create(
            name="Uelen BP gateway", scopes=GATEWAY_SCOPES, facility=scene.chain.hub
        )
        raw = secrets.token_urlsafe(24)
        AccessToken.objects.create(
            token_hash=token_digest(raw),
            user=new.client.account,
            client=new.client,
            scopes=GATEWAY_SCOPES,
            expires_at=timezone.now() + timedelta(minutes=15),
        )
        self.gateway = FhirClient(raw)


@pytest.fixture
def monitored(scene: Any) -> Monitored:
    return Monitored(scene)


def test_a_gateway_posts_a_pressure_of_190_and_the_doctor_sees_the_alert(monitored, fhir_as):
    posted = monitored.gateway.post(
        "Observation", pressure(monitored.patient, 190, 115, identifier="omron-0001")
    )

    assert posted.status_code == 201, posted.content
    body = posted.json()
    validated("Observation", body)
    assert posted["Location"].endswith(f"/Observation/{body['id']}/_history/1")
    reading = HomeReading.objects.get(uuid=body["id"])
    assert (reading.value, reading.value_2, reading.source) == (190, 115, ReadingSource.DEVICE)
    assert reading.source_id == f"{IDENTIFIER_SYSTEM}|omron-0001"
    assert reading.device == DEVICE["display"]
    assert [part["valueQuantity"]["value"] for part in body["component"]] == [190, 115]
    assert body["identifier"] == [{"system": IDENTIFIER_SYSTEM, "value": "omron-0001"}]

    [alert] = MonitoringAlert.objects.filter(patient=monitored.patient)
    doctor = fhir_as(monitored.doctor)
    [issue] = found(doctor, "DetectedIssue", patient=f"Patient/{monitored.patient.uuid}")
    assert issue["id"] == str(alert.uuid)
    assert issue["status"] == "preliminary"
    assert issue["severity"] == "moderate"  # systolic ≥ 180: urgent
    assert issue["code"]["coding"][0]["code"] == "threshold"
    assert issue["implicated"] == [{"reference": f"Observation/{body['id']}"}]
    assert "190" in issue["detail"]
    assert found(doctor, "DetectedIssue", status="final") == []

    # The doctor reads the reading the issue points at; the read is on the patient's trail.
    again = read(doctor, f"Observation/{body['id']}")
    assert again["code"]["coding"][0]["code"] == "85354-9"
    assert AuditEvent.objects.filter(
        actor_uuid=monitored.doctor.uuid, patient_uuid=monitored.patient.uuid, action="view"
    ).exists()


def test_a_retry_with_the_same_identifier_is_the_same_reading(monitored):
    body = pressure(monitored.patient, 150, 95, identifier="omron-0002")
    first = monitored.gateway.post("Observation", body)
    assert first.status_code == 201, first.content

    retry = monitored.gateway.post("Observation", body)

    assert retry.status_code == 200, retry.content
    assert retry.json()["id"] == first.json()["id"]
    assert HomeReading.objects.filter(patient=monitored.patient).count() == 1
    # Without an identifier, a second reading is a second reading.
    other = monitored.gateway.post("Observation", pressure(monitored.patient, 151, 96))
    assert other.status_code == 201
    assert HomeReading.objects.filter(patient=monitored.patient).count() == 2


def test_an_acknowledged_alert_is_final_with_what_was_done(monitored, fhir_as):
    monitored.gateway.post("Observation", pressure(monitored.patient, 200, 120))
    alert = MonitoringAlert.objects.get(patient=monitored.patient)
    alert_acknowledge(
        accessor=Accessor(alert.recipient, "127.0.0.1"),
        alert=alert,
        note="Called the patient: took captopril, 160/95 an hour later.",
    )

    issue = read(fhir_as(monitored.scene.feldsher), f"DetectedIssue/{alert.uuid}")

    assert issue["status"] == "final"
    [mitigation] = issue["mitigation"]
    assert mitigation["action"]["text"].startswith("Called the patient")
    assert mitigation["author"]["display"]
    assert mitigation["date"]
    assert MonitoringAlert.objects.get(pk=alert.pk).status == AlertStatus.ACKNOWLEDGED


def test_the_care_plan_shows_the_programme_the_measures_and_the_team(monitored, fhir_as):
    doctor = fhir_as(monitored.doctor)
    plan = read(doctor, f"CarePlan/{monitored.enrolment.uuid}")

    assert plan["status"] == "active"
    assert plan["intent"] == "plan"
    codings = plan["category"][0]["coding"]
    assert {"system": systems.SNOMED, "code": "38341003"}.items() <= codings[0].items()
    assert plan["subject"] == {"reference": f"Patient/{monitored.patient.uuid}"}
    assert plan["period"]["start"].startswith(monitored.enrolment.enrolled_at.date().isoformat())
    pressure_activity = next(
        a for a in plan["activity"] if a["detail"]["code"]["coding"][0]["code"] == "85354-9"
    )
    assert pressure_activity["detail"]["scheduledTiming"]["repeat"] == {
        "frequency": 1,
        "period": 1,
        "periodUnit": "d",
    }
    team = plan["contained"][0]
    roles = {p["role"][0]["coding"][0]["code"]: p["member"] for p in team["participant"]}
    assert set(roles) == {"feldsher", "doctor"}
    assert roles["doctor"]["display"] == plan["contributor"][1]["display"]
    assert plan["careTeam"] == [{"reference": "#team"}]
    assert any(n["text"].startswith("Amlodipine") for n in plan["note"])

    patient = f"Patient/{monitored.patient.uuid}"
    assert [p["id"] for p in found(doctor, "CarePlan", patient=patient, category="38341003")] == [
        str(monitored.enrolment.uuid)
    ]
    assert found(doctor, "CarePlan", patient=patient, status="completed") == []
    assert found(doctor, "CarePlan", category=f"{systems.SNOMED}|73211009") == []
    assert len(found(doctor, "CarePlan", category="urn:farcare:monitoring-programme|hypertension"))


def test_a_consultant_abroad_gets_nothing(monitored, fhir_as):
    monitored.gateway.post("Observation", pressure(monitored.patient, 190, 115))
    reading = HomeReading.objects.get(patient=monitored.patient)
    alert = MonitoringAlert.objects.get(patient=monitored.patient)
    abroad = fhir_as(monitored.scene.partner_cardiologist)
    patient = f"Patient/{monitored.patient.uuid}"

    for path in (
        f"CarePlan/{monitored.enrolment.uuid}",
        f"Observation/{reading.uuid}",
        f"DetectedIssue/{alert.uuid}",
    ):
        assert abroad.get(path).status_code in (403, 404), path
    assert found(abroad, "CarePlan", patient=patient) == []
    assert found(abroad, "Observation", patient=patient) == []
    assert found(abroad, "DetectedIssue") == []
    refused = abroad.post("Observation", pressure(monitored.patient, 140, 90))
    assert refused.status_code == 403
    assert HomeReading.objects.filter(patient=monitored.patient).count() == 1


@pytest.mark.parametrize(
    ("change", "expression", "words"),
    [
        ({"systolic": 400}, "Observation.component", "Systolic blood pressure 400"),
        ({"systolic": "90", "diastolic": "120"}, "Observation.component", "not above"),
        ({"unit": "mmHg"}, "Observation.component[0].valueQuantity.code", "mmHg"),
        ({"drop": 1}, "Observation.component", "Diastolic"),
        ({"future": True}, "Observation.effectiveDateTime", "future"),
        ({"status": "preliminary"}, "Observation.status", "final"),
    ],
)
def test_bad_input_is_an_operation_outcome_naming_it(monitored, change, expression, words):
    body = pressure(monitored.patient, change.get("systolic", 150), change.get("diastolic", 95))
    if "unit" in change:
        body["component"][0]["valueQuantity"]["code"] = change["unit"]
    if "drop" in change:
        del body["component"][change["drop"]]
    if "future" in change:
        body["effectiveDateTime"] = (timezone.now() + timedelta(days=1)).isoformat()
    if "status" in change:
        body["status"] = change["status"]

    response = monitored.gateway.post("Observation", body)

    assert response.status_code in (400, 422), response.content
    issue = outcome(response)
    assert issue["expression"] == [expression]
    assert words in issue["diagnostics"]
    assert not HomeReading.objects.exists()


def test_a_glucose_in_mg_per_dl_is_converted_and_a_weight_needs_no_device(monitored, fhir_as):
    glucose = single(monitored.patient, "14743-9", 180, "mg/dL")
    posted = monitored.gateway.post("Observation", glucose)
    assert posted.status_code == 201, posted.content
    assert posted.json()["valueQuantity"]["value"] == 10
    assert posted.json()["valueQuantity"]["code"] == "mmol/L"
    assert HomeReading.objects.get(code="14743-9").converted_from == "mg/dL"

    weight = single(monitored.patient, "29463-7", 81.4, "kg")
    del weight["device"]
    by_feldsher = fhir_as(monitored.scene.feldsher).post("Observation", weight)
    assert by_feldsher.status_code == 201, by_feldsher.content
    assert HomeReading.objects.get(code="29463-7").source == ReadingSource.CLINICIAN

    in_pounds = single(monitored.patient, "29463-7", 180, "[lb_av]")
    refused = monitored.gateway.post("Observation", in_pounds)
    assert refused.status_code == 422
    assert "kg" in outcome(refused)["diagnostics"]
    implausible = single(monitored.patient, "8310-5", 378, "Cel")
    refused = monitored.gateway.post("Observation", implausible)
    assert refused.status_code == 422
    assert outcome(refused)["expression"] == ["Observation.valueQuantity.value"]


def test_consultation_vitals_and_laboratory_values_still_go_to_their_parts(monitored, fhir_as):
    client = fhir_as(monitored.scene.feldsher)
    pulse = single(monitored.patient, "8867-4", 88, "/min")
    del pulse["device"]
    # A pulse without a device is a station's vital sign, as before issue 17.
    assert client.post("Observation", pulse).status_code == 201
    assert VitalObservation.objects.filter(patient=monitored.patient, key="heart_rate").exists()
    assert not HomeReading.objects.exists()

    # With a device, it is a home reading.
    from_home = single(monitored.patient, "8867-4", 90, "/min")
    assert client.post("Observation", from_home).status_code == 201
    assert HomeReading.objects.filter(code="8867-4").count() == 1

    # Named for a consultation, it joins the consultation, device or not.
    consultation = monitored.scene.submit("emergency", vitals={"spo2": 97})
    linked = single(
        monitored.patient,
        "8867-4",
        120,
        "/min",
        basedOn=[{"reference": f"ServiceRequest/{consultation.uuid}"}],
    )
    assert client.post("Observation", linked).status_code == 201, "vital of the consultation"
    assert consultation.vitals.filter(key="heart_rate").exists()
    assert HomeReading.objects.filter(code="8867-4").count() == 1

    # A laboratory value alone is still refused by the laboratory part.
    lab = single(monitored.patient, "14743-9", 5.5, "mmol/L")
    lab["category"] = [{"coding": [{"system": systems.OBSERVATION_CATEGORY, "code": "laboratory"}]}]
    refused = client.post("Observation", lab)
    assert refused.status_code == 422
    assert "DiagnosticReport" in outcome(refused)["diagnostics"]


def test_home_readings_are_searched_with_the_vital_signs(monitored, fhir_as):
    monitored.gateway.post("Observation", pressure(monitored.patient, 150, 95, minutes_ago=90))
    monitored.gateway.post(
        "Observation", single(monitored.patient, "8867-4", 72, "/min", minutes_ago=30)
    )
    client = fhir_as(monitored.scene.feldsher)
    patient = f"Patient/{monitored.patient.uuid}"

    listed = found(client, "Observation", patient=patient, category="vital-signs")
    assert {r["code"]["coding"][0]["code"] for r in listed} == {"85354-9", "8867-4"}
    [panel] = found(client, "Observation", patient=patient, code=f"{systems.LOINC}|85354-9")
    assert panel["component"][0]["valueQuantity"]["value"] == 150
    assert found(client, "Observation", patient=patient, **{"component-code": "8480-6"}) == [panel]
    since = (timezone.now() - timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    recent = found(client, "Observation", patient=patient, date=f"ge{since}")
    assert [r["code"]["coding"][0]["code"] for r in recent] == ["8867-4"]


def test_a_device_name_too_long_to_keep_is_refused_not_cut(monitored):
    body = pressure(monitored.patient, device={"display": "Omron " + "M" * 200})

    response = monitored.gateway.post("Observation", body)

    assert response.status_code in (400, 422), response.content
    issue = outcome(response)
    assert issue["expression"] == ["Observation.device"]
    assert "200" in issue["diagnostics"]
    assert not HomeReading.objects.exists()
    # At the limit it is kept whole.
    whole = "D" * 200
    kept = monitored.gateway.post(
        "Observation", pressure(monitored.patient, device={"display": whole})
    )
    assert kept.status_code == 201, kept.content
    assert HomeReading.objects.get().device == whole


@pytest.mark.parametrize(
    "where",
    ["identifier", "device", "device-reference", "note", "subject", "effective", "unit", "status"],
)
def test_a_lone_surrogate_in_any_field_is_refused_never_a_server_error(monitored, where):
    """Python's json reads "\\ud800" as half a character no database can store."""
    lone = "\ud800"
    body = pressure(monitored.patient, identifier="omron-1")
    if where == "identifier":
        body["identifier"][0]["value"] = f"omron-{lone}"
    elif where == "device":
        body["device"] = {"display": f"Omron {lone}"}
    elif where == "device-reference":
        body["device"] = {"reference": f"Device/{lone}"}
    elif where == "note":
        body["note"] = [{"text": f"after a walk {lone}"}]
    elif where == "subject":
        body["subject"] = {"reference": f"Patient/{lone}"}
    elif where == "effective":
        body["effectiveDateTime"] = f"2026-01-01T08:00:00{lone}"
    elif where == "unit":
        body["component"][0]["valueQuantity"]["code"] = f"mm[Hg]{lone}"
    elif where == "status":
        body["status"] = f"final{lone}"

    response = monitored.gateway.post("Observation", body)

    assert 400 <= response.status_code < 500, response.content
    assert response.json()["resourceType"] == "OperationOutcome"
    assert not HomeReading.objects.exists()


def test_an_sms_reading_is_an_observation_a_device_or_the_doctor_reads(
    monitored, fhir_as, settings, django_capture_on_commit_callbacks
):
    """Issue 17's show: an SMS over the gateway's webhook creates an Observation (and a reply,
    tests/monitoring/test_sms_webhook.py): the FHIR API serves it like any home reading."""
    from django.test import Client

    from farcare.monitoring.services.enrolment import phone_register

    settings.FARCARE_SMS_INBOUND_TOKEN = "inbound-secret"
    phone_register(
        accessor=Accessor(monitored.scene.feldsher),
        patient=monitored.patient,
        number="+79141234567",
        language="ru",
    )
    with django_capture_on_commit_callbacks(execute=True):
        answer = Client().post(
            "/api/sms/inbound/",
            data={"id": "gw-77", "from": "+79141234567", "text": "АД 152/96 П 84"},
            content_type="application/json",
            HTTP_AUTHORIZATION="Bearer inbound-secret",
        )
    assert answer.status_code == 200, answer.content
    assert answer.json()["outcome"] == "accepted"

    doctor = fhir_as(monitored.doctor)
    patient = f"Patient/{monitored.patient.uuid}"
    [panel] = found(doctor, "Observation", patient=patient, code=f"{systems.LOINC}|85354-9")
    assert [part["valueQuantity"]["value"] for part in panel["component"]] == [152, 96]
    [pulse] = found(doctor, "Observation", patient=patient, code=f"{systems.LOINC}|8867-4")
    assert pulse["valueQuantity"]["value"] == 84
    assert panel["status"] == "final" and panel["subject"]["reference"] == patient
