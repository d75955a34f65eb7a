"""The analytics map, told as the analyst who opens it: the Far East's regions drawn from the
outlines shipped with FarCare, every settlement a dot with its figure on hover, a small
settlement hidden as a hollow ring, the same figures in a table beside it; small enough for a
64 kbit/s link and pointing nowhere outside. Clinicians and the partner abroad are refused;
a bad query is answered 422.

The figures are those of the dashboard's March story (tests/analytics/test_pages.py): residents
of Uelen and Lorino (Chukotka) requesting consultations, then the nightly computation."""

from __future__ import annotations

import csv
import re
from pathlib import Path

import pytest
from django.utils import translation
from django.utils.html import escape

from farcare.accounts.models import Role
from farcare.analytics.forms import INVALID
from farcare.analytics.outlines import far_east
from farcare.audit.models import AuditAction, AuditEvent
from farcare.network.models import Settlement

from ..conftest import logged_in, make_user
from ..consults.conftest import Scene, scene  # noqa: F401
from .test_pages import PAGE_LIMIT, March, march_of

MAP = "/analytics/map/"
SETTLEMENTS = Path(__file__).resolve().parents[2] / "farcare/network/data/far_east_settlements.csv"
REGIONS = {region.key for region in far_east().regions}

# What the mark of a hidden figure means, as every page, export and report says it (English).
HIDDEN_NOTE = (
    "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
    "subtraction."
)


@pytest.fixture
def march(scene: Scene) -> March:  # noqa: F811
    return march_of(scene)


def _svg(html: str) -> str:
    start = html.index("<svg", html.index('data-testid="map"') - 300)
    return html[start : html.index("</svg>", start)]


def _points(svg: str) -> list[str]:
    return re.findall(r"<circle [^>]*>.*?</circle>", svg)


def _title_of(points: list[str], name: str) -> str:
    (point,) = [p for p in points if f"<title>{name}: " in p]
    return point


def test_the_map_has_every_region_and_every_settlement_with_its_figure(march: March):
    response = logged_in(march.analyst).get(MAP, {"month": "2026-03", "indicator": "consultations"})

    assert response.status_code == 200
    html = response.content.decode()
    svg = _svg(html)
    # One outline per region shipped, each named on hover.
    regions = re.findall(r'<path d="M[^"]+"[^>]* data-region="([^"]+)"', svg)
    assert sorted(regions) == sorted(region.key for region in far_east().regions)
    assert "<title>Chukotka</title>" in svg
    # One dot per settlement of the Far East (the federal centre in Moscow is not on this map,
    # though the table lists it).
    points = _points(svg)
    on_map = Settlement.objects.filter(region__in=regions)
    assert len(points) == on_map.count()
    for settlement in on_map:
        assert f"<title>{escape(settlement.name)}: " in svg
    # The table beside the map has the same figures, with distance and link.
    table = html[html.index('data-testid="map-table"') :]
    assert "Uelen" in table
    assert "Satellite (VSAT), 64 kbit/s" in table


def test_a_small_settlement_is_a_hollow_ring_reading_fewer_than_five(march: March):
    html = (
        logged_in(march.analyst)
        .get(MAP, {"month": "2026-03", "indicator": "consultations", "region": "Chukotka"})
        .content.decode()
    )

    points = _points(_svg(html))
    lorino = _title_of(points, "Lorino")
    # Lorino's 2 and Uelen's 11 (its complement) are hidden: no colour, no number.
    assert "<title>Lorino: ×</title>" in lorino
    assert 'data-hidden="1"' in lorino
    assert "fill=" not in lorino
    uelen = _title_of(points, "Uelen")
    assert "<title>Uelen: ×</title>" in uelen
    assert "11" not in uelen
    assert not re.search(r"Uelen: \d", html)
    legend = html[html.index('data-testid="legend"') :]
    assert "× hidden / no data" in legend.split("</ul>")[0]
    assert HIDDEN_NOTE in html
    # Chukotka's 13 stands beneath the table: with both members hidden it gives neither away.
    assert ">13<" in html[html.index('data-testid="total-row"') :]


def test_a_shown_figure_is_coloured_and_in_the_legend(march: March):
    html = (
        logged_in(march.analyst)
        .get(MAP, {"month": "2026-03", "indicator": "consultations"})
        .content.decode()
    )

    coloured = [p for p in _points(_svg(html)) if "data-class=" in p]
    # Settlements whose residents sent nothing read 0: a figure, not hidden (a zero reveals
    # nobody), coloured as the worst class of an indicator where more is better.
    assert coloured
    assert all(re.search(r"<title>[^<]+: 0</title>", p) for p in coloured)
    legend = html[html.index('data-testid="legend"') :].split("</ul>")[0]
    entries = [
        re.sub(r"<svg.*?</svg>", "", item).strip()
        for item in re.findall(r"<li[^>]*>(.*?)</li>", legend)
    ]
    assert entries == ["0", "× hidden / no data"]


