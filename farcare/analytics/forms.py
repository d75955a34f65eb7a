"""The queries of the analytics pages (issue 18): what a dashboard, a trend or the partner's
view may be asked for, checked before any cell is read. The exports read the same query with
the same forms (`shown_table`), so an exported table is the table the page showed.

A query string is untrusted: a value that is not one of the choices is the form's error, shown
in the reader's language with status 422, never a server error."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, date, datetime

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from farcare.access.policy import AnalyticsScope
from farcare.consults.models import ConsultForm
from farcare.core import values
from farcare.network.models import Settlement

from . import selectors
from .indicators import BY_CODE, CATALOGUE, DEFAULT_CODES, PARTNER_CODES, Source
from .models import Dimension
from .tables import ShownTable

# The indicator groups a page shows one at a time: a table of every indicator would be wider
# than any screen (and than 64 kbit/s wants).
GROUPS: dict[str, tuple[object, tuple[str, ...]]] = {
    "access": (_("Access and deadlines"), DEFAULT_CODES),
    "outcomes": (
        _("Outcomes of requests"),
        ("consultations", "answered", "declined", "not_answered", "cancelled"),
    ),
    "evacuations": (
        _("Evacuations"),
        tuple(i.code for i in CATALOGUE if i.source == Source.TRANSFERS),
    ),
    "diagnostics": (
        _("Diagnostics"),
        tuple(i.code for i in CATALOGUE if i.source == Source.RESULTS),
    ),
    "training": (
        _("Training"),
        tuple(i.code for i in CATALOGUE if i.source == Source.TRAINING),
    ),
}
DASHBOARD_DIMENSIONS = (
    (Dimension.REGION.value, _("Regions")),
    (Dimension.SETTLEMENT.value, _("Settlements")),
    (Dimension.FACILITY.value, _("Facilities")),
    (Dimension.SPECIALTY.value, _("Specialties")),
)
# The partner's view: cross-border consultations by these, one table each.
PARTNER_DIMENSIONS = (
    Dimension.SPECIALTY.value,
    Dimension.PARTNER.value,
    Dimension.REGION.value,
)
# A trend is the last year of computed months.
TREND_MONTHS = 12


def month_value(month: date) -> str:
    return month.strftime("%Y-%m")


def _month_choices(cross_border: bool = False) -> list[tuple[str, str]]:
    return [
        (month_value(month), selectors.month_label(month))
        for month in selectors.months_available(cross_border=cross_border)
    ]


def default_month(months: Sequence[date], *, now: datetime | None = None) -> date | None:
    """The month a page shows when none is chosen: the newest WHOLE month, that is the newest
    computed month before the current month in UTC, when there is one; else the newest. The
    month in progress is partial (and mostly hidden while its counts are small), so it is no
    one's best first look. `months` in any order; `now` for tests (default: the clock)."""
    moment = (now or timezone.now()).astimezone(UTC)
    current = date(moment.year, moment.month, 1)
    whole = [month for month in months if month < current]
    if whole:
        return max(whole)
    return max(months) if months else None


def _default_month_value(months: Sequence[tuple[str, str]]) -> str:
    chosen = default_month([_parse_month(value) for value, _label in months])
    return month_value(chosen) if chosen else ""


def _region_choices() -> list[tuple[str, object]]:
    regions = (
        Settlement.objects.filter(country=settings.FARCARE_HOME_COUNTRY)
        .order_by("region")
        .values_list("region", flat=True)
        .distinct()
    )
    return [
        ("", _("All regions")),
        *sorted(((region, values.region(region)) for region in regions), key=lambda pair: pair[1]),
    ]


def _form_choices() -> list[tuple[str, object]]:
    return [("", _("All forms")), *ConsultForm.choices]


def _with_defaults(data: Mapping[str, str] | None, defaults: dict[str, str]) -> dict[str, str]:
    """The query with what was left out filled in, so that the form shows what the page shows
    (the default month selected, not an empty choice)."""
    given = {name: str(value) for name, value in (data or {}).items()}
    return {**defaults, **{name: value for name, value in given.items() if value != ""}}


def _choices(form: forms.Form, name: str, choices: Sequence[tuple[str, object]]) -> None:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    field.choices = choices


