"""The nightly computation is incremental, and the analyst must not be able to tell: whatever
changed during the day (a patient who moved, a new census, a settlement given to another
region, a clinician who joined, a result the laboratory cancelled, a night that died half way),
the next morning's figures are exactly those a computation from scratch would give.

Each story computes last night, changes something the way the application changes it, runs the
next night's incremental computation, checks the figure an analyst would look at, and then that
a full computation finds every cell already as it would write it."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from django.core.management import call_command
from django.db import OperationalError

from farcare.accounts.models import Role
from farcare.analytics import compute
from farcare.analytics.compute import refresh
from farcare.analytics.management.commands import analytics as command
from farcare.analytics.models import ComputeRun, ConsultFact, IndicatorCell
from farcare.diagnostics.models import DiagnosticOrder, DiagnosticReport, ReportStatus
from farcare.diagnostics.release import hold
from farcare.evacuation.models import Transfer, TransferCondition, TransferStatus
from farcare.network.models import Facility, FacilityKind, Settlement
from farcare.patients.models import Patient
from farcare.training.models import Attendance, Programme, Session

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory, SpecialtyFactory
from .test_compute import MARCH, NOW, World, ask, cell, settlement_of

APRIL = date(2026, 4, 1)
# Wall clock: the sources were made in the evening, computed at night, changed the next day,
# and the next night computes again. `now` (what a deadline is judged against) stays NOW.
EVENING = datetime(2026, 3, 31, 22, 0, tzinfo=UTC)
LAST_NIGHT = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)
DAY = datetime(2026, 4, 1, 14, 0, tzinfo=UTC)
TONIGHT = datetime(2026, 4, 2, 2, 0, tzinfo=UTC)


@pytest.fixture
def world(chain: Chain) -> World:
    """The chain of care, its feldsher and cardiologist, and a partner hospital abroad."""
    return World(
        chain=chain,
        cardiology=SpecialtyFactory(code="cardiology"),
        feldsher=make_user(Role.CLINICIAN, chain.post),
        cardiologist=make_user(Role.CONSULTANT, chain.hub),
        partner=FacilityFactory(
            kind=FacilityKind.PARTNER_ABROAD, region="Korea", country="KR", time_zone="Asia/Seoul"
        ),
    )


Cells = dict[tuple[date, str, str, str, str, bool], tuple[int, float | None, bool]]


def all_cells() -> Cells:
    return {
        (month, dimension, key, indicator, form, cross): (count, value, suppressed)
        for month, dimension, key, indicator, form, cross, count, value, suppressed in (
            IndicatorCell.objects.values_list(
                "month",
                "dimension",
                "key",
                "indicator",
                "form",
                "cross_border",
                "count",
                "value",
                "suppressed",
            )
        )
    }


def assert_a_full_computation_agrees() -> None:
    """A computation from every source, run now, leaves every cell as the increment left it."""
    incremental = all_cells()
    with time_machine.travel(TONIGHT + timedelta(hours=1)):
        run = refresh(now=NOW, full=True)
    full = all_cells()
    differ = sorted(
        (cell_id, incremental.get(cell_id), full.get(cell_id))
        for cell_id in incremental.keys() | full.keys()
        if incremental.get(cell_id) != full.get(cell_id)
    )
    assert differ == [], "the incremental computation left these cells (incremental, full)"
    assert run.cells_written == 0


def computed_last_night() -> None:
    with time_machine.travel(LAST_NIGHT):
        refresh(now=NOW)


def tonight() -> ComputeRun:
    with time_machine.travel(TONIGHT):
        return refresh(now=NOW)


def evacuate(world: World, patient: Patient) -> Transfer:
    return Transfer.objects.create(
        patient=patient,
        origin=world.chain.post,
        destination=world.chain.hub,
        condition=TransferCondition.STEMI,
        reason="chest pain",
        status=TransferStatus.HANDED_OVER,
        requested_by=world.feldsher,
        first_contact_at=MARCH,
        decided_at=MARCH + timedelta(minutes=30),
        departed_at=MARCH + timedelta(hours=2),
        arrived_at=MARCH + timedelta(hours=20),
        ended_at=MARCH + timedelta(hours=20),
    )


def released_report(world: World, patient: Patient, *, hours: int) -> DiagnosticReport:
    """A troponin released `hours` after it was ordered at the post."""
    order = DiagnosticOrder.objects.create(
        client_token=uuid.uuid4(),
        patient=patient,
        orderer=world.feldsher,
        ordering_facility=world.chain.post,
        category="laboratory",
        reason="chest pain",
        placer_number=f"P-{uuid.uuid4().hex[:10]}",
        placed_at=MARCH,
    )
    return DiagnosticReport.objects.create(
        patient=patient,
        order=order,
        category="laboratory",
        code="10839-9",
        display="Troponin I",
        status=ReportStatus.FINAL,
        source="page",
        issued_at=MARCH + timedelta(hours=hours),
        released_at=MARCH + timedelta(hours=hours),
    )


# --- where people live ---------------------------------------------------------------------


def test_a_patient_who_moves_is_counted_in_their_new_settlement_from_the_next_morning(world):
    with time_machine.travel(EVENING):
        patients = [PatientFactory(home_facility=world.chain.post) for _ in range(6)]
        for number, patient in enumerate(patients):
            ask(world, patient=patient, answered_after=30)
            evacuate(world, patient)
            released_report(world, patient, hours=2 + number)
    computed_last_night()
    uelen, lorino = settlement_of(world.chain.post), settlement_of(world.chain.sibling_post)
    assert cell("consultations", "settlement", uelen).count == 6

    with time_machine.travel(DAY):
        for patient in patients:  # as the registry's edit of the address saves it
            patient.home_settlement = world.chain.sibling_post.settlement
            patient.save()
    tonight()

    for indicator in ("consultations", "transfers", "results"):
        assert cell(indicator, "settlement", lorino).count == 6, indicator
        assert not IndicatorCell.objects.filter(
            indicator=indicator, dimension="settlement", key=uelen, count__gt=0
        ).exists(), indicator
    assert_a_full_computation_agrees()


def test_a_settlement_given_to_another_region_takes_its_figures_there(world):
    with time_machine.travel(EVENING):
        for _ in range(6):
            ask(world, answered_after=30)
    computed_last_night()
    assert cell("consultations", "region", "Chukotka").count == 6

    with time_machine.travel(DAY):
        Settlement.objects.filter(pk=world.chain.post.settlement_id).update(region="Sakha")
    tonight()

    assert cell("consultations", "region", "Sakha").count == 6
    assert cell("consultations", "region", "Chukotka").count == 0
    # The facts tell the same as the cells.
    assert set(ConsultFact.objects.values_list("region", flat=True)) == {"Sakha"}
    assert_a_full_computation_agrees()


def test_a_new_census_changes_the_rate_of_past_months_too(world):
    with time_machine.travel(EVENING):
        for _ in range(6):
            ask(world, answered_after=30)
    computed_last_night()
    uelen = world.chain.post.settlement
    assert cell("consultations_per_1000", "settlement", uelen.uuid).value == 6 / 1000 * 1000

    with time_machine.travel(DAY):
        Settlement.objects.filter(pk=uelen.pk).update(population=600)
    run = tonight()

    assert cell("consultations_per_1000", "settlement", uelen.uuid).value == 10
    assert run.months == ["2026-03-01"]
    assert_a_full_computation_agrees()
    # The census is recorded with the run: the night after has nothing to do.
    with time_machine.travel(TONIGHT + timedelta(days=1)):
        assert refresh(now=NOW).cells_written == 0


def test_a_facility_given_to_another_region_is_drawn_in_that_region_s_line(world):
    """The facility line of a region decides which small counts hide which: a facility that
    moves changes the lines of both regions, in every month."""
    with time_machine.travel(EVENING):
        for facility, number in ((world.chain.post, 3), (world.chain.sibling_post, 6)):
            for _ in range(number):
                ask(world, facility=facility, answered_after=30)
    computed_last_night()
    assert cell("consultations", "facility", world.chain.sibling_post.uuid).suppressed

    with time_machine.travel(DAY):
        Facility.objects.filter(pk=world.chain.post.pk).update(region="Sakha")
    tonight()

    assert_a_full_computation_agrees()


def test_a_clinician_who_joins_counts_in_the_training_coverage_of_past_months(world):
    with time_machine.travel(EVENING):
        programme = Programme.objects.create(title="ECG", owner=world.cardiologist)
        session = Session.objects.create(
            programme=programme, number=1, title="ECG", starts_at=MARCH + timedelta(days=3)
        )
        for _ in range(6):
            Attendance.objects.create(
                session=session,
                learner=make_user(Role.CLINICIAN, world.chain.post),
                how="online",
                joined_at=session.starts_at,
                minutes=80,
            )
    computed_last_night()
    coverage = cell("training_coverage_share", "facility", world.chain.post.uuid)
    assert coverage.value == 6 / 7  # the world's feldsher did not attend

    with time_machine.travel(DAY):
        make_user(Role.CLINICIAN, world.chain.post)
    tonight()

    coverage = cell("training_coverage_share", "facility", world.chain.post.uuid)
    assert coverage.value == 6 / 8
    assert_a_full_computation_agrees()


# --- results withdrawn after release -------------------------------------------------------


def six_reports_released_last_night(world: World) -> list[DiagnosticReport]:
    with time_machine.travel(EVENING):
        reports = [
            released_report(world, PatientFactory(home_facility=world.chain.post), hours=hours)
            for hours in range(2, 8)
        ]
    computed_last_night()
    assert cell("results").count == 6
    return reports


def test_a_report_the_laboratory_cancels_after_release_is_no_longer_counted(world):
    reports = six_reports_released_last_night(world)

    with time_machine.travel(DAY):
        # As a later HL7 message with OBR-25 "X" is stored (diagnostics.services.results):
        # the status changes, nothing else that carries a time.
        cancelled = reports[0]
        cancelled.status = ReportStatus.CANCELLED
        cancelled.version += 1
        cancelled.save(update_fields=["status", "version"])
    tonight()

    assert cell("results").count == 5
    assert_a_full_computation_agrees()


def test_a_report_held_back_for_a_review_after_release_is_no_longer_counted(world):
    reports = six_reports_released_last_night(world)

    with time_machine.travel(DAY):
        hold(reports[0])
    tonight()

    assert cell("results").count == 5
    assert_a_full_computation_agrees()


# --- nights that fail ----------------------------------------------------------------------


def five_in_march_computed_then_more_during_the_day(world: World) -> None:
    with time_machine.travel(EVENING):
        for _ in range(5):
            ask(world, answered_after=30)
    computed_last_night()
    with time_machine.travel(DAY):
        for _ in range(3):
            ask(world, answered_after=30)
        for _ in range(5):
            ask(world, at=MARCH + timedelta(days=31), answered_after=30)  # April


def connection_lost(*args: Any, **kwargs: Any) -> Any:
    raise OperationalError("server closed the connection unexpectedly")


def test_a_night_that_dies_after_writing_the_facts_loses_no_month(world, monkeypatch):
    five_in_march_computed_then_more_during_the_day(world)

    monkeypatch.setattr(compute, "_refresh_month", connection_lost)
    with time_machine.travel(TONIGHT), pytest.raises(OperationalError):
        refresh(now=NOW)
    monkeypatch.undo()
    failed = ComputeRun.objects.get(failed_at__isnull=False)
    assert failed.months == ["2026-03-01", "2026-04-01"]
    assert cell("consultations").count == 5  # the facts are in, the cells are not

    with time_machine.travel(TONIGHT + timedelta(days=1)):
        run = refresh(now=NOW)

    assert cell("consultations").count == 8
    assert cell("consultations", month=APRIL).count == 5
    assert run.months == ["2026-03-01", "2026-04-01"]
    # Its months are taken up: the failed run is gone, and it was never a watermark.
    assert not ComputeRun.objects.filter(failed_at__isnull=False).exists()
    assert_a_full_computation_agrees()


def test_a_night_that_dies_among_the_facts_keeps_the_months_already_written(world, monkeypatch):
    five_in_march_computed_then_more_during_the_day(world)

    consults, transfers, results = compute.FACT_KINDS
    dying = replace(transfers, sources=connection_lost)
    monkeypatch.setattr(compute, "FACT_KINDS", (consults, dying, results))
    with time_machine.travel(TONIGHT), pytest.raises(OperationalError):
        refresh(now=NOW)
    monkeypatch.undo()
    assert ComputeRun.objects.get(failed_at__isnull=False).months == ["2026-03-01", "2026-04-01"]

    with time_machine.travel(TONIGHT + timedelta(days=1)):
        refresh(now=NOW)

    assert cell("consultations").count == 8
    assert cell("consultations", month=APRIL).count == 5
    assert_a_full_computation_agrees()


def test_a_night_whose_process_was_killed_is_taken_over_with_its_months(world, monkeypatch):
    """Killed (out of memory, a reboot), the run could not even say it failed: it stays
    unfinished, and after STALE_RUN the next takes the slot and computes its months."""
    five_in_march_computed_then_more_during_the_day(world)

    monkeypatch.setattr(compute, "_refresh_month", connection_lost)
    monkeypatch.setattr(compute, "_fail", lambda run: None)
    with time_machine.travel(TONIGHT), pytest.raises(OperationalError):
        refresh(now=NOW)
    monkeypatch.undo()
    assert ComputeRun.objects.filter(finished_at__isnull=True, failed_at__isnull=True).exists()

    with time_machine.travel(TONIGHT + compute.STALE_RUN + timedelta(minutes=1)):
        refresh(now=NOW)

    assert cell("consultations").count == 8
    assert cell("consultations", month=APRIL).count == 5
    assert not ComputeRun.objects.filter(finished_at__isnull=True).exists()
    assert_a_full_computation_agrees()


class LoopStopped(BaseException):
    """Ends the endless loop after the nights a test wants."""


def test_the_nightly_loop_outlives_a_failed_night_and_the_next_computes_its_months(
    world, monkeypatch
):
    with time_machine.travel(EVENING):
        for _ in range(5):
            ask(world, answered_after=30)
    computed_last_night()
    for _ in range(3):
        ask(world, answered_after=30)  # today, on the wall clock the loop runs by
    nights: list[float] = []

    def sleep(seconds: float) -> None:
        nights.append(seconds)
        if len(nights) == 2:
            monkeypatch.setattr(compute, "_refresh_month", original)  # the server is back
        if len(nights) == 3:
            raise LoopStopped

    original = compute._refresh_month
    monkeypatch.setattr(compute, "_refresh_month", connection_lost)
    monkeypatch.setattr(command.time, "sleep", sleep)
    errors = StringIO()
    with pytest.raises(LoopStopped):
        call_command("analytics", "compute", "--loop", stdout=StringIO(), stderr=errors)

    assert "The computation failed" in errors.getvalue()
    assert nights[1] > 0  # it waited for the next slot rather than hammering the server
    assert cell("consultations").count == 8
    assert ComputeRun.objects.filter(finished_at__isnull=False).count() == 2
    assert not ComputeRun.objects.filter(failed_at__isnull=False).exists()
