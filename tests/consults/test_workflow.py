"""One state machine decides every change of a consultation's status."""

import pytest

from farcare.consults.models import Status
from farcare.consults.workflow import MOVES, IllegalTransition, Side, StaleVersion, apply


def test_the_sides_follow_fhir_task_ownership():
    requester_targets = {m.target for m in MOVES if Side.REQUESTER in m.sides}
    consultant_targets = {m.target for m in MOVES if Side.CONSULTANT in m.sides}
    assert Status.ACCEPTED not in requester_targets
    assert Status.COMPLETED not in requester_targets
    assert {Status.REQUESTED, Status.ENTERED_IN_ERROR} <= requester_targets
    assert {
        Status.ACCEPTED,
        Status.REJECTED,
        Status.IN_PROGRESS,
        Status.ON_HOLD,
        Status.FAILED,
        Status.COMPLETED,
    } <= consultant_targets
    assert Status.REQUESTED not in consultant_targets
    # either side may cancel
    assert Status.CANCELLED in requester_targets & consultant_targets


def test_an_illegal_move_is_refused_with_a_clear_message(scene):
    consultation = scene.submit()
    with pytest.raises(IllegalTransition, match="cannot become completed"):
        apply(consultation, Status.COMPLETED, side=Side.CONSULTANT, actor=None)
    with pytest.raises(IllegalTransition, match="requester cannot"):
        apply(consultation, Status.ACCEPTED, side=Side.REQUESTER, actor=None)
    consultation.refresh_from_db()
    assert consultation.status == Status.REQUESTED


def test_a_stale_form_is_refused(scene):
    consultation = scene.submit()
    old_version = consultation.version
    apply(consultation, Status.ACCEPTED, side=Side.CONSULTANT, actor=scene.hub_cardiologist)
    with pytest.raises(StaleVersion):
        apply(
            consultation,
            Status.CANCELLED,
            side=Side.REQUESTER,
            actor=scene.feldsher,
            expected_version=old_version,
        )
    consultation.refresh_from_db()
    assert consultation.status == Status.ACCEPTED
