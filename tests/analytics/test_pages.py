"""The ministries' analytics pages, told as the people who open them: an analyst reading
settlements beside their distance and link, a small settlement hidden with its complement, the
Korean partner who sees cross-border figures only, everyone else refused; every page audited.

The figures are real: consultations submitted from two Chukotka posts in March 2026, some of
them answered by the Korean partner hospital, then the nightly computation (`refresh`)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.utils import translation
from django.utils.html import escape

from farcare.accounts.models import Role, User
from farcare.analytics.compute import refresh
from farcare.analytics.forms import INVALID, NO_MONTH, default_month
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.services import RequestData, consult_submit
from farcare.network.models import LinkType, Settlement
from farcare.patients.models import Consent, ConsentKind, Patient

from ..conftest import logged_in, make_user
from ..consults.conftest import Scene, scene  # noqa: F401
from ..factories import PatientFactory

SUBMITTED = datetime(2026, 3, 10, 2, 0, tzinfo=UTC)
COMPUTED = datetime(2026, 4, 1, 1, 0, tzinfo=UTC)
# Pages must stay readable over a 64 kbit/s satellite link.
PAGE_LIMIT = 40_000

# What the mark of a hidden figure means, as every page, export and report says it (English).
HIDDEN_NOTE = (
    "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
    "subtraction."
)


@dataclass
class March:
    """Uelen: 6 requests of residents answered at home and 5 by the Korean partner; Lorino: 2.
    Lorino's 2 is hidden, and so is Uelen's 11, or Chukotka's 13 would give Lorino away."""

    scene: Scene
    uelen: Settlement
    lorino: Settlement
    analyst: User
    partner_analyst: User


def _resident(scene: Scene, post, *, abroad: bool = False) -> Patient:  # noqa: F811
    patient = PatientFactory(home_facility=post)
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=scene.feldsher
    )
    if abroad:
        Consent.objects.create(
            patient=patient,
            kind=ConsentKind.TRANSFER_ABROAD,
            scope="pseudonymised case to partner hospitals in Korea",
            recorded_by=scene.feldsher,
        )
    return patient


def _submit(feldsher: User, patient: Patient, scene: Scene) -> None:  # noqa: F811
    consult_submit(
        accessor=Accessor(feldsher, "127.0.0.1"),
        patient=patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=scene.cardiology,
            form="planned",
            question="Stable angina: adjust the treatment?",
            summary="Resident of a remote settlement.",
        ),
    )


def march_of(scene: Scene) -> March:  # noqa: F811
    chain = scene.chain
    uelen, lorino = chain.post.settlement, chain.sibling_post.settlement
    Settlement.objects.filter(pk=uelen.pk).update(
        name_en="Uelen", name_ru="Уэлен", population=720, latitude=66.16, longitude=-169.81
    )
    Settlement.objects.filter(pk=lorino.pk).update(
        name_en="Lorino", name_ru="Лорино", population=1300, latitude=65.50, longitude=-171.70
    )
    chain.hub.__class__.objects.filter(pk=chain.hub.pk).update(latitude=64.73, longitude=177.51)
    chain.post.__class__.objects.filter(pk=chain.post.pk).update(
        link_type=LinkType.VSAT, bandwidth_kbps=64
    )
    lorino_feldsher = make_user(Role.CLINICIAN, chain.sibling_post, language="en")
    with time_machine.travel(SUBMITTED, tick=False):
        for _n in range(6):
            _submit(scene.feldsher, _resident(scene, chain.post), scene)
        for _n in range(2):
            _submit(lorino_feldsher, _resident(scene, chain.sibling_post), scene)
        scene.only_the_korean_partner_answers()
        for _n in range(5):
            _submit(scene.feldsher, _resident(scene, chain.post, abroad=True), scene)
    with time_machine.travel(COMPUTED, tick=False):
        refresh(now=COMPUTED)
    return March(
        scene=scene,
        uelen=Settlement.objects.get(pk=uelen.pk),
        lorino=Settlement.objects.get(pk=lorino.pk),
        analyst=make_user(Role.ANALYST, language="en"),
        partner_analyst=make_user(Role.ANALYST, scene.partner, language="ko"),
    )


