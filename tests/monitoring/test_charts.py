"""The monitoring charts as a nurse reads them on a slow link: the target band is shaded, every
reading is a point, a reading over the target stands out in red, blood pressure shows both
numbers with both bands, weight shows its trend, and the chart stays a few kilobytes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from farcare.monitoring.charts import OUTSIDE, Band, Sample, band_from, measure_chart, trend_line

ANADYR = ZoneInfo("Asia/Anadyr")
START = datetime(2026, 12, 1, 20, 0, tzinfo=UTC)
BP_TARGETS = {"8480-6": {"low": "100", "high": "139"}, "8462-4": {"low": "60", "high": "89"}}


def pressures(count: int) -> list[Sample]:
    return [
        Sample(START + timedelta(hours=6 * i), Decimal(130 + i % 5), Decimal(80 + i % 3))
        for i in range(count)
    ]


def test_blood_pressure_has_both_lines_both_bands_and_the_high_reading_in_red() -> None:
    samples = [*pressures(8), Sample(START + timedelta(days=3), Decimal(182), Decimal(104))]
    svg = measure_chart(
        code="85354-9",
        samples=samples,
        targets=BP_TARGETS,
        title="Blood pressure",
        unit="mmHg",
        language="en",
        zone=ANADYR,
        chart_id="bp",
    )
    assert svg.startswith("<svg") and svg.endswith("</svg>")
    assert 'data-band="systolic"' in svg and 'data-band="diastolic"' in svg
    assert 'data-points="systolic"' in svg and 'data-points="diastolic"' in svg
    assert f'stroke="{OUTSIDE}"' in svg  # 182/104 is over both targets
    assert 'data-latest="182"' in svg
    assert "style=" not in svg and "<script" not in svg
    # The day in Anadyr, not in UTC: 20:00 UTC on the 1st is the 2nd in Chukotka.
    assert "2026-12-02" in svg


def test_a_months_readings_stay_under_eight_kilobytes() -> None:
    samples = pressures(4 * 30)
    svg = measure_chart(
        code="85354-9",
        samples=samples,
        targets=BP_TARGETS,
        title="Blood pressure",
        unit="mmHg",
        language="ru",
        zone=ANADYR,
        chart_id="bp",
    )
    assert len(svg.encode()) < 8 * 1024


def test_weight_shows_its_trend_and_glucose_its_band() -> None:
    weights = [
        Sample(START + timedelta(days=i), Decimal("80.0") + Decimal("0.8") * i) for i in range(5)
    ]
    svg = measure_chart(
        code="29463-7",
        samples=weights,
        targets={},
        title="Weight",
        unit="kg",
        language="ru",
        zone=ANADYR,
        chart_id="w",
    )
    assert 'data-trend="value"' in svg
    assert 'data-latest="83.2"' in svg and ">83,2<" in svg  # a Russian comma
    glucose = measure_chart(
        code="14743-9",
        samples=[
            Sample(START, Decimal("6.1")),
            Sample(START + timedelta(hours=8), Decimal("13.0")),
        ],
        targets={"14743-9": {"low": "4.0", "high": "10.0"}},
        title="Glucose",
        unit="mmol/L",
        language="en",
        zone=ANADYR,
        chart_id="g",
    )
    assert 'data-band="value"' in glucose and f'stroke="{OUTSIDE}"' in glucose


def test_no_reading_no_chart_and_a_broken_band_is_left_out() -> None:
    assert (
        measure_chart(
            code="8867-4",
            samples=[],
            targets={},
            title="Pulse",
            unit="/min",
            language="en",
            zone=ANADYR,
            chart_id="p",
        )
        == ""
    )
    assert band_from({"8867-4": {"low": "abc"}}, "8867-4") is None
    assert band_from({"8867-4": {"high": "90"}}, "8867-4") == Band(None, Decimal(90))


def test_the_trend_of_a_steady_gain() -> None:
    from farcare.monitoring.charts import Point

    points = [Point(START + timedelta(days=i), Decimal(80 + i)) for i in range(4)]
    first, last = trend_line(points)  # type: ignore[misc]
    assert round(first, 3) == 80 and round(last, 3) == 83
