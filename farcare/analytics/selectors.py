"""What the analytics pages, map, exports and report read (issue 18): tables of precomputed
`IndicatorCell`s, never a fact row and never a source record, so nothing shown can lead to a
person. A table costs a constant number of queries whatever the number of consultations: the
cells of one month and dimension, and the network's settlements, facilities and specialties for
labels and the place columns.

Keys of the cells per dimension: "all" → "all"; region → the region's name as stored
(`Settlement.region`); settlement and facility → the object's UUID; specialty → its code;
partner → the UUID of the consulting facility abroad.

Figures (`tables.Figure`): a hidden cell reads "×" with no value (a small cell and its
complement alike, so that neither can be told from the other); a missing cell (nothing was
computed for that place and month) reads "—". COUNT: an integer; RATE: one decimal; MINUTES:
whole minutes (the pages say them as "1 h 25 min"); SHARE: the cell keeps a fraction 0–1, the
figure's value is a percentage 0–100 and its text has no decimals ("83 %").

Row order: places in their natural order (regions by name; settlements and facilities by region,
then by distance to the regional hub, nearest first, so a region reads from the hub outwards;
specialties and partners by name), or with `sort=<indicator code>` worst first by that indicator
(hidden and empty figures last, in natural order, so a hidden figure's rank gives nothing away).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from django.conf import settings
from django.utils import formats
from django.utils.translation import gettext as _

from farcare.access.policy import AnalyticsScope
from farcare.core import values
from farcare.evacuation.geo import Point as GeoPoint
from farcare.evacuation.geo import great_circle_km
from farcare.network.models import (
    CHAIN_LEVEL,
    Facility,
    FacilityKind,
    LinkType,
    Settlement,
    Specialty,
)

from .indicators import BY_CODE, DEFAULT_CODES, PARTNER_CODES, Indicator, Kind
from .models import ComputeRun, Dimension, IndicatorCell
from .tables import EMPTY_TEXT, SUPPRESSED_TEXT, Figure, Place, Row, ShownTable

ALL_KEY = "all"
# The dimensions a table of cross-border cells has (the partner's view).
CROSS_BORDER_DIMENSIONS = (
    Dimension.ALL.value,
    Dimension.REGION.value,
    Dimension.SPECIALTY.value,
    Dimension.PARTNER.value,
)
PLACE_DIMENSIONS = (Dimension.SETTLEMENT.value, Dimension.FACILITY.value)


class OutOfScope(Exception):
    """The user's analytics scope does not cover what was asked (views: 403, audited as
    denied): a partner abroad asking for Russia's domestic figures."""


def months_available(*, cross_border: bool = False) -> list[date]:
    """Months that have computed cells, newest first (cross-border ones for the partner)."""
    queryset = IndicatorCell.objects.all()
    if cross_border:
        queryset = queryset.filter(cross_border=True)
    return list(queryset.order_by("-month").values_list("month", flat=True).distinct())


def last_run() -> ComputeRun | None:
    """The last computation that finished: when the figures on a page were computed."""
    return ComputeRun.objects.filter(finished_at__isnull=False).order_by("-finished_at").first()


def figure(indicator: Indicator, cell: IndicatorCell | None) -> Figure:
    """One cell as every reader shows it (see the module's docstring for the formats)."""
    if cell is None:
        return Figure(None, EMPTY_TEXT)
    if cell.suppressed:
        return Figure(None, SUPPRESSED_TEXT, suppressed=True)
    value = cell.value
    if value is None and indicator.kind == Kind.COUNT:
        value = float(cell.count)
    if value is None:
        return Figure(None, EMPTY_TEXT)
    if indicator.kind == Kind.COUNT:
        return Figure(float(round(value)), str(round(value)))
    if indicator.kind == Kind.RATE:
        return Figure(round(value, 1), f"{value:.1f}")
    if indicator.kind == Kind.MINUTES:
        return Figure(float(round(value)), str(round(value)))
    percent = value * 100
    return Figure(round(percent, 1), f"{round(percent)} %")