@pytest.fixture
def march(scene: Scene) -> March:  # noqa: F811
    return march_of(scene)


def _row(html: str, key: str) -> str:
    start = html.index(f'data-key="{key}"')
    return html[start : html.index("</tr>", start)]


def _views(user: User, page: str) -> list[AuditEvent]:
    return [
        event
        for event in AuditEvent.objects.filter(actor_uuid=user.uuid).order_by("id")
        if (event.details or {}).get("analytics") == page
    ]


def test_an_analyst_sees_each_settlement_with_its_distance_and_link(march: March):
    client = logged_in(march.analyst)

    response = client.get("/analytics/", {"dimension": "settlement", "region": "Chukotka"})

    assert response.status_code == 200
    html = response.content.decode()
    uelen = _row(html, str(march.uelen.uuid))
    assert "Uelen" in uelen
    # Anadyr to Uelen is about 630 km over the antimeridian; a 64 kbit/s satellite link.
    distance = uelen.split('data-testid="distance">')[1].split("<")[0]
    assert 550 < int(distance.replace(",", "")) < 700
    assert "Satellite (VSAT), 64 kbit/s" in uelen
    assert "720" in uelen
    assert "Distance to the regional hub, km" in html


def test_a_small_settlement_reads_fewer_than_five_and_so_does_its_complement(march: March):
    client = logged_in(march.analyst)

    html = client.get(
        "/analytics/", {"dimension": "settlement", "region": "Chukotka", "month": "2026-03"}
    ).content.decode()

    consultations = 0  # the first figure column after the place columns
    lorino = _row(html, str(march.lorino.uuid))
    uelen = _row(html, str(march.uelen.uuid))
    # One mark for both: Uelen's 11 is no small figure, and a second mark would say so.
    assert lorino.split("<td")[4 + consultations].count(">×<") == 1
    assert uelen.split("<td")[4 + consultations].count(">×<") == 1
    # Chukotka's 13 is shown: with both members hidden it gives neither away.
    total = html[html.index('data-testid="total-row"') :]
    assert ">13<" in total
    assert HIDDEN_NOTE in html


def test_the_dashboard_says_when_the_figures_were_computed_and_offers_the_exports(march: March):
    march.analyst.time_zone = "Asia/Anadyr"
    march.analyst.save()
    client = logged_in(march.analyst)

    html = client.get("/analytics/", {"dimension": "region"}).content.decode()

    computed = html[html.index('data-testid="computed-at"') :]
    assert "Figures computed" in computed
    assert "/analytics/export/dashboard.csv?month=2026-03&amp;dimension=region" in html
    assert "/analytics/export/dashboard.xlsx?" in html
    for language in ("ru", "ko", "en"):
        assert f"/analytics/report/2026-3.pdf?lang={language}" in html
    assert "/analytics/map/?month=2026-03" in html


def test_a_trend_of_a_region_has_the_computed_months(march: March):
    client = logged_in(march.analyst)

    response = client.get("/analytics/trend/", {"dimension": "region", "key": "Chukotka"})

    assert response.status_code == 200
    html = response.content.decode()
    assert 'data-key="2026-03"' in html
    assert ">13<" in _row(html, "2026-03")


