"""Consultants publish times in their own zone, the requesting side books one, moves or cancels
it, and a no-show is recorded; every step is in the call's history and the audit trail."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import ConsultMode
from farcare.notifications.models import Notification
from farcare.scheduling.models import Appointment, AppointmentStatus, SlotStatus
from farcare.scheduling.services import (
    appointment_book,
    appointment_cancel,
    appointment_noshow,
    appointment_reschedule,
    appointment_start,
    slot_publish,
    slot_remove,
)
from farcare.scheduling.workflow import IllegalMove

from ..conftest import make_user
from ..consults.conftest import consultant
from .conftest import MONDAY, NOW, live_consultation, publish_mornings


def book(live, slot=None):
    return appointment_book(
        accessor=Accessor(live.feldsher), consultation=live.consultation, slot=slot or live.slots[0]
    )


def test_weekday_mornings_in_seoul_become_thirty_minute_slots_stored_in_utc(live):
    assert len(live.slots) == 5 * 6
    first = live.slots[0]
    # Monday 09:00 in Seoul (UTC+9) is Monday 00:00 UTC, and 12:00 in Anadyr (UTC+12).
    assert first.starts_at == datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    assert first.ends_at - first.starts_at == timedelta(minutes=30)
    assert first.zone == "Asia/Seoul"
    assert max(s.ends_at for s in live.slots) == datetime(2026, 3, 6, 3, 0, tzinfo=UTC)
    # Publishing the same week again adds nothing.
    assert publish_mornings(live.consultant) == []


def test_a_single_slot_is_published_and_a_free_one_removed(live):
    slot = slot_publish(
        accessor=Accessor(live.consultant),
        consultant=live.consultant,
        day=MONDAY,
        start=datetime(2026, 1, 1, 15, 0).time(),
        minutes=60,
        zone="Asia/Seoul",
    )
    assert slot.starts_at == datetime(2026, 3, 2, 6, 0, tzinfo=UTC)
    with pytest.raises(ValidationError):  # overlaps the 09:30 slot
        slot_publish(
            accessor=Accessor(live.consultant),
            consultant=live.consultant,
            day=MONDAY,
            start=datetime(2026, 1, 1, 9, 45).time(),
            minutes=30,
            zone="Asia/Seoul",
        )
    removed = slot_remove(accessor=Accessor(live.consultant), slot=slot)
    assert removed.status == SlotStatus.BLOCKED


def test_only_the_consultant_or_a_coordinator_of_their_region_publishes_their_times(live):
    scene = live.scene
    with pytest.raises(PermissionDenied):
        publish_mornings_as(scene.feldsher, live.consultant)
    with pytest.raises(PermissionDenied):  # the Korean partner is not in Chukotka
        publish_mornings_as(scene.coordinator, live.consultant)
    made = publish_mornings_as(scene.coordinator, hub_colleague(live))
    assert len(made) == 30


def hub_colleague(live):
    """A cardiologist at the Anadyr hub (the scene's own is away)."""
    return consultant(live.scene.chain.hub, live.scene.cardiology, username="hub_cardio_2")


def publish_mornings_as(user, consultant):
    from farcare.scheduling.services import Weekly, slots_publish_weekly

    return slots_publish_weekly(
        accessor=Accessor(user),
        consultant=consultant,
        pattern=Weekly(
            frozenset({0}),
            datetime(2026, 1, 1, 9).time(),
            datetime(2026, 1, 1, 12).time(),
            30,
            MONDAY,
            5,
            "Asia/Anadyr",
        ),
    )


def test_the_feldsher_books_a_slot_and_the_consultant_is_told_in_their_zone(live):
    appointment = book(live)
    assert appointment.status == AppointmentStatus.BOOKED
    assert appointment.consultant == live.consultant
    live.slots[0].refresh_from_db()
    assert live.slots[0].status == SlotStatus.BOOKED
    assert [e.event for e in appointment.events.all()] == ["book"]
    assert AuditEvent.objects.filter(
        action="create", patient_uuid=live.scene.patient.uuid, actor_uuid=live.feldsher.uuid
    ).exists()
    told = Notification.objects.get(recipient=live.consultant, event="appointment.booked")
    assert "Asia/Seoul" in told.texts["en"][1] and "Asia/Seoul" in told.texts["ko"][1]
    for language in ("ru", "ko", "en"):
        subject, body = told.texts[language]
        assert "Тынетегин" not in subject + body and "Семён" not in subject + body
    assert told.texts["ru"][1] != told.texts["en"][1]


def test_a_booked_slot_cannot_be_booked_again_nor_removed(live):
    book(live)
    other = live_consultation_for_second_patient(live)
    with pytest.raises(ValidationError, match="just taken"):
        appointment_book(accessor=Accessor(live.feldsher), consultation=other, slot=live.slots[0])
    with pytest.raises(ValidationError):
        slot_remove(accessor=Accessor(live.consultant), slot=live.slots[0])


def live_consultation_for_second_patient(live):
    return live_consultation(live.scene)


def test_the_database_itself_refuses_a_second_booking_of_one_slot(live):
    first = book(live)
    other = live_consultation_for_second_patient(live)
    with pytest.raises(IntegrityError), transaction.atomic():
        Appointment.objects.create(
            consultation=other,
            slot=first.slot,
            consultant=live.consultant,
            booked_by=live.feldsher,
            starts_at=first.starts_at,
            ends_at=first.ends_at,
        )


def test_only_the_requesting_side_of_a_live_consultation_books(live):
    scene = live.scene
    stranger = make_user(Role.CLINICIAN, scene.chain.other_region_post)
    with pytest.raises(PermissionDenied):
        appointment_book(
            accessor=Accessor(stranger), consultation=live.consultation, slot=live.slots[0]
        )
    assert AuditEvent.objects.filter(
        action="denied", patient_uuid=scene.patient.uuid, actor_uuid=stranger.uuid
    ).exists()
    with pytest.raises(PermissionDenied):
        appointment_book(
            accessor=Accessor(live.consultant), consultation=live.consultation, slot=live.slots[0]
        )
    deferred = live_consultation(scene, mode=ConsultMode.DEFERRED)
    with pytest.raises(PermissionDenied, match="real-time"):
        appointment_book(
            accessor=Accessor(scene.feldsher), consultation=deferred, slot=live.slots[0]
        )


def test_a_slot_of_a_consultant_not_on_the_case_is_refused(live):
    hub_slots = publish_mornings_as(live.scene.coordinator, hub_colleague(live))
    with pytest.raises(ValidationError, match="does not take"):
        book(live, hub_slots[0])


def test_a_reschedule_keeps_the_old_call_and_frees_its_slot(live):
    first = book(live)
    moved = appointment_reschedule(
        accessor=Accessor(live.feldsher),
        appointment=first,
        slot=live.slots[3],
        reason="The generator at the post is down until noon",
    )
    first.refresh_from_db()
    assert first.status == AppointmentStatus.RESCHEDULED
    assert moved.replaces == first and moved.status == AppointmentStatus.BOOKED
    live.slots[0].refresh_from_db()
    assert live.slots[0].status == SlotStatus.FREE
    assert [e.event for e in first.events.all()] == ["book", "reschedule"]
    assert Notification.objects.filter(
        recipient=live.consultant, event="appointment.rescheduled"
    ).exists()


def test_a_cancellation_needs_a_reason_that_does_not_name_the_patient(live):
    appointment = book(live)
    with pytest.raises(ValidationError):
        appointment_cancel(accessor=Accessor(live.feldsher), appointment=appointment, reason="")
    with pytest.raises(ValidationError, match="names the patient"):
        appointment_cancel(
            accessor=Accessor(live.feldsher),
            appointment=appointment,
            reason="Тынетегин was flown to Anadyr",
        )
    cancelled = appointment_cancel(
        accessor=Accessor(live.consultant), appointment=appointment, reason="Called to theatre"
    )
    assert cancelled.status == AppointmentStatus.CANCELLED
    assert cancelled.reason == "Called to theatre"
    live.slots[0].refresh_from_db()
    assert live.slots[0].status == SlotStatus.FREE
    assert Notification.objects.filter(
        recipient=live.feldsher, event="appointment.cancelled"
    ).exists()


def test_a_no_show_is_recorded_by_the_other_side_once_the_time_has_come(live, clock):
    appointment = book(live)
    with pytest.raises(IllegalMove):
        appointment_noshow(
            accessor=Accessor(live.consultant), appointment=appointment, party="requester"
        )
    clock.move_to(live.slots[0].starts_at + timedelta(minutes=10))
    with pytest.raises(ValidationError, match="own absence"):
        appointment_noshow(
            accessor=Accessor(live.consultant), appointment=appointment, party="consultant"
        )
    recorded = appointment_noshow(
        accessor=Accessor(live.consultant), appointment=appointment, party="requester"
    )
    assert recorded.status == AppointmentStatus.NOSHOW
    assert recorded.noshow_party == "requester"
    event = recorded.events.last()
    assert event is not None and event.actor == live.consultant and event.event == "noshow"


def test_a_call_starts_at_most_fifteen_minutes_early(live, clock):
    appointment = book(live)
    with pytest.raises(IllegalMove):
        appointment_start(accessor=Accessor(live.feldsher), appointment=appointment)
    clock.move_to(appointment.starts_at - timedelta(minutes=10))
    started = appointment_start(accessor=Accessor(live.feldsher), appointment=appointment)
    assert started.status == AppointmentStatus.ARRIVED


def test_the_clock_is_where_the_fixture_put_it(live):
    from django.utils import timezone

    assert timezone.now() == NOW