def _codes(
    scope: AnalyticsScope, codes: Sequence[str] | None, cross_border: bool, dimension: str
) -> tuple[Indicator, ...]:
    if codes is None:
        codes = PARTNER_CODES if cross_border else DEFAULT_CODES
    unknown = [code for code in codes if code not in BY_CODE]
    if unknown:
        raise ValueError(f"unknown indicators: {', '.join(unknown)}")
    chosen = [BY_CODE[code] for code in codes]
    if scope == AnalyticsScope.CROSS_BORDER:
        chosen = [indicator for indicator in chosen if indicator.code in PARTNER_CODES]
    if cross_border:
        chosen = [indicator for indicator in chosen if indicator.cross_border]
    # A place-only indicator (evacuations, results, training) has no specialty or partner cells.
    return tuple(
        indicator
        for indicator in chosen
        if dimension == Dimension.ALL or dimension in indicator.dimensions
    )


def _check_scope(scope: AnalyticsScope, dimension: str, cross_border: bool) -> bool:
    """Whether the table is of cross-border cells; raises OutOfScope or ValueError."""
    if dimension not in Dimension.values:
        raise ValueError(f"unknown dimension: {dimension}")
    if scope == AnalyticsScope.CROSS_BORDER:
        if dimension not in CROSS_BORDER_DIMENSIONS:
            raise OutOfScope(dimension)
        return True
    if scope != AnalyticsScope.ALL:
        raise OutOfScope(str(scope))
    if cross_border and dimension not in CROSS_BORDER_DIMENSIONS:
        raise ValueError(f"no cross-border figures by {dimension}")
    if not cross_border and dimension == Dimension.PARTNER:
        raise ValueError("partner hospitals have cross-border figures only")
    return cross_border


@dataclass(frozen=True)
class _Labels:
    """Labels, regions and place facts of the rows of one dimension, from one or two queries."""

    labels: dict[str, str]
    regions: dict[str, str]
    places: dict[str, Place]
    # The rows shown even with no cell: a settlement with no consultation at all is the
    # inequity the table is for.
    defaults: frozenset[str] = frozenset()


def _home_settlements(region: str) -> list[Settlement]:
    queryset = Settlement.objects.filter(country=settings.FARCARE_HOME_COUNTRY)
    if region:
        queryset = queryset.filter(region=region)
    return list(queryset)


def _facility_rows(region: str) -> list[Facility]:
    """The facilities whose link and distance a place needs: at home, in the region if one is
    chosen (the regional hubs are among them)."""
    queryset = Facility.objects.filter(country=settings.FARCARE_HOME_COUNTRY).only(
        "uuid",
        "name_ru",
        "name_en",
        "name_ko",
        "kind",
        "region",
        "settlement_id",
        "latitude",
        "longitude",
        "link_type",
        "bandwidth_kbps",
    )
    if region:
        queryset = queryset.filter(region=region)
    return list(queryset)


def _hubs(facilities: Iterable[Facility]) -> dict[str, GeoPoint]:
    """Each region's regional hub (the first by name if a region has several)."""
    hubs: dict[str, GeoPoint] = {}
    for facility in sorted(facilities, key=lambda f: f.name_en):
        if facility.kind == FacilityKind.REGIONAL_HUB and facility.region not in hubs:
            hubs[facility.region] = GeoPoint(facility.latitude, facility.longitude)
    return hubs


def _km(hub: GeoPoint | None, latitude: float, longitude: float) -> int | None:
    if hub is None:
        return None
    return round(great_circle_km(GeoPoint(latitude, longitude), hub))


def _link_label(link_type: str) -> str:
    return str(LinkType(link_type).label) if link_type in LinkType.values else link_type


def _settlement_labels(region: str) -> _Labels:
    settlements = _home_settlements(region)
    facilities = _facility_rows(region)
    hubs = _hubs(facilities)
    # The settlement's lowest-level facility is the link its residents' care goes through.
    lowest: dict[int, Facility] = {}
    for facility in facilities:
        known = lowest.get(facility.settlement_id)
        rank = (CHAIN_LEVEL.get(FacilityKind(facility.kind), 9), facility.bandwidth_kbps)
        if known is None or rank < (
            CHAIN_LEVEL.get(FacilityKind(known.kind), 9),
            known.bandwidth_kbps,
        ):
            lowest[facility.settlement_id] = facility
    labels, regions, places = {}, {}, {}
    for settlement in settlements:
        key = str(settlement.uuid)
        link = lowest.get(settlement.pk)
        labels[key] = settlement.name
        regions[key] = settlement.region
        places[key] = Place(
            population=settlement.population,
            distance_km=_km(hubs.get(settlement.region), settlement.latitude, settlement.longitude),
            link_type=link.link_type if link else "",
            link_label=_link_label(link.link_type) if link else "",
            bandwidth_kbps=link.bandwidth_kbps if link else None,
            latitude=settlement.latitude,
            longitude=settlement.longitude,
        )
    return _Labels(labels, regions, places, frozenset(labels))


