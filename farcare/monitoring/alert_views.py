"""The alert pages of remote monitoring (issue 17, point 3): a clinician's open alerts, an
alert's page with its trend and triggering readings, the acknowledgement, and the one button that
opens a teleconsultation request with the trend in its question."""

from __future__ import annotations

from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.drafts import form_url
from farcare.core.page_forms import posted_version

from . import pages, selectors
from .forms import AcknowledgeForm
from .models import (
    MonitoringAlert,
)
from .page_common import (
    OPEN,
    PAGE_SIZE,
    at_station,
    language_code,
    refusal_message,
    signed_in_user,
    staff_only,
)
from .services import alerts as alert_services
from .workflow import EVENT_LABELS

# --- alerts ------------------------------------------------------------------------------------


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    user = staff_only(request)
    found = (
        selectors.open_alerts_for(user)
        .select_related("patient", "enrolment", "enrolment__facility")
        .order_by("ack_deadline", "-raised_at")
    )
    page = Paginator(found, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    shown = sorted({str(a.patient.uuid) for a in rows})
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"page": "monitoring alerts"},
            patients=shown,
        )
    return render(
        request,
        "monitoring/alerts.html",
        {"alerts": rows, "page": page, "now": timezone.now()},
    )


def _alert(request: HttpRequest, alert_uuid: UUID) -> MonitoringAlert:
    alert = get_object_or_404(
        MonitoringAlert.objects.select_related(
            "patient", "enrolment", "enrolment__facility", "recipient", "acknowledged_by"
        ),
        uuid=alert_uuid,
    )
    authorise(
        accessor=Accessor.from_request(request),
        patient=alert.patient,
        action=Action.VIEW,
        record=alert,
        details={"page": "monitoring alert"},
    )
    return alert


def _alert_page(
    request: HttpRequest,
    alert: MonitoringAlert,
    *,
    ack_form: AcknowledgeForm | None = None,
    status: int = 200,
) -> HttpResponse:
    language = language_code()
    now = timezone.now()
    code = alert.measure
    readings = list(
        selectors.readings_for(alert.patient, code=code, since=now - pages.WINDOW)[:200]
    )
    triggering = list(alert.readings.order_by("-taken_at"))
    return render(
        request,
        "monitoring/alert.html",
        {
            "a": alert,
            "e": alert.enrolment,
            "patient": alert.patient,
            "charts": pages.charts(
                readings,
                measures=[],
                targets=alert.enrolment.targets,
                language=language,
                zone=timezone.get_current_timezone(),
                prefix="a",
            ),
            "triggering": [
                {"r": r, "text": pages.reading_text(r, language), "unit": pages.unit_label(r.code)}
                for r in triggering
            ],
            "label": pages.measure_label(code),
            "is_open": alert.status in OPEN,
            "at_station": at_station(),
            "may_consult": signed_in_user(request).role == Role.CLINICIAN and not at_station(),
            "ack_form": ack_form or AcknowledgeForm(),
            "events": [
                {"ev": event, "label": EVENT_LABELS.get(event.event, event.event)}
                for event in alert.events.select_related("actor")
            ],
        },
        status=status,
    )


@login_required
def alert_detail(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    staff_only(request)
    return _alert_page(request, _alert(request, alert_uuid))


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    staff_only(request)
    alert = _alert(request, alert_uuid)
    form = AcknowledgeForm(request.POST)
    if form.is_valid():
        try:
            alert_services.alert_acknowledge(
                accessor=Accessor.from_request(request),
                alert=alert,
                note=form.cleaned_data["note"],
                expected_version=posted_version(request),
            )
        except (ValidationError, IntegrityError) as error:
            form.add_error(None, refusal_message(error))
        else:
            messages.success(request, _("The alert is acknowledged."))
            return redirect("monitoring:alert", alert_uuid=alert.uuid)
    return _alert_page(request, alert, ack_form=form, status=400)


@login_required
@require_POST
def alert_consult(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    user = staff_only(request)
    alert = _alert(request, alert_uuid)
    if user.role != Role.CLINICIAN:
        messages.error(request, _("A teleconsultation is requested by a clinician."))
        return _alert_page(request, alert, status=403)
    try:
        draft = alert_services.alert_open_consultation(
            accessor=Accessor.from_request(request), alert=alert
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, refusal_message(error))
        return _alert_page(request, alert, status=400)
    return redirect(form_url(draft))
