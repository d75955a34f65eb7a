"""The one state machine of a transfer: a step out of order is refused with a message the user
reads in their language, a step that is another side's is refused on the audit trail, a form
opened before someone else's change is refused as stale, and a hold returns to where it was."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import PermissionDenied
from django.utils import translation

from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.evacuation.models import TransferStatus
from farcare.evacuation.services import transfer_move
from farcare.evacuation.workflow import (
    MOVES,
    IllegalMove,
    Side,
    StaleVersion,
    allowed_moves,
    find_move,
)

from .world import World, world  # noqa: F401

NOW = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)


def test_every_move_has_a_label_and_a_side():
    assert all(move.sides and str(move.label) for move in MOVES)
    # Finals have no way out.
    for final in ("handed_over", "cancelled", "treated_locally", "died"):
        assert not [m for m in MOVES if m.source == final]


def test_only_the_receiving_hospital_hands_over_and_only_dispatch_assigns():
    assert find_move("arrived", "hand_over").sides == {Side.RECEIVER}
    assert find_move("accepted", "assign").sides == {Side.COORDINATOR}
    assert find_move("requested", "dispatch") is None


@pytest.mark.django_db
def test_dispatch_before_a_bed_is_refused_with_a_message_in_russian(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        with translation.override("ru"), pytest.raises(IllegalMove) as refused:
            transfer_move(accessor=Accessor(world.coordinator), transfer=transfer, event="dispatch")
    assert "нельзя" in refused.value.messages[0]  # "…cannot be changed that way"
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED
    assert transfer.events.count() == 1


@pytest.mark.django_db
def test_the_feldsher_cannot_confirm_the_bed_and_the_refusal_is_audited(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        with pytest.raises(PermissionDenied):
            transfer_move(
                accessor=Accessor(world.feldsher), transfer=transfer, event="accept", bed_note="x"
            )
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, patient_uuid=world.patient.uuid
    ).exists()
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.REQUESTED


@pytest.mark.django_db
def test_an_unknown_step_is_refused(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        with pytest.raises(IllegalMove):
            transfer_move(accessor=Accessor(world.coordinator), transfer=transfer, event="fly")


@pytest.mark.django_db
def test_a_form_opened_before_another_change_is_refused_as_stale(world: World):  # noqa: F811
    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        seen = transfer.version
        transfer_move(
            accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept", bed_note="ICU 3"
        )
        with pytest.raises(StaleVersion):
            transfer_move(
                accessor=Accessor(world.coordinator),
                transfer=transfer,
                event="cancel",
                expected_version=seen,
            )
    transfer.refresh_from_db()
    assert transfer.status == TransferStatus.ACCEPTED


@pytest.mark.django_db
def test_a_hold_returns_to_the_state_it_interrupted(world: World):  # noqa: F811
    coordinator = Accessor(world.coordinator)
    with time_machine.travel(NOW, tick=False) as clock:
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        transfer_move(accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept")
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="assign", aircraft=world.mi8
        )
        transfer = transfer_move(
            accessor=coordinator, transfer=transfer, event="hold", reason="Fog at Uelen"
        )
        assert transfer.status == TransferStatus.HELD
        assert transfer.held_from == TransferStatus.TRANSPORT_ASSIGNED
        assert [m.event for m in allowed_moves(transfer, {Side.COORDINATOR})] == [
            "resume",
            "cancel",
            "treat_locally",
            "died",
        ]
        clock.shift(timedelta(hours=2))
        transfer = transfer_move(accessor=coordinator, transfer=transfer, event="resume")
    assert transfer.status == TransferStatus.TRANSPORT_ASSIGNED
    assert transfer.held_seconds == 2 * 3600
    assert transfer.held_from == ""


@pytest.mark.django_db
def test_a_hold_needs_a_reason(world: World):  # noqa: F811
    from django.core.exceptions import ValidationError

    with time_machine.travel(NOW, tick=False):
        transfer = world.open(first_contact_at=NOW - timedelta(minutes=20))
        transfer_move(accessor=Accessor(world.hub_doctor), transfer=transfer, event="accept")
        with pytest.raises(ValidationError) as refused:
            transfer_move(
                accessor=Accessor(world.coordinator), transfer=transfer, event="hold", reason=" "
            )
    assert "reason" in refused.value.message_dict
