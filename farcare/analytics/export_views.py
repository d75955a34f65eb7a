"""Exports of the analytics (issue 18, point 5): any table a page shows as CSV or XLSX, and the
monthly report as PDF in Russian, Korean or English.

An export reads the page's own query with the page's own form (`forms.shown_table`; the map's
`MapForm`), so the file holds the table the page showed, hidden figures as
`tables.SUPPRESSED_TEXT`. Every export is audited (EXPORT, with the table, the format and the
query); an export that cannot be made (404, 422) is audited too, as EXPORT with `invalid` and
its status, like a page's unanswerable query; a refusal of the reader is audited as DENIED.
A partner abroad (scope CROSS_BORDER) exports the cross-border tables only, and gets a report
of the cross-border consultations only. Bad input is a page in the reader's language (404 for
an address that names no table or format, 422 for a query the page would refuse), never a
500."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Any, NoReturn

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils.http import content_disposition_header
from django.utils.text import slugify
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET

from farcare.access.policy import AnalyticsScope, analytics_scope
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.values import reader_language

from . import forms, selectors
from .report_pdf import LANGUAGES, monthly_report_pdf
from .spreadsheets import table_csv, table_xlsx
from .tables import ShownTable

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
FORMATS: dict[str, str] = {"csv": "text/csv; charset=utf-8", "xlsx": XLSX_TYPE}
# The tables an export can name: the pages' (forms.FORMS) and the map's settlements.
TABLES = ("dashboard", "trend", "partner", "map")
# What a partner abroad may export: the cross-border tables (the trend only with cross_border).
PARTNER_TABLES = ("partner", "trend")
# What an audit record keeps of an untrusted query.
MAX_QUERY_FIELDS, MAX_QUERY_TEXT = 10, 80


class _Refused(Exception):
    """Not a table, a format or a query an export can answer: the page to show instead."""

    def __init__(self, status: int, messages: Sequence[str]) -> None:
        super().__init__(" ".join(messages))
        self.status = status
        self.messages = list(messages)


@login_required
@require_GET
def table_export(request: HttpRequest, table: str, fmt: str) -> HttpResponse:
    """`table`: dashboard, trend, partner or map, with the page's own query; `fmt`: csv|xlsx."""
    accessor = Accessor.from_request(request)
    scope = _scope(accessor, {"analytics": table, "fmt": fmt})
    try:
        if table not in TABLES:
            raise _Refused(
                404, [_("There is no analytics table called “%(table)s”.") % {"table": table[:40]}]
            )
        if fmt not in FORMATS:
            raise _Refused(
                404,
                [_("Tables are exported as CSV or XLSX, not “%(format)s”.") % {"format": fmt[:20]}],
            )
        if scope == AnalyticsScope.CROSS_BORDER and table not in PARTNER_TABLES:
            _deny(accessor, {"analytics": table, "fmt": fmt, "query": _raw_query(request)})
        shown, query = _shown(table, request.GET.dict(), scope)
    except _Refused as refused:
        return _refusal(request, scope, refused, details={"analytics": table, "fmt": fmt})
    except selectors.OutOfScope:
        _deny(accessor, {"analytics": table, "fmt": fmt, "query": _raw_query(request)})
    by_month = table == "trend"
    if fmt == "csv":
        content = table_csv(shown, by_month=by_month)
    else:
        content = table_xlsx(shown, heading=heading(shown, by_month=by_month), by_month=by_month)
    audit_record(
        accessor=accessor,
        action=AuditAction.EXPORT,
        details={"analytics": table, "fmt": fmt, "query": query},
    )
    return _download(content, FORMATS[fmt], table_filename(table, shown, fmt))


@login_required
@require_GET
def monthly_report(request: HttpRequest, year: int, month: int) -> HttpResponse:
    """The month's report as PDF; `?lang=ru|ko|en`, the reader's language by default."""
    accessor = Accessor.from_request(request)
    language = (request.GET.get("lang") or reader_language())[:MAX_QUERY_TEXT]
    query = {"month": f"{year:04d}-{month:02d}", "lang": language}
    scope = _scope(accessor, {"analytics": "report", "fmt": "pdf", "query": query})
    try:
        if not (1 <= month <= 12 and 2000 <= year <= 2999):
            raise _Refused(404, [_("There is no such month.")])
        if language not in LANGUAGES:
            raise _Refused(422, [_("The report is written in Russian, Korean or English.")])
        chosen = date(year, month, 1)
        cross_border = scope == AnalyticsScope.CROSS_BORDER
        if chosen not in selectors.months_available(cross_border=cross_border):
            raise _Refused(
                404,
                [
                    _("No figures have been computed for %(month)s.")
                    % {"month": selectors.month_label(chosen)}
                ],
            )
    except _Refused as refused:
        return _refusal(
            request, scope, refused, details={"analytics": "report", "fmt": "pdf"}, query=query
        )
    content = monthly_report_pdf(scope=scope, month=chosen, language=language)
    audit_record(
        accessor=accessor,
        action=AuditAction.EXPORT,
        details={"analytics": "report", "fmt": "pdf", "query": query},
    )
    suffix = "-cross-border" if cross_border else ""
    filename = f"farcare-analytics-{query['month']}-report{suffix}-{language}.pdf"
    return _download(content, "application/pdf", filename)


# --- reading the table -----------------------------------------------------------------------