def test_the_page_is_small_and_points_nowhere_outside(march: March):
    response = logged_in(march.analyst).get(MAP)

    assert response.status_code == 200
    assert len(response.content) < PAGE_LIMIT
    html = response.content.decode()
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) == {"http://www.w3.org/2000/svg"}
    assert "<script>" not in html
    assert " style=" not in html
    assert "<style" not in html
    # With nothing chosen: the newest month, all regions, consultations per 1,000 residents.
    assert '<option value="consultations_per_1000" selected>' in html


def test_the_whole_register_in_russian_still_fits_a_slow_link(march: March):
    with SETTLEMENTS.open(encoding="utf-8") as handle:
        register = [row for row in csv.DictReader(handle) if row["region"] in REGIONS]
    Settlement.objects.bulk_create(
        Settlement(
            name_en=row["name_en"],
            name_ru=row["name_ru"],
            name_ko=row["name_ko"],
            region=row["region"],
            latitude=float(row["lat"]),
            longitude=float(row["lon"]),
            population=int(row["population"]),
            time_zone=row["tz"],
        )
        for row in register
        if row["name_en"] not in ("Uelen", "Lorino")
    )
    client = logged_in(make_user(Role.ANALYST, language="ru"), "ru")

    response = client.get(MAP)

    assert response.status_code == 200
    html = response.content.decode()
    assert len(_points(_svg(html))) >= len(register)
    assert "Петропавловск-Камчатский" in html
    # 64 kbit/s is 8 KB a second: the page, uncompressed, at most in some 7 seconds.
    assert len(response.content) < 60_000


def test_the_map_of_a_region_is_zoomed_to_it(march: March):
    html = logged_in(march.analyst).get(MAP, {"region": "Chukotka"}).content.decode()

    svg = _svg(html)
    found = re.search(r'viewBox="([-\d ]+)"', svg)
    chukotka = far_east().region("Chukotka")
    assert found is not None and chukotka is not None
    view = [int(n) for n in found.group(1).split()]
    left, top, right, bottom = chukotka.box
    assert view[0] <= left and view[1] <= top
    assert view[0] + view[2] >= right and view[1] + view[3] >= bottom
    assert view[2] < far_east().width


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.CONSULTANT, Role.PATIENT])
def test_clinical_staff_are_refused_and_it_is_recorded(march: March, role):
    user = make_user(role, march.scene.chain.post)

    assert logged_in(user).get(MAP).status_code == 403

    denied = AuditEvent.objects.filter(actor_uuid=user.uuid, action=AuditAction.DENIED)
    assert [event.details["analytics"] for event in denied] == ["map"]


def test_the_partner_abroad_is_refused_the_domestic_map(march: March):
    response = logged_in(march.partner_analyst, "en").get(MAP)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        actor_uuid=march.partner_analyst.uuid, action=AuditAction.DENIED
    ).exists()


@pytest.mark.parametrize(
    "query", [{"indicator": "patients"}, {"region": "Atlantis"}, {"month": "2026-13"}]
)
def test_a_bad_query_is_answered_422_in_russian(march: March, query):
    client = logged_in(make_user(Role.ANALYST, language="ru"), "ru")

    response = client.get(MAP, query)

    assert response.status_code == 422
    html = response.content.decode()
    assert "Исправьте, пожалуйста, следующее" in html
    (field,) = query
    assert f'href="#id_{field}"' in html
    if field != "month":
        with translation.override("ru"):
            assert escape(str(INVALID["invalid_choice"])) in html
    assert 'data-testid="map"' not in html


def test_every_map_is_audited_with_its_query(march: March):
    logged_in(march.analyst).get(
        MAP, {"month": "2026-03", "indicator": "deadline_met_share", "region": "Chukotka"}
    )

    (event,) = AuditEvent.objects.filter(actor_uuid=march.analyst.uuid, action=AuditAction.VIEW)
    assert event.details["analytics"] == "map"
    assert event.details["indicator"] == "deadline_met_share"
    assert event.details["region"] == "Chukotka"
    assert event.details["month"] == "2026-03"
    assert event.patient_uuid is None
