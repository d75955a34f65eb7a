"""What analytics makes of one request: its deadline kept or missed, its escalations and
re-routings, read from the timeline the consultation services write, and never the patient."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.analytics.facts import (
    Event,
    Timeline,
    consult_facts,
    consult_sources,
    month_of,
    reroute_count,
    slowest_acknowledgement,
    timeline,
)
from farcare.analytics.models import Outcome
from farcare.audit.services import Accessor
from farcare.consults.deadlines import watch_deadlines
from farcare.consults.models import (
    Assignment,
    AssignmentRole,
    Consultation,
    EvacuationAdvice,
    RoutingRule,
)
from farcare.consults.services import (
    ConclusionData,
    RequestData,
    conclusion_sign,
    consult_accept,
    consult_decline,
    consult_submit,
)
from farcare.network.models import FacilityKind
from farcare.patients.models import Consent, ConsentKind

from ..conftest import make_user
from ..consults.conftest import consultant
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory

T0 = datetime(2026, 3, 10, 8, 0, tzinfo=UTC)
DEADLINE = T0 + timedelta(hours=2)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def events(*pairs: tuple[str, int]) -> list[Event]:
    return [Event(name, at(minutes)) for name, minutes in pairs]


# --- the timeline, pure ----------------------------------------------------------------------


def judge(outcome: str, *, concluded: int | None = None, timeline_events=(), paused=False, now=300):
    return timeline(
        events(*timeline_events),
        outcome=outcome,
        concluded_at=at(concluded) if concluded is not None else None,
        deadline_at=DEADLINE,
        paused=paused,
        now=at(now),
    ).deadline_met


def test_an_answer_signed_by_the_deadline_keeps_it_and_one_after_it_misses_it():
    assert judge(Outcome.ANSWERED, concluded=120) is True
    assert judge(Outcome.ANSWERED, concluded=121) is False


def test_a_breach_misses_the_deadline_even_when_the_next_consultant_answers_in_their_own_time():
    assert judge(Outcome.ANSWERED, concluded=60, timeline_events=[("breached", 50)]) is False


def test_a_failed_request_misses_and_an_open_one_is_judged_only_once_its_deadline_passed():
    assert judge(Outcome.FAILED) is False
    assert judge(Outcome.OPEN, now=119) is None
    assert judge(Outcome.OPEN, now=121) is False
    # On hold, an urgent clock stands still: the deadline moves on when the request resumes.
    assert judge(Outcome.OPEN, now=121, paused=True) is None
    # Declined and cancelled requests were never the consultant's to answer in time.
    assert judge(Outcome.REJECTED) is None
    assert judge(Outcome.CANCELLED, timeline_events=[("breached", 121)]) is None


def test_escalation_is_a_half_deadline_alert_or_a_breach():
    assert timeline(
        events(("half_deadline", 60)),
        outcome=Outcome.ANSWERED,
        concluded_at=at(90),
        deadline_at=DEADLINE,
        paused=False,
        now=at(300),
    ) == Timeline(deadline_met=True, escalated=True, reroutes=0)


@pytest.mark.parametrize(
    ("steps", "reroutes"),
    [
        # The watcher sends an unaccepted request up the table with a fresh clock.
        ((("breached", 120), ("routed", 120)), 1),
        # Up the table, but nobody there is on duty: it moved to the next facility all the same.
        ((("breached", 120), ("unassigned", 120)), 1),
        # Nowhere left to go: the request fails, no re-routing.
        ((("breached", 120),), 0),
        # A late request the consultant had accepted stays with them.
        ((("half_deadline", 60), ("breached", 120), ("message", 130)), 0),
        # Declined and taken by another consultant; declined and nobody else free.
        ((("declined", 10), ("routed", 10)), 1),
        ((("declined", 10), ("unassigned", 10)), 0),
        # The coordinator hands it to someone else, twice.
        ((("reassigned", 30), ("reassigned", 40)), 2),
        # The first routing of a request is no re-routing.
        ((("routed", 0),), 0),
    ],
)
def test_rerouting_is_read_from_the_timeline(steps, reroutes):
    assert reroute_count(events(*steps)) == reroutes


def test_the_month_is_the_calendar_month_in_utc():
    # Half past eleven at night in UTC is already April 1st in Anadyr: still March.
    assert month_of(datetime(2026, 3, 31, 23, 30, tzinfo=UTC)) == date(2026, 3, 1)
    anadyr = timezone.get_fixed_timezone(12 * 60)
    assert month_of(datetime(2026, 4, 1, 5, 0, tzinfo=anadyr)) == date(2026, 3, 1)


def test_the_slowest_acknowledgement_is_known_only_once_every_alert_is_acknowledged():
    assert slowest_acknowledgement([(at(0), at(12)), (at(5), at(40))]) == 35
    assert slowest_acknowledgement([(at(0), at(12)), (at(5), None)]) is None
    assert slowest_acknowledgement([]) is None


# --- through the consultation services -------------------------------------------------------


@pytest.fixture
def network(chain):
    cardiology = SpecialtyFactory(code="cardiology")
    partner = FacilityFactory(
        kind=FacilityKind.PARTNER_ABROAD,
        region="Korea",
        country="KR",
        time_zone="Asia/Seoul",
        settlement__country="KR",
    )
    for rank, facility in enumerate((chain.hub, chain.federal, partner), start=1):
        RoutingRule.objects.create(
            region="Chukotka", specialty=cardiology, facility=facility, rank=rank
        )
    feldsher = make_user(Role.CLINICIAN, chain.post)
    patient = PatientFactory(home_facility=chain.post)
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=feldsher
    )
    return {
        "chain": chain,
        "cardiology": cardiology,
        "partner": partner,
        "feldsher": feldsher,
        "patient": patient,
        "hub": consultant(chain.hub, cardiology),
        "federal": consultant(chain.federal, cardiology),
        "korean": consultant(partner, cardiology),
    }


def submit(network) -> Consultation:
    return consult_submit(
        accessor=Accessor(network["feldsher"], "127.0.0.1"),
        patient=network["patient"],
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=network["cardiology"],
            form="emergency",
            question="Chest pain for two hours. Thrombolysis or evacuation?",
            summary="Male, 65, crushing chest pain.",
            vitals={},
        ),
    )


def fact_of(consultation: Consultation, now: datetime):
    (row,) = consult_facts(
        [r for r in consult_sources(None) if r["pk"] == consultation.pk], now=now
    ).values()
    return row


def sign_now(network, consultation, user) -> None:
    conclusion_sign(
        accessor=Accessor(user, "127.0.0.1"),
        consultation=consultation,
        data=ConclusionData(
            findings="ST elevation in V1–V4.",
            diagnoses=["i21.0"],
            recommendations="Aspirin, heparin; prepare for the flight.",
            evacuation=EvacuationAdvice.NONE,
            evacuation_destination=None,
            follow_up="",
        ),
    )


def test_a_request_nobody_accepted_in_time_is_escalated_rerouted_and_late(network):
    with time_machine.travel(T0, tick=False):
        consultation = submit(network)
    for minutes in (61, 121):
        with time_machine.travel(at(minutes), tick=False):
            watch_deadlines()
    with time_machine.travel(at(150), tick=False):
        consult_accept(accessor=Accessor(network["federal"]), consultation=consultation)
    with time_machine.travel(at(170), tick=False):
        sign_now(network, consultation, network["federal"])

    fact = fact_of(consultation, now=at(24 * 60))

    assert fact["escalated"] is True
    assert fact["reroutes"] == 1
    # Answered within the federal centre's fresh clock, but the patient waited past the first.
    assert fact["deadline_met"] is False
    assert (fact["outcome"], fact["minutes_to_conclusion"]) == (Outcome.ANSWERED, 170)
    assert fact["month"] == date(2026, 3, 1)
    assert fact["settlement_id"] == network["patient"].home_settlement_id
    assert fact["facility_id"] == network["chain"].post.pk
    assert fact["cross_border"] is False
    # A fact holds the case's place and times; nothing of the patient beyond where they live.
    assert not {"patient_id", "patient", "requester_id"} & set(fact)


def test_a_declined_request_taken_by_the_next_consultant_is_rerouted_not_escalated(network):
    with time_machine.travel(T0, tick=False):
        consultation = submit(network)
        consult_decline(
            accessor=Accessor(network["hub"]), consultation=consultation, reason="In theatre"
        )
        consult_accept(accessor=Accessor(network["federal"]), consultation=consultation)
    with time_machine.travel(at(45), tick=False):
        sign_now(network, consultation, network["federal"])

    fact = fact_of(consultation, now=at(24 * 60))

    assert (fact["reroutes"], fact["escalated"], fact["deadline_met"]) == (1, False, True)


def test_a_consilium_member_abroad_makes_the_request_cross_border_with_that_partner(network):
    with time_machine.travel(T0, tick=False):
        consultation = submit(network)
        Assignment.objects.create(
            consultation=consultation,
            consultant=network["korean"],
            facility=network["partner"],
            role=AssignmentRole.MEMBER,
        )

    fact = fact_of(consultation, now=at(30))

    assert (fact["cross_border"], fact["partner_id"]) == (True, network["partner"].pk)
    assert (fact["outcome"], fact["deadline_met"]) == (Outcome.OPEN, None)


def test_a_draft_is_not_counted(network):
    draft = Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=network["patient"],
        requester=network["feldsher"],
        requesting_facility=network["chain"].post,
        specialty=network["cardiology"],
        form="planned",
        question="Not sent yet",
    )

    assert fact_of(draft, now=at(0)) is None