def _parse_month(value: str) -> date:
    year, month = value.split("-")
    return date(int(year), int(month), 1)


INVALID = {"invalid_choice": _("Choose one of the listed values.")}
NO_MONTH = {"invalid_choice": _("Choose a month with computed figures.")}


class CrossBorderField(forms.Field):
    """Whether a query asks for the cross-border figures: "1" or "true" yes; left out, "", "0"
    or "false" no (domestic); anything else is the form's error. Not a BooleanField, which reads
    any non-empty text but "false" as yes, so that `cross_border=0` would have been answered
    with the cross-border table."""

    DOMESTIC = ("", "0", "false")
    CROSS_BORDER = ("1", "true")
    default_error_messages = {"invalid": _("Choose one of the listed values.")}

    def to_python(self, value: object) -> bool:
        text = "" if value is None else str(value).strip().lower()
        if text in self.DOMESTIC:
            return False
        if text in self.CROSS_BORDER:
            return True
        raise ValidationError(self.error_messages["invalid"], code="invalid")


def shown_codes(codes: Sequence[str], dimension: str, form: object) -> tuple[str, ...]:
    """The indicators of `codes` a dashboard table by `dimension` really has columns for: an
    indicator counted by place only (evacuations, results, training) has no specialty column,
    and a chosen consultation form leaves only the indicators counted per form (as
    `selectors.table` does). A sort by anything else has nothing to sort by."""
    return tuple(
        code
        for code in codes
        if dimension in BY_CODE[code].dimensions
        and (not form or selectors.per_form(BY_CODE[code], dimension))
    )


class DashboardForm(forms.Form):
    month = forms.ChoiceField(label=_("Month"), required=False, error_messages=NO_MONTH)
    dimension = forms.ChoiceField(
        label=_("By"),
        required=False,
        choices=DASHBOARD_DIMENSIONS,
        error_messages=INVALID,
    )
    region = forms.ChoiceField(label=_("Region"), required=False, error_messages=INVALID)
    group = forms.ChoiceField(
        label=_("Indicators"),
        required=False,
        choices=[(code, label) for code, (label, _codes) in GROUPS.items()],
        error_messages=INVALID,
    )
    form = forms.ChoiceField(
        label=_("Form of consultation"), required=False, error_messages=INVALID
    )
    sort = forms.ChoiceField(label=_("Order"), required=False, error_messages=INVALID)

    def __init__(self, data: Mapping[str, str] | None = None, **kwargs: object) -> None:
        months = _month_choices()
        defaults = {"dimension": Dimension.REGION.value, "group": "access"}
        if months:
            defaults["month"] = _default_month_value(months)
        super().__init__(_with_defaults(data, defaults), **kwargs)  # type: ignore[arg-type]
        self.months = months
        _choices(self, "month", self.months)
        _choices(self, "region", _region_choices())
        _choices(self, "form", _form_choices())
        _choices(
            self,
            "sort",
            [("", _("By place"))]
            + [
                (code, _("Worst first: %(indicator)s") % {"indicator": BY_CODE[code].label})
                for code in GROUPS.get(str(self.data.get("group")), GROUPS["access"])[1]
            ],
        )

    def clean_month(self) -> date | None:
        chosen = self.cleaned_data.get("month") or _default_month_value(self.months)
        return _parse_month(chosen) if chosen else None

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        cleaned["dimension"] = cleaned.get("dimension") or Dimension.REGION.value
        cleaned["group"] = cleaned.get("group") or "access"
        codes = GROUPS[str(cleaned["group"])][1]
        # A form narrows the indicators counted per form; other groups have none (outcomes by
        # place: consultations are counted per form for everyone only).
        dimension = str(cleaned["dimension"])
        if not any(selectors.per_form(BY_CODE[code], dimension) for code in codes):
            cleaned["form"] = ""
        sort = cleaned.get("sort") or ""
        if sort and sort not in shown_codes(codes, str(cleaned["dimension"]), cleaned["form"]):
            self.add_error("sort", _("Choose an indicator of the table shown."))
        return cleaned

    def query(self) -> dict[str, str]:
        """The query as audited and as handed on to the exports and the trend."""
        data = self.cleaned_data
        month = data.get("month")
        return {
            "month": month_value(month) if month else "",
            "dimension": data["dimension"],
            "region": data.get("region") or "",
            "group": data["group"],
            "form": data.get("form") or "",
            "sort": data.get("sort") or "",
        }

    def table(self, scope: AnalyticsScope) -> ShownTable | None:
        """The table asked for (None when nothing is computed yet). OutOfScope passes through."""
        if scope != AnalyticsScope.ALL:
            raise selectors.OutOfScope("dashboard")  # the partner's figures are its own page
        data = self.cleaned_data
        if data.get("month") is None:
            return None
        return selectors.table(
            scope=scope,
            month=data["month"],
            dimension=data["dimension"],
            codes=GROUPS[data["group"]][1],
            region=data.get("region") or "",
            form=data.get("form") or "",
            sort=data.get("sort") or "",
        )


