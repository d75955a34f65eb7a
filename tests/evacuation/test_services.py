"""A STEMI at Uelen, from the feldsher's request to the bed at Anadyr: the estimate and the window
advice are kept as they were shown when the decision was taken, the receiving hospital confirms
a bed, dispatch assigns the Mi-8 (which is then on a mission and free again after the handover),
and every step is on the timeline and the audit trail. A consultant abroad reaches nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.evacuation.models import (
    AircraftStatus,
    DecisionChoice,
    GroundRoute,
    TransferCondition,
    TransferStatus,
    TransportMode,
)
from farcare.evacuation.services import (
    AIRCRAFT_TAKEN,
    OPEN_TRANSFER,
    aircraft_set_status,
    transfer_decline,
    transfer_move,
    transfer_open,
    transfer_record_decision,
    transfer_set_destination,
    transfer_view,
    treatment_add,
)
from farcare.evacuation.workflow import StaleVersion
from farcare.notifications.models import Notification

from ..consults.conftest import Scene, scene  # noqa: F401
from ..factories import PatientFactory
from .world import World, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


@pytest.mark.django_db
def test_from_request_to_handover(world: World, django_capture_on_commit_callbacks):  # noqa: F811
    feldsher, doctor = Accessor(world.feldsher), Accessor(world.hub_doctor)
    coordinator = Accessor(world.coordinator)
    with time_machine.travel(NOW, tick=False) as clock:
        with django_capture_on_commit_callbacks(execute=True):
            transfer = world.open(
                condition=TransferCondition.STEMI, first_contact_at=NOW - timedelta(minutes=25)
            )
        # Shown when the decision was taken: the Mi-8 from Anadyr, positioning included, and
        # the STEMI window (120 min from first contact) exceeded: fibrinolysis on site.
        assert transfer.estimate["aircraft_registration"] in ("RA-22001", "RA-22002")
        assert transfer.estimate["positioning_minutes"] > 0
        assert transfer.advice["exceeded"] is True
        assert transfer.advice["protocol"] == "fibrinolysis_on_site_then_transfer"
        assert transfer.advice["elapsed_minutes"] == 25
        # Dispatch and the receiving hospital are told, without the patient's name.
        told = Notification.objects.filter(event="evacuation.requested")
        assert {n.recipient for n in told} == {world.coordinator, world.hub_doctor}
        assert all("Иванов" not in n.subject + n.body for n in told)

        transfer = transfer_record_decision(
            accessor=feldsher,
            transfer=transfer,
            choice=DecisionChoice.LOCAL_TREATMENT_THEN_TRANSFER,
            note="Fibrinolysis given under teleconsultation",
        )
        treatment_add(
            accessor=feldsher,
            transfer=transfer,
            given_at=NOW - timedelta(minutes=5),
            description="Tenecteplase 40 mg IV",
        )
        clock.shift(timedelta(minutes=10))
        transfer = transfer_move(
            accessor=doctor, transfer=transfer, event="accept", bed_note="Cath lab, bed 4"
        )
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8
        )
        world.mi8.refresh_from_db()
        assert world.mi8.status == AircraftStatus.ON_MISSION
        assert transfer.transport_mode == TransportMode.AIR
        for event, by in (
            ("dispatch", coordinator),
            ("board", feldsher),
            ("arrive", coordinator),
            ("hand_over", doctor),
        ):
            clock.shift(timedelta(minutes=30))
            transfer = transfer_move(accessor=by, transfer=transfer, event=event)

    assert transfer.status == TransferStatus.HANDED_OVER
    assert transfer.accepted_by == world.hub_doctor
    assert transfer.bed_note == "Cath lab, bed 4"
    assert transfer.dispatched_at == NOW + timedelta(minutes=40)
    assert transfer.departed_at == NOW + timedelta(minutes=70)
    assert transfer.arrived_at == NOW + timedelta(minutes=100)
    assert transfer.handed_over_at == transfer.ended_at == NOW + timedelta(minutes=130)
    world.mi8.refresh_from_db()
    assert world.mi8.status == AircraftStatus.AVAILABLE
    assert list(transfer.events.values_list("event", flat=True)) == [
        "request",
        "decision",
        "accept",
        "assign",
        "dispatch",
        "board",
        "arrive",
        "hand_over",
    ]
    assert transfer.treatments.get().description == "Tenecteplase 40 mg IV"
    audited = AuditEvent.objects.filter(patient_uuid=world.patient.uuid)
    assert audited.filter(action=AuditAction.CREATE).count() == 2  # the request, the treatment
    assert audited.filter(action=AuditAction.UPDATE).count() == 6 + 1  # moves and the decision


@pytest.mark.django_db
def test_a_patient_has_one_open_transfer(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        world.open(first_contact_at=NOW)
        with pytest.raises(ValidationError) as refused:
            world.open(first_contact_at=NOW)
    assert refused.value.code == OPEN_TRANSFER


@pytest.mark.django_db
def test_bad_requests_are_refused_with_the_field_named(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        for bad, field in (
            ({"condition": "flu"}, "condition"),
            ({"reason": "   "}, "reason"),
            ({"first_contact_at": NOW + timedelta(hours=2)}, "first_contact_at"),
            ({"destination": world.post}, "destination"),
            ({"destination": world.korea}, "destination"),
        ):
            arguments = {
                "accessor": Accessor(world.feldsher),
                "patient": world.patient,
                "origin": world.post,
                "condition": TransferCondition.EMERGENCY,
                "reason": "Fall, hip fracture",
                "first_contact_at": NOW,
                **bad,
            }
            with pytest.raises(ValidationError) as refused:
                transfer_open(**arguments)  # type: ignore[arg-type]
            assert field in refused.value.message_dict, bad


@pytest.mark.django_db
def test_a_consultant_abroad_and_another_region_reach_nothing(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        with pytest.raises(PermissionDenied):
            world.open(first_contact_at=NOW, by=world.consultant_abroad)
        transfer = world.open(first_contact_at=NOW)
        for outsider in (world.consultant_abroad, world.sakha_coordinator):
            with pytest.raises(PermissionDenied):
                transfer_view(accessor=Accessor(outsider), transfer=transfer)
            with pytest.raises(PermissionDenied):
                transfer_move(accessor=Accessor(outsider), transfer=transfer, event="cancel")
    denied = AuditEvent.objects.filter(action=AuditAction.DENIED, patient_uuid=world.patient.uuid)
    assert denied.count() == 5
    assert "receiver" in transfer_view(accessor=Accessor(world.hub_doctor), transfer=transfer)
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, patient_uuid=world.patient.uuid
    ).exists()


@pytest.mark.django_db
def test_a_declined_bed_sends_the_case_back_to_dispatch(
    world: World,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW)
        with pytest.raises(PermissionDenied):
            transfer_decline(accessor=Accessor(world.feldsher), transfer=transfer, reason="no")
        with django_capture_on_commit_callbacks(execute=True):
            transfer = transfer_decline(
                accessor=Accessor(world.hub_doctor), transfer=transfer, reason="No ICU bed"
            )
        assert transfer.status == TransferStatus.REQUESTED and transfer.destination is None
        assert Notification.objects.filter(
            event="evacuation.declined", recipient=world.coordinator
        ).exists()
        # No bed to confirm without a destination.
        with pytest.raises(ValidationError):
            transfer_move(accessor=Accessor(world.coordinator), transfer=transfer, event="accept")
        with pytest.raises(StaleVersion):
            transfer_set_destination(
                accessor=Accessor(world.coordinator),
                transfer=transfer,
                destination=world.district,
                expected_version=1,
            )
        transfer = transfer_set_destination(
            accessor=Accessor(world.coordinator),
            transfer=transfer,
            destination=world.district,
            expected_version=transfer.version,
        )
    assert transfer.destination == world.district
    # Lavrentiya has an airstrip and Uelen none: the estimate is a helicopter's.
    assert transfer.estimate["aircraft_profile"] == "mi-8"
    assert [e.event for e in transfer.events.all()] == ["request", "decline", "destination"]


@pytest.mark.django_db
def test_ground_transport_and_release_of_an_aircraft(world: World):  # noqa: F811
    coordinator = Accessor(world.coordinator)
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW)
        transfer_move(accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept")
        with pytest.raises(ValidationError):
            transfer_move(accessor=coordinator, transfer=transfer, event="assign")
        with pytest.raises(ValidationError):
            transfer_move(
                accessor=coordinator, transfer=transfer, event="assign", ground_mode="teleport"
            )
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8
        )
        transfer = transfer_move(accessor=coordinator, transfer=transfer, event="unassign")
        assert transfer.aircraft is None
        world.mi8.refresh_from_db()
        assert world.mi8.status == AircraftStatus.AVAILABLE
        # The winter road runs in February (a way with no route now is refused: see
        # test_review_fixes.py).
        GroundRoute.objects.create(
            origin=world.uelen,
            destination=world.anadyr,
            mode="winter_road",
            distance_km=600,
            months=[12, 1, 2, 3, 4],
        )
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", ground_mode="winter_road"
        )
        assert transfer.transport_mode == TransportMode.GROUND
        transfer = transfer_move(
            accessor=Accessor(world.feldsher), transfer=transfer, event="cancel"
        )
    assert transfer.status == TransferStatus.CANCELLED


@pytest.mark.django_db
def test_the_coordinator_changes_an_aircraft_s_availability(world: World):  # noqa: F811
    coordinator = Accessor(world.coordinator)
    with pytest.raises(PermissionDenied):
        aircraft_set_status(
            accessor=Accessor(world.sakha_coordinator), aircraft=world.l410, status="maintenance"
        )
    with pytest.raises(ValidationError):
        aircraft_set_status(accessor=coordinator, aircraft=world.l410, status="on_mission")
    l410 = aircraft_set_status(
        accessor=coordinator, aircraft=world.l410, status="grounded", note="Blizzard"
    )
    assert (l410.status, l410.status_note, l410.version) == ("grounded", "Blizzard", 2)
    with pytest.raises(StaleVersion):
        aircraft_set_status(
            accessor=coordinator, aircraft=l410, status="available", expected_version=1
        )
    # An aircraft on a mission is released through its transfer, not here.
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW)
        transfer_move(accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept")
        transfer_move(accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8)
    with pytest.raises(ValidationError):
        aircraft_set_status(accessor=coordinator, aircraft=world.mi8, status="available")
    # A grounded aircraft cannot be assigned.
    with time_machine.travel(NOW, tick=False):
        other = world.open(patient=world.another_patient(), first_contact_at=NOW)
        other = transfer_move(accessor=coordinator, transfer=other, event="accept")
        with pytest.raises(ValidationError) as refused:
            transfer_move(accessor=coordinator, transfer=other, event="assign", aircraft=l410)
    assert refused.value.code == AIRCRAFT_TAKEN
    assert "RA-67001" in refused.value.messages[0]


@pytest.mark.django_db
def test_opened_from_a_conclusion_the_destination_is_the_one_it_advises(scene: Scene):  # noqa: F811
    consultation = consult_accept(
        accessor=Accessor(scene.hub_cardiologist), consultation=scene.submit("emergency")
    )
    conclusion = conclusion_sign(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["I21.0"],
            recommendations="Fibrinolysis on site, then evacuate for PCI.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    transfer = transfer_open(
        accessor=Accessor(scene.feldsher),
        patient=scene.patient,
        origin=scene.chain.post,
        condition=TransferCondition.STEMI,
        reason="STEMI: evacuation advised by the conclusion.",
        first_contact_at=timezone.now() - timedelta(minutes=30),
        conclusion=conclusion,
    )
    assert transfer.destination == scene.chain.hub
    assert transfer.consultation == consultation
    # No aircraft in this network: no estimate, and so no advice either; nothing invented.
    assert transfer.estimate == {} and transfer.advice == {}
    # The consultation of one patient does not open a transfer of another.
    other = PatientFactory(home_facility=scene.chain.post)
    with pytest.raises(ValidationError) as refused:
        transfer_open(
            accessor=Accessor(scene.feldsher),
            patient=other,
            origin=scene.chain.post,
            condition=TransferCondition.STEMI,
            reason="STEMI",
            first_contact_at=timezone.now(),
            consultation=consultation,
        )
    assert "consultation" in refused.value.message_dict
