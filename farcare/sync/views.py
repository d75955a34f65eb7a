"""The station's own pages: the outbox with each item's state, the link, and the hub's answers."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.patients.models import Patient

from . import selectors
from .hub import conflict_settle
from .models import HubCopy, PatientConflict
from .outbox import station
from .station import conclusion_pdf_name, start_sync


def _station_staff(request: HttpRequest) -> None:
    """These pages exist only at a station, for its clinicians."""
    if station() is None or getattr(request.user, "role", None) != Role.CLINICIAN:
        raise Http404


@login_required
def overview(request: HttpRequest) -> HttpResponse:
    _station_staff(request)
    context = selectors.overview()
    # The outbox names patients: one record of what was shown, like a search's results (its
    # 5-second refresh shows the same viewer the same list and is not recorded again).
    shown = {str(i.patient_uuid) for i in [*context["waiting"], *context["done"]] if i.patient_uuid}
    shown |= {c["patient"] for c in context["copies"]}
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"list": "outbox"},
            patients=shown,
        )
    return render(request, "sync/station.html", context)


@login_required
def panel(request: HttpRequest) -> HttpResponse:
    _station_staff(request)
    return render(request, "sync/_panel.html", {**selectors.overview(), "oob": True})


@login_required
@require_POST
def sync_now(request: HttpRequest) -> HttpResponse:
    """Never a second pass beside a running one (the station's lock covers the loop, this button
    and the console): a pass starts, or the running one checks with the hub at once and goes
    round once more."""
    _station_staff(request)
    if start_sync():
        messages.success(request, _("Sync started."))
    else:
        messages.info(request, _("A sync is running; it will check again at once."))
    return redirect("sync:overview")


@login_required
def conclusion_pdf(request: HttpRequest, consultation_uuid: str) -> FileResponse:
    _station_staff(request)
    copy = HubCopy.objects.filter(consultation_uuid=consultation_uuid).first()
    name = conclusion_pdf_name(copy.data) if copy else None
    if copy is None or name is None:
        raise Http404
    patient = Patient.objects.filter(uuid=copy.data["patient"]).first()
    if patient is None:
        raise Http404
    authorise(
        accessor=Accessor.from_request(request), patient=patient, action=Action.VIEW, record=copy
    )
    return FileResponse(default_storage.open(name, "rb"), content_type="application/pdf")


@login_required
@require_POST
def settle(request: HttpRequest, conflict_uuid: str) -> HttpResponse:
    conflict = get_object_or_404(
        PatientConflict.objects.select_related("patient"), uuid=conflict_uuid
    )
    conflict_settle(accessor=Accessor.from_request(request), conflict=conflict)
    return redirect("patients:detail", conflict.patient.uuid)