def test_the_korean_partner_sees_cross_border_figures_only(march: March):
    client = logged_in(march.partner_analyst, "en")

    response = client.get("/analytics/partner/")

    assert response.status_code == 200
    html = response.content.decode()
    # Every partner hospital together in March: the 5 answered abroad, never Chukotka's 13.
    trend = html[html.index('data-testid="partner-trend"') :]
    assert ">5<" in _row(trend, "2026-03")
    assert ">13<" not in html
    assert str(march.uelen.uuid) not in html
    assert "Uelen" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/analytics/",
        "/analytics/?dimension=settlement&region=Chukotka",
        "/analytics/trend/?dimension=region&key=Chukotka",
    ],
)
def test_the_korean_partner_is_refused_domestic_figures_and_it_is_recorded(march: March, url):
    client = logged_in(march.partner_analyst, "en")

    response = client.get(url)

    assert response.status_code == 403
    denied = AuditEvent.objects.filter(
        actor_uuid=march.partner_analyst.uuid, action=AuditAction.DENIED
    )
    assert denied.count() == 1
    assert denied.get().details["analytics"] in ("dashboard", "trend")


def test_the_korean_partner_may_follow_a_cross_border_trend(march: March):
    client = logged_in(march.partner_analyst, "en")

    response = client.get(
        "/analytics/trend/", {"dimension": "region", "key": "Chukotka", "cross_border": "1"}
    )

    assert response.status_code == 200
    assert ">5<" in _row(response.content.decode(), "2026-03")


def test_a_coordinator_sees_the_dashboard(march: March):
    coordinator = march.scene.coordinator

    response = logged_in(coordinator).get("/analytics/")

    assert response.status_code == 200
    assert 'data-testid="analytics-table"' in response.content.decode()


@pytest.mark.parametrize("role", [Role.CLINICIAN, Role.CONSULTANT, Role.PATIENT])
def test_clinical_staff_and_patients_are_refused_and_it_is_recorded(march: March, role):
    user = make_user(role, march.scene.chain.post)

    for url in ("/analytics/", "/analytics/partner/", "/analytics/trend/?dimension=all&key=all"):
        assert logged_in(user).get(url).status_code == 403
    assert AuditEvent.objects.filter(actor_uuid=user.uuid, action=AuditAction.DENIED).count() == 3


@pytest.mark.parametrize(
    ("query", "field", "message"),
    [
        ({"month": "2026-13"}, "month", NO_MONTH["invalid_choice"]),
        ({"month": "garbage"}, "month", NO_MONTH["invalid_choice"]),
        ({"dimension": "patient"}, "dimension", INVALID["invalid_choice"]),
        ({"region": "Atlantis"}, "region", INVALID["invalid_choice"]),
        ({"group": "everything"}, "group", INVALID["invalid_choice"]),
        ({"sort": "transfers"}, "sort", INVALID["invalid_choice"]),
    ],
)
def test_a_bad_query_is_answered_422_in_russian(march: March, query, field, message):
    client = logged_in(make_user(Role.ANALYST, language="ru"), "ru")

    response = client.get("/analytics/", query)

    assert response.status_code == 422
    html = response.content.decode()
    assert "Исправьте, пожалуйста, следующее" in html
    assert f'href="#id_{field}"' in html
    with translation.override("ru"):
        assert escape(str(message)) in html
    assert 'data-testid="analytics-table"' not in html


def test_a_trend_of_an_unknown_place_is_answered_422(march: March):
    client = logged_in(make_user(Role.ANALYST, language="ru"), "ru")

    for query in (
        {"dimension": "region", "key": "Atlantis"},
        {"dimension": "settlement", "key": "not-a-uuid"},
        {"dimension": "spaceship", "key": "x"},
        {"dimension": "region", "key": "Chukotka\x00"},
        {"dimension": "region", "key": "x" * 500},
        {"dimension": "settlement", "key": str(march.uelen.uuid), "cross_border": "1"},
        {},
    ):
        assert client.get("/analytics/trend/", query).status_code == 422


def test_the_partners_page_answers_a_bad_month_422(march: March):
    response = logged_in(march.partner_analyst, "en").get("/analytics/partner/", {"month": "1"})

    assert response.status_code == 422
    assert 'href="#id_month"' in response.content.decode()


