"""Schedule, Slot and Appointment over FHIR R4: a client finds the Korean cardiologist's free
slots, books one for the consultation's ServiceRequest, finds the appointment by patient,
actor, date and status, and cancels it; bad input is an OperationOutcome, and the consultant
abroad reads their schedule but no appointment (it names the patient)."""

from __future__ import annotations

from typing import Any

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.fhir.validation import validated
from farcare.network.models import PractitionerRole
from farcare.scheduling.models import Appointment, AppointmentStatus
from farcare.scheduling.services import appointment_book


def bundle(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.content
    body = response.json()
    validated("Bundle", body)
    return [
        entry["resource"] for entry in body.get("entry", []) if entry["search"]["mode"] == "match"
    ]


def outcome(response: Any) -> dict[str, Any]:
    body = response.json()
    assert body["resourceType"] == "OperationOutcome", body
    validated("OperationOutcome", body)
    return body["issue"][0]


def booking(live, slot) -> dict[str, Any]:
    return {
        "resourceType": "Appointment",
        "status": "booked",
        "slot": [{"reference": f"Slot/{slot.uuid}"}],
        "basedOn": [{"reference": f"ServiceRequest/{live.consultation.uuid}"}],
        "participant": [
            {"actor": {"reference": f"Patient/{live.scene.patient.uuid}"}, "status": "accepted"}
        ],
    }


def test_a_client_finds_free_slots_books_one_and_finds_the_appointment(live, fhir_as):
    client = fhir_as(live.feldsher)
    role = PractitionerRole.objects.get(practitioner__user=live.consultant)
    schedules = bundle(client.get("Schedule", actor=f"PractitionerRole/{role.uuid}"))
    assert len(schedules) == 1
    schedule = schedules[0]
    validated("Schedule", schedule)
    free = bundle(
        client.get(
            "Slot",
            schedule=f"Schedule/{schedule['id']}",
            status="free",
            start="ge2026-03-02T00:00:00Z",
            _sort="start",
        )
    )
    assert len(free) == 30 and free[0]["start"] == "2026-03-02T00:00:00Z"

    slot = live.slots[0]
    created = client.post("Appointment", booking(live, slot))
    assert created.status_code == 201, created.content
    appointment = created.json()
    validated("Appointment", appointment)
    assert appointment["status"] == "booked"
    assert appointment["slot"] == [{"reference": f"Slot/{slot.uuid}"}]
    assert appointment["basedOn"] == [{"reference": f"ServiceRequest/{live.consultation.uuid}"}]
    assert appointment["start"] == "2026-03-02T00:00:00Z"

    assert (
        bundle(client.get(f"Slot/{slot.uuid}".split("/")[0], _id=str(slot.uuid)))[0]["status"]
        == "busy"
    )
    for params in (
        {"patient": f"Patient/{live.scene.patient.uuid}"},
        {"actor": f"PractitionerRole/{role.uuid}"},
        {"date": "2026-03-02"},
        {"status": "booked"},
    ):
        assert [r["id"] for r in bundle(client.get("Appointment", **params))] == [
            appointment["id"]
        ], params
    assert bundle(client.get("Appointment", status="cancelled")) == []

    twice = client.post("Appointment", booking(live, slot))
    assert twice.status_code in (409, 422)
    outcome(twice)

    cancelled = dict(appointment, status="cancelled", cancelationReason={"text": "Storm, no link"})
    response = client.put(f"Appointment/{appointment['id']}", cancelled)
    assert response.status_code == 200, response.content
    assert Appointment.objects.get(uuid=appointment["id"]).status == AppointmentStatus.CANCELLED
    assert AuditEvent.objects.filter(channel="fhir", patient_uuid=live.scene.patient.uuid).exists()


def test_bad_bookings_are_operation_outcomes(live, fhir_as):
    client = fhir_as(live.feldsher)
    proposed = dict(booking(live, live.slots[0]), status="proposed")
    assert client.post("Appointment", proposed).status_code == 422
    no_slot = dict(booking(live, live.slots[0]), slot=[{"reference": "Slot/nonsense"}])
    response = client.post("Appointment", no_slot)
    assert response.status_code == 422, response.content
    assert outcome(response).get("expression") == ["Appointment.slot"], response.content
    moved = dict(
        booking(live, live.slots[0]), start="2026-03-02T05:00:00Z", end="2026-03-02T05:30:00Z"
    )
    assert client.post("Appointment", moved).status_code == 422
    assert client.post("Appointment", {"resourceType": "Appointment"}).status_code in (400, 422)
    assert not Appointment.objects.filter(status=AppointmentStatus.BOOKED).exists()


def test_the_consultant_abroad_reads_their_schedule_but_no_appointment(live, fhir_as):
    appointment = appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=live.slots[0]
    )
    client = fhir_as(live.consultant)
    assert len(bundle(client.get("Slot", status="busy"))) == 1
    assert bundle(client.get("Appointment")) == []
    response = client.get(f"Appointment/{appointment.uuid}")
    assert response.status_code == 403
    assert "Тынетегин" not in response.content.decode()


