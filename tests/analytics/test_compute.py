"""The nightly computation of the ministries' indicators, told as what an analyst reads the next
morning: figures per settlement, facility and region, with small counts hidden, and a night
with nothing new that writes nothing."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from farcare.accounts.models import Role, User
from farcare.analytics.compute import refresh
from farcare.analytics.management.commands.analytics import next_run
from farcare.analytics.models import IndicatorCell
from farcare.analytics.tasks import refresh_analytics
from farcare.consults.models import Conclusion, Consultation, Status, Transition
from farcare.diagnostics.models import (
    CriticalAlert,
    DiagnosticOrder,
    DiagnosticReport,
    ResultObservation,
)
from farcare.evacuation.models import Transfer, TransferCondition, TransferStatus
from farcare.network.models import Facility, FacilityKind, Specialty
from farcare.patients.models import Patient
from farcare.signatures.services import sign_document
from farcare.training.models import Attendance, Programme, Session

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory

MARCH = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
APRIL = datetime(2026, 4, 6, 9, 0, tzinfo=UTC)
NOW = datetime(2026, 5, 1, 6, 0, tzinfo=UTC)
EMERGENCY_DEADLINE = timedelta(hours=2)


@dataclass
class World:
    chain: Chain
    cardiology: Specialty
    feldsher: User
    cardiologist: User
    partner: Facility


@pytest.fixture
def world(chain: Chain) -> World:
    return World(
        chain=chain,
        cardiology=SpecialtyFactory(code="cardiology"),
        feldsher=make_user(Role.CLINICIAN, chain.post),
        cardiologist=make_user(Role.CONSULTANT, chain.hub),
        partner=FacilityFactory(
            kind=FacilityKind.PARTNER_ABROAD,
            region="Korea",
            country="KR",
            time_zone="Asia/Seoul",
            settlement__country="KR",
        ),
    )


def sign(world: World, consultation: Consultation, when: datetime) -> None:
    """The consultant signs the conclusion at `when`, as `conclusion_sign` records it."""
    conclusion_uuid = uuid.uuid4()
    signature = sign_document(
        signer_user=world.cardiologist,
        document_type="conclusion",
        document_id=str(conclusion_uuid),
        document={"findings": "ST elevation"},
    )
    Conclusion.objects.create(
        uuid=conclusion_uuid,
        consultation=consultation,
        author=world.cardiologist,
        findings="ST elevation",
        diagnoses=["I21.0"],
        recommendations="Aspirin",
        evacuation="none",
        signed_at=when,
        signature=signature,
    )
    Transition.objects.create(
        consultation=consultation,
        from_status=consultation.status,
        to_status=Status.COMPLETED,
        event="complete",
        at=when,
    )
    consultation.status = Status.COMPLETED
    consultation.save()


def ask(
    world: World,
    *,
    at: datetime = MARCH,
    facility: Facility | None = None,
    patient: Patient | None = None,
    form: str = "emergency",
    answered_after: int | None = None,
    deadline: timedelta = EMERGENCY_DEADLINE,
    routed: Facility | None = None,
    status: str = Status.REQUESTED,
) -> Consultation:
    """A request sent from `facility` (the feldsher post) for a patient living there, routed to
    the hub, and answered `answered_after` minutes later if given."""
    facility = facility or world.chain.post
    consultation = Consultation.objects.create(
        client_token=uuid.uuid4(),
        patient=patient or PatientFactory(home_facility=facility),
        requester=world.feldsher,
        requesting_facility=facility,
        specialty=world.cardiology,
        form=form,
        question="Chest pain for two hours",
        status=status,
        received_at=at,
        deadline_at=at + deadline,
        routed_facility=routed or world.chain.hub,
    )
    for event, to_status in (("submit", Status.REQUESTED), ("routed", Status.REQUESTED)):
        Transition.objects.create(
            consultation=consultation,
            from_status=Status.DRAFT if event == "submit" else Status.REQUESTED,
            to_status=to_status,
            event=event,
            at=at,
        )
    if answered_after is not None:
        sign(world, consultation, at + timedelta(minutes=answered_after))
    return consultation


def cell(
    indicator: str,
    dimension: str = "all",
    key: object = "all",
    *,
    month: date = date(2026, 3, 1),
    form: str = "",
    cross_border: bool = False,
) -> IndicatorCell:
    return IndicatorCell.objects.get(
        month=month,
        indicator=indicator,
        dimension=dimension,
        key=str(key),
        form=form,
        cross_border=cross_border,
    )


def settlement_of(facility: Facility) -> str:
    return str(facility.settlement.uuid)


def test_six_emergency_requests_answered_in_30_to_90_minutes_give_their_median_and_p90(world):
    for minutes in (30, 45, 50, 60, 75, 90):
        ask(world, answered_after=minutes)

    refresh(now=NOW)

    uelen = settlement_of(world.chain.post)
    for form in ("", "emergency"):
        median = cell("conclusion_minutes_median", "settlement", uelen, form=form)
        p90 = cell("conclusion_minutes_p90", "settlement", uelen, form=form)
        assert (median.value, median.count, median.suppressed) == (50, 6, False)
        assert (p90.value, p90.count, p90.suppressed) == (90, 6, False)
    # The same six in the requesting post's row, the region's and everyone's.
    assert cell("conclusion_minutes_median", "facility", world.chain.post.uuid).value == 50
    assert cell("conclusion_minutes_median", "region", "Chukotka").value == 50
    assert cell("consultations", "specialty", "cardiology").count == 6
    # No planned request was made: no planned figure to show.
    assert not IndicatorCell.objects.filter(form="planned").exists()


def test_a_request_answered_after_its_deadline_or_still_waiting_past_it_counts_as_missed(world):
    for _ in range(5):
        ask(world, answered_after=40)
    ask(world, answered_after=150)  # the emergency deadline is two hours
    ask(world)  # nobody answered, and the deadline passed long before the night's run
    ask(world, form="planned", deadline=timedelta(days=90))  # open, its deadline still ahead

    refresh(now=NOW)

    share = cell("deadline_met_share", "facility", world.chain.post.uuid)
    assert share.count == 7  # the planned request waiting within its deadline is not judged
    assert share.value == pytest.approx(5 / 7)
    assert not share.suppressed
    assert cell("consultations").count == 8
    assert cell("answered").count == 6


def test_a_breached_request_that_was_rerouted_counts_as_escalated_and_rerouted(world):
    consultation = ask(world)
    at = MARCH + EMERGENCY_DEADLINE
    for event in ("half_deadline", "breached", "routed"):
        Transition.objects.create(
            consultation=consultation,
            from_status=Status.REQUESTED,
            to_status=Status.REQUESTED,
            event=event,
            at=at,
        )
    # The next facility gets a fresh clock, and answers within it: the breach still counts.
    consultation.deadline_at = at + EMERGENCY_DEADLINE
    consultation.save()
    sign(world, consultation, at + timedelta(minutes=50))
    for _ in range(5):
        ask(world, answered_after=30)

    refresh(now=NOW)

    assert cell("escalated").count == 1
    assert cell("rerouted").count == 1
    assert cell("deadline_met_share").value == pytest.approx(5 / 6)
    # One request is one patient: the counts are there for the totals, hidden from every reader.
    assert cell("escalated").suppressed and cell("rerouted").suppressed


def test_a_cross_border_consultation_counts_in_the_partners_cells_and_the_all_cells(world):
    ask(world, routed=world.partner, answered_after=45)
    for _ in range(5):
        ask(world, answered_after=30)

    refresh(now=NOW)

    partner = world.partner.uuid
    assert cell("consultations", "partner", partner, cross_border=True).count == 1
    assert cell("consultations", cross_border=True).count == 1
    assert cell("answered", cross_border=True).count == 1
    assert cell("consultations").count == 6  # everyone's count has it too
    # Partner hospitals are a cross-border table only.
    assert not IndicatorCell.objects.filter(dimension="partner", cross_border=False).exists()
    # The partner sees no rate per resident: residents are the ministries' business.
    assert not IndicatorCell.objects.filter(
        indicator="consultations_per_1000", cross_border=True
    ).exists()
    # The home consultations are not the partner's.
    assert not IndicatorCell.objects.filter(
        cross_border=True, dimension="partner", key=str(world.chain.hub.uuid)
    ).exists()


def test_a_second_refresh_without_changes_writes_nothing_and_a_late_conclusion_only_its_month(
    world,
):
    for _ in range(5):
        ask(world, answered_after=40)
    waiting = ask(world, at=APRIL, form="planned", deadline=timedelta(days=60))

    first = refresh(now=NOW)
    assert first.months == ["2026-03-01", "2026-04-01"]
    assert first.facts_written == 6
    march = {
        row.pk: (row.count, row.value, row.suppressed, row.computed_at)
        for row in IndicatorCell.objects.filter(month=date(2026, 3, 1))
    }

    again = refresh(now=NOW)
    assert (again.facts_written, again.cells_written, again.months) == (0, 0, [])

    sign(world, waiting, APRIL + timedelta(days=2))
    later = refresh(now=NOW + timedelta(days=1))

    assert later.facts_written == 1
    assert later.months == ["2026-04-01"]
    assert later.cells_written > 0
    assert cell("answered", month=date(2026, 4, 1)).count == 1
    assert cell("conclusion_minutes_median", month=date(2026, 4, 1), form="planned").value == (
        2 * 24 * 60
    )
    assert {
        row.pk: (row.count, row.value, row.suppressed, row.computed_at)
        for row in IndicatorCell.objects.filter(month=date(2026, 3, 1))
    } == march


def test_a_request_entered_in_error_is_taken_out_of_its_month(world):
    for _ in range(5):
        ask(world, answered_after=40)
    mistaken = ask(world)
    refresh(now=NOW)
    assert cell("consultations").count == 6

    mistaken.status = Status.ENTERED_IN_ERROR
    mistaken.save()
    run = refresh(now=NOW)

    assert run.facts_written == 1
    assert cell("consultations").count == 5
    assert cell("not_answered").count == 0


def test_a_settlement_with_3_consultations_is_hidden_and_so_is_a_second_one_of_its_region(world):
    chain = world.chain
    for facility, number in ((chain.post, 3), (chain.sibling_post, 6), (chain.district, 7)):
        for _ in range(number):
            ask(world, facility=facility, answered_after=30)

    refresh(now=NOW)

    uelen, lorino, lavrentiya = (
        settlement_of(chain.post),
        settlement_of(chain.sibling_post),
        settlement_of(chain.district),
    )
    hidden = {
        key: cell("consultations", "settlement", key).suppressed
        for key in (uelen, lorino, lavrentiya)
    }
    # Uelen's 3 is small; Lorino (6, the smallest other) goes with it, or Uelen would be the
    # region's 16 minus Lorino's 6 minus Lavrentiya's 7.
    assert hidden == {uelen: True, lorino: True, lavrentiya: False}
    assert not cell("consultations", "region", "Chukotka").suppressed
    # The same in the line of requesting facilities, and in the emergency table.
    assert cell("consultations", "facility", chain.post.uuid).suppressed
    assert cell("consultations", "facility", chain.sibling_post.uuid).suppressed
    # Consultations are counted per form for everyone only, so no table of settlements by form
    # (with both margins) can give a hidden cell away when its lines are solved together.
    assert cell("consultations", form="emergency").count == 16
    per_form = IndicatorCell.objects.filter(indicator="consultations").exclude(form="")
    assert set(per_form.values_list("dimension", flat=True)) == {"all"}
    # Uelen's median is over three requests: hidden; Lorino's over six: shown.
    assert cell("conclusion_minutes_median", "settlement", uelen).suppressed
    assert not cell("conclusion_minutes_median", "settlement", lorino).suppressed


def test_a_rate_per_1000_residents_is_hidden_with_its_count(world):
    chain = world.chain
    for facility, number in ((chain.post, 3), (chain.sibling_post, 6), (chain.district, 7)):
        for _ in range(number):
            ask(world, facility=facility, answered_after=30)

    refresh(now=NOW)

    for facility, rate, hidden in (
        (chain.post, 3.0, True),
        (chain.sibling_post, 6.0, True),
        (chain.district, 7.0, False),
    ):
        cell_ = cell("consultations_per_1000", "settlement", settlement_of(facility))
        assert (cell_.value, cell_.suppressed) == (rate, hidden)
    # Four settlements of 1,000 in Chukotka.
    assert cell("consultations_per_1000", "region", "Chukotka").value == 16 / 4000 * 1000


def test_a_settlement_nobody_asked_from_shows_zero_requests_and_a_zero_rate(world):
    for _ in range(5):
        ask(world, answered_after=30)

    refresh(now=NOW)

    anadyr = settlement_of(world.chain.hub)
    assert cell("consultations", "settlement", anadyr).count == 0
    assert cell("consultations_per_1000", "settlement", anadyr).value == 0
    assert not cell("consultations_per_1000", "settlement", anadyr).suppressed
    assert cell("consultations", "region", "Sakha").count == 0
    assert cell("consultations_per_1000", "region", "Sakha").value == 0
    # Korea's residents are not the ministries' to count.
    assert not IndicatorCell.objects.filter(dimension="region", key="Korea").exists()


def _transfer(world: World, condition: str, status: str, *, arrived_after: timedelta | None):
    contact = MARCH
    return Transfer.objects.create(
        patient=PatientFactory(home_facility=world.chain.post),
        origin=world.chain.post,
        destination=world.chain.hub,
        condition=condition,
        reason="test",
        status=status,
        requested_by=world.feldsher,
        first_contact_at=contact,
        decided_at=contact + timedelta(minutes=30),
        departed_at=contact + timedelta(hours=2),
        arrived_at=contact + arrived_after if arrived_after else None,
        ended_at=contact + arrived_after if status == TransferStatus.HANDED_OVER else None,
    )


def test_evacuations_count_their_hours_to_arrival_against_the_24_hour_target(world):
    _transfer(
        world,
        TransferCondition.STEMI,
        TransferStatus.HANDED_OVER,
        arrived_after=timedelta(hours=20),
    )
    for _ in range(4):
        _transfer(
            world,
            TransferCondition.EMERGENCY,
            TransferStatus.HANDED_OVER,
            arrived_after=timedelta(hours=10),
        )
    # Still in the air at the night's run, days after first contact: the target is missed.
    _transfer(
        world, TransferCondition.ISCHAEMIC_STROKE, TransferStatus.ON_BOARD, arrived_after=None
    )
    _transfer(
        world,
        TransferCondition.PLANNED,
        TransferStatus.HANDED_OVER,
        arrived_after=timedelta(hours=40),
    )
    _transfer(world, TransferCondition.EMERGENCY, TransferStatus.CANCELLED, arrived_after=None)

    refresh(now=NOW)

    uelen = settlement_of(world.chain.post)
    assert cell("transfers", "settlement", uelen).count == 7  # the cancelled one is no evacuation
    within = cell("transfer_within_24h_share", "settlement", uelen)
    assert (within.count, within.value, within.suppressed) == (6, 5 / 6, False)
    median = cell("transfer_minutes_median", "facility", world.chain.post.uuid)
    assert (median.count, median.value) == (6, 10 * 60)


def test_released_results_count_turnaround_and_the_acknowledgement_of_a_critical_value(world):
    for hours in (2, 3, 4, 5, 30):
        order = DiagnosticOrder.objects.create(
            client_token=uuid.uuid4(),
            patient=PatientFactory(home_facility=world.chain.post),
            orderer=world.feldsher,
            ordering_facility=world.chain.post,
            category="laboratory",
            reason="chest pain",
            placer_number=f"P-{uuid.uuid4().hex[:10]}",
            placed_at=MARCH,
        )
        report = DiagnosticReport.objects.create(
            patient=order.patient,
            order=order,
            category="laboratory",
            code="10839-9",
            display="Troponin I",
            status="final",
            source="page",
            issued_at=MARCH + timedelta(hours=hours),
            released_at=MARCH + timedelta(hours=hours),
        )
        value = ResultObservation.objects.create(
            report=report,
            patient=order.patient,
            code="10839-9",
            display="Troponin I",
            value_type="NM",
            value_number=5,
            status="final",
            effective_at=MARCH,
            issued_at=report.issued_at,
        )
        CriticalAlert.objects.create(
            observation=value,
            patient=order.patient,
            raised_at=report.released_at,
            ack_deadline=report.released_at + timedelta(minutes=30),
            acknowledged_at=report.released_at + timedelta(minutes=hours * 5),
        )

    refresh(now=NOW)

    assert cell("results", "facility", world.chain.post.uuid).count == 5
    assert cell("result_minutes_median").value == 4 * 60
    assert cell("result_minutes_p90").value == 30 * 60
    assert cell("critical_ack_minutes_median").value == 4 * 5


def test_training_coverage_of_a_facility_is_hidden_with_a_small_count_of_trained_staff(world):
    chain = world.chain
    programme = Programme.objects.create(title="Acute coronary syndrome", owner=world.cardiologist)
    session = Session.objects.create(
        programme=programme, number=1, title="ECG", starts_at=MARCH + timedelta(days=3)
    )
    for facility, staff, attended in (
        (chain.post, 6, 6),
        (chain.district, 5, 1),
        (chain.sibling_post, 5, 5),
    ):
        for number in range(staff):
            user = make_user(Role.CLINICIAN, facility)
            if number < attended:
                Attendance.objects.create(
                    session=session,
                    learner=user,
                    how="online",
                    joined_at=session.starts_at,
                    minutes=80,
                )

    refresh(now=NOW)

    post = cell("trained_staff", "facility", chain.post.uuid)
    coverage = cell("training_coverage_share", "facility", chain.post.uuid)
    # The post's feldsher (of World) is on its staff too and did not attend.
    assert (post.count, post.suppressed) == (6, False)
    assert (coverage.count, coverage.value, coverage.suppressed) == (7, 6 / 7, False)
    # One trained of five: the count is hidden, and the share, which would give it back.
    assert cell("trained_staff", "facility", chain.district.uuid).suppressed
    assert cell("training_coverage_share", "facility", chain.district.uuid).suppressed
    # The smallest other facility of the region goes with it.
    assert cell("trained_staff", "facility", chain.sibling_post.uuid).suppressed
    assert cell("trained_staff", "region", "Chukotka").count == 12


def test_the_command_computes_and_says_what_it_did(world):
    for _ in range(5):
        ask(world, answered_after=30)
    out = StringIO()

    call_command("analytics", "compute", "--now", "2026-05-01T06:00:00+00:00", stdout=out)
    call_command("analytics", "compute", stdout=out)

    first, second = out.getvalue().splitlines()
    assert "full computation" in first and "5 facts" in first and "2026-03" in first
    assert "changes since" in second and "0 facts and 0 cells" in second
    with pytest.raises(CommandError, match="zone"):
        call_command("analytics", "compute", "--now", "2026-05-01T06:00:00")


def test_the_loop_computes_at_the_configured_hour_every_day():
    at_two = datetime(2026, 5, 1, 2, 0, tzinfo=UTC)
    assert next_run(datetime(2026, 5, 1, 1, 15, tzinfo=UTC), 2) == at_two
    assert next_run(at_two, 2) == at_two + timedelta(days=1)
    assert next_run(datetime(2026, 5, 1, 23, 0, tzinfo=UTC), 2) == at_two + timedelta(days=1)


def test_the_background_task_refreshes_the_indicators(world):
    for _ in range(5):
        ask(world, answered_after=30)

    result = refresh_analytics.enqueue()

    assert result.return_value is not None
    assert result.return_value["facts_written"] == 5
    assert cell("consultations").count == 5


def test_a_second_computation_while_one_runs_is_refused_and_a_dead_one_is_taken_over(db):
    """The nightly loop and a task started by hand never write the same cells at once: the
    second is told another is running; a run left unfinished by a dead process for hours does
    not block the night for ever."""
    from datetime import timedelta

    from django.utils import timezone

    from farcare.analytics.compute import RunInProgress, refresh
    from farcare.analytics.models import ComputeRun

    running = ComputeRun.objects.create(started_at=timezone.now())
    with pytest.raises(RunInProgress):
        refresh()
    assert ComputeRun.objects.count() == 1

    ComputeRun.objects.filter(pk=running.pk).update(started_at=timezone.now() - timedelta(hours=7))
    run = refresh()
    assert run.finished_at is not None
    assert list(ComputeRun.objects.values_list("pk", flat=True)) == [run.pk]


def shown(indicator: str, dimension: str, key: object, *, cross_border: bool = False) -> int | None:
    """A count as every reader gets it: None when hidden, 0 when nothing was computed."""
    found = IndicatorCell.objects.filter(
        month=date(2026, 3, 1),
        indicator=indicator,
        dimension=dimension,
        key=str(key),
        form="",
        cross_border=cross_border,
    ).first()
    if found is None:
        return 0
    return None if found.suppressed else found.count


def what_the_hidden_add_up_to(total: int | None, row: list[int | None]) -> tuple[int, int]:
    """What a reader works out from a row beside its shown total: how many cells are hidden
    and what they add up to."""
    assert total is not None, "the total is shown"
    return sum(1 for figure in row if figure is None), total - sum(f for f in row if f)


def test_a_hospital_asked_by_residents_of_two_regions_does_not_give_away_a_small_post(world):
    # Six residents of Chukotka and seven of Moscow ask at Sakha's hospital; two residents of
    # Sakha ask at the Uelen post in Chukotka, and thirty at home, at Sakha's post. Chukotka's
    # residents (6) are no total of Chukotka's facilities (the post's 2), but the table of
    # facilities shows every facility beside everyone's total: 45 - 13 - 30 would be the 2.
    chain = world.chain
    sakha_home = chain.other_region_post
    for facility, home, number in (
        (chain.other_region_hub, chain.post, 6),
        (chain.other_region_hub, chain.federal, 7),
        (chain.post, sakha_home, 2),
        (sakha_home, sakha_home, 30),
    ):
        for _ in range(number):
            ask(world, facility=facility, patient=PatientFactory(home_facility=home))

    refresh(now=NOW)

    facilities = [
        shown("consultations", "facility", f.uuid)
        for f in (chain.post, chain.other_region_hub, sakha_home, chain.hub, chain.federal)
    ]
    assert facilities[0] is None  # the post's 2
    hidden, adding_up_to = what_the_hidden_add_up_to(
        shown("consultations", "all", "all"), facilities
    )
    assert hidden >= 2
    # Any hidden facility could be 5 or more: the reader cannot tell which one is small.
    assert adding_up_to - (hidden - 1) >= 5
    # Chukotka's residents are counted where they live: their 6 stay shown, though Chukotka's
    # facilities (the post's 2) are no part of that total.
    assert shown("consultations", "region", "Chukotka") == 6


def test_a_closed_months_outcomes_do_not_give_away_one_declined_request(world):
    # Chukotka: twelve answered and one declined, nothing left open. Sakha: fifteen answered.
    # The outcomes of Chukotka's row add up to its consultations (none is open in a closed
    # month), so with only the declined one hidden, 13 - 12 would be that one.
    sakha_home = world.chain.other_region_post
    for _ in range(12):
        ask(world, status=Status.COMPLETED)
    ask(world, status=Status.REJECTED)
    for _ in range(15):
        ask(world, facility=sakha_home, status=Status.COMPLETED)

    refresh(now=NOW)

    assert (
        IndicatorCell.objects.get(
            month=date(2026, 3, 1), indicator="declined", dimension="region", key="Chukotka"
        ).count
        == 1
    )
    outcomes = [
        shown(code, "region", "Chukotka")
        for code in ("answered", "declined", "not_answered", "cancelled")
    ]
    hidden, adding_up_to = what_the_hidden_add_up_to(
        shown("consultations", "region", "Chukotka"), outcomes
    )
    assert hidden >= 2
    assert adding_up_to - (hidden - 1) >= 5
    # Nor through the outcomes' totals: everyone's declined (1) is hidden as well.
    assert shown("declined", "all", "all") is None


def test_the_partners_outcome_row_does_not_give_away_one_request_not_answered(world):
    # Twenty-two cross-border requests answered and one never answered (failed), all of them
    # the partner's: its row of outcomes beside its 23 consultations would give the one away.
    for _ in range(22):
        ask(world, routed=world.partner, status=Status.COMPLETED)
    ask(world, routed=world.partner, status=Status.FAILED)

    refresh(now=NOW)

    partner = world.partner.uuid
    row = [
        shown(code, "partner", partner, cross_border=True)
        for code in ("answered", "declined", "not_answered", "cancelled")
    ]
    hidden, adding_up_to = what_the_hidden_add_up_to(
        shown("consultations", "partner", partner, cross_border=True), row
    )
    assert row[2] is None
    assert hidden >= 2
    assert adding_up_to - (hidden - 1) >= 5


def test_the_partners_figures_and_everyones_do_not_give_away_two_requests_answered_at_home(
    world,
):
    # Ten of Uelen's requests went to the Korean partner, two to the hub at home. A home analyst
    # reads both views: everyone's 12 less the cross-border 10 would be the two at home.
    for _ in range(10):
        ask(world, routed=world.partner, status=Status.COMPLETED)
    for _ in range(2):
        ask(world, status=Status.COMPLETED)

    refresh(now=NOW)

    for dimension, key in (("all", "all"), ("region", "Chukotka"), ("specialty", "cardiology")):
        everyone = shown("consultations", dimension, key)
        cross_border = shown("consultations", dimension, key, cross_border=True)
        assert everyone is None or cross_border is None, (dimension, everyone, cross_border)
