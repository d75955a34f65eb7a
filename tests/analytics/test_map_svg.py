"""The map's drawing as pure logic: the projection across the antimeridian, the outlines
shipped with FarCare, class breaks, and colours where the darker end is always the worse."""

from __future__ import annotations

import csv
import json
import math
import re
from pathlib import Path

import pytest

from farcare.analytics.map_svg import (
    PALETTE,
    MapPoint,
    class_breaks,
    class_colour,
    class_of,
    draw_map,
)
from farcare.analytics.outlines import OUTLINES_FILE, Region, far_east
from farcare.evacuation.geo import Point, great_circle_km

SETTLEMENTS = Path(__file__).resolve().parents[2] / "farcare/network/data/far_east_settlements.csv"
UELEN = (66.159, -169.809)
ANADYR = (64.734, 177.514)


def _found(pattern: str, text: str, group: int = 1) -> str:
    match = re.search(pattern, text)
    assert match is not None, pattern
    return match.group(group)


def _draw(points: list[MapPoint], higher_is_better: bool = True, region: str = "") -> str:
    return draw_map(
        outlines=far_east(),
        points=points,
        higher_is_better=higher_is_better,
        title="Consultations by settlement",
        region_names=lambda outline: outline.names["en"],
        number=lambda value: f"{value:g}",
        no_data_label="<5 / no data",
        region=region,
    ).svg


def _point(label: str, value: float | None, text: str = "", suppressed: bool = False) -> MapPoint:
    return MapPoint(label, "Chukotka", *ANADYR, value, text or f"{value:g}", suppressed)


def test_uelen_lies_east_of_anadyr_across_the_antimeridian():
    uelen_x, uelen_y = far_east().project(*UELEN)
    anadyr_x, anadyr_y = far_east().project(*ANADYR)

    assert uelen_x > anadyr_x
    # About 600 km apart on the map as on the ground (within the projection's 3 % between its
    # standard parallels), not the whole world apart.
    km = far_east().frame.km_per_unit * math.dist((uelen_x, uelen_y), (anadyr_x, anadyr_y))
    assert km == pytest.approx(great_circle_km(Point(*UELEN), Point(*ANADYR)), rel=0.03)
    assert 0 < anadyr_x < uelen_x < far_east().width


def test_every_settlement_of_the_register_falls_in_its_own_region():
    regions = {region.key: region for region in far_east().regions}
    with SETTLEMENTS.open(encoding="utf-8") as handle:
        rows = [row for row in csv.DictReader(handle) if row["region"] in regions]

    assert len(rows) > 50
    for row in rows:
        x, y = far_east().project(float(row["lat"]), float(row["lon"]))
        left, top, right, bottom = regions[row["region"]].box
        assert left - 2 <= x <= right + 2 and top - 2 <= y <= bottom + 2, row["name_en"]


def test_the_shipped_outlines_are_small_and_are_the_far_east():
    data = json.loads(OUTLINES_FILE.read_text(encoding="utf-8"))

    assert OUTLINES_FILE.stat().st_size < 20_000
    assert "Natural Earth" in data["source"]
    keys = {region.key for region in far_east().regions}
    assert {
        "Chukotka",
        "Kamchatka",
        "Magadan",
        "Sakha",
        "Khabarovsk",
        "Amur",
        "Primorye",
        "Sakhalin",
    } <= keys
    for region in far_east().regions:
        # Whole units only: the smallest path a page can carry.
        assert re.fullmatch(r"(M-?\d+ -?\d+l[-\d ]+z)+", region.path), region.key


def test_class_breaks_are_quantiles_of_the_figures_shown():
    assert class_breaks(list(range(1, 11))) == (2, 4, 6, 8)
    assert [class_of(v, (2, 4, 6, 8)) for v in (1, 2, 3, 8, 9, 10)] == [0, 0, 1, 3, 4, 4]
    # Fewer distinct figures than classes: one class each.
    assert class_breaks([3, 3, 7]) == (3,)
    assert class_breaks([5, 5]) == ()
    assert class_breaks([]) == ()
    # A crowd of equal figures does not make empty classes.
    bounds = class_breaks([0] * 20 + [1, 2, 3, 4, 5, 6])
    assert bounds == tuple(sorted(set(bounds)))
    assert len({class_of(v, bounds) for v in [0] * 20 + [1, 2, 3, 4, 5, 6]}) == len(bounds) + 1


