"""A coordinator looks at Chukotka's week against the national target (90 % of emergency patients
hospitalised within 24 hours): the region is the sending post's, the period is of first contact,
planned transfers and cancelled ones are not counted, and no patient is in the answer. An
analyst sees the same regions with every small count hidden; the periods are whole months in
UTC (farcare.core.months)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.utils import timezone

from farcare.accounts.models import User
from farcare.evacuation.models import Transfer, TransferCondition, TransferStatus
from farcare.evacuation.region_clocks import (
    month_period,
    region_clocks,
    region_rows,
    regions_with_transfers,
    shown_clocks,
)
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

pytestmark = pytest.mark.usefixtures("demo_network")

ANADYR = {"settlement__name_en": "Anadyr", "kind": FacilityKind.REGIONAL_HUB}


def finished(
    family: str,
    *,
    contact: datetime,
    hours_to_arrival: float,
    condition: str = TransferCondition.EMERGENCY,
    status: str = TransferStatus.HANDED_OVER,
) -> Transfer:
    patient = Patient.objects.get(family=family)
    arrived = contact + timedelta(hours=hours_to_arrival)
    return Transfer.objects.create(
        patient=patient,
        origin=patient.home_facility,
        destination=Facility.objects.get(**ANADYR),
        condition=condition,
        reason="test",
        status=status,
        requested_by=User.objects.get(username="coordinator"),
        first_contact_at=contact,
        decided_at=contact + timedelta(minutes=30),
        departed_at=arrived - timedelta(hours=2) if status == TransferStatus.HANDED_OVER else None,
        arrived_at=arrived if status == TransferStatus.HANDED_OVER else None,
        handed_over_at=arrived if status == TransferStatus.HANDED_OVER else None,
        ended_at=arrived,
    )


def test_chukotka_this_week_against_the_24_hour_target():
    now = timezone.now()
    week_ago = (now - timedelta(days=7)).date()
    tomorrow = (now + timedelta(days=1)).date()
    # Demo: Enurmino requested (running 80 min), Lorino held (7 h), Pevek STEMI arrived in 6 h.
    # Added: a child from Lavrentiya who arrived 30 h after first contact (late), a planned
    # transfer and a cancelled one (neither counts).
    finished("Нутэвги", contact=now - timedelta(days=3), hours_to_arrival=30)
    finished(
        "Тынетегин",
        contact=now - timedelta(days=2),
        hours_to_arrival=50,
        condition=TransferCondition.PLANNED,
    )
    finished(
        "Рультына",
        contact=now - timedelta(days=1),
        hours_to_arrival=1,
        status=TransferStatus.CANCELLED,
    )

    rows = list(region_rows("Chukotka", start=week_ago, end=tomorrow))
    assert len(rows) == 4

    (chukotka,) = region_clocks(start=week_ago, end=tomorrow, now=now, regions=["Chukotka"])
    summary = chukotka.summary
    assert chukotka.region == "Chukotka"
    assert summary.count == 4
    assert summary.counted == 2  # the two still on their way are inside their 24 hours
    assert summary.within_target == 1
    assert summary.share_within_target == pytest.approx(0.5)
    assert summary.meets_target is False
    assert summary.median_elapsed_minutes == pytest.approx((6 * 60 + 30 * 60) / 2)
    # Aggregates only: nothing in the answer names a patient.
    assert "Нутэвги" not in repr(chukotka)


def test_the_period_and_the_region_select_the_rows():
    now = timezone.now()
    # The Pevek STEMI (four days ago) falls outside the last two days.
    recent = list(region_rows("Chukotka", start=now - timedelta(days=2), end=now))
    assert {t.condition for t in recent} == {TransferCondition.EMERGENCY}
    assert len(recent) == 2
    week = regions_with_transfers(start=now - timedelta(days=7), end=now + timedelta(days=1))
    assert week == ["Chukotka", "Khabarovsk", "Sakha"]
    sakha = region_clocks(start=now - timedelta(days=7), end=now, now=now, regions=["Sakha"])
    # The Oymyakon stroke is in the air: counted once it arrives or its 24 hours run out.
    assert sakha[0].summary.count == 1 and sakha[0].summary.counted == 0


def test_a_moment_without_its_zone_is_refused():
    with pytest.raises(ValueError):
        list(region_rows("Chukotka", start=datetime(2026, 1, 1), end=datetime(2026, 2, 1)))


def test_an_analyst_sees_small_regions_hidden_and_the_others_exactly():
    now = timezone.now()
    for _ in range(5):
        finished("Нутэвги", contact=now - timedelta(days=3), hours_to_arrival=5)
    week = region_clocks(start=now - timedelta(days=7), end=now + timedelta(days=1), now=now)
    counts = {row.region: row.summary.count for row in week}
    assert counts["Chukotka"] >= 5 and counts["Sakha"] == 1

    shown = {row.region: row for row in shown_clocks(week, exact_regions=[])}

    # The page shows no total of regions, so only the small ones go: Sakha's one transfer
    # says "fewer than 5", with no share and no minutes; Chukotka keeps its figures.
    assert shown["Sakha"].small and shown["Sakha"].count is None
    assert not shown["Sakha"].medians_shown and not shown["Sakha"].share_shown
    assert not shown["Chukotka"].small and shown["Chukotka"].count == counts["Chukotka"]
    assert all(row.small == (0 < counts[row.region] < 5) for row in shown.values())


def test_a_regions_coordinator_sees_its_small_count_exactly():
    now = timezone.now()
    week = region_clocks(start=now - timedelta(days=7), end=now, now=now, regions=["Sakha"])
    (sakha,) = shown_clocks(week, exact_regions=["Sakha"])
    assert not sakha.small and sakha.count == 1 and sakha.medians_shown


def test_a_period_is_whole_months_in_utc():
    # The page's default: this month and the two before, across a new year.
    assert month_period(date(2025, 11, 30), date(2026, 1, 4)) == (
        datetime(2025, 11, 1, tzinfo=UTC),
        datetime(2026, 2, 1, tzinfo=UTC),
    )
