"""The demo's year of analytics (farcare.demo.analytics), as the people of `make run` meet it: the
ministry's analyst finds twelve months of figures where remote posts on slow links ask less and
wait longer, small settlements hidden with their complement; the Korean partner's analyst logs
in with the demo password and gets the cross-border view; the clinicians' worklists, boards and
home pages are what they were, since every past case is closed and before this month; loading
twice changes nothing."""

from __future__ import annotations

import csv
import io
import statistics
from collections import defaultdict
from datetime import UTC, date, datetime

import pytest
from django.apps import apps
from django.test import Client
from django.utils import timezone, translation

from farcare.access.policy import AnalyticsScope, analytics_scope
from farcare.accounts.models import Role, User
from farcare.analytics.indicators import BY_CODE
from farcare.analytics.spreadsheets import figure_header
from farcare.analytics.tables import SUPPRESSED_TEXT
from farcare.consults.conclusions import conclusion_verification
from farcare.consults.models import OPEN_STATUSES, Conclusion, Consultation, Transition
from farcare.consults.selectors import (
    awaiting_answer,
    consultant_queue,
    coordinator_board,
    requester_list,
    unacknowledged,
)
from farcare.core import values
from farcare.core.months import add_months, month_start
from farcare.demo.analytics import ANALYST_KR, MONTHS, load_analytics
from farcare.demo.loader import DEMO_PASSWORD
from farcare.network.models import Settlement


@pytest.fixture
def demo(demo_network) -> None:
    """The demo network with its year of history computed (a no-op when it already holds it)."""
    load_analytics()


def this_month() -> datetime:
    now = timezone.now()
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def history():
    return Consultation.objects.filter(received_at__lt=this_month())


def test_a_year_of_closed_cases_before_this_month(demo):
    past = history()
    assert 300 <= past.count() <= 1_500
    assert not past.filter(status__in=OPEN_STATUSES).exists()
    assert not Transition.objects.filter(consultation__in=past, at__gte=this_month()).exists()
    months = {c.received_at.date().replace(day=1) for c in past.only("received_at")}
    first = add_months(month_start(this_month().date()), -MONTHS)
    assert months == {add_months(first, n) for n in range(MONTHS)}
    # Some escalated, re-routed, declined, reassigned, late: the indicators have work to do.
    events = set(Transition.objects.filter(consultation__in=past).values_list("event", flat=True))
    assert {"half_deadline", "breached", "declined", "reassigned", "routed"} <= events
    abroad = past.exclude(routed_facility__country="RU").count()
    assert 0.05 * past.count() < abroad < 0.4 * past.count()


def test_remote_posts_on_slow_links_ask_less_and_wait_longer(demo):
    per_1000: dict[int, list[float]] = defaultdict(list)
    waited: dict[int, list[float]] = defaultdict(list)
    asked = defaultdict(int)
    for c in history().select_related("patient__home_settlement"):
        asked[c.patient.home_settlement_id] += 1
    for settlement in Settlement.objects.filter(pk__in=asked).prefetch_related("facilities"):
        link = min(settlement.facilities.all(), key=lambda f: f.level).bandwidth_kbps
        per_1000[link].append(asked[settlement.pk] / settlement.population * 1000)
    for conclusion in Conclusion.objects.filter(
        consultation__in=history(), version=1
    ).select_related("consultation__requesting_facility"):
        c = conclusion.consultation
        if c.form == "urgent" and c.routed_facility.country == "RU":
            minutes = (conclusion.signed_at - c.received_at).total_seconds() / 60
            waited[c.requesting_facility.bandwidth_kbps].append(minutes)
    assert statistics.mean(per_1000[64]) < statistics.mean(per_1000[256])
    assert statistics.median(waited[128]) > statistics.median(waited[512])