def _shown(
    table: str, data: dict[str, str], scope: AnalyticsScope
) -> tuple[ShownTable, dict[str, str]]:
    """The table the page shows for this query, and the query as audited."""
    if table == "map":
        return _map_table(data, scope)
    try:
        shown = forms.shown_table(table, data, scope)
    except forms.BadQuery as bad:
        raise _Refused(422, _form_messages(bad.form)) from bad
    if shown is None:
        raise _Refused(404, [_("No figures have been computed yet.")])
    query = {name: data.get(name, "") for name in forms.FORMS[table].base_fields}
    if shown.months and "month" in query:
        # An empty month is the newest computed one: audit which month that was.
        query["month"] = forms.month_value(shown.months[0])
    return shown, query


def _map_table(data: dict[str, str], scope: AnalyticsScope) -> tuple[ShownTable, dict[str, str]]:
    """The settlements' table the map colours and lists beside it: one indicator, with each
    settlement's distance and link (the map page's own form reads the query)."""
    # The map's own form, defaults and all: an export of the map as it opened is its table.
    form = forms.MapForm(data)
    if not form.is_valid():
        raise _Refused(422, _form_messages(form))
    month = form.cleaned_data.get("month")
    if month is None:
        raise _Refused(404, [_("No figures have been computed yet.")])
    query = form.query()
    try:
        shown = selectors.table(
            scope=scope,
            month=month,
            dimension="settlement",
            codes=(query["indicator"],),
            region=query["region"],
        )
    except ValueError as error:
        raise _Refused(422, [_("This query cannot be answered.")]) from error
    return shown, query


def _form_messages(form: Any) -> list[str]:
    messages = []
    for name, errors in form.errors.items():
        field = form.fields.get(name)
        for error in errors:
            messages.append(f"{field.label}: {error}" if field is not None else str(error))
    return messages or [_("This query cannot be answered.")]


# --- refusing --------------------------------------------------------------------------------


def _raw_query(request: HttpRequest) -> dict[str, str]:
    """A query that was refused, as audited: what was asked, cut short (it is untrusted)."""
    names = list(request.GET)[:MAX_QUERY_FIELDS]
    return {name[:MAX_QUERY_TEXT]: request.GET.get(name, "")[:MAX_QUERY_TEXT] for name in names}


def _scope(accessor: Accessor, details: dict[str, object]) -> AnalyticsScope:
    scope = analytics_scope(accessor.user)
    if scope is None:
        _deny(accessor, details)
    return scope


def _deny(accessor: Accessor, details: dict[str, object]) -> NoReturn:
    """Audit the refusal and raise it (403); called before any transaction opens."""
    audit_record(accessor=accessor, action=AuditAction.DENIED, outcome="denied", details=details)
    raise PermissionDenied(_("You may not export these figures."))


def _refusal(
    request: HttpRequest,
    scope: AnalyticsScope,
    refused: _Refused,
    *,
    details: dict[str, object],
    query: dict[str, str] | None = None,
) -> HttpResponse:
    """The page of an export that cannot be made (404, 422), audited as the pages audit a query
    they cannot answer: an EXPORT asked for, with what was asked and `invalid`."""
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.EXPORT,
        details={
            **details,
            "query": query if query is not None else _raw_query(request),
            "invalid": True,
            "status": refused.status,
        },
    )
    back = "analytics:partner" if scope == AnalyticsScope.CROSS_BORDER else "analytics:dashboard"
    heading_text = _("Not found") if refused.status == 404 else _("This export cannot be made")
    return render(
        request,
        "analytics/export_error.html",
        {"heading": heading_text, "messages_shown": refused.messages, "back": reverse(back)},
        status=refused.status,
    )


# --- naming the file -------------------------------------------------------------------------


def heading(shown: ShownTable, *, by_month: bool = False) -> str:
    """The title row of a spreadsheet: what, which month(s), which place and form."""
    parts = [shown.title]
    if by_month and shown.months:
        parts.append(
            _("%(first)s to %(last)s")
            % {
                "first": selectors.month_label(min(shown.months)),
                "last": selectors.month_label(max(shown.months)),
            }
        )
    if shown.form:
        parts.append(_("form: %(form)s") % {"form": _form_label(shown.form)})
    return "FarCare — " + ", ".join(parts)


def _form_label(form: str) -> str:
    from farcare.consults.models import ConsultForm

    return str(ConsultForm(form).label) if form in ConsultForm.values else form


def table_filename(table: str, shown: ShownTable, fmt: str) -> str:
    """'farcare-analytics-2026-11-settlement.csv', with the region, the form and the
    cross-border mark when the table is narrowed so (ASCII: any browser saves it as named)."""
    newest = max(shown.months).strftime("%Y-%m") if shown.months else "none"
    parts: list[str] = ["farcare-analytics"]
    parts += ["trend", shown.dimension, newest] if table == "trend" else [newest, shown.dimension]
    parts += [slugify(shown.region), shown.form, "cross-border" if shown.cross_border else ""]
    return "-".join(part for part in parts if part) + f".{fmt}"


def _download(content: bytes, content_type: str, filename: str) -> HttpResponse:
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = content_disposition_header(True, filename) or "attachment"
    # Figures of a month are the same until the next computation; nobody else's cache keeps them.
    response["Cache-Control"] = "private, no-store"
    return response
