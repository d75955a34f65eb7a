from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, may_read_audit_trail
from farcare.access.services import authorise
from farcare.patients.models import Patient

from .models import AuditAction, Purpose
from .plain_words import AccessKind
from .selectors import PERIODS, access_entries, access_log, audit_events
from .services import Accessor, audit_verify

# Rows of "who looked at my record" per page: a phone screen or two.
ACCESS_LOG_PAGE = 25


def _require_auditor(request: HttpRequest) -> None:
    if not may_read_audit_trail(request.user):  # type: ignore[arg-type]
        raise PermissionDenied(_("Only administrators read the audit trail."))


@login_required
def event_list(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    filters = {
        key: request.GET.get(key, "").strip() for key in ("actor", "patient", "action", "purpose")
    }
    page = Paginator(audit_events(**filters), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/event_list.html",
        {
            "page": page,
            "filters": filters,
            "actions": AuditAction.choices,
            "purposes": Purpose.choices,
        },
    )


@login_required
@require_POST
def verify(request: HttpRequest) -> HttpResponse:
    _require_auditor(request)
    problem = audit_verify()
    if problem is None:
        messages.success(request, _("The audit chain is intact."))
    else:
        messages.error(request, _("The audit chain is broken: %(problem)s") % {"problem": problem})
    return redirect("audit:events")


@login_required
def patient_access_log(request: HttpRequest, patient_uuid: str) -> HttpResponse:
    """'Who looked at my record': for the patient themself, and for administrators. Paged, and
    filtered by period and by kind of access."""
    patient = get_object_or_404(Patient.objects.select_related("user"), uuid=patient_uuid)
    if not may_read_audit_trail(request.user):  # type: ignore[arg-type]
        authorise(
            accessor=Accessor.from_request(request),
            patient=patient,
            action=Action.VIEW_ACCESS_LOG,
            details={"page": "access_log"},
        )
    period = request.GET.get("period", "")
    kind = request.GET.get("kind", "")
    filters = {
        "period": period if period in PERIODS else "",
        "kind": kind if kind in AccessKind.values else "",
    }
    since = timezone.now() - timedelta(days=PERIODS[period]) if filters["period"] else None
    page = Paginator(
        access_log(patient.uuid, kind=filters["kind"], since=since), ACCESS_LOG_PAGE
    ).get_page(request.GET.get("page"))
    return render(
        request,
        "audit/patient_access_log.html",
        {
            "patient_uuid": patient.uuid,
            "page": page,
            "entries": access_entries(
                page.object_list, patient_user=patient.user.uuid if patient.user else None
            ),
            "filters": filters,
            "kinds": AccessKind.choices,
            "periods": [
                ("", _("all time")),
                ("7", _("the last 7 days")),
                ("30", _("the last 30 days")),
                ("365", _("the last 12 months")),
            ],
        },
    )
