"""The ministries' analytics pages (issue 18): the dashboard, one place's trend and the partner
abroad's view. Every figure comes from `selectors` (precomputed cells, hidden as computed);
no page names or links a person. Every page is audited with its query; a refusal is audited as
denied; a query that is not one of the choices is answered 422 with the form's error."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from farcare.access.policy import AnalyticsScope, analytics_scope
from farcare.core import values
from farcare.core.durations import minutes_text

from . import auditing, selectors
from .forms import GROUPS, DashboardForm, PartnerForm, TrendForm, month_value
from .indicators import Indicator, Kind
from .models import Dimension
from .tables import SUPPRESSED_TEXT, Figure, Row, ShownTable

PLACE_COLUMNS = (Dimension.SETTLEMENT.value, Dimension.FACILITY.value)
# What an audit record keeps of a query it could not answer: the known fields, cut short.
QUERY_FIELDS = ("month", "dimension", "region", "group", "form", "sort", "key", "cross_border")


# --- what a cell reads as -----------------------------------------------------------------


def figure_text(indicator: Indicator, figure: Figure) -> str:
    """A figure in the reader's language: minutes as '1 h 25 min', numbers with the language's
    separators. Hidden and empty figures read as the selectors wrote them."""
    if figure.value is None:
        return figure.text
    if indicator.kind == Kind.MINUTES:
        return minutes_text(round(figure.value))
    if indicator.kind == Kind.RATE:
        return values.number(figure.value, places=1)
    if indicator.kind == Kind.COUNT:
        return values.number(round(figure.value))
    return figure.text


@dataclass(frozen=True)
class Cell:
    text: str
    hidden: bool
    label: str


@dataclass(frozen=True)
class ShownRow:
    row: Row
    cells: list[Cell]
    trend_url: str = ""


def _cells(table: ShownTable, row: Row) -> list[Cell]:
    return [
        Cell(
            figure_text(indicator, row.figures[indicator.code]),
            row.figures[indicator.code].suppressed,
            str(indicator.label),
        )
        for indicator in table.indicators
    ]


def _trend_url(table: ShownTable, row: Row, group: str) -> str:
    query = {"dimension": table.dimension, "key": row.key, "group": group}
    if table.form:
        query["form"] = table.form
    if table.cross_border:
        query["cross_border"] = "1"
    return f"{reverse('analytics:trend')}?{urlencode(query)}"


def shown_rows(table: ShownTable, group: str = "access", with_trend: bool = True) -> list[ShownRow]:
    return [
        ShownRow(row, _cells(table, row), _trend_url(table, row, group) if with_trend else "")
        for row in table.rows
    ]


def _table_context(
    table: ShownTable, group: str = "access", with_trend: bool = True
) -> dict[str, Any]:
    return {
        "table": table,
        "rows": shown_rows(table, group, with_trend),
        "total": ShownRow(table.total, _cells(table, table.total)) if table.total else None,
        "place_columns": table.dimension in PLACE_COLUMNS,
        # A trend's rows are months; a table's are places (specialties, partners).
        "first_column": _("Month") if not with_trend else Dimension(table.dimension).label,
    }


def _export_links(slug: str, query: dict[str, str]) -> dict[str, str]:
    shown = urlencode({key: value for key, value in query.items() if value})
    return {
        fmt: f"{reverse('analytics:export', kwargs={'table': slug, 'fmt': fmt})}?{shown}"
        for fmt in ("csv", "xlsx")
    }


# --- who may see what -------------------------------------------------------------------


def _audit(request: HttpRequest, page: str, query: dict[str, str], **more: object) -> None:
    auditing.viewed(request, page, query, **more)


def _refuse(request: HttpRequest, page: str, message: str) -> PermissionDenied:
    return auditing.refused(request, page, QUERY_FIELDS, message)


def _raw_query(request: HttpRequest) -> dict[str, str]:
    return auditing.asked(request, QUERY_FIELDS)


def _scope(request: HttpRequest, page: str) -> AnalyticsScope:
    scope = analytics_scope(request.user)  # type: ignore[arg-type]
    if scope is None:
        raise _refuse(
            request, page, _("Analytics are for analysts, administrators and coordinators.")
        )
    return scope


def _invalid(
    request: HttpRequest, page: str, template: str, context: dict[str, Any]
) -> HttpResponse:
    _audit(request, page, _raw_query(request), invalid=True)
    return render(request, template, context, status=422)


def _common(scope: AnalyticsScope) -> dict[str, Any]:
    run = selectors.last_run()
    return {
        "computed_at": run.finished_at if run else None,
        "scope_all": scope == AnalyticsScope.ALL,
        "suppressed_text": SUPPRESSED_TEXT,
    }


# --- the pages ---------------------------------------------------------------------------


@login_required
@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    """One month's figures by region, settlement, facility or specialty; a settlement's and a
    facility's distance to the regional hub, link and population beside them."""
    scope = _scope(request, "dashboard")
    if scope != AnalyticsScope.ALL:
        raise _refuse(
            request,
            "dashboard",
            _("Your view is the figures of cross-border consultations: open the partner's page."),
        )
    form = DashboardForm(request.GET)
    context: dict[str, Any] = {"form": form, **_common(scope)}
    if not form.is_valid():
        return _invalid(request, "dashboard", "analytics/dashboard.html", context)
    query = form.query()
    try:
        table = form.table(scope)
    except ValueError:
        # The form refuses what it knows a table cannot show; this is the last word on it.
        form.add_error(None, _("This query cannot be answered."))
        return _invalid(request, "dashboard", "analytics/dashboard.html", context)
    if table is not None:
        context.update(_table_context(table, query["group"]))
        month = form.cleaned_data["month"]
        context["exports"] = _export_links("dashboard", query)
        context["reports"] = [
            (code, f"{reverse('analytics:report', args=[month.year, month.month])}?lang={code}")
            for code in ("ru", "ko", "en")
        ]
        map_query = {"month": query["month"], "region": query["region"]}
        context["map_url"] = (
            f"{reverse('analytics:map')}?{urlencode({k: v for k, v in map_query.items() if v})}"
        )
    context["group_label"] = GROUPS[query["group"]][0]
    _audit(request, "dashboard", query)
    return render(request, "analytics/dashboard.html", context)