def test_a_no_show_is_recorded_through_fhir_by_the_requesting_side(live, fhir_as, clock):
    appointment = appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=live.slots[0]
    )
    client = fhir_as(live.feldsher)
    resource = client.get(f"Appointment/{appointment.uuid}").json()
    early = client.put(f"Appointment/{appointment.uuid}", dict(resource, status="noshow"))
    assert early.status_code == 422
    clock.move_to(appointment.starts_at.replace(minute=20))
    client = fhir_as(live.feldsher)  # a fresh token: the first one expired meanwhile
    response = client.put(f"Appointment/{appointment.uuid}", dict(resource, status="noshow"))
    assert response.status_code == 200, response.content
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.NOSHOW
    assert appointment.noshow_party == "consultant"


def test_a_put_that_changes_anything_but_the_status_is_refused_naming_the_element(live, fhir_as):
    appointment = appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=live.slots[0]
    )
    client = fhir_as(live.feldsher)
    resource = client.get(f"Appointment/{appointment.uuid}").json()

    # A reason with no cancellation: it would be answered 200 and dropped.
    reason_only = dict(resource, cancelationReason={"text": "Storm, no link"})
    response = client.put(f"Appointment/{appointment.uuid}", reason_only)
    assert response.status_code == 422, response.content
    assert outcome(response).get("expression") == ["Appointment.cancelationReason"]

    # Another slot: it would be kept beside the booked one, showing two.
    other = dict(resource, slot=[{"reference": f"Slot/{live.slots[1].uuid}"}])
    response = client.put(f"Appointment/{appointment.uuid}", other)
    assert response.status_code == 422, response.content
    assert outcome(response).get("expression") == ["Appointment.slot"]

    # Cancelling and moving in one PUT: the move is refused with it.
    moving = dict(other, status="cancelled", cancelationReason={"text": "Storm, no link"})
    response = client.put(f"Appointment/{appointment.uuid}", moving)
    assert response.status_code == 422, response.content
    assert outcome(response).get("expression") == ["Appointment.slot"]

    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.BOOKED and appointment.reason == ""
    served = client.get(f"Appointment/{appointment.uuid}").json()
    assert served["slot"] == [{"reference": f"Slot/{live.slots[0].uuid}"}]
    assert "cancelationReason" not in served

    # Sent back unchanged it is the same appointment, and cancelling with a reason still works.
    assert client.put(f"Appointment/{appointment.uuid}", resource).status_code == 200
    cancelled = dict(resource, status="cancelled", cancelationReason={"text": "Storm, no link"})
    assert client.put(f"Appointment/{appointment.uuid}", cancelled).status_code == 200
    appointment.refresh_from_db()
    assert appointment.status == AppointmentStatus.CANCELLED