def test_the_worse_end_is_darker_whichever_way_is_better():
    # More consultations per 1,000 residents is better: the fewest are the darkest.
    assert class_colour(0, 5, higher_is_better=True) == PALETTE[-1]
    assert class_colour(4, 5, higher_is_better=True) == PALETTE[0]
    # A longer wait is worse: the longest is the darkest.
    assert class_colour(4, 5, higher_is_better=False) == PALETTE[-1]
    assert class_colour(0, 5, higher_is_better=False) == PALETTE[0]
    # Two classes still span light to dark.
    assert {class_colour(k, 2, True) for k in (0, 1)} == {PALETTE[0], PALETTE[-1]}


@pytest.mark.parametrize("higher_is_better", [True, False])
def test_the_worst_settlement_is_drawn_darkest(higher_is_better: bool):
    points = [_point(f"S{k}", float(k)) for k in range(1, 11)]

    svg = _draw(points, higher_is_better)

    worst = "S1" if higher_is_better else "S10"
    best = "S10" if higher_is_better else "S1"
    fill = {
        label: _found(rf'fill="(#\w+)"[^>]*><title>{label}: ', svg, 1) for label in (worst, best)
    }
    assert fill == {worst: PALETTE[-1], best: PALETTE[0]}


def test_one_outline_per_region_and_one_dot_per_settlement():
    points = [_point("Anadyr", 12), _point("Uelen", None, "<5", suppressed=True)]

    svg = _draw(points)

    assert svg.count("<path ") == len(far_east().regions)
    assert len(re.findall(r"<circle ", svg)) == 2
    assert "<title>Anadyr: 12</title>" in svg


def test_a_hidden_figure_is_a_hollow_ring_with_no_number():
    drawn = draw_map(
        outlines=far_east(),
        points=[_point("Lorino", None, "<5", suppressed=True), _point("Anadyr", 40)],
        higher_is_better=True,
        title="t",
        region_names=lambda outline: outline.key,
        number=lambda value: f"{value:g}",
        no_data_label="<5 / no data",
    )

    lorino = _found(r"<circle [^>]*><title>Lorino: [^<]*</title></circle>", drawn.svg, 0)
    assert "<title>Lorino: &lt;5</title>" in lorino
    assert 'data-hidden="1"' in lorino and "fill=" not in lorino
    # The hollow rings' group is white with a grey ring.
    hollow_group = drawn.svg[: drawn.svg.index(lorino)].rsplit("<g ", 1)[1]
    assert hollow_group.startswith('fill="#fff"')
    assert [(entry.text, entry.count) for entry in drawn.legend] == [
        ("40", 1),
        ("<5 / no data", 1),
    ]
    assert drawn.legend[-1].colour == ""


def test_names_are_escaped_and_places_outside_the_outlines_are_not_drawn():
    drawn = draw_map(
        outlines=far_east(),
        points=[
            MapPoint("<script>x</script>", "Chukotka", *UELEN, 3.0, "3"),
            MapPoint("Moscow", "Moscow", 55.75, 37.62, 7.0, "7"),
        ],
        higher_is_better=True,
        title="A & B",
        region_names=lambda outline: outline.key,
        number=lambda value: f"{value:g}",
        no_data_label="<5 / no data",
    )

    assert "<script>" not in drawn.svg
    assert "&lt;script&gt;x&lt;/script&gt;: 3" in drawn.svg
    assert "A &amp; B" in drawn.svg
    assert drawn.off_map == ("Moscow",)
    assert len(re.findall(r"<circle ", drawn.svg)) == 1


def test_a_region_is_shown_zoomed_and_marked():
    svg = _draw([], region="Chukotka")

    x, y, width, height = (int(n) for n in _found(r'viewBox="([-\d ]+)"', svg, 1).split())
    chukotka: Region | None = far_east().region("Chukotka")
    assert chukotka is not None
    left, top, right, bottom = chukotka.box
    assert x <= left and y <= top and x + width >= right and y + height >= bottom
    assert width < far_east().width
    marked = _found(r'<path [^>]*fill="(#\w+)"[^>]*data-region="Chukotka"', svg, 1)
    other = _found(r'<path [^>]*fill="(#\w+)"[^>]*data-region="Sakha"', svg, 1)
    assert marked != other
