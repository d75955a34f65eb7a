"""Pages of scheduling (thin: services write, selectors read): a consultant's "My availability"
(a coordinator's for a consultant of their region), "Book a time" from a consultation's page
(also to move a call), and the buttons that cancel, start, end a call or record a no-show."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.forms import Form
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record, audit_refusal
from farcare.consults.models import Consultation
from farcare.core.timezones import zone_for_user

from . import selectors, services
from .access import booking_refusal, may_publish_for
from .forms import BookForm, CancelForm, NoShowForm, SingleForm, WeeklyForm
from .models import Appointment, Slot
from .rows import call_rows, slot_rows


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _consultant_for(request: HttpRequest, consultant_uuid: UUID | None) -> User:
    user = _user(request)
    if consultant_uuid is None:
        if user.role != Role.CONSULTANT:
            raise PermissionDenied(_("Only consultants publish their times."))
        return user
    consultant = get_object_or_404(User.objects.select_related("facility"), uuid=consultant_uuid)
    if not may_publish_for(user, consultant):
        raise PermissionDenied(_("You may not publish times for this consultant."))
    return consultant


def _availability(
    request: HttpRequest, consultant: User, status: int = 200, **forms: Form
) -> HttpResponse:
    user = _user(request)
    zone = zone_for_user(consultant).key
    today = timezone.localdate()
    calls = call_rows(selectors.upcoming_for(consultant).filter(consultant=consultant), viewer=user)
    shown = [row.patient_uuid for row in calls]
    if shown:
        # The list names (or codes) patients: a disclosure on each one's "who looked".
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"page": "availability", "consultant": str(consultant.uuid)},
            patients=shown,
        )
    context: dict[str, Any] = {
        "consultant": consultant,
        "own": consultant.pk == user.pk,
        "slots": slot_rows(selectors.schedule_slots(consultant), viewer_zone=zone_for_user(user)),
        "calls": calls,
        "weekly_form": forms.get("weekly_form")
        or WeeklyForm(
            initial={
                "weekdays": [0, 1, 2, 3, 4],
                "start": "09:00",
                "end": "12:00",
                "minutes": 30,
                "first_day": today,
                "weeks": 2,
                "zone": zone,
            }
        ),
        "single_form": forms.get("single_form")
        or SingleForm(initial={"day": today, "minutes": 30, "zone": zone}),
    }
    return render(request, "scheduling/availability.html", context, status=status)


@login_required
def availability(request: HttpRequest, consultant_uuid: UUID | None = None) -> HttpResponse:
    return _availability(request, _consultant_for(request, consultant_uuid))


def _back(consultant: User, user: User) -> HttpResponse:
    if consultant.pk == user.pk:
        return redirect("scheduling:availability")
    return redirect("scheduling:availability_of", consultant_uuid=consultant.uuid)


def _to_form(form: Form, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            target = field if field in form.fields else None
            for item in errors:
                form.add_error(target, item.messages)
    else:
        form.add_error(None, error.messages)


@login_required
@require_POST
def publish_weekly(request: HttpRequest, consultant_uuid: UUID) -> HttpResponse:
    consultant = _consultant_for(request, consultant_uuid)
    form = WeeklyForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            made = services.slots_publish_weekly(
                accessor=Accessor.from_request(request),
                consultant=consultant,
                pattern=services.Weekly(
                    weekdays=frozenset(data["weekdays"]),
                    start=data["start"],
                    end=data["end"],
                    minutes=data["minutes"],
                    first_day=data["first_day"],
                    weeks=data["weeks"],
                    zone=data["zone"],
                ),
            )
        except ValidationError as error:
            _to_form(form, error)
        else:
            messages.success(request, _("%(n)s times published.") % {"n": len(made)})
            return _back(consultant, _user(request))
    return _availability(request, consultant, status=422, weekly_form=form)


@login_required
@require_POST
def publish_single(request: HttpRequest, consultant_uuid: UUID) -> HttpResponse:
    consultant = _consultant_for(request, consultant_uuid)
    form = SingleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.slot_publish(
                accessor=Accessor.from_request(request),
                consultant=consultant,
                day=data["day"],
                start=data["start"],
                minutes=data["minutes"],
                zone=data["zone"],
            )
        except ValidationError as error:
            _to_form(form, error)
        else:
            messages.success(request, _("The time is published."))
            return _back(consultant, _user(request))
    return _availability(request, consultant, status=422, single_form=form)


@login_required
@require_POST
def remove_slot(request: HttpRequest, slot_uuid: UUID) -> HttpResponse:
    slot = get_object_or_404(Slot.objects.select_related("schedule__consultant"), uuid=slot_uuid)
    consultant = slot.schedule.consultant
    try:
        services.slot_remove(accessor=Accessor.from_request(request), slot=slot)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("The time is removed."))
    return _back(consultant, _user(request))


# --- booking -----------------------------------------------------------------------------------


def _consultation(request: HttpRequest, consultation_uuid: UUID) -> Consultation:
    consultation = get_object_or_404(
        Consultation.objects.select_related(
            "patient", "specialty", "requesting_facility", "routed_facility", "requester"
        ),
        uuid=consultation_uuid,
    )
    refusal = booking_refusal(_user(request), consultation)
    if refusal:
        audit_refusal(
            accessor=Accessor.from_request(request),
            message=refusal,
            patient_uuid=consultation.patient.uuid,
            record=consultation,
            details={"page": "book"},
        )
    return consultation


def _book_page(
    request: HttpRequest,
    consultation: Consultation,
    replaces: Appointment | None,
    form: BookForm | None = None,
    status: int = 200,
) -> HttpResponse:
    user = _user(request)
    audit_record(
        accessor=Accessor.from_request(request),
        action=AuditAction.VIEW,
        patient_uuid=consultation.patient.uuid,
        record=consultation,
        details={"page": "book"},
    )
    consultants = selectors.bookable_consultants(consultation)
    slots = slot_rows(selectors.free_slots(consultants), viewer_zone=zone_for_user(user))
    return render(
        request,
        "scheduling/book.html",
        {
            "c": consultation,
            "slots": slots,
            "replaces": replaces,
            "form": form or BookForm(),
            "code": consultation.uuid.hex[:8].upper(),
        },
        status=status,
    )


def _replaced(request: HttpRequest, consultation: Consultation) -> Appointment | None:
    wanted = request.GET.get("replaces") or request.POST.get("replaces")
    if not wanted:
        return None
    try:
        return get_object_or_404(Appointment, uuid=UUID(wanted), consultation=consultation)
    except ValueError as error:
        raise ValidationError(_("Unknown call.")) from error


@login_required
def book(request: HttpRequest, consultation_uuid: UUID) -> HttpResponse:
    consultation = _consultation(request, consultation_uuid)
    try:
        replaces = _replaced(request, consultation)
    except ValidationError:
        return redirect("consults:detail", consultation_uuid=consultation.uuid)
    if request.method != "POST":
        return _book_page(request, consultation, replaces)
    form = BookForm(request.POST)
    if form.is_valid():
        slot = Slot.objects.filter(uuid=form.cleaned_data["slot"]).first()
        accessor = Accessor.from_request(request)
        try:
            if slot is None:
                raise ValidationError(_("This time is no longer offered. Choose another one."))
            if replaces is not None:
                services.appointment_reschedule(
                    accessor=accessor,
                    appointment=replaces,
                    slot=slot,
                    reason=form.cleaned_data["reason"],
                )
                messages.success(request, _("The call is moved."))
            else:
                services.appointment_book(accessor=accessor, consultation=consultation, slot=slot)
                messages.success(request, _("The call is booked."))
        except ValidationError as error:
            _to_form(form, error)
        else:
            return redirect("consults:detail", consultation_uuid=consultation.uuid)
    return _book_page(request, consultation, replaces, form, status=422)


# --- a call's buttons --------------------------------------------------------------------------


def _appointment(appointment_uuid: UUID) -> Appointment:
    return get_object_or_404(
        Appointment.objects.select_related("consultation__patient", "consultant", "slot"),
        uuid=appointment_uuid,
    )


def _after(appointment: Appointment) -> HttpResponse:
    return redirect("consults:detail", consultation_uuid=appointment.consultation.uuid)


@login_required
@require_POST
def act(request: HttpRequest, appointment_uuid: UUID, event: str) -> HttpResponse:
    appointment = _appointment(appointment_uuid)
    accessor = Accessor.from_request(request)
    try:
        if event == "cancel":
            form: Form = CancelForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Say why the call is cancelled."))
            services.appointment_cancel(
                accessor=accessor, appointment=appointment, reason=form.cleaned_data["reason"]
            )
            done = _("The call is cancelled.")
        elif event == "noshow":
            form = NoShowForm(request.POST)
            if not form.is_valid():
                raise ValidationError(_("Say who did not come."))
            services.appointment_noshow(
                accessor=accessor, appointment=appointment, party=form.cleaned_data["party"]
            )
            done = _("The no-show is recorded.")
        elif event == "start":
            services.appointment_start(accessor=accessor, appointment=appointment)
            done = _("The call is marked as started.")
        elif event == "finish":
            services.appointment_finish(accessor=accessor, appointment=appointment)
            done = _("The call is marked as held.")
        else:
            raise ValidationError(_("Unknown action."))
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, done)
    return _after(appointment)
