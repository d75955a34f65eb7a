"""A teleconsultation over FHIR (domain.md §6): the request is a ServiceRequest, its workflow a
Task, the virtual encounter an Encounter (all three with the consultation's id), and the thread
is made of Communications. A client reads and searches them, submits a request idempotently,
moves the Task through the state machine, and asks the requester a question."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, cast

from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation, EvacuationAdvice, Status, VitalObservation
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.fhir import systems
from farcare.fhir.resources.consultation import (
    CLIENT_TOKEN,
    COMMUNICATION_CATEGORY,
    CONSULT_MODE,
    SPECIALTY,
    VITAL,
    news2_observation_id,
)
from farcare.fhir.validation import validated
from farcare.network.models import Practitioner, PractitionerRole, PractitionerRoleKind
from farcare.patients.models import Patient

from ..conftest import make_user
from ..factories import PatientFactory, PractitionerFactory

DETERIORATING = {
    "respiratory_rate": 25,
    "spo2": 91,
    "spo2_scale": 1,
    "on_oxygen": False,
    "systolic_bp": 90,
    "heart_rate": 131,
    "consciousness": "C",
    "temperature": 39.1,
}


def outcome(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def read(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    resource = response.json()
    validated(resource["resourceType"], resource)
    return resource


def search(client: Any, resource_type: str, **params: str) -> dict[str, list[dict[str, Any]]]:
    """The resources found, by search mode (match / include), each valid R4."""
    response = client.get(resource_type, **params)
    assert response.status_code == 200, response.content
    bundle = response.json()
    validated("Bundle", bundle)
    found: dict[str, list[dict[str, Any]]] = {"match": [], "include": []}
    for entry in bundle.get("entry", []):
        found[entry["search"]["mode"]].append(entry["resource"])
    return found


def ids(resources: list[dict[str, Any]]) -> list[str]:
    return [f"{r['resourceType']}/{r['id']}" for r in resources]


def instant(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def role_of(user: Any) -> PractitionerRole:
    return PractitionerRole.objects.get(practitioner__user=user)


def request_resource(scene: Any, **overrides: Any) -> dict[str, Any]:
    """A ServiceRequest as a requesting system would post it, with two vitals contained."""
    resource: dict[str, Any] = {
        "resourceType": "ServiceRequest",
        "identifier": [{"system": CLIENT_TOKEN, "value": str(uuid.uuid4())}],
        "status": "active",
        "intent": "order",
        "priority": "urgent",
        "code": {"coding": [{"system": SPECIALTY, "code": "cardiology"}]},
        "subject": {"reference": f"Patient/{scene.patient.uuid}"},
        "note": [
            {"text": "Palpitations since the morning. Beta blocker?"},
            {"text": "Female, 48, no chest pain."},
        ],
        "contained": [
            {
                "resourceType": "Observation",
                "id": "pulse",
                "status": "final",
                "code": {"coding": [{"system": systems.LOINC, "code": "8867-4"}]},
                "valueQuantity": {"value": 124, "unit": "/min"},
            },
            {
                "resourceType": "Observation",
                "id": "acvpu",
                "status": "final",
                "code": {"coding": [{"system": systems.LOINC, "code": "67775-7"}]},
                "valueCodeableConcept": {"coding": [{"code": "A"}]},
            },
        ],
        "supportingInfo": [{"reference": "#pulse"}, {"reference": "#acvpu"}],
    }
    resource.update(overrides)
    return resource


def accepted(scene: Any) -> Consultation:
    consultation = scene.submit("emergency")
    return consult_accept(accessor=Accessor(scene.hub_cardiologist), consultation=consultation)


# --- reading --------------------------------------------------------------------------------


def test_an_emergency_request_reads_as_service_request_task_and_encounter(scene, fhir_as):
    consultation = scene.submit("emergency", vitals=DETERIORATING)
    client = fhir_as(scene.feldsher)
    hub_role = role_of(scene.hub_cardiologist)

    request = read(client, f"ServiceRequest/{consultation.uuid}")
    assert request["status"] == "active"
    assert request["intent"] == "order"
    assert request["priority"] == "stat"
    assert request["category"][0]["coding"][0]["code"] == "11429006"
    assert request["code"]["coding"][0] == {
        "system": SPECIALTY,
        "code": "cardiology",
        "display": "Cardiology",
    }
    assert request["subject"] == {"reference": f"Patient/{scene.patient.uuid}"}
    assert request["identifier"] == [
        {"system": CLIENT_TOKEN, "value": str(consultation.client_token)}
    ]
    assert request["note"][0]["text"].startswith("Chest pain for 2 hours")
    assert request["note"][1]["text"].startswith("Male, 65")
    performers = [p["reference"] for p in request["performer"]]
    assert performers == [
        f"Organization/{scene.chain.hub.organisation.uuid}",
        f"PractitionerRole/{hub_role.uuid}",
    ]
    supporting = {s["reference"] for s in request["supportingInfo"]}
    assert {f"Observation/{v.uuid}" for v in consultation.vitals.exclude(loinc="")} <= supporting
    assert f"Observation/{news2_observation_id(consultation)}" in supporting
    assert {"url": CONSULT_MODE, "valueCode": "deferred"} in request["extension"]

    task = read(client, f"Task/{consultation.uuid}")
    assert task["status"] == "requested"
    assert task["priority"] == "stat"
    assert task["focus"] == {"reference": f"ServiceRequest/{consultation.uuid}"}
    assert task["for"] == {"reference": f"Patient/{scene.patient.uuid}"}
    assert instant(task["restriction"]["period"]["end"]) == consultation.deadline_at.replace(
        microsecond=0
    )
    assert task["owner"]["reference"] == f"PractitionerRole/{hub_role.uuid}"
    assert instant(task["executionPeriod"]["start"]) == consultation.received_at.replace(
        microsecond=0
    )
    assert "output" not in task

    encounter = read(client, f"Encounter/{consultation.uuid}")
    assert encounter["class"]["code"] == "VR"
    assert encounter["status"] == "planned"
    assert encounter["basedOn"] == [{"reference": f"ServiceRequest/{consultation.uuid}"}]
    assert encounter["serviceProvider"]["reference"] == (
        f"Organization/{scene.chain.hub.organisation.uuid}"
    )
    assert [p["type"][0]["coding"][0]["code"] for p in encounter["participant"]] == ["REF", "CON"]


def test_a_signed_conclusion_is_the_output_of_the_task(scene, fhir_as):
    consultation = accepted(scene)
    conclusion = conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Aspirin, heparin; prepare for the flight.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    client = fhir_as(scene.feldsher)
    task = read(client, f"Task/{consultation.uuid}")
    assert task["status"] == "completed"
    assert task["output"][0]["valueReference"] == {
        "reference": f"DocumentReference/{conclusion.document.uuid}"
    }
    request = read(client, f"ServiceRequest/{consultation.uuid}")
    assert request["status"] == "completed"
    encounter = read(client, f"Encounter/{consultation.uuid}")
    assert encounter["status"] == "finished"
    assert instant(encounter["period"]["end"]) == conclusion.signed_at


def test_who_may_read_a_task(scene, fhir_as):
    consultation = scene.submit("emergency")
    analyst = make_user(Role.ANALYST, scene.chain.hub)
    refused = fhir_as(analyst).get(f"Task/{consultation.uuid}")
    assert refused.status_code == 403
    assert outcome(refused)["code"] == "forbidden"
    # The consultant it is assigned to reads it; the one at the federal centre does not.
    assert fhir_as(scene.hub_cardiologist).get(f"Task/{consultation.uuid}").status_code == 200
    assert fhir_as(scene.federal_cardiologist).get(f"Task/{consultation.uuid}").status_code == 403
    assert search(fhir_as(scene.federal_cardiologist), "ServiceRequest")["match"] == []


# --- searching ------------------------------------------------------------------------------


def test_the_consultant_finds_the_tasks_waiting_for_them(scene, fhir_as):
    waiting = scene.submit("emergency")
    taken = accepted(scene)
    client = fhir_as(scene.hub_cardiologist)
    owner = f"PractitionerRole/{role_of(scene.hub_cardiologist).uuid}"

    found = search(client, "Task", owner=owner, status="requested")["match"]
    assert ids(found) == [f"Task/{waiting.uuid}"]
    found = search(client, "Task", owner=owner, status="accepted")["match"]
    assert ids(found) == [f"Task/{taken.uuid}"]
    assert search(client, "Task", owner=owner, **{"period": "ge2000-01-01"})["match"]
    assert search(client, "Task", focus=f"ServiceRequest/{waiting.uuid}")["match"][0]["id"] == (
        str(waiting.uuid)
    )
    included = search(client, "Task", _id=str(waiting.uuid), _include="Task:patient")["include"]
    assert ids(included) == [f"Patient/{scene.patient.uuid}"]


def test_search_requests_of_a_patient_with_the_patient_and_the_thread(scene, fhir_as):
    consultation = accepted(scene)
    fhir_as(scene.hub_cardiologist).post(
        "Communication",
        {
            "resourceType": "Communication",
            "status": "completed",
            "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
            "payload": [{"contentString": "Please send a 12-lead ECG."}],
        },
    )
    planned = scene.submit("planned")
    client = fhir_as(scene.feldsher)

    found = search(
        client,
        "ServiceRequest",
        patient=str(scene.patient.uuid),
        _include="ServiceRequest:patient",
        _revinclude="Communication:based-on",
    )
    assert sorted(ids(found["match"])) == sorted(
        [f"ServiceRequest/{consultation.uuid}", f"ServiceRequest/{planned.uuid}"]
    )
    kinds = sorted(r["resourceType"] for r in found["include"])
    assert kinds == ["Communication", "Patient"]

    def requests(**params: str) -> list[str]:
        return ids(search(client, "ServiceRequest", **params)["match"])

    assert requests(priority="stat") == [f"ServiceRequest/{consultation.uuid}"]
    assert requests(priority="routine") == [f"ServiceRequest/{planned.uuid}"]
    assert len(requests(status="active", category=f"{systems.SNOMED}|11429006")) == 2
    assert requests(status="completed") == []
    assert len(requests(code=f"{SPECIALTY}|cardiology", authored="ge2000")) == 2
    assert requests(identifier=f"{CLIENT_TOKEN}|{planned.client_token}") == [
        f"ServiceRequest/{planned.uuid}"
    ]
    organisation = f"Organization/{scene.chain.hub.organisation.uuid}"
    assert len(requests(performer=organisation)) == 2
    hub_cardiologist = scene.hub_cardiologist.practitioner
    assert len(requests(performer=f"Practitioner/{hub_cardiologist.uuid}")) == 2

    # A person is found by their Practitioner or by any of their roles.
    practitioner = cast(Practitioner, PractitionerFactory(user=scene.feldsher))
    role = PractitionerRole.objects.create(
        practitioner=practitioner, facility=scene.chain.post, kind=PractitionerRoleKind.FELDSHER
    )
    request = read(client, f"ServiceRequest/{planned.uuid}")
    assert request["requester"]["reference"] == f"PractitionerRole/{role.uuid}"
    assert len(requests(requester=f"PractitionerRole/{role.uuid}")) == 2
    assert len(requests(requester=f"Practitioner/{practitioner.uuid}")) == 2
    assert requests(requester=f"Practitioner/{hub_cardiologist.uuid}") == []

    messages = search(
        client, "Communication", **{"based-on": f"ServiceRequest/{consultation.uuid}"}
    )["match"]
    assert [m["payload"][0]["contentString"] for m in messages] == ["Please send a 12-lead ECG."]
    assert search(client, "Encounter", patient=str(scene.patient.uuid), **{"class": "VR"})["match"]
    # Outside the feldsher's region nothing is found.
    stranger = make_user(Role.CLINICIAN, scene.chain.other_region_post)
    assert search(fhir_as(stranger), "ServiceRequest")["match"] == []
    assert search(fhir_as(stranger), "Communication")["match"] == []


# --- submitting -----------------------------------------------------------------------------


def test_a_request_posted_twice_makes_one_consultation(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    resource = request_resource(scene)
    token = resource["identifier"][0]["value"]

    created = client.post("ServiceRequest", resource)
    assert created.status_code == 201, created.content
    request = created.json()
    validated("ServiceRequest", request)
    assert request["status"] == "active"
    assert request["priority"] == "urgent"
    assert request["requester"]["display"]
    consultation = Consultation.objects.get(uuid=request["id"])
    assert str(consultation.client_token) == token
    assert consultation.form == "urgent"
    assert dict(consultation.vitals.values_list("key", "value")) == {
        "heart_rate": "124",
        "consciousness": "A",
    }

    again = client.post(
        "ServiceRequest", resource, **{"If-None-Exist": f"identifier={CLIENT_TOKEN}|{token}"}
    )
    assert again.status_code == 200
    assert again.json()["id"] == request["id"]
    retried = client.post("ServiceRequest", resource)  # a retry without the condition
    assert retried.json()["id"] == request["id"]
    assert Consultation.objects.count() == 1
    assert read(client, f"Task/{request['id']}")["status"] == "requested"


def test_readings_posted_before_the_request_become_its_own(scene, fhir_as):
    """A remote station sends the readings first, then the request naming them."""
    now = datetime.now(UTC)
    readings = [
        VitalObservation.objects.create(
            patient=scene.patient, key=key, loinc=loinc, value=value, unit=unit, recorded_at=now
        )
        for key, loinc, value, unit in (
            ("respiratory_rate", "9279-1", "26", "/min"),
            ("heart_rate", "8867-4", "131", "/min"),
            ("systolic_bp", "8480-6", "88", "mm[Hg]"),
        )
    ]
    resource = request_resource(
        scene,
        priority="stat",
        contained=[],
        supportingInfo=[{"reference": f"Observation/{r.uuid}"} for r in readings],
    )
    client = fhir_as(scene.feldsher)
    created = client.post("ServiceRequest", resource)
    assert created.status_code == 201, created.content
    consultation = Consultation.objects.get(uuid=created.json()["id"])
    assert set(consultation.vitals.values_list("uuid", flat=True)) == {r.uuid for r in readings}
    assert consultation.news2_total == 9
    supporting = [s["reference"] for s in created.json()["supportingInfo"]]
    assert supporting == [
        *(f"Observation/{r.uuid}" for r in readings),
        f"Observation/{news2_observation_id(consultation)}",
    ]

    someone_else = cast(Patient, PatientFactory(home_facility=scene.chain.post))
    theirs = VitalObservation.objects.create(
        patient=someone_else, key="spo2", loinc="59408-5", value="90", unit="%", recorded_at=now
    )
    mixed_up = request_resource(scene, supportingInfo=[{"reference": f"Observation/{theirs.uuid}"}])
    refused = client.post("ServiceRequest", mixed_up)
    assert refused.status_code == 422
    assert outcome(refused)["expression"] == ["ServiceRequest.supportingInfo[0]"]
    taken = request_resource(
        scene, supportingInfo=[{"reference": f"Observation/{readings[0].uuid}"}]
    )
    assert outcome(client.post("ServiceRequest", taken))["expression"] == [
        "ServiceRequest.supportingInfo"
    ]


def test_a_bad_request_is_refused_with_the_element_to_fix(scene, fhir_as):
    client = fhir_as(scene.feldsher)

    no_question = client.post("ServiceRequest", request_resource(scene, note=[]))
    assert no_question.status_code == 422
    assert outcome(no_question)["code"] == "business-rule"
    assert outcome(no_question)["expression"] == ["ServiceRequest.note"]

    scene.patient.consents.all().delete()
    no_consent = client.post("ServiceRequest", request_resource(scene, priority="routine"))
    assert no_consent.status_code == 422
    assert outcome(no_consent)["expression"] == ["ServiceRequest.priority"]

    unknown = client.post(
        "ServiceRequest",
        request_resource(scene, code={"coding": [{"system": SPECIALTY, "code": "astrology"}]}),
    )
    assert outcome(unknown)["expression"] == ["ServiceRequest.code"]

    impossible_pulse = request_resource(scene)
    impossible_pulse["contained"][0]["valueQuantity"]["value"] = 900
    refused = client.post("ServiceRequest", impossible_pulse)
    assert refused.status_code == 422
    assert outcome(refused)["expression"] == ["ServiceRequest.contained[0]"]

    by_a_consultant = fhir_as(scene.hub_cardiologist).post(
        "ServiceRequest", request_resource(scene)
    )
    assert by_a_consultant.status_code == 403
    assert Consultation.objects.count() == 0


def test_a_draft_is_kept_edited_sent_or_discarded(scene, fhir_as):
    client = fhir_as(scene.feldsher)
    resource = request_resource(scene, status="draft")
    resource["contained"].append(
        {
            "resourceType": "Observation",
            "id": "oxygen",
            "status": "final",
            "code": {"coding": [{"system": VITAL, "code": "on_oxygen"}]},
            "valueBoolean": True,
        }
    )
    created = client.post("ServiceRequest", resource)
    assert created.status_code == 201, created.content
    draft = created.json()
    assert draft["status"] == "draft"
    assert read(client, f"Task/{draft['id']}")["status"] == "draft"

    draft["note"][0]["text"] = "Palpitations and dizziness. Beta blocker?"
    edited = client.put(f"ServiceRequest/{draft['id']}", draft, **{"If-Match": 'W/"1"'})
    assert edited.status_code == 200, edited.content
    assert edited.json()["note"][0]["text"].startswith("Palpitations and dizziness")
    consultation = Consultation.objects.get(uuid=draft["id"])
    # The readings stay, air/oxygen too though it is no Observation of its own.
    assert dict(consultation.vitals.values_list("key", "value")) == {
        "heart_rate": "124",
        "consciousness": "A",
        "on_oxygen": "True",
    }

    sent = client.put(f"ServiceRequest/{draft['id']}", {**edited.json(), "status": "active"})
    assert sent.status_code == 200, sent.content
    assert sent.json()["status"] == "active"
    assert read(client, f"Task/{draft['id']}")["status"] == "requested"
    assert client.delete(f"ServiceRequest/{draft['id']}").status_code == 405

    other = client.post("ServiceRequest", request_resource(scene, status="draft")).json()
    assert client.delete(f"ServiceRequest/{other['id']}").status_code == 204
    assert client.get(f"ServiceRequest/{other['id']}").status_code == 410
    assert read(client, f"Task/{other['id']}")["status"] == "cancelled"


def test_the_requester_cancels_by_revoking_the_request(scene, fhir_as):
    consultation = scene.submit("urgent")
    client = fhir_as(scene.feldsher)
    request = read(client, f"ServiceRequest/{consultation.uuid}")

    changed = {**request, "note": [{"text": "Another question entirely."}]}
    refused = client.put(f"ServiceRequest/{consultation.uuid}", changed)
    assert refused.status_code == 422
    assert outcome(refused)["expression"] == ["ServiceRequest"]

    revoked = {**request, "status": "revoked"}
    revoked["note"] = [*request["note"], {"text": "The patient was flown out by the MChS."}]
    response = client.put(f"ServiceRequest/{consultation.uuid}", revoked)
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "revoked"
    consultation.refresh_from_db()
    assert consultation.status == Status.CANCELLED
    assert consultation.transitions.last().note == "The patient was flown out by the MChS."


# --- the workflow ---------------------------------------------------------------------------


def test_the_consultant_accepts_through_the_task(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.hub_cardiologist)
    task = read(client, f"Task/{consultation.uuid}")

    response = client.put(
        f"Task/{consultation.uuid}", {**task, "status": "accepted"}, **{"If-Match": 'W/"1"'}
    )
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "accepted"
    assert response["ETag"] == 'W/"2"'
    consultation.refresh_from_db()
    assert consultation.status == Status.ACCEPTED

    stale = client.put(
        f"Task/{consultation.uuid}", {**task, "status": "in-progress"}, **{"If-Match": 'W/"1"'}
    )
    assert stale.status_code == 412

    back = client.put(f"Task/{consultation.uuid}", {**task, "status": "requested"})
    assert back.status_code == 422
    assert outcome(back)["code"] == "business-rule"
    assert outcome(back)["expression"] == ["Task.status"]

    for status, words in (("on-hold", "Communication"), ("completed", "signing the conclusion")):
        refused = client.put(f"Task/{consultation.uuid}", {**task, "status": status})
        assert refused.status_code == 422
        assert words in outcome(refused)["diagnostics"]
        assert outcome(refused)["expression"] == ["Task.status"]

    started = client.put(f"Task/{consultation.uuid}", {**task, "status": "in-progress"})
    assert started.status_code == 200, started.content
    assert read(client, f"Encounter/{consultation.uuid}")["status"] == "in-progress"


def test_the_requester_cannot_accept_but_may_cancel_the_task(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.feldsher)
    task = read(client, f"Task/{consultation.uuid}")
    assert (
        client.put(f"Task/{consultation.uuid}", {**task, "status": "accepted"}).status_code == 403
    )
    cancelled = client.put(
        f"Task/{consultation.uuid}",
        {**task, "status": "cancelled", "statusReason": {"text": "Patient improved."}},
    )
    assert cancelled.status_code == 200, cancelled.content
    assert read(client, f"ServiceRequest/{consultation.uuid}")["status"] == "revoked"
    assert read(client, f"Encounter/{consultation.uuid}")["status"] == "cancelled"


def test_posting_a_task_for_a_request_gives_its_task(scene, fhir_as):
    consultation = scene.submit("emergency")
    client = fhir_as(scene.feldsher)
    task = {
        "resourceType": "Task",
        "status": "requested",
        "intent": "order",
        "focus": {"reference": f"ServiceRequest/{consultation.uuid}"},
    }
    posted = client.post("Task", task)
    assert posted.json()["id"] == str(consultation.uuid)
    conditional = client.post(
        "Task", task, **{"If-None-Exist": f"focus=ServiceRequest/{consultation.uuid}"}
    )
    assert conditional.status_code == 200
    assert conditional.json()["id"] == str(consultation.uuid)
    missing = client.post("Task", {**task, "focus": None})
    assert missing.status_code == 422
    assert outcome(missing)["expression"] == ["Task.focus"]


def test_a_question_to_the_requester_puts_the_request_on_hold(scene, fhir_as):
    consultation = accepted(scene)
    consultant = fhir_as(scene.hub_cardiologist)
    question = {
        "resourceType": "Communication",
        "status": "completed",
        "basedOn": [{"reference": f"ServiceRequest/{consultation.uuid}"}],
        "category": [{"coding": [{"system": COMMUNICATION_CATEGORY, "code": "question"}]}],
        "payload": [{"contentString": "Is the pain radiating to the left arm?"}],
    }
    posted = consultant.post("Communication", question)
    assert posted.status_code == 201, posted.content
    message = posted.json()
    validated("Communication", message)
    assert message["partOf"] == [{"reference": f"Task/{consultation.uuid}"}]
    assert message["subject"] == {"reference": f"Patient/{scene.patient.uuid}"}
    assert message["sender"]["reference"] == (
        f"PractitionerRole/{role_of(scene.hub_cardiologist).uuid}"
    )
    assert message["recipient"][0]["display"]
    assert read(consultant, f"Task/{consultation.uuid}")["status"] == "on-hold"

    feldsher = fhir_as(scene.feldsher)
    questions = search(feldsher, "Communication", category="question")["match"]
    assert ids(questions) == [f"Communication/{message['id']}"]
    reply = {
        "resourceType": "Communication",
        "status": "completed",
        "partOf": [{"reference": f"Task/{consultation.uuid}"}],
        "payload": [
            {"contentString": "Yes, to the left arm and the jaw."},
            {
                "contentAttachment": {
                    "contentType": "text/plain",
                    "title": "ecg-notes",
                    "data": "UVJTIDAuMTIgcywgU1QgZWxldmF0aW9uIFYxLVY0",
                }
            },
        ],
    }
    answered = feldsher.post("Communication", reply)
    assert answered.status_code == 201, answered.content
    payload = answered.json()["payload"]
    assert payload[1]["contentReference"]["reference"].startswith("DocumentReference/")
    assert read(feldsher, f"Task/{consultation.uuid}")["status"] == "in-progress"
    thread = search(
        feldsher,
        "Communication",
        **{"part-of": f"Task/{consultation.uuid}", "_include": "Communication:based-on"},
    )
    assert len(thread["match"]) == 2
    assert ids(thread["include"]) == [f"ServiceRequest/{consultation.uuid}"]

    empty = feldsher.post("Communication", {**reply, "payload": []})
    assert empty.status_code == 422
    assert outcome(empty)["expression"] == ["Communication.payload"]
