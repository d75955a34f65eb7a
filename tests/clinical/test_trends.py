"""Trend charts are drawn on the server as a few kilobytes of SVG: the readings in order, the
range where NEWS2 scores 0 shaded, the latest value written beside its point, and words for a
screen reader; nothing to download, nothing that the CSP would block."""

import re
import zoneinfo
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from xml.etree import ElementTree

from farcare.clinical.trends import SCALES, Point, trend_svg

SVG = "{http://www.w3.org/2000/svg}"
ANADYR = zoneinfo.ZoneInfo("Asia/Anadyr")
START = datetime(2026, 12, 1, 22, 30, tzinfo=UTC)  # 2 December, 10:30 in Anadyr (UTC+12)


def pulse_chart(values, language="en", zone=ANADYR):
    points = [
        Point(START + timedelta(days=index), Decimal(value)) for index, value in enumerate(values)
    ]
    return trend_svg(
        points=points,
        scale=SCALES["heart_rate"],
        title="Pulse rate",
        unit="/min",
        language=language,
        zone=zone,
        chart_id="trend-heart_rate",
    )


def parsed(svg):
    return ElementTree.fromstring(svg)  # noqa: S314 (our own markup, read as a browser would)


def test_the_readings_are_drawn_in_time_order_with_the_latest_labelled():
    # Given out of order: the chart sorts them by time.
    points = [
        Point(START + timedelta(days=2), Decimal("118")),
        Point(START, Decimal("72")),
        Point(START + timedelta(days=1), Decimal("96")),
    ]
    svg = trend_svg(
        points=points,
        scale=SCALES["heart_rate"],
        title="Pulse rate",
        unit="/min",
        language="en",
        zone=ANADYR,
        chart_id="trend-heart_rate",
    )
    root = parsed(svg)
    circles = root.findall(f"{SVG}circle")
    assert [c.find(f"{SVG}title").text for c in circles] == [
        "2026-12-02 10:30: 72",
        "2026-12-03 10:30: 96",
        "2026-12-04 10:30: 118",
    ]
    # Higher values are drawn higher up (smaller y), left to right in time.
    ys = [float(c.get("cy")) for c in circles]
    xs = [float(c.get("cx")) for c in circles]
    assert ys[0] > ys[1] > ys[2]
    assert xs == sorted(xs)
    assert len(root.findall(f"{SVG}polyline")) == 1
    latest = root.find(f"{SVG}text[@data-latest]")
    assert latest.text == "118"
    # 72 is within 51–90 (scores 0), 96 and 118 are not: drawn in the warning colour.
    assert [c.get("fill") for c in circles] == ["#0b5cad", "#b3261e", "#b3261e"]


def test_the_range_where_news2_scores_0_is_shaded_and_the_axes_are_labelled():
    root = parsed(pulse_chart(["72", "80"]))
    band = root.find(f"{SVG}rect")
    scale = SCALES["heart_rate"]
    assert (scale.low, scale.high) == (Decimal(51), Decimal(90))
    top, height = float(band.get("y")), float(band.get("height"))
    # The band lies inside the plot and is not the whole of it.
    assert top > 0 and top + height < 150 and height > 20
    labels = [t.text for t in root.findall(f"{SVG}text")]
    assert {"51", "90", "/min"} <= set(labels)  # the value axis and its unit
    assert "2026-12-02" in labels and "2026-12-03" in labels  # the time axis
    desc = root.find(f"{SVG}desc").text
    assert desc.startswith("2 readings from 2026-12-02 10:30 to 2026-12-03 10:30.")
    assert "Latest: 80 /min." in desc
    assert "Shaded: 51–90 /min, where NEWS2 scores 0; outside it: 0." in desc


def test_a_reading_beyond_the_usual_extent_widens_the_chart():
    root = parsed(pulse_chart(["72", "180"]))
    circles = root.findall(f"{SVG}circle")
    assert all(0 <= float(c.get("cy")) <= 150 for c in circles)
    assert "180" in [t.text for t in root.findall(f"{SVG}text")]


def test_times_are_in_the_viewers_zone_and_numbers_in_their_language():
    points = [Point(START, Decimal("36.6")), Point(START + timedelta(hours=3), Decimal("38.4"))]
    svg = trend_svg(
        points=points,
        scale=SCALES["temperature"],
        title="Температура тела",
        unit="°C",
        language="ru",
        zone=zoneinfo.ZoneInfo("Europe/Moscow"),
        chart_id="trend-temperature",
    )
    root = parsed(svg)
    # 22:30 UTC is 01:30 the next day in Moscow.
    assert [c.find(f"{SVG}title").text for c in root.findall(f"{SVG}circle")] == [
        "02.12.2026 01:30: 36,6",
        "02.12.2026 04:30: 38,4",
    ]
    assert root.find(f"{SVG}text[@data-latest]").text == "38,4"
    assert root.find(f"{SVG}title").text == "Температура тела"


def test_a_single_reading_is_a_point_without_a_line():
    root = parsed(pulse_chart(["64"]))
    assert len(root.findall(f"{SVG}circle")) == 1
    assert root.findall(f"{SVG}polyline") == []
    assert root.find(f"{SVG}desc").text.startswith("1 reading from")


def test_no_history_draws_no_chart():
    assert pulse_chart([]) == ""


def test_the_chart_is_small_accessible_and_allowed_by_the_csp():
    svg = pulse_chart([str(60 + index % 40) for index in range(100)])
    root = parsed(svg)
    # Only the most recent readings are drawn: a few kilobytes whatever the history.
    assert len(root.findall(f"{SVG}circle")) == 24
    assert len(svg.encode()) < 6000
    assert root.get("role") == "img"
    assert root.get("aria-labelledby") == "trend-heart_rate-t trend-heart_rate-d"
    assert root.find(f"{SVG}title").get("id") == "trend-heart_rate-t"
    assert "style=" not in svg and "<script" not in svg
    assert not re.search(r"\son[a-z]+=", svg)  # no event handler attributes


def test_texts_are_escaped():
    svg = trend_svg(
        points=[Point(START, Decimal("1"))],
        scale=SCALES["news2"],
        title="<b>NEWS2</b>",
        unit="",
        language="en",
        zone=ANADYR,
        chart_id="trend-news2",
    )
    assert "<b>" not in svg
    assert parsed(svg).find(f"{SVG}title").text == "<b>NEWS2</b>"
    assert "low risk" in parsed(svg).find(f"{SVG}desc").text
