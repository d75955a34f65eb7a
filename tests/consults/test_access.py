"""Consultants see a patient only through a consultation assigned to them; from abroad, only
the pseudonymised case."""

from farcare.access.policy import Action, decide, decide_consult
from farcare.audit.services import Accessor
from farcare.consults.services import consult_decline


def test_the_assigned_consultant_sees_the_patient_until_released(scene):
    assert not decide(scene.hub_cardiologist, Action.VIEW, scene.patient)
    consultation = scene.submit()
    assert decide(scene.hub_cardiologist, Action.VIEW, scene.patient)
    assert not decide(scene.federal_cardiologist, Action.VIEW, scene.patient)
    consult_decline(
        accessor=Accessor(scene.hub_cardiologist), consultation=consultation, reason="on leave"
    )
    assert not decide(scene.hub_cardiologist, Action.VIEW, scene.patient)
    assert decide(scene.federal_cardiologist, Action.VIEW, scene.patient)


def test_a_consultant_abroad_sees_only_the_pseudonymised_case(scene):
    scene.only_the_korean_partner_answers()
    consultation = scene.submit()
    view = decide_consult(scene.partner_cardiologist, consultation)
    assert view.allowed
    assert view.pseudonymised
    assert not decide(scene.partner_cardiologist, Action.VIEW, scene.patient)
    assert decide_consult(scene.feldsher, consultation).pseudonymised is False