@login_required
@require_GET
def trend(request: HttpRequest) -> HttpResponse:
    """One place's (specialty's, partner's) figures over the last year of computed months. A
    partner abroad has the trends of cross-border figures only."""
    scope = _scope(request, "trend")
    form = TrendForm(request.GET)
    context: dict[str, Any] = {"form": form, **_common(scope)}
    if not form.is_valid():
        return _invalid(request, "trend", "analytics/trend.html", context)
    query = form.query()
    try:
        table = form.table(scope)
    except selectors.OutOfScope:
        raise _refuse(
            request, "trend", _("Your view is the figures of cross-border consultations.")
        ) from None
    except ValueError:
        form.add_error("key", _("There is no such place, specialty or partner hospital."))
        return _invalid(request, "trend", "analytics/trend.html", context)
    context.update(_table_context(table, query["group"], with_trend=False))
    context["exports"] = _export_links("trend", query)
    context["back_url"] = (
        reverse("analytics:partner") if table.cross_border else reverse("analytics:dashboard")
    )
    _audit(request, "trend", query)
    return render(request, "analytics/trend.html", context)


@login_required
@require_GET
def partner(request: HttpRequest) -> HttpResponse:
    """The partner's view: cross-border consultations only — month by month, by specialty, by
    partner hospital and by requesting region. Counts, time to answer, outcomes; no person."""
    scope = _scope(request, "partner")
    form = PartnerForm(request.GET)
    context: dict[str, Any] = {"form": form, **_common(scope)}
    if not form.is_valid():
        return _invalid(request, "partner", "analytics/partner.html", context)
    query = form.query()
    month = form.cleaned_data.get("month")
    if month is not None:
        months = form.trend(scope)
        context["trend"] = _table_context(months, with_trend=False)
        context["trend_exports"] = _export_links(
            "trend",
            {
                "dimension": Dimension.ALL.value,
                "key": selectors.ALL_KEY,
                "cross_border": "1",
                "form": query["form"],
            },
        )
        context["tables"] = [
            {
                **_table_context(table),
                "exports": _export_links(
                    "partner", {**query, "month": month_value(month), "dimension": table.dimension}
                ),
            }
            for table in form.tables(scope)
        ]
    _audit(request, "partner", query)
    return render(request, "analytics/partner.html", context)