def test_every_page_is_audited_with_its_query(march: March):
    client = logged_in(march.analyst)

    client.get("/analytics/", {"dimension": "settlement", "region": "Chukotka"})
    client.get("/analytics/trend/", {"dimension": "region", "key": "Chukotka"})
    client.get("/analytics/partner/")

    (dashboard,) = _views(march.analyst, "dashboard")
    assert dashboard.action == AuditAction.VIEW
    assert dashboard.details["dimension"] == "settlement"
    assert dashboard.details["region"] == "Chukotka"
    assert dashboard.details["month"] == "2026-03"
    (trend,) = _views(march.analyst, "trend")
    assert trend.details["key"] == "Chukotka"
    assert len(_views(march.analyst, "partner")) == 1
    # An aggregate names no one: no patient is linked to these records.
    assert "patients_shown" not in dashboard.details


@pytest.mark.parametrize(
    "url",
    [
        "/analytics/",
        "/analytics/?dimension=settlement",
        "/analytics/?dimension=facility&group=evacuations",
        "/analytics/trend/?dimension=region&key=Chukotka",
        "/analytics/partner/",
    ],
)
def test_pages_are_small_and_carry_no_inline_script_or_style(march: March, url):
    response = logged_in(march.analyst).get(url)

    assert response.status_code == 200
    assert len(response.content) < PAGE_LIMIT
    html = response.content.decode()
    assert "<style" not in html
    assert " style=" not in html
    assert "<script>" not in html


def test_the_analysts_home_page_leads_to_the_analytics(march: March):
    home = logged_in(march.analyst).get("/").content.decode()
    partner_home = logged_in(march.partner_analyst).get("/").content.decode()

    assert 'href="/analytics/"' in home
    assert 'href="/analytics/partner/"' in partner_home
    assert 'href="/analytics/"' not in partner_home


def test_before_any_computation_the_dashboard_says_so(scene: Scene):  # noqa: F811
    client: Client = logged_in(make_user(Role.ANALYST))

    response = client.get("/analytics/")

    assert response.status_code == 200
    assert "have not been computed yet" in response.content.decode()


def test_the_newest_whole_month_is_the_default_not_the_month_in_progress(march: March):
    # A request on 11 May and the night's computation: May has figures, but only ten days' worth.
    later = COMPUTED + timedelta(days=40)
    with time_machine.travel(later, tick=False):
        patient = _resident(march.scene, march.scene.chain.post)
        _submit(march.scene.feldsher, patient, march.scene)
        refresh(now=later)

        client = logged_in(march.analyst)
        dashboard = client.get("/analytics/").content.decode()
        map_page = client.get("/analytics/map/").content.decode()
        partner = client.get("/analytics/partner/").content.decode()
        export = client.get("/analytics/export/dashboard.csv")

    # March is the newest whole month: every page and export opens on it.
    assert 'value="2026-03" selected' in dashboard
    assert "Regions, March 2026" in dashboard
    assert 'value="2026-03" selected' in map_page
    assert 'value="2026-03" selected' in partner
    assert "farcare-analytics-2026-03-region.csv" in export["Content-Disposition"]
    # Once May is over, May is the default.
    with time_machine.travel(datetime(2026, 6, 2, 9, 0, tzinfo=UTC), tick=False):
        html = logged_in(march.analyst).get("/analytics/").content.decode()
    assert 'value="2026-05" selected' in html


def test_the_default_month_is_the_newest_before_the_current_one_else_the_newest():
    may, march_ = date(2026, 5, 1), date(2026, 3, 1)

    assert default_month([may, march_], now=datetime(2026, 5, 11, tzinfo=UTC)) == march_
    assert default_month([may, march_], now=datetime(2026, 6, 1, tzinfo=UTC)) == may
    # Only the month in progress is computed: it is all there is.
    assert default_month([march_], now=datetime(2026, 3, 20, tzinfo=UTC)) == march_
    assert default_month([], now=datetime(2026, 3, 20, tzinfo=UTC)) is None


