"""The analytics map (issue 18, point 2): one month's figure of one indicator for every
settlement, as dots on the Far East's region outlines, with the same figures in a table beside
it (settlement, figure, distance to the regional hub, link) for those who do not read a map.

The map is of domestic residents' access to care: analysts, administrators and coordinators at
home see it; the partner abroad (cross-border figures only) and everyone else are refused, and
the refusal is audited. Every view is audited with its query. The figures are the selectors'
(`table(dimension="settlement")`), hidden exactly where every other reader hides them; a hidden
figure is a hollow ring without a number. Nothing on the page is fetched from outside."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from farcare.access.policy import AnalyticsScope, analytics_scope
from farcare.core import values

from . import auditing, outlines, selectors
from .forms import MapForm
from .indicators import BY_CODE, Indicator, Kind
from .map_svg import DrawnMap, MapPoint, draw_map
from .models import Dimension
from .tables import SUPPRESSED_TEXT, Figure, Row, ShownTable
from .views import figure_text

PAGE = "map"
QUERY_FIELDS = ("month", "indicator", "region")


@dataclass(frozen=True)
class TableRow:
    """A line of the table beside the map."""

    label: str
    region: str
    text: str
    hidden: bool
    distance_km: int | None
    link_label: str
    bandwidth_kbps: int | None


def _refuse(request: HttpRequest, message: str) -> PermissionDenied:
    return auditing.refused(request, PAGE, QUERY_FIELDS, message)


def _raw_query(request: HttpRequest) -> dict[str, str]:
    return auditing.asked(request, QUERY_FIELDS)


def _audit(request: HttpRequest, query: Mapping[str, object]) -> None:
    auditing.viewed(request, PAGE, query)


def map_points(table: ShownTable, indicator: Indicator) -> list[MapPoint]:
    """The settlements of a table that have a position, with the indicator's figure."""
    points = []
    for row in table.rows:
        place = row.place
        if place is None or place.latitude is None or place.longitude is None:
            continue
        shown = row.figures[indicator.code]
        points.append(
            MapPoint(
                label=row.label,
                region=row.region,
                latitude=place.latitude,
                longitude=place.longitude,
                value=shown.value,
                text=figure_text(indicator, shown),
                suppressed=shown.suppressed,
            )
        )
    return points


def _table_row(row: Row, indicator: Indicator) -> TableRow:
    shown = row.figures.get(indicator.code, Figure(None, "—"))
    place = row.place
    return TableRow(
        label=row.label,
        region=values.region(row.region) if row.region else "",
        text=figure_text(indicator, shown),
        hidden=shown.suppressed,
        distance_km=place.distance_km if place else None,
        link_label=place.link_label if place else "",
        bandwidth_kbps=place.bandwidth_kbps if place else None,
    )


def _number(indicator: Indicator) -> Callable[[float], str]:
    """A class bound in the legend as the table writes figures of this indicator."""

    def number(value: float) -> str:
        if indicator.kind == Kind.SHARE:
            return f"{round(value)} %"
        return figure_text(indicator, Figure(value, str(value)))

    return number


def _drawn(
    indicator: Indicator, points: list[MapPoint], region: str, month: date | None
) -> DrawnMap:
    shapes = outlines.far_east()
    where = values.region(region) if region else _("the Far East")
    title = _("%(indicator)s by settlement, %(where)s") % {
        "indicator": indicator.label,
        "where": where,
    }
    if month is not None:
        title = f"{title}, {selectors.month_label(month)}"
    return draw_map(
        outlines=shapes,
        points=points,
        higher_is_better=indicator.higher_is_better,
        title=title,
        region_names=lambda outline: values.pick_name(outline.names),
        number=_number(indicator),
        # One mark for every hidden figure: a small one and its complement read alike.
        no_data_label=_("%(mark)s hidden / no data") % {"mark": SUPPRESSED_TEXT},
        region=region,
    )


@login_required
@require_GET
def region_map(request: HttpRequest) -> HttpResponse:
    """GET ?month=YYYY-MM&indicator=<code>&region=<region>: every settlement of the Far East
    (or of one region) coloured by one indicator, and the same figures as a table."""
    scope = analytics_scope(request.user)  # type: ignore[arg-type]
    if scope is None:
        raise _refuse(request, _("Analytics are for analysts, administrators and coordinators."))
    if scope != AnalyticsScope.ALL:
        raise _refuse(
            request,
            _(
                "The map shows domestic residents' access to care; your view is the figures of "
                "cross-border consultations."
            ),
        )
    form = MapForm(request.GET)
    run = selectors.last_run()
    context: dict[str, Any] = {
        "form": form,
        "computed_at": run.finished_at if run else None,
        "suppressed_text": SUPPRESSED_TEXT,
    }
    if not form.is_valid():
        _audit(request, {**_raw_query(request), "invalid": True})
        return render(request, "analytics/map.html", context, status=422)
    query = form.query()
    indicator = BY_CODE[query["indicator"]]
    month = form.cleaned_data.get("month")
    region = query["region"]
    table = None
    if month is not None:
        table = selectors.table(
            scope=scope,
            month=month,
            dimension=Dimension.SETTLEMENT.value,
            codes=(indicator.code,),
            region=region,
        )
    drawn = _drawn(indicator, map_points(table, indicator) if table else [], region, month)
    context.update(
        {
            "indicator": indicator,
            "month": month,
            # Built here from escaped names and our own numbers (map_svg escapes every text).
            "map_svg": mark_safe(drawn.svg),  # noqa: S308
            "legend": drawn.legend,
            "rows": [_table_row(row, indicator) for row in table.rows] if table else [],
            "total": _table_row(table.total, indicator) if table and table.total else None,
            "show_region": not region,
        }
    )
    _audit(request, query)
    return render(request, "analytics/map.html", context)
