"""A specimen's way: collected at the post (time, by whom), shipped with others as a batch
(batch number, transport), received at the laboratory by its label, or rejected with a reason
that goes back to the orderer."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
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
from farcare.consults.case_rows import short_name

from ..models import Specimen, SpecimenStatus
from ..services.specimens import specimen_collect, specimen_receive, specimen_reject, specimen_ship
from . import words
from .common import errors_to_form, is_laboratory_of, refuse, user_of
from .forms import CollectForm, ReceiveForm, RejectForm, ShipForm
from .laboratory import worklist_page


def _specimen(request: HttpRequest, specimen_uuid: str) -> Specimen:
    specimen = get_object_or_404(
        Specimen.objects.select_related("order", "order__patient", "order__performer"),
        uuid=specimen_uuid,
    )
    authorise(
        accessor=Accessor.from_request(request),
        patient=specimen.order.patient,
        action=Action.VIEW,
        record=specimen,
    )
    return specimen


def _message(error: ValidationError) -> str:
    return " ".join(error.messages)


@login_required
@require_POST
def collect(request: HttpRequest, specimen_uuid: str) -> HttpResponse:
    specimen = _specimen(request, specimen_uuid)
    user = user_of(request)
    if user.facility_id != specimen.order.ordering_facility_id:
        refuse(
            request,
            record=specimen,
            patient_uuid=specimen.order.patient.uuid,
            reason=_("Specimens are collected by the facility that ordered them."),
        )
    form = CollectForm(request.POST)
    if not form.is_valid():
        messages.error(request, _("The time of collection is not a date and time."))
        return redirect("diagnostics:order", order_uuid=specimen.order.uuid)
    moment = form.cleaned_data["collected_at"]
    if moment is not None and moment > timezone.now():
        messages.error(request, _("The time of collection is in the future."))
        return redirect("diagnostics:order", order_uuid=specimen.order.uuid)
    try:
        specimen_collect(
            accessor=Accessor.from_request(request), specimen=specimen, collected_at=moment
        )
    except ValidationError as error:
        messages.error(request, _message(error))
    else:
        messages.success(request, _("Specimen %(label)s is collected.") % {"label": specimen.label})
    return redirect("diagnostics:order", order_uuid=specimen.order.uuid)


def _collected_here(request: HttpRequest) -> list[Specimen]:
    user = user_of(request)
    return list(
        Specimen.objects.filter(
            status=SpecimenStatus.COLLECTED, order__ordering_facility_id=user.facility_id
        )
        .select_related("order", "order__patient", "order__performer")
        .order_by("order__performer_id", "collected_at")
    )


def _batch_number() -> str:
    return "B-" + timezone.localtime().strftime("%Y%m%d-%H%M")


@login_required
def ship(request: HttpRequest) -> HttpResponse:
    """The collected specimens of the user's facility, ticked into one batch and sent."""
    user = user_of(request)
    if user.role != Role.CLINICIAN or user.facility_id is None:
        raise PermissionDenied(_("Specimens are shipped by the facility that collected them."))
    waiting = _collected_here(request)
    choices = [(str(s.uuid), s.label) for s in waiting]
    form = ShipForm(
        request.POST or None,
        specimens=choices,
        initial={"batch": _batch_number(), "specimens": [c for c, _label in choices]},
    )
    if request.method == "POST" and form.is_valid():
        chosen = [s for s in waiting if str(s.uuid) in set(form.cleaned_data["specimens"])]
        try:
            specimen_ship(
                accessor=Accessor.from_request(request),
                specimens=chosen,
                batch=form.cleaned_data["batch"],
                transport=form.cleaned_data["transport"],
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            messages.success(
                request,
                _("Batch %(batch)s is on its way: %(count)d specimens.")
                % {"batch": form.cleaned_data["batch"], "count": len(chosen)},
            )
            return redirect("diagnostics:ship")
    ticked = set(form["specimens"].value() or [])
    for item in words.with_kind_shown(waiting):
        patient = item.order.patient
        item.checked = str(item.uuid) in ticked
        item.patient_short = short_name(patient.family, patient.given, patient.middle)
    if waiting:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"list": "specimens to ship"},
            patients=[s.order.patient.uuid for s in waiting],
        )
    return render(
        request,
        "diagnostics/ship.html",
        {"form": form, "waiting": waiting},
        status=422 if form.is_bound and form.errors else 200,
    )


@login_required
@require_POST
def receive(request: HttpRequest) -> HttpResponse:
    """The laboratory scans (or types) a tube's label: that specimen is received."""
    user = user_of(request)
    if user.role != Role.LABORATORY:
        raise PermissionDenied(_("Only laboratory staff receive specimens."))
    form = ReceiveForm(request.POST)
    if form.is_valid():
        specimen = (
            Specimen.objects.select_related("order", "order__patient")
            .filter(label__iexact=form.cleaned_data["label"], order__performer_id=user.facility_id)
            .first()
        )
        if specimen is None:
            form.add_error(
                "label",
                _("No specimen labelled %(label)s is ordered from your laboratory.")
                % {"label": form.cleaned_data["label"]},
            )
        else:
            try:
                specimen_receive(accessor=Accessor.from_request(request), specimen=specimen)
            except ValidationError as error:
                errors_to_form(form, error)
            else:
                messages.success(
                    request,
                    _("Specimen %(label)s is received.") % {"label": specimen.label},
                )
                return redirect("diagnostics:worklist")
    return worklist_page(request, receive_form=form, status=422)


@login_required
@require_POST
def reject(request: HttpRequest, specimen_uuid: str) -> HttpResponse:
    specimen = _specimen(request, specimen_uuid)
    if not is_laboratory_of(user_of(request), specimen.order):
        refuse(
            request,
            record=specimen,
            patient_uuid=specimen.order.patient.uuid,
            reason=_("Only the laboratory that performs the order rejects its specimens."),
        )
    form = RejectForm(request.POST, prefix=str(specimen.uuid)[:8])
    if form.is_valid():
        try:
            specimen_reject(
                accessor=Accessor.from_request(request),
                specimen=specimen,
                reason=form.cleaned_data["reason"],
                note=form.cleaned_data["note"],
            )
        except ValidationError as error:
            messages.error(request, _message(error))
        else:
            messages.success(
                request,
                _("Specimen %(label)s is rejected; the orderer is told why.")
                % {"label": specimen.label},
            )
        return redirect("diagnostics:worklist")
    return worklist_page(request, reject_forms={str(specimen.uuid): form}, status=422)