def test_the_signed_history_verifies_and_is_numbered(demo):
    conclusions = Conclusion.objects.filter(consultation__in=history())
    assert conclusions.count() > 200
    numbers = list(conclusions.values_list("number", flat=True))
    assert all(numbers) and len(set(numbers)) == len(numbers)
    for conclusion in conclusions.order_by("?")[:10]:
        assert conclusion_verification(conclusion).valid
        assert conclusion.consultation.acknowledgement.conclusion_id == conclusion.pk


def consultations_column(client: Client, query: dict[str, str]) -> dict[str, str]:
    """The analyst's table as downloaded: row label → the consultations column."""
    response = client.get("/analytics/export/dashboard.csv", query)
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.content.decode("utf-8-sig"))))
    with translation.override("en"):
        column = rows[0].index(figure_header(BY_CODE["consultations"]))
    return {row[0]: row[column] for row in rows[1:]}


def test_a_small_settlement_is_hidden_with_its_complement(demo):
    """Oymyakon asks once or twice a month, beside Tiksi: the analyst's settlement table of
    Sakha hides Oymyakon, and a second figure with it, or Sakha's total would give Oymyakon
    away: Tiksi's, or Sakha's own where the regions' table hid it already."""
    analyst = User.objects.get(username="analyst")
    User.objects.filter(pk=analyst.pk).update(language="en")
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    client.force_login(analyst)
    oymyakon = Settlement.objects.get(name_en="Oymyakon")
    by_month: dict[date, int] = defaultdict(int)
    for c in history().filter(patient__home_settlement=oymyakon):
        by_month[c.received_at.date().replace(day=1)] += 1
    small = sorted(month for month, count in by_month.items() if 0 < count < 5)
    assert small, by_month
    for month in small:
        settlements = consultations_column(
            client, {"month": f"{month:%Y-%m}", "dimension": "settlement", "region": "Sakha"}
        )
        regions = consultations_column(client, {"month": f"{month:%Y-%m}", "dimension": "region"})
        with translation.override("en"):
            sakha = regions[values.region("Sakha")]
        assert settlements["Oymyakon"] == SUPPRESSED_TEXT
        assert settlements["Tiksi"] == SUPPRESSED_TEXT or sakha == SUPPRESSED_TEXT, month


def test_the_korean_partners_analyst_logs_in_to_the_cross_border_view(demo):
    user = User.objects.select_related("facility").get(username=ANALYST_KR)
    assert user.role == Role.ANALYST and user.facility is not None
    assert user.facility.country == "KR"
    assert analytics_scope(user) == AnalyticsScope.CROSS_BORDER
    client = Client()
    assert client.login(username=ANALYST_KR, password=DEMO_PASSWORD)
    assert client.get("/analytics/partner/").status_code == 200


def test_the_live_demo_is_as_it_was(demo):
    """The past is closed and acknowledged: no worklist, board or home page gains a row."""
    cardiologist = User.objects.get(username="cardiologist")
    coordinator = User.objects.get(username="coordinator")
    past = set(history().values_list("pk", flat=True))
    assert not past & {c.pk for c in consultant_queue(cardiologist)}
    assert not past & {c.pk for c in coordinator_board(coordinator)}
    for username in ("feldsher", "doctor", "doc_tiksi", "doc_pevek", "doc_okhotsk"):
        user = User.objects.get(username=username)
        assert not past & {c.pk for c in unacknowledged(user)}
        assert not past & {c.pk for c in awaiting_answer(user)}
    # The demo's own cases are still on the feldsher's list (a list of at most 200 rows).
    listed = {c.pk for c in requester_list(User.objects.get(username="feldsher"))}
    assert (
        set(
            Consultation.objects.filter(
                received_at__gte=this_month(), requester__username="feldsher"
            ).values_list("pk", flat=True)
        )
        <= listed
    )


def test_loading_twice_changes_nothing(demo):
    def census() -> dict[str, int]:
        return {
            model._meta.label: model._base_manager.count()
            for model in apps.get_models()
            if model._meta.app_label in ("consults", "signatures", "analytics", "patients")
            and model._meta.label != "analytics.ComputeRun"
        }

    before = census()
    load_analytics()
    assert census() == before
