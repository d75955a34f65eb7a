"""The laboratory's pages: the worklist (specimens on their way, received, reported; a label
scanned to receive one) and the entry of results at a small laboratory with no laboratory
system: each value typed beside its unit and reference range, submitted as the `LabReportIn`
every other way in produces (source "page"); a typed value can be corrected (a new version;
the history is kept and shown)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import Role
from farcare.accounts.services import (
    AuthenticationFailed,
    reauthenticate,
    reauthentication_asks,
)
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record

from .. import catalogue, selectors
from ..inbound import LabReportIn, PatientRef, ReportRefused, ResultIn
from ..interpretation import reference_for
from ..models import (
    Category,
    DiagnosticOrder,
    OrderStatus,
    ResultObservation,
    Specimen,
    SpecimenStatus,
)
from ..services.results import report_receive
from . import words
from .common import laboratory_order, language, user_of
from .forms import ReceiveForm, RejectForm, ResultsForm, SecretForm
from .rows import order_rows, prefetched

CORRECTION_PURPOSE = "correct laboratory result"


def _orders_of(user: Any) -> QuerySet[DiagnosticOrder]:
    found = selectors.laboratory_worklist(user)
    if getattr(found, "model", None) is Specimen:
        return DiagnosticOrder.objects.filter(pk__in=found.values("order_id"))
    return found  # type: ignore[return-value]


def worklist_page(
    request: HttpRequest,
    *,
    receive_form: ReceiveForm | None = None,
    reject_forms: dict[str, RejectForm] | None = None,
    status: int = 200,
) -> HttpResponse:
    user = user_of(request)
    if user.role != Role.LABORATORY:
        raise PermissionDenied(_("The laboratory's worklist is for laboratory staff."))
    orders = prefetched(_orders_of(user).exclude(status=OrderStatus.REVOKED), limit=300)
    specimens = words.with_kind_shown([s for o in orders for s in o.specimens.all()])
    on_the_way = [
        s for s in specimens if s.status in (SpecimenStatus.SHIPPED, SpecimenStatus.COLLECTED)
    ]
    rows = order_rows(orders, timezone.localdate())
    to_report = [
        r
        for r in rows
        if r.order.category == Category.LABORATORY
        and r.order.status == OrderStatus.ACTIVE
        and any(s.status == SpecimenStatus.RECEIVED for s in r.order.specimens.all())
    ]
    reported = [r for r in rows if r.results][:50]
    by_order = {o.pk: o for o in orders}
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.SEARCH,
        details={"list": "laboratory worklist"},
        patients={o.patient.uuid for o in orders},
    )
    forms = reject_forms or {}
    return render(
        request,
        "diagnostics/worklist.html",
        {
            "receive_form": receive_form or ReceiveForm(),
            "on_the_way": [
                {
                    "s": s,
                    "order": by_order[s.order_id],
                    "form": forms.get(str(s.uuid)) or RejectForm(prefix=str(s.uuid)[:8]),
                }
                for s in on_the_way
            ],
            "to_report": to_report,
            "reported": reported,
        },
        status=status,
    )


@login_required
def worklist(request: HttpRequest) -> HttpResponse:
    return worklist_page(request)


@dataclass
class Line:
    """One value to enter: its test, unit, usual range, and what was entered so far."""

    code: str
    name: str
    unit: str
    unit_shown: str
    numeric: bool
    reference: str
    current: ResultObservation | None = None
    history: list[ResultObservation] = field(default_factory=list)


@dataclass
class Section:
    code: str
    name: str
    lines: list[Line]


def _sections(order: DiagnosticOrder, lang: str) -> list[Section]:
    patient = order.patient
    age = patient.age_on(timezone.localdate())
    observations = list(
        ResultObservation.objects.filter(report__order=order).order_by("created_at")
    )
    current = {o.code: o for o in observations if o.superseded_by_id is None}
    seen: set[str] = set()
    sections = []
    for test in order.tests.all():
        lines = []
        for code in catalogue.members(test.code):
            if code in seen:
                continue
            seen.add(code)
            item = catalogue.entry(code)
            unit = item.unit if item else ""
            reference = reference_for(code, patient.sex, age)
            now = current.get(code)
            lines.append(
                Line(
                    code=code,
                    name=catalogue.label(code, lang),
                    unit=unit,
                    unit_shown=words.unit(unit, lang),
                    numeric=bool(unit),
                    reference=reference.text if reference else "",
                    current=now,
                    history=[o for o in observations if o.code == code and o is not now][::-1],
                )
            )
        sections.append(Section(test.code, catalogue.label(test.code, lang), lines))
    return sections


def _field_label(line: Line) -> str:
    return f"{line.name}, {line.unit_shown}" if line.unit_shown else line.name


def _shown_number(line: Line) -> str:
    if line.current is None:
        return ""
    if line.current.value_number is not None:
        return format(line.current.value_number.normalize(), "f")
    return line.current.value_text


def _report_of(
    order: DiagnosticOrder, section: Section, values: dict[str, str], conclusion: str, user: Any
) -> LabReportIn | None:
    """The `LabReportIn` of one ordered test: its new values, and the changed ones as
    corrections; None when nothing of it was typed or changed."""
    results = []
    correcting = any(line.current is not None for line in section.lines)
    for sequence, line in enumerate(section.lines, start=1):
        value = values.get(line.code, "")
        if not value or value == _shown_number(line):
            continue
        results.append(
            ResultIn(
                sequence=sequence,
                code=line.code,
                display=catalogue.label(line.code, "en"),
                value_type="NM" if line.numeric else "ST",
                value=value,
                unit=line.unit,
                reference_range=line.reference,
                status="C" if line.current is not None else "F",
                effective_at=_collected_at(order),
                performer=str(user.facility.uuid) if user.facility_id else "",
            )
        )
    if not results:
        return None
    return LabReportIn(
        patient=PatientRef(uuid=str(order.patient.uuid)),
        code=section.code,
        display=catalogue.label(section.code, "en"),
        placer_number=order.placer_number,
        status="C" if correcting else "F",
        effective_at=_collected_at(order),
        issued_at=timezone.now(),
        results=tuple(results),
        conclusion=conclusion,
        source="page",
        external_id=f"{order.placer_number}/{section.code}",
        sending_facility=str(user.facility.uuid) if user.facility_id else "",
    )


def _collected_at(order: DiagnosticOrder) -> Any:
    moments = [s.collected_at for s in order.specimens.all() if s.collected_at]
    return min(moments) if moments else None


@login_required
def enter_results(request: HttpRequest, order_uuid: str) -> HttpResponse:
    order = laboratory_order(request, order_uuid)
    user = user_of(request)
    lang = language()
    sections = _sections(order, lang)
    lines = [line for section in sections for line in section.lines]
    correcting = any(line.current is not None for line in lines)
    form = ResultsForm(
        request.POST or None,
        tests=[(line.code, _field_label(line), line.numeric) for line in lines],
        initial={f"value_{line.code}": _shown_number(line) for line in lines},
    )
    secret_form = SecretForm(request.POST or None, asks=reauthentication_asks(user))
    ready = order.category == Category.LABORATORY and order.status in (
        OrderStatus.ACTIVE,
        OrderStatus.COMPLETED,
    )
    if request.method == "POST" and not ready:
        form.add_error(None, _("Results are entered for a laboratory order that is not cancelled."))
    elif request.method == "POST" and form.is_valid():
        reports = [
            report
            for section in sections
            if (
                report := _report_of(
                    order, section, form.values(), form.cleaned_data["conclusion"], user
                )
            )
        ]
        changes = any(r.status == "C" for r in reports)
        if not reports:
            form.add_error(None, _("Nothing was changed."))
        elif changes and not _reauthenticated(request, secret_form):
            pass
        else:
            done = _receive(request, form, reports)
            if done:
                return redirect("diagnostics:enter_results", order_uuid=order.uuid)
    bad = form.is_bound and (form.errors or secret_form.errors)
    return render(
        request,
        "diagnostics/enter_results.html",
        {
            "order": order,
            "patient": order.patient,
            "sections": [
                {"section": s, "fields": [(line, form[f"value_{line.code}"]) for line in s.lines]}
                for s in sections
            ],
            "form": form,
            "secret_form": secret_form,
            "correcting": correcting,
            "ready": ready,
        },
        status=422 if bad else 200,
    )


def _reauthenticated(request: HttpRequest, secret_form: SecretForm) -> bool:
    if not secret_form.is_valid():
        return False
    try:
        reauthenticate(
            request=request,
            user=user_of(request),
            secret=secret_form.cleaned_data["secret"],
            purpose=CORRECTION_PURPOSE,
        )
    except AuthenticationFailed as failure:
        secret_form.add_error("secret", failure.message())
        return False
    return True


def _receive(request: HttpRequest, form: ResultsForm, reports: list[LabReportIn]) -> bool:
    accessor = Accessor.from_request(request)
    critical = corrected = 0
    for report in reports:
        try:
            outcome = report_receive(accessor=accessor, report=report)
        except ReportRefused as refusal:
            field = f"value_{refusal.field}" if f"value_{refusal.field}" in form.fields else None
            form.add_error(field, refusal.reason)
            return False
        critical += outcome.critical
        corrected += outcome.corrected
    text = _("The results are stored.")
    if corrected:
        text += " " + _("Corrected values: %(n)d; the earlier ones stay in the history.") % {
            "n": corrected
        }
    if critical:
        text += " " + _("Critical values: %(n)d; the orderer is alerted now.") % {"n": critical}
    messages.success(request, text)
    return True
