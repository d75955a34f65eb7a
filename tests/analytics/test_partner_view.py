"""The Korean partner's view (issue 18, point 3), as the partner hospital's analyst reads it on
the demo network: the figures are counts of cross-border consultations only (those a partner
hospital abroad answered), by specialty, by partner hospital and by the region the patients live
in, each equal to what the consultations themselves say, a small one hidden; Russia's domestic
figures never appear; and the domestic dashboard, map, trend and exports are refused, each
refusal audited."""

from __future__ import annotations

import csv
import io
from collections import Counter
from datetime import date

import pytest
from django.conf import settings
from django.db.models import Q
from django.test import Client
from django.utils import translation

from farcare.accounts.models import User
from farcare.analytics import selectors
from farcare.analytics.indicators import BY_CODE
from farcare.analytics.spreadsheets import figure_header
from farcare.analytics.tables import SUPPRESSED_TEXT
from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Consultation, Status
from farcare.core import values
from farcare.core.months import add_months
from farcare.demo.analytics import ANALYST_KR, load_analytics
from farcare.network.models import Facility, Specialty

NOT_COUNTED = (Status.DRAFT, Status.ENTERED_IN_ERROR)


@pytest.fixture
def partner(demo_network) -> Client:
    """The partner's analyst, reading in English; the demo's year of history computed (a no-op
    when the demo network already holds it)."""
    load_analytics()
    User.objects.filter(username=ANALYST_KR).update(language="en")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(User.objects.get(username=ANALYST_KR))
    return client


def month_with_most_cross_border() -> date:
    months = selectors.months_available(cross_border=True)
    assert months, "the demo's cross-border figures are computed"
    return max(months, key=lambda month: cross_border(month).count())


def submitted_in(month: date) -> Q:
    start, end = month, add_months(month, 1)
    return Q(received_at__date__gte=start, received_at__date__lt=end) & ~Q(status__in=NOT_COUNTED)


def cross_border(month: date):
    home = settings.FARCARE_HOME_COUNTRY
    return (
        Consultation.objects.filter(submitted_in(month))
        .filter(
            Q(routed_facility__country__isnull=False) & ~Q(routed_facility__country=home)
            | Q(assignments__facility__country__isnull=False)
            & ~Q(assignments__facility__country=home)
        )
        .distinct()
    )


def exported(client: Client, month: date, dimension: str) -> dict[str, str]:
    """The partner's table as they download it: row label → the consultations column."""
    response = client.get(
        "/analytics/export/partner.csv", {"month": f"{month:%Y-%m}", "dimension": dimension}
    )
    assert response.status_code == 200, response.content[:300]
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    with translation.override("en"):
        column = rows[0].index(figure_header(BY_CODE["consultations"]))
    return {row[0]: row[column] for row in rows[1:]}


def assert_counts(shown: dict[str, str], expected: Counter[str], total: int) -> None:
    """Every row shows the cross-border count of its key or hides it; the total is the month's
    cross-border count, or hidden."""
    labelled = {label: figure for label, figure in shown.items() if label in expected}
    assert labelled, (shown, expected)
    for label, figure in labelled.items():
        assert figure in (str(expected[label]), SUPPRESSED_TEXT), (label, figure, expected)
        if figure == SUPPRESSED_TEXT:
            assert expected[label] < 5 or sum(f == SUPPRESSED_TEXT for f in shown.values()) >= 2
    totals = [figure for label, figure in shown.items() if label not in expected]
    assert all(figure in (str(total), SUPPRESSED_TEXT, "0", "") for figure in totals), totals


def test_the_partner_sees_cross_border_counts_by_specialty(partner):
    month = month_with_most_cross_border()
    cases = list(cross_border(month).select_related("specialty"))
    with translation.override("en"):
        expected = Counter(str(case.specialty.name) for case in cases)
        every = {str(s.name) for s in Specialty.objects.all()}
    shown = exported(partner, month, "specialty")
    assert_counts(shown, expected, len(cases))
    # Specialties nobody abroad was asked about that month show nothing, not domestic counts.
    for label, figure in shown.items():
        if label in every and label not in expected:
            assert figure in ("0", "", "—"), (label, figure)


def test_the_partner_sees_cross_border_counts_by_partner_hospital(partner):
    month = month_with_most_cross_border()
    cases = list(cross_border(month).select_related("routed_facility"))
    with translation.override("en"):
        expected = Counter(str(case.routed_facility.name) for case in cases)
    shown = exported(partner, month, "partner")
    assert_counts(shown, expected, len(cases))
    # Only hospitals abroad are rows: no Russian hub's figures.
    with translation.override("en"):
        at_home = {str(f.name) for f in Facility.objects.filter(country="RU")}
    assert not at_home & set(shown)


def test_no_domestic_total_appears_in_the_partners_regions(partner):
    month = month_with_most_cross_border()
    cases = list(cross_border(month).select_related("patient__home_settlement"))
    with translation.override("en"):
        expected = Counter(values.region(c.patient.home_settlement.region) for c in cases)
        domestic = Counter(
            values.region(region)
            for region in Consultation.objects.filter(submitted_in(month)).values_list(
                "patient__home_settlement__region", flat=True
            )
        )
    shown = exported(partner, month, "region")
    assert_counts(shown, expected, len(cases))
    # Not vacuous: the regions' domestic counts differ from the cross-border ones shown.
    differing = [
        label
        for label, figure in shown.items()
        if label in expected and figure != SUPPRESSED_TEXT and domestic[label] != expected[label]
    ]
    assert differing, (shown, expected, domestic)
    all_consultations = Consultation.objects.filter(submitted_in(month)).count()
    assert str(all_consultations) not in shown.values()


def test_the_partners_page_has_cross_border_figures_only(partner):
    month = month_with_most_cross_border()
    page = partner.get("/analytics/partner/", {"month": f"{month:%Y-%m}"})
    assert page.status_code == 200
    html = page.content.decode()
    with translation.override("en"):
        # Indicators of domestic care only (residents' access, transfers, results, training).
        for code in ("consultations_per_1000", "transfers", "results", "training_coverage"):
            if code in BY_CODE:
                assert str(BY_CODE[code].label) not in html, code
    cross = partner.get(
        "/analytics/trend/", {"dimension": "all", "key": selectors.ALL_KEY, "cross_border": "1"}
    )
    assert cross.status_code == 200


@pytest.mark.parametrize(
    "address",
    [
        "/analytics/",
        "/analytics/?dimension=settlement",
        "/analytics/map/",
        "/analytics/trend/?dimension=region&key=Chukotka",
        "/analytics/trend/?dimension=all&key=all",
        "/analytics/export/dashboard.csv",
        "/analytics/export/dashboard.xlsx?dimension=region",
        "/analytics/export/map.csv",
        "/analytics/export/map.xlsx",
        "/analytics/export/trend.csv?dimension=region&key=Chukotka",
    ],
)
def test_the_domestic_pages_and_exports_are_refused_to_the_partner(partner, address):
    user = User.objects.get(username=ANALYST_KR)
    denied = AuditEvent.objects.filter(actor_uuid=user.uuid, action=AuditAction.DENIED)
    before = denied.count()
    response = partner.get(address)
    assert response.status_code == 403, (address, response.status_code)
    assert denied.count() == before + 1
