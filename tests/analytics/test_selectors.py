"""The tables every analytics reader gets (selectors): figures as stored and hidden as stored,
the place beside each settlement, and the partner's scope."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from farcare.access.policy import AnalyticsScope
from farcare.analytics import selectors
from farcare.analytics.models import IndicatorCell
from farcare.network.models import FacilityKind, LinkType
from tests.conftest import Chain
from tests.factories import FacilityFactory, SettlementFactory, SpecialtyFactory

MARCH = date(2026, 3, 1)
COMPUTED = datetime(2026, 4, 1, 2, 0, tzinfo=UTC)


def cell(
    dimension: str,
    key: str,
    indicator: str,
    count: int,
    value: float | None = None,
    *,
    month: date = MARCH,
    suppressed: bool = False,
    form: str = "",
    cross_border: bool = False,
) -> IndicatorCell:
    return IndicatorCell.objects.create(
        month=month,
        dimension=dimension,
        key=key,
        indicator=indicator,
        form=form,
        cross_border=cross_border,
        count=count,
        value=float(count) if value is None else value,
        suppressed=suppressed,
        computed_at=COMPUTED,
    )


@pytest.fixture
def far_settlement(chain: Chain):
    """Uelen: 1 hour's flight from Anadyr, a feldsher post on a 64 kbit/s satellite link."""
    uelen = chain.post.settlement
    uelen.name_en, uelen.name_ru, uelen.population = "Uelen", "Уэлен", 720
    uelen.latitude, uelen.longitude = 66.16, -169.81
    uelen.save()
    chain.hub.latitude, chain.hub.longitude = 64.73, 177.51
    chain.hub.save()
    # A district hospital in the same settlement: the post is still its lowest level.
    FacilityFactory(
        kind=FacilityKind.DISTRICT_HOSPITAL,
        settlement=uelen,
        link_type=LinkType.FIBRE,
        bandwidth_kbps=10_000,
    )
    return uelen


def test_a_settlement_row_carries_its_distance_link_and_population(chain, far_settlement):
    key = str(far_settlement.uuid)
    cell("settlement", key, "consultations", 12)
    cell("settlement", key, "consultations_per_1000", 12, 16.6666)
    cell("settlement", key, "conclusion_minutes_median", 12, 85.0)
    cell("settlement", key, "deadline_met_share", 12, 0.8333)
    cell("all", "all", "consultations", 40)

    shown = selectors.table(scope=AnalyticsScope.ALL, month=MARCH, dimension="settlement")

    row = next(row for row in shown.rows if row.key == key)
    assert row.label == "Uelen"
    assert row.region == "Chukotka"
    assert row.figures["consultations"].text == "12"
    assert row.figures["consultations_per_1000"].text == "16.7"
    assert row.figures["conclusion_minutes_median"].value == 85
    assert row.figures["deadline_met_share"].text == "83 %"
    assert row.figures["escalated"].text == "—"
    assert row.place is not None
    assert row.place.population == 720
    # Anadyr to Uelen across the antimeridian is about 630 km, not 15,000.
    assert row.place.distance_km is not None and 550 < row.place.distance_km < 700
    assert (row.place.link_type, row.place.bandwidth_kbps) == ("vsat", 64)
    assert shown.total is not None and shown.total.figures["consultations"].text == "40"


def test_a_hidden_cell_reads_fewer_than_five_and_has_no_value(chain, far_settlement):
    key = str(far_settlement.uuid)
    cell("settlement", key, "consultations", 3, suppressed=True)

    shown = selectors.table(
        scope=AnalyticsScope.ALL, month=MARCH, dimension="settlement", region="Chukotka"
    )

    hidden = next(row for row in shown.rows if row.key == key).figures["consultations"]
    assert (hidden.value, hidden.text, hidden.suppressed) == (None, "×", True)


def test_a_region_narrows_the_rows_and_makes_the_region_the_total(chain, far_settlement):
    sakha = chain.other_region_post.settlement
    cell("settlement", str(far_settlement.uuid), "consultations", 7)
    cell("settlement", str(sakha.uuid), "consultations", 9)
    cell("region", "Chukotka", "consultations", 20)

    shown = selectors.table(
        scope=AnalyticsScope.ALL, month=MARCH, dimension="settlement", region="Chukotka"
    )

    assert str(sakha.uuid) not in {row.key for row in shown.rows}
    assert shown.total is not None and shown.total.figures["consultations"].text == "20"


def test_sorting_by_an_indicator_puts_the_worst_first_and_hidden_last(chain):
    slow, quick, hidden = (SettlementFactory(name_en=name) for name in ("Slow", "Quick", "Hid"))
    cell("settlement", str(slow.uuid), "conclusion_minutes_median", 9, 900)
    cell("settlement", str(quick.uuid), "conclusion_minutes_median", 9, 30)
    cell("settlement", str(hidden.uuid), "conclusion_minutes_median", 3, suppressed=True)

    shown = selectors.table(
        scope=AnalyticsScope.ALL,
        month=MARCH,
        dimension="settlement",
        codes=["conclusion_minutes_median"],
        sort="conclusion_minutes_median",
    )

    labels = [row.label for row in shown.rows]
    assert labels.index("Slow") < labels.index("Quick") < labels.index("Hid")


def test_a_table_costs_the_same_few_queries_however_many_rows(chain):
    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.table(scope=AnalyticsScope.ALL, month=MARCH, dimension="settlement")
        return len(captured)

    few = queries()
    for n in range(30):
        place = SettlementFactory()
        cell("settlement", str(place.uuid), "consultations", 10 + n)
        FacilityFactory(settlement=place)
    assert queries() == few <= 4


def test_the_partner_scope_reads_cross_border_cells_only(chain):
    cardiology = SpecialtyFactory(code="cardiology")
    cell("specialty", "cardiology", "consultations", 40)
    cell("specialty", "cardiology", "consultations", 11, cross_border=True)

    shown = selectors.table(scope=AnalyticsScope.CROSS_BORDER, month=MARCH, dimension="specialty")

    row = next(row for row in shown.rows if row.key == cardiology.code)
    assert shown.cross_border
    assert row.figures["consultations"].text == "11"
    assert {i.code for i in shown.indicators} <= {
        "consultations",
        "conclusion_minutes_median",
        "conclusion_minutes_p90",
        "deadline_met_share",
        "answered",
        "declined",
        "not_answered",
        "cancelled",
    }


@pytest.mark.parametrize("dimension", ["settlement", "facility"])
def test_the_partner_scope_is_refused_domestic_places(chain, dimension):
    with pytest.raises(selectors.OutOfScope):
        selectors.table(scope=AnalyticsScope.CROSS_BORDER, month=MARCH, dimension=dimension)


def test_a_trend_has_a_row_per_month_newest_first(chain):
    cell("region", "Chukotka", "consultations", 30, month=date(2026, 1, 1))
    cell("region", "Chukotka", "consultations", 2, month=date(2026, 2, 1), suppressed=True)

    shown = selectors.trend(
        scope=AnalyticsScope.ALL,
        dimension="region",
        key="Chukotka",
        months=selectors.months_available(),
    )

    assert [row.key for row in shown.rows] == ["2026-02", "2026-01"]
    assert [row.figures["consultations"].text for row in shown.rows] == ["×", "30"]


def test_a_trend_of_an_unknown_place_is_an_error(chain):
    with pytest.raises(ValueError):
        selectors.trend(
            scope=AnalyticsScope.ALL, dimension="region", key="Atlantis", months=[MARCH]
        )