def _facility_labels(region: str) -> _Labels:
    facilities = _facility_rows(region)
    hubs = _hubs(facilities)
    population = dict(
        Settlement.objects.filter(
            pk__in={facility.settlement_id for facility in facilities}
        ).values_list("pk", "population")
    )
    labels, regions, places = {}, {}, {}
    defaults = set()
    for facility in facilities:
        key = str(facility.uuid)
        # Consultations are requested from the chain's lower levels: a federal centre is a row
        # only when it has figures.
        if facility.kind != FacilityKind.FEDERAL_CENTRE:
            defaults.add(key)
        labels[key] = facility.name
        regions[key] = facility.region
        places[key] = Place(
            population=population.get(facility.settlement_id),
            distance_km=_km(hubs.get(facility.region), facility.latitude, facility.longitude),
            link_type=facility.link_type,
            link_label=_link_label(facility.link_type),
            bandwidth_kbps=facility.bandwidth_kbps,
            latitude=facility.latitude,
            longitude=facility.longitude,
        )
    return _Labels(labels, regions, places, frozenset(defaults))


def _region_labels(region: str) -> _Labels:
    population: dict[str, int] = {}
    for name, people in Settlement.objects.filter(
        country=settings.FARCARE_HOME_COUNTRY
    ).values_list("region", "population"):
        population[name] = population.get(name, 0) + people
    names = {region} & set(population) if region else set(population)
    return _Labels(
        {name: values.region(name) for name in names},
        {name: name for name in names},
        {name: Place(population=population[name]) for name in names},
        frozenset(names),
    )


def _specialty_labels() -> _Labels:
    labels = {s.code: s.name for s in Specialty.objects.all()}
    return _Labels(labels, {}, {}, frozenset(labels))


def _partner_labels(keys: Iterable[str]) -> _Labels:
    partners = Facility.objects.filter(uuid__in=list(keys)).exclude(
        country=settings.FARCARE_HOME_COUNTRY
    )
    return _Labels({str(f.uuid): f.name for f in partners}, {}, {})


def _labels(dimension: str, region: str, keys: Iterable[str]) -> _Labels:
    if dimension == Dimension.SETTLEMENT:
        return _settlement_labels(region)
    if dimension == Dimension.FACILITY:
        return _facility_labels(region)
    if dimension == Dimension.REGION:
        return _region_labels(region)
    if dimension == Dimension.SPECIALTY:
        return _specialty_labels()
    if dimension == Dimension.PARTNER:
        return _partner_labels(keys)
    return _Labels({ALL_KEY: _("All regions")}, {}, {}, frozenset({ALL_KEY}))


def _figures(
    indicators: Sequence[Indicator], cells: dict[tuple[str, str], IndicatorCell], key: str
) -> dict[str, Figure]:
    return {
        indicator.code: figure(indicator, cells.get((key, indicator.code)))
        for indicator in indicators
    }


def per_form(indicator: Indicator, dimension: str) -> bool:
    """Whether a table narrowed to one consultation form has the indicator: one counted per
    form, and a count only for everyone ("all"): counts of places by form, beside both their
    margins, would give hidden cells away (analytics.cells), so they are not computed."""
    return indicator.by_form and (indicator.kind != Kind.COUNT or dimension == Dimension.ALL)


def _cell_form(indicator: Indicator, form: str) -> str:
    return form if indicator.by_form else ""