@pytest.mark.parametrize(
    "query",
    [
        # A form leaves only the indicators counted per form: no escalations column.
        {"form": "emergency", "sort": "escalated"},
        # Consultations are counted per form for everyone only, not per region.
        {"form": "planned", "sort": "consultations"},
        # Evacuations, results and training are counted by place, never by specialty.
        {"group": "evacuations", "dimension": "specialty", "sort": "transfers"},
        {"group": "diagnostics", "dimension": "specialty", "sort": "results"},
        {"group": "training", "dimension": "specialty", "sort": "trained_staff"},
    ],
)
def test_an_order_by_a_figure_the_table_does_not_show_is_answered_422(march: March, query):
    client = logged_in(march.analyst)

    response = client.get("/analytics/", query)

    assert response.status_code == 422
    html = response.content.decode()
    assert 'href="#id_sort"' in html
    assert "Choose an indicator of the table shown." in html
    assert 'data-testid="analytics-table"' not in html
    assert client.get("/analytics/export/dashboard.csv", query).status_code == 422
    # The page's refusal and the export's are both in the audit trail, with what was asked.
    page, export = _views(march.analyst, "dashboard")
    assert (page.action, page.details["invalid"]) == (AuditAction.VIEW, True)
    assert page.details["sort"] == query["sort"]
    assert (export.action, export.details["invalid"]) == (AuditAction.EXPORT, True)
    assert (export.details["fmt"], export.details["status"]) == ("csv", 422)
    assert export.details["query"]["sort"] == query["sort"]


def test_an_order_by_a_figure_the_table_shows_is_worst_first(march: March):
    response = logged_in(march.analyst).get(
        "/analytics/", {"group": "evacuations", "dimension": "region", "sort": "transfers"}
    )

    assert response.status_code == 200
    assert 'data-testid="analytics-table"' in response.content.decode()


NUL_ADDRESSES = [
    "/analytics/?month=%00",
    "/analytics/trend/?dimension=region&key=Chukotka%00",
    "/analytics/map/?region=%00",
    "/analytics/partner/?month=%00",
    "/analytics/report/2026-03.pdf?lang=%00",
    "/analytics/export/dashboard.csv%00",
]


@pytest.mark.parametrize("address", NUL_ADDRESSES)
@pytest.mark.parametrize("role", [Role.ANALYST, Role.CLINICIAN])
def test_a_nul_byte_in_an_address_is_refused_and_audited_never_a_crash(march: March, address, role):
    # PostgreSQL refuses a NUL in a text or in JSON; the audit record keeps it as U+FFFD.
    user = make_user(role, None if role == Role.ANALYST else march.scene.chain.post)

    response = logged_in(user).get(address)

    expected = (403,) if role == Role.CLINICIAN else (404, 422)
    assert response.status_code in expected
    assert AuditEvent.objects.filter(actor_uuid=user.uuid).exists()


@pytest.mark.parametrize(
    ("value", "cross_border"),
    [("", False), ("0", False), ("false", False), ("1", True), ("true", True)],
)
def test_cross_border_0_means_the_domestic_trend(march: March, value, cross_border):
    client = logged_in(march.analyst)
    query = {"dimension": "region", "key": "Chukotka", "cross_border": value}

    response = client.get("/analytics/trend/", query)

    assert response.status_code == 200
    heading = response.content.decode().split("<h1>")[1].split("</h1>")[0]
    assert ("cross-border consultations" in heading) == cross_border
    export = client.get("/analytics/export/trend.csv", query)
    assert ("cross-border" in export["Content-Disposition"]) == cross_border
    page, _export = _views(march.analyst, "trend")
    assert page.details["cross_border"] == ("1" if cross_border else "")


def test_a_cross_border_flag_that_is_neither_yes_nor_no_is_answered_422(march: March):
    response = logged_in(march.analyst).get(
        "/analytics/trend/", {"dimension": "region", "key": "Chukotka", "cross_border": "maybe"}
    )

    assert response.status_code == 422
    assert 'href="#id_cross_border"' in response.content.decode()
