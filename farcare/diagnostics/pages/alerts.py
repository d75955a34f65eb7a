"""Critical results that must reach someone who acts: a banner on the orderer's home page
(fetched as a fragment, so that every home page shows it with one line), the list of open
alerts (a coordinator sees the escalated ones of the region), and the page that acknowledges
one with what was done; the time from the result to the acknowledgement is shown."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.case_rows import age_words, sex_word, short_name

from .. import catalogue, selectors
from ..models import AlertStatus, CriticalAlert
from ..services.critical import critical_acknowledge, may_acknowledge
from . import words
from .common import errors_to_form, language, staff_only, user_of
from .forms import AlertAckForm
from .reports import INTERPRETATION_WORDS, _number
from .rows import CRITICAL


@dataclass(frozen=True)
class AlertRow:
    alert: CriticalAlert
    patient: str
    sex: str
    age: str
    test: str
    value: str
    unit: str
    meaning: str
    overdue: bool
    # The laboratory corrected the value since: the alert stays open until acknowledged, and
    # shows what the value is now.
    corrected: Correction | None = None


@dataclass(frozen=True)
class Correction:
    value: str
    unit: str
    meaning: str
    issued_at: datetime
    still_critical: bool


def _correction(alert: CriticalAlert, lang: str) -> Correction | None:
    now = selectors.latest_version(alert.observation)
    if now.pk == alert.observation.pk:
        return None
    return Correction(
        value=_number(now),
        unit=words.unit(now.unit, lang),
        meaning=str(INTERPRETATION_WORDS.get(now.interpretation, "")),
        issued_at=now.issued_at,
        still_critical=now.interpretation in CRITICAL,
    )


def _rows(alerts: list[CriticalAlert]) -> list[AlertRow]:
    lang = language()
    today = timezone.localdate()
    now = timezone.now()
    rows = []
    for alert in alerts:
        obs = alert.observation
        patient = alert.patient
        rows.append(
            AlertRow(
                alert=alert,
                patient=short_name(patient.family, patient.given, patient.middle),
                sex=sex_word(patient.sex),
                age=age_words(patient.birth_date, today),
                test=catalogue.label(obs.code, lang),
                value=_number(obs),
                unit=words.unit(obs.unit, lang),
                meaning=str(INTERPRETATION_WORDS.get(obs.interpretation, "")),
                overdue=alert.status != AlertStatus.ACKNOWLEDGED and alert.ack_deadline < now,
                corrected=_correction(alert, lang),
            )
        )
    return rows


def _open(request: HttpRequest) -> list[AlertRow]:
    found = selectors.open_alerts(user_of(request))
    alerts = list(
        found.select_related("observation", "patient", "recipient", "observation__report")[:100]
    )
    return _rows(alerts)


def _audit_list(request: HttpRequest, rows: list[AlertRow], what: str) -> None:
    if rows:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"list": what},
            patients=[row.alert.patient.uuid for row in rows],
        )


def banner_rows(request: HttpRequest) -> list[AlertRow]:
    """The banner's rows (audited with the patients they name): nothing when no critical result
    waits for this user."""
    rows = _open(request)
    _audit_list(request, rows, "critical alerts banner")
    return rows


@login_required
def banner(request: HttpRequest) -> HttpResponse:
    """The banner alone, for a page that refreshes it."""
    return render(request, "diagnostics/_alert_banner.html", {"rows": banner_rows(request)})


@login_required
def alert_list(request: HttpRequest) -> HttpResponse:
    rows = _open(request)
    _audit_list(request, rows, "critical alerts")
    return render(request, "diagnostics/alerts.html", {"rows": rows})


def _context(alert: CriticalAlert, form: AlertAckForm, user: Any) -> dict[str, Any]:
    row = _rows([alert])[0]
    waited = None
    if alert.acknowledged_at:
        waited = (alert.acknowledged_at - alert.raised_at).total_seconds()
    return {
        "row": row,
        "alert": alert,
        "report": alert.observation.report,
        "form": form,
        "waited": waited,
        "open_for": (timezone.now() - alert.raised_at).total_seconds(),
        "acknowledged": alert.status == AlertStatus.ACKNOWLEDGED,
        "may_acknowledge": may_acknowledge(alert, user),
    }


@login_required
def alert_detail(request: HttpRequest, alert_uuid: str) -> HttpResponse:
    staff_only(request)
    alert = get_object_or_404(
        CriticalAlert.objects.select_related(
            "observation", "observation__report", "patient", "recipient", "acknowledged_by"
        ),
        uuid=alert_uuid,
    )
    accessor = Accessor.from_request(request)
    authorise(accessor=accessor, patient=alert.patient, action=Action.VIEW, record=alert)
    form = AlertAckForm(request.POST or None, initial={"version": alert.version})
    if request.method == "POST" and form.is_valid():
        try:
            critical_acknowledge(
                accessor=accessor,
                alert=alert,
                action_taken=form.cleaned_data["action_taken"],
                version=form.cleaned_data["version"],
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(request, _("The critical result is acknowledged."))
            return redirect("diagnostics:alert", alert_uuid=alert.uuid)
        alert.refresh_from_db()
    return render(
        request,
        "diagnostics/alert.html",
        _context(alert, form, user_of(request)),
        status=422 if form.is_bound and form.errors else 200,
    )