def _worst_first(rows: list[Row], code: str) -> list[Row]:
    indicator = BY_CODE[code]
    shown = [row for row in rows if row.figures[code].value is not None]
    rest = [row for row in rows if row.figures[code].value is None]
    sign = 1 if indicator.higher_is_better else -1
    # A stable sort keeps the natural order among equal figures.
    shown.sort(key=lambda row: sign * (row.figures[code].value or 0.0))
    return shown + rest


def _natural_key(row: Row) -> tuple[str, int, str]:
    distance = row.place.distance_km if row.place and row.place.distance_km is not None else -1
    return (values.region(row.region) if row.region else "", distance, row.label.casefold())


def month_label(month: date) -> str:
    return formats.date_format(month, "YEAR_MONTH_FORMAT")


def _title(dimension: str, region: str, month: date | None, cross_border: bool) -> str:
    names = {
        Dimension.ALL.value: _("All regions"),
        Dimension.REGION.value: _("Regions"),
        Dimension.SETTLEMENT.value: _("Settlements"),
        Dimension.FACILITY.value: _("Facilities"),
        Dimension.SPECIALTY.value: _("Specialties"),
        Dimension.PARTNER.value: _("Partner hospitals"),
    }
    title = names[dimension]
    if region:
        title = _("%(what)s of %(region)s") % {"what": title, "region": values.region(region)}
    if cross_border:
        title = _("%(what)s, cross-border consultations") % {"what": title}
    if month is not None:
        title = f"{title}, {month_label(month)}"
    return title


def table(
    *,
    scope: AnalyticsScope,
    month: date,
    dimension: str,
    codes: Sequence[str] | None = None,
    region: str = "",
    form: str = "",
    cross_border: bool = False,
    sort: str = "",
) -> ShownTable:
    """The figures of one month by one dimension, with the total they are a part of.

    `codes` None: DEFAULT_CODES (PARTNER_CODES for cross-border tables). With scope
    CROSS_BORDER the table is of cross-border cells, limited to PARTNER_CODES and to the
    dimensions all, region, specialty and partner (anything else raises OutOfScope). `region`
    narrows settlements, facilities and regions (the total is then the region's figure); it is
    ignored for specialties and partners, which are not counted per region. `form` narrows the
    by-form indicators to one consultation form; the others are then left out, so that no
    figure of all forms stands beside a figure of one. Raises ValueError for unknown codes,
    dimensions, sorts or forms."""
    cross_border = _check_scope(scope, dimension, cross_border)
    indicators = _codes(scope, codes, cross_border, dimension)
    if form:
        if form not in _forms():
            raise ValueError(f"unknown form: {form}")
        indicators = tuple(i for i in indicators if per_form(i, dimension))
    if sort and sort not in {indicator.code for indicator in indicators}:
        raise ValueError(f"cannot sort by {sort}")
    if dimension not in (*PLACE_DIMENSIONS, Dimension.REGION):
        region = ""
    codes_shown = [indicator.code for indicator in indicators]
    forms = {_cell_form(indicator, form) for indicator in indicators}

    queryset = IndicatorCell.objects.filter(
        month=month,
        indicator__in=codes_shown,
        cross_border=cross_border,
        form__in=forms,
    ).only("dimension", "key", "indicator", "form", "count", "value", "suppressed")
    total_dimension, total_key = (
        (Dimension.REGION.value, region)
        if region and dimension in PLACE_DIMENSIONS
        else (Dimension.ALL.value, ALL_KEY)
    )
    rows_cells: dict[tuple[str, str], IndicatorCell] = {}
    total_cells: dict[tuple[str, str], IndicatorCell] = {}
    # One query for the rows' cells and the total's: the total lives in another dimension.
    for cell in queryset.filter(dimension__in={dimension, total_dimension}):
        indicator = BY_CODE[cell.indicator]
        if cell.form != _cell_form(indicator, form):
            continue
        if cell.dimension == dimension:
            rows_cells[(cell.key, cell.indicator)] = cell
        if cell.dimension == total_dimension and cell.key == total_key:
            total_cells[(cell.key, cell.indicator)] = cell

    cell_keys = {key for key, _code in rows_cells}
    labels = _labels(dimension, region, cell_keys)
    # Cells of other regions' places (or of keys no longer in the register) are not rows.
    # The partner's view lists only what cross-border consultations reached.
    defaults = frozenset() if cross_border else labels.defaults
    keys = (defaults | cell_keys) & set(labels.labels)
    rows = [
        Row(
            key=key,
            label=labels.labels.get(key, key),
            region=labels.regions.get(key, ""),
            figures=_figures(indicators, rows_cells, key),
            place=labels.places.get(key),
        )
        for key in keys
    ]
    rows.sort(key=_natural_key)
    if sort:
        rows = _worst_first(rows, sort)
    total = None
    if dimension != Dimension.ALL:
        total_label = values.region(region) if total_dimension == Dimension.REGION else _("Total")
        total = Row(
            key=total_key,
            label=total_label,
            region=region,
            figures=_figures(indicators, total_cells, total_key),
        )
    return ShownTable(
        title=_title(dimension, region, month, cross_border),
        dimension=dimension,
        months=(month,),
        indicators=indicators,
        rows=tuple(rows),
        total=total,
        cross_border=cross_border,
        form=form,
        region=region,
    )


