"""The routing table, duty hours in the consultant's own zone, language, load, and consent to
transfer abroad decide who answers."""

from datetime import UTC, datetime, time

import pytest
import time_machine

from farcare.audit.services import Accessor
from farcare.consults.models import Status
from farcare.consults.services import consult_accept, consult_decline, consult_reassign
from farcare.patients.models import Consent, ConsentKind

from .conftest import consultant


def active(consultation):
    return [a.consultant.username for a in consultation.assignments.filter(ended_at__isnull=True)]


def test_the_lightest_loaded_consultant_on_duty_gets_it(scene):
    colleague = consultant(scene.chain.hub, scene.cardiology, username="hub_cardio_2")
    first = scene.submit()
    second = scene.submit()
    assert {active(first)[0], active(second)[0]} == {"hub_cardio", colleague.username}


def test_a_consultant_must_speak_the_requests_language(scene):
    consultation = scene.submit(language="en")
    # the hub cardiologist speaks only Russian; the federal centre's speaks English
    assert active(consultation) == ["fed_cardio"]


def test_duty_hours_are_read_in_the_consultants_own_zone(scene):
    day_only = consultant(
        scene.chain.hub, scene.cardiology, hours=(time(9), time(18)), username="hub_day"
    )
    scene.hub_cardiologist.is_active = False
    scene.hub_cardiologist.save()
    # 01:00 UTC is 13:00 in Anadyr: the day consultant is at work
    with time_machine.travel(datetime(2026, 11, 25, 1, 0, tzinfo=UTC), tick=False):
        assert active(scene.submit()) == [day_only.username]
    # 15:00 UTC is 03:00 in Anadyr, but 18:00 in Moscow: the federal centre answers
    with time_machine.travel(datetime(2026, 11, 25, 15, 0, tzinfo=UTC), tick=False):
        assert active(scene.submit()) == ["fed_cardio"]


def test_a_korean_partner_only_with_the_consent_to_transfer_abroad(scene):
    for user in (scene.hub_cardiologist, scene.federal_cardiologist):
        user.is_active = False
        user.save()
    without = scene.submit()
    assert active(without) == []
    assert without.routed_facility == scene.chain.hub
    Consent.objects.create(
        patient=scene.patient,
        kind=ConsentKind.TRANSFER_ABROAD,
        scope="pseudonymised case to Korea",
        recorded_by=scene.feldsher,
    )
    with_consent = scene.submit()
    assert active(with_consent) == ["kr_cardio"]


def test_a_declined_request_moves_on(scene):
    consultation = scene.submit()
    consult_decline(
        accessor=Accessor(scene.hub_cardiologist),
        consultation=consultation,
        reason="In theatre for the next four hours",
    )
    consultation.refresh_from_db()
    assert active(consultation) == ["fed_cardio"]
    assert consultation.status == Status.REQUESTED
    events = list(consultation.transitions.values_list("event", flat=True))
    assert "declined" in events


def test_the_coordinator_reassigns(scene):
    consultation = scene.submit()
    consult_reassign(
        accessor=Accessor(scene.coordinator),
        consultation=consultation,
        consultant=scene.federal_cardiologist,
        reason="hub cardiologist on leave",
    )
    consultation.refresh_from_db()
    assert active(consultation) == ["fed_cardio"]
    accepted = consult_accept(
        accessor=Accessor(scene.federal_cardiologist), consultation=consultation
    )
    assert accepted.status == Status.ACCEPTED


def test_a_consultant_of_the_routed_facility_may_claim_it_and_only_one_wins(scene):
    colleague = consultant(scene.chain.hub, scene.cardiology, username="hub_cardio_2")
    consultation = scene.submit()
    assigned_to = active(consultation)[0]
    other = colleague if assigned_to == "hub_cardio" else scene.hub_cardiologist
    consult_accept(accessor=Accessor(other), consultation=consultation)
    from farcare.consults.workflow import IllegalTransition

    first = scene.hub_cardiologist if other == colleague else colleague
    with pytest.raises(IllegalTransition, match="accepted or closed already"):
        consult_accept(accessor=Accessor(first), consultation=consultation)
    assert active(consultation) == [other.username]


def test_a_consilium_gathers_two_consultants(scene):
    consultation = scene.submit(mode="consilium", consilium_size=2)
    team = consultation.assignments.filter(ended_at__isnull=True).order_by("role")
    assert [a.role for a in team] == ["member", "primary"]
    assert {a.consultant.username for a in team} == {"hub_cardio", "fed_cardio"}
    assert consultation.transitions.filter(event="routed").exists()
