"""Transfers over FHIR (issue 16, point 7): the request as ServiceRequest, its state machine as
Task, the stay at the receiving hospital as Encounter, air-ambulance bases as Location beside the
facilities; searched by patient, status and date; the transfer summary as a document. Scoped by
the access policy like every resource that names a patient: the receiving hospital's doctor
reads it, a consultant abroad does not, and a bad search is an OperationOutcome, never a 500."""

from __future__ import annotations

from datetime import UTC, timedelta
from typing import Any

from django.utils import timezone

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.evacuation.models import Aircraft, TransferStatus, TransportBase
from farcare.fhir.validation import validated

from ..conftest import make_user
from ..evacuation.test_handover import Story, story  # noqa: F401
from ..factories import SettlementFactory


def outcome(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    return body["issue"][0]


def read(client: Any, path: str) -> dict[str, Any]:
    response = client.get(path)
    assert response.status_code == 200, response.content
    body = response.json()
    validated(body["resourceType"], body)
    return body


def found(client: Any, path: str, **params: str) -> list[str]:
    response = client.get(path, **params)
    assert response.status_code == 200, response.content
    return [entry["resource"]["id"] for entry in response.json().get("entry", [])]


def test_the_receiving_doctor_reads_the_transfer_as_request_task_and_encounter(story, fhir_as):  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    transfer = story.transfer
    request = read(client, f"ServiceRequest/{transfer.uuid}")
    assert request["status"] == "active"
    assert request["priority"] == "stat"
    assert request["category"][0]["coding"][0]["code"] == "107724000"
    assert request["subject"] == {"reference": f"Patient/{story.scene.patient.uuid}"}
    assert request["reasonCode"][0]["coding"][0]["code"] == "I21.0"
    assert request["performer"][0]["reference"] == (
        f"Organization/{story.receiving.organisation.uuid}"
    )
    assert request["basedOn"] == [{"reference": f"ServiceRequest/{story.consultation.uuid}"}]

    task = read(client, f"Task/{transfer.uuid}")
    assert task["status"] == "accepted"
    assert task["businessStatus"]["coding"][0]["code"] == "accepted"
    assert task["focus"] == {"reference": f"ServiceRequest/{transfer.uuid}"}

    encounter = read(client, f"Encounter/{transfer.uuid}")
    assert encounter["status"] == "planned"
    assert encounter["class"]["code"] == "EMER"
    assert encounter["hospitalization"]["origin"]["reference"] == (
        f"Location/{story.scene.chain.post.uuid}"
    )
    assert encounter["location"][0]["location"]["reference"] == (f"Location/{story.receiving.uuid}")
    assert "period" not in encounter
    # Each read is on the patient's trail.
    assert AuditEvent.objects.filter(
        actor_uuid=story.receiving_doctor.uuid, patient_uuid=story.scene.patient.uuid
    ).exists()


def test_a_weather_hold_and_local_treatment_read_as_task_statuses(story, fhir_as):  # noqa: F811
    client = fhir_as(story.scene.feldsher)
    transfer = story.transfer
    transfer.held_from = transfer.status
    transfer.status = TransferStatus.HELD
    transfer.hold_reason = "Blizzard at Uelen, visibility 200 m"
    transfer.held_since = timezone.now()
    transfer.save()
    task = read(client, f"Task/{transfer.uuid}")
    assert task["status"] == "on-hold"
    assert task["businessStatus"]["coding"][0]["code"] == "held"
    assert task["statusReason"]["text"].startswith("Blizzard at Uelen")
    assert read(client, f"ServiceRequest/{transfer.uuid}")["status"] == "on-hold"

    transfer.status = TransferStatus.TREATED_LOCALLY
    transfer.decision_note = "Thrombolysis at the post under teleconsultation"
    transfer.ended_at = timezone.now()
    transfer.save()
    task = read(client, f"Task/{transfer.uuid}")
    assert task["status"] == "cancelled"
    assert task["businessStatus"]["coding"][0]["code"] == "treated_locally"
    assert "Thrombolysis" in task["statusReason"]["text"]
    assert read(client, f"Encounter/{transfer.uuid}")["status"] == "cancelled"


def test_the_stay_begins_at_arrival(story, fhir_as):  # noqa: F811
    transfer = story.transfer
    transfer.status = TransferStatus.HANDED_OVER
    transfer.arrived_at = timezone.now() - timedelta(minutes=5)
    transfer.handed_over_at = timezone.now()
    transfer.save()
    encounter = read(fhir_as(story.receiving_doctor), f"Encounter/{transfer.uuid}")
    assert encounter["status"] == "in-progress"
    assert encounter["location"][0]["status"] == "active"
    assert "start" in encounter["period"]


def test_transfers_are_searched_by_patient_status_and_date(story, fhir_as):  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    patient = f"Patient/{story.scene.patient.uuid}"
    transfer = str(story.transfer.uuid)
    # The patient's transfer requests, apart from the consultation they came from.
    assert found(client, "ServiceRequest", patient=patient, category="107724000") == [transfer]
    assert transfer in found(client, "ServiceRequest", patient=patient)
    assert found(client, "Task", patient=patient, status="accepted") == [transfer]
    assert found(client, "Task", patient=patient, status="on-hold") == []
    business = "urn:farcare:transfer-status|accepted"
    assert found(client, "Task", **{"business-status": business}) == [transfer]
    # The day the decision was authored (UTC), not today's: just after midnight they differ.
    decided = story.transfer.decided_at.astimezone(UTC).date().isoformat()
    assert found(client, "ServiceRequest", authored=f"ge{decided}", category="107724000") == [
        transfer
    ]
    assert found(client, "Task", **{"authored-on": "lt2000-01-01", "patient": patient}) == []
    assert found(client, "Encounter", patient=patient, status="planned", **{"class": "EMER"}) == [
        transfer
    ]
    # Sorting the types the consultations share still works across both.
    assert transfer in found(client, "Task", patient=patient, _sort="-authored-on")
    assert transfer in found(client, "Encounter", patient=patient, _sort="date")


def test_a_bad_search_is_an_operation_outcome_never_a_500(story, fhir_as):  # noqa: F811
    client = fhir_as(story.receiving_doctor)
    for path, params in (
        ("ServiceRequest", {"authored": "yesterday"}),
        ("Task", {"status:exact": "accepted"}),
        ("Task", {"_sort": "colour"}),
        ("Encounter", {"weather": "snow"}),
        ("Encounter", {"date": "2026-13-45"}),
        ("Location", {"type:above": "air-ambulance-base"}),
    ):
        response = client.get(path, **params)
        assert response.status_code == 400, (path, params, response.content)
        assert outcome(response)["severity"] == "error"
    missing = client.get("Composition/not-a-transfer/$document")
    assert missing.status_code == 404
    assert outcome(missing)["code"] == "not-found"


def test_a_consultant_abroad_finds_and_reads_nothing_of_the_transfer(story, fhir_as):  # noqa: F811
    client = fhir_as(story.scene.partner_cardiologist)
    transfer = story.transfer.uuid
    for kind in ("ServiceRequest", "Task", "Encounter"):
        assert client.get(f"{kind}/{transfer}").status_code in (403, 404)
        assert str(transfer) not in found(client, kind)
    refused = client.get(f"Composition/{transfer}/$document")
    assert refused.status_code == 403
    assert "Тынетегин" not in refused.content.decode()
    assert AuditEvent.objects.filter(
        actor_uuid=story.scene.partner_cardiologist.uuid,
        patient_uuid=story.scene.patient.uuid,
        outcome="denied",
    ).exists()


def test_the_summary_is_a_document_bundle_for_an_api_client(story, fhir_as):  # noqa: F811
    bundle = read(fhir_as(story.receiving_doctor), f"Composition/{story.transfer.uuid}/$document")
    assert bundle["type"] == "document"
    composition = bundle["entry"][0]["resource"]
    assert composition["resourceType"] == "Composition"
    assert composition["type"]["coding"][0]["code"] == "18761-7"
    kinds = {entry["resource"]["resourceType"] for entry in bundle["entry"]}
    assert {"Patient", "ServiceRequest", "Encounter", "Observation", "Procedure"} <= kinds


def test_air_ambulance_bases_are_locations_beside_the_facilities(story, fhir_as):  # noqa: F811
    anadyr = SettlementFactory(name_en="Anadyr", name_ru="Анадырь")
    base = TransportBase.objects.create(
        name_en="Anadyr air-ambulance base",
        name_ru="Анадырская база санавиации",
        region="Chukotka",
        settlement=anadyr,
        latitude=64.73,
        longitude=177.74,
    )
    Aircraft.objects.create(
        base=base,
        registration="RA-22001",
        profile="mi-8",
        kind="helicopter",
        cruise_kmh=220,
        range_km=550,
        crew=3,
    )
    client = fhir_as(story.receiving_doctor)
    location = read(client, f"Location/{base.uuid}")
    assert location["type"][0]["coding"][0]["code"] == "air-ambulance-base"
    assert location["position"] == {"latitude": 64.73, "longitude": 177.74}
    assert "RA-22001" in str(location["extension"])
    assert found(client, "Location", type="air-ambulance-base") == [str(base.uuid)]
    assert str(base.uuid) in found(client, "Location", name="Anadyr")
    # The facilities are Locations as before; a search of theirs does not bring the base.
    facility = str(story.receiving.uuid)
    organisation = f"Organization/{story.receiving.organisation.uuid}"
    assert found(client, "Location", organization=organisation) == [facility]
    read(client, f"Location/{facility}")


def test_the_capability_statement_lists_the_transfer_searches(story, fhir_as):  # noqa: F811
    statement = fhir_as(make_user(Role.CLINICIAN, story.receiving)).get("metadata").json()
    by_type = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    task_params = {p["name"] for p in by_type["Task"]["searchParam"]}
    assert {"patient", "status", "business-status", "authored-on"} <= task_params
    encounter_params = {p["name"] for p in by_type["Encounter"]["searchParam"]}
    assert {"patient", "status", "date", "class"} <= encounter_params