def _forms() -> tuple[str, ...]:
    from farcare.consults.models import ConsultForm

    return tuple(ConsultForm.values)


def row_label(dimension: str, key: str) -> str | None:
    """The label of one row's key (a region, settlement, facility, specialty or partner), or
    None if there is no such key: what a trend's title names."""
    if dimension == Dimension.ALL:
        return _("All regions") if key == ALL_KEY else None
    if dimension == Dimension.REGION:
        known = Settlement.objects.filter(country=settings.FARCARE_HOME_COUNTRY, region=key)
        return values.region(key) if key and known.exists() else None
    if dimension == Dimension.SPECIALTY:
        specialty = Specialty.objects.filter(code=key).first()
        return specialty.name if specialty else None
    if dimension not in (Dimension.SETTLEMENT, Dimension.FACILITY, Dimension.PARTNER):
        return None
    from uuid import UUID

    try:
        UUID(key)
    except ValueError:
        return None
    if dimension == Dimension.SETTLEMENT:
        settlement = Settlement.objects.filter(uuid=key).first()
        return settlement.name if settlement else None
    facility = Facility.objects.filter(uuid=key).first()
    if facility is None:
        return None
    abroad = facility.country != settings.FARCARE_HOME_COUNTRY
    return facility.name if abroad == (dimension == Dimension.PARTNER) else None


def trend(
    *,
    scope: AnalyticsScope,
    dimension: str,
    key: str,
    months: Sequence[date],
    codes: Sequence[str] | None = None,
    form: str = "",
    cross_border: bool = False,
) -> ShownTable:
    """One row per month (newest first) of one place's (specialty's, partner's) figures.
    Scope and codes as `table`; an unknown key raises ValueError."""
    cross_border = _check_scope(scope, dimension, cross_border)
    indicators = _codes(scope, codes, cross_border, dimension)
    if form:
        if form not in _forms():
            raise ValueError(f"unknown form: {form}")
        indicators = tuple(i for i in indicators if per_form(i, dimension))
    label = row_label(dimension, key)
    if label is None:
        raise ValueError(f"unknown {dimension}: {key}")
    ordered = sorted(set(months), reverse=True)
    cells: dict[tuple[str, str], IndicatorCell] = {}
    for cell in IndicatorCell.objects.filter(
        month__in=ordered,
        dimension=dimension,
        key=key,
        indicator__in=[indicator.code for indicator in indicators],
        cross_border=cross_border,
        form__in={_cell_form(indicator, form) for indicator in indicators},
    ):
        if cell.form == _cell_form(BY_CODE[cell.indicator], form):
            cells[(cell.month.isoformat(), cell.indicator)] = cell
    rows = tuple(
        Row(
            key=month.strftime("%Y-%m"),
            label=month_label(month),
            figures=_figures(indicators, cells, month.isoformat()),
        )
        for month in ordered
    )
    title = (
        label if not cross_border else _("%(what)s, cross-border consultations") % {"what": label}
    )
    return ShownTable(
        title=title,
        dimension=dimension,
        months=tuple(ordered),
        indicators=indicators,
        rows=rows,
        total=None,
        cross_border=cross_border,
        form=form,
        region=key if dimension == Dimension.REGION else "",
    )