class TrendForm(forms.Form):
    dimension = forms.ChoiceField(
        label=_("By"),
        choices=[(d.value, d.label) for d in Dimension],
        error_messages=INVALID,
    )
    key = forms.CharField(label=_("Place"), max_length=80)
    group = forms.ChoiceField(
        label=_("Indicators"),
        required=False,
        choices=[(code, label) for code, (label, _codes) in GROUPS.items()],
        error_messages=INVALID,
    )
    form = forms.ChoiceField(
        label=_("Form of consultation"), required=False, error_messages=INVALID
    )
    cross_border = CrossBorderField(label=_("Cross-border consultations only"), required=False)

    def __init__(self, data: Mapping[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(data, **kwargs)  # type: ignore[arg-type]
        _choices(self, "form", _form_choices())

    def clean(self) -> dict[str, object]:
        cleaned = super().clean() or {}
        cleaned["group"] = cleaned.get("group") or "access"
        return cleaned

    def query(self) -> dict[str, str]:
        data = self.cleaned_data
        return {
            "dimension": data["dimension"],
            "key": data["key"],
            "group": data["group"],
            "form": data.get("form") or "",
            "cross_border": "1" if data.get("cross_border") else "",
        }

    def table(self, scope: AnalyticsScope) -> ShownTable:
        """The last TREND_MONTHS computed months of one place. A scope CROSS_BORDER asking for
        domestic figures raises OutOfScope; an unknown place is the form's error (ValueError
        caught by `shown_table` and the views)."""
        data = self.cleaned_data
        cross_border = bool(data.get("cross_border"))
        if scope == AnalyticsScope.CROSS_BORDER and not cross_border:
            raise selectors.OutOfScope("domestic trend")
        codes: Sequence[str] = (
            PARTNER_CODES
            if cross_border and data["group"] == "access"
            else GROUPS[data["group"]][1]
        )
        return selectors.trend(
            scope=scope,
            dimension=data["dimension"],
            key=data["key"],
            months=selectors.months_available(cross_border=cross_border)[:TREND_MONTHS],
            codes=codes,
            form=data.get("form") or "",
            cross_border=cross_border,
        )


class PartnerForm(forms.Form):
    month = forms.ChoiceField(label=_("Month"), required=False, error_messages=NO_MONTH)
    dimension = forms.ChoiceField(
        label=_("By"),
        required=False,
        choices=[(d, Dimension(d).label) for d in PARTNER_DIMENSIONS],
        error_messages=INVALID,
    )
    form = forms.ChoiceField(
        label=_("Form of consultation"), required=False, error_messages=INVALID
    )

    def __init__(self, data: Mapping[str, str] | None = None, **kwargs: object) -> None:
        months = _month_choices(cross_border=True)
        defaults = {"month": _default_month_value(months)} if months else {}
        super().__init__(_with_defaults(data, defaults), **kwargs)  # type: ignore[arg-type]
        self.months = months
        _choices(self, "month", self.months)
        _choices(self, "form", _form_choices())

    def clean_month(self) -> date | None:
        chosen = self.cleaned_data.get("month") or _default_month_value(self.months)
        return _parse_month(chosen) if chosen else None

    def query(self) -> dict[str, str]:
        data = self.cleaned_data
        month = data.get("month")
        return {
            "month": month_value(month) if month else "",
            "dimension": data.get("dimension") or Dimension.SPECIALTY.value,
            "form": data.get("form") or "",
        }

    def tables(self, scope: AnalyticsScope) -> list[ShownTable]:
        """The month's cross-border figures by specialty, by partner hospital and by requesting
        region (one table, `dimension`, for an export)."""
        data = self.cleaned_data
        if data.get("month") is None:
            return []
        return [
            selectors.table(
                scope=scope,
                month=data["month"],
                dimension=dimension,
                codes=PARTNER_CODES,
                form=data.get("form") or "",
                cross_border=True,
            )
            for dimension in PARTNER_DIMENSIONS
        ]

    def table(self, scope: AnalyticsScope) -> ShownTable | None:
        data = self.cleaned_data
        if data.get("month") is None:
            return None
        return selectors.table(
            scope=scope,
            month=data["month"],
            dimension=data.get("dimension") or Dimension.SPECIALTY.value,
            codes=PARTNER_CODES,
            form=data.get("form") or "",
            cross_border=True,
        )

    def trend(self, scope: AnalyticsScope) -> ShownTable:
        """Every partner hospital together, month by month."""
        return selectors.trend(
            scope=scope,
            dimension=Dimension.ALL.value,
            key=selectors.ALL_KEY,
            months=selectors.months_available(cross_border=True)[:TREND_MONTHS],
            codes=PARTNER_CODES,
            form=self.cleaned_data.get("form") or "",
            cross_border=True,
        )


FORMS: dict[str, type[DashboardForm] | type[TrendForm] | type[PartnerForm]] = {
    "dashboard": DashboardForm,
    "trend": TrendForm,
    "partner": PartnerForm,
}


class BadQuery(ValueError):
    """The query is not one a page can answer; `form` holds the errors to show (422)."""

    def __init__(self, form: forms.Form) -> None:
        super().__init__(form.errors.as_text())
        self.form = form


def shown_table(slug: str, data: Mapping[str, str], scope: AnalyticsScope) -> ShownTable | None:
    """The one table a page with this slug ("dashboard", "trend", "partner") shows for this
    query: what an export of it writes. Raises BadQuery (422), OutOfScope (403), KeyError for
    an unknown slug (404). None when no month is computed yet."""
    form = FORMS[slug](data)
    if not form.is_valid():
        raise BadQuery(form)
    try:
        return form.table(scope)
    except ValueError as error:
        form.add_error(None, _("There is no such place, specialty or partner hospital."))
        raise BadQuery(form) from error


# The map's indicator when none is chosen: who gets little care, per head.
DEFAULT_MAP_INDICATOR = "consultations_per_1000"


class MapForm(forms.Form):
    month = forms.ChoiceField(label=_("Month"), required=False, error_messages=NO_MONTH)
    indicator = forms.ChoiceField(
        label=_("Indicator"),
        required=False,
        choices=[(indicator.code, indicator.label) for indicator in CATALOGUE],
        error_messages=INVALID,
    )
    region = forms.ChoiceField(label=_("Region"), required=False, error_messages=INVALID)

    def __init__(self, data: Mapping[str, str] | None = None, **kwargs: object) -> None:
        months = _month_choices()
        # What was left out filled in, so the menus show what the map shows (and an export of
        # the map as it opened is the map's table).
        defaults = {"indicator": DEFAULT_MAP_INDICATOR}
        if months:
            defaults["month"] = _default_month_value(months)
        super().__init__(_with_defaults(data, defaults), **kwargs)  # type: ignore[arg-type]
        self.months = months
        self.fields["month"].choices = self.months  # type: ignore[attr-defined]
        self.fields["region"].choices = _region_choices()  # type: ignore[attr-defined]

    def clean_month(self) -> date | None:
        chosen = self.cleaned_data.get("month") or _default_month_value(self.months)
        return _parse_month(chosen) if chosen else None

    def query(self) -> dict[str, str]:
        month = self.cleaned_data.get("month")
        return {
            "month": month_value(month) if month else "",
            "indicator": self.cleaned_data["indicator"],
            "region": self.cleaned_data.get("region") or "",
        }
