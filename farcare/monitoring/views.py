"""Pages of remote monitoring (issue 17, point 4), thin: services write, selectors read,
`pages.py` words. The programme list sorted by risk for the post and the district doctor, the
enrolment form, and a person's monitoring page with charts, the reading form, the plan and its
end. The alert pages are `alert_views.py`, the person's own page `patient_pages.py`.

Every refusal a service raises comes back on the page as a message in the reader's language;
nothing here answers 500 to bad input. A consultant abroad sees no identity here by any path:
the list refuses them (403) before any query, and the other pages authorise the patient, which
refuses them too. At a station the feldsher's reading goes through the same service (the
station's outbox carries it to the hub); alerts and risk are computed at the hub."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.core.page_forms import posted_version
from farcare.network.models import Facility
from farcare.network.selectors import facilities_above
from farcare.patients.models import Patient

from . import pages, plans, selectors
from .forms import AcknowledgeForm, EndForm, EnrolForm, PlanForm, ReadingForm, TargetsForm
from .models import (
    Enrolment,
    EnrolmentStatus,
    ProgrammeChoice,
    ReadingSource,
)
from .page_common import (
    OPEN,
    PAGE_SIZE,
    at_station,
    errors_to_form,
    language_code,
    reading_ins,
    refusal_message,
    signed_in_user,
    staff_only,
)
from .services import enrolment as enrolment_services
from .services import readings as reading_services

FACILITY_CHOICES = 100  # in the filter's menu; any facility followed is accepted as a filter


# --- the programme list ------------------------------------------------------------------------


@login_required
def programme_list(request: HttpRequest) -> HttpResponse:
    user = staff_only(request)
    programme = request.GET.get("programme", "")
    if programme not in ProgrammeChoice.values:
        programme = ""
    followed_at = Facility.objects.filter(
        pk__in=selectors.enrolments_for(user).values("facility_id")
    )
    # The menu offers the first FACILITY_CHOICES; a filter is checked against all of them, so a
    # facility beyond the menu (a link, a bookmark) still filters, and a wrong one is said.
    facilities = list(followed_at.order_by("name_ru")[:FACILITY_CHOICES])
    facility, facility_error = _facility_filter(request.GET.get("facility", ""), followed_at)
    if facility is not None and facility not in facilities:
        facilities.append(facility)
    enrolments = (
        selectors.enrolments_for(user, facility=facility, programme=programme or None)
        .select_related("patient", "facility")
        .annotate(open_alerts=Count("alerts", filter=Q(alerts__status__in=OPEN)))
    )
    if facility_error:
        enrolments = enrolments.none()
    page = Paginator(enrolments, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = list(page.object_list)
    now = timezone.now()
    latest = pages.latest_by_patient([e.patient_id for e in rows], now=now)
    language = language_code()
    items = [
        {
            "e": enrolment,
            "latest": pages.latest_rows(
                latest.get(enrolment.patient_id, {}),
                pages.readings_of(enrolment.programme, enrolment.plan),
                enrolment.targets,
                language,
            ),
            "age": (now - enrolment.last_reading_at).total_seconds()
            if enrolment.last_reading_at
            else None,
        }
        for enrolment in rows
    ]
    shown = sorted({str(e.patient.uuid) for e in rows})
    if shown:
        audit_record(
            accessor=Accessor.from_request(request),
            action=AuditAction.SEARCH,
            details={"page": "monitoring list", "programme": programme},
            patients=shown,
        )
    return render(
        request,
        "monitoring/list.html",
        {
            "items": items,
            "page": page,
            "programmes": ProgrammeChoice.choices,
            "programme": programme,
            "facilities": facilities,
            "facility": facility,
            "facility_error": facility_error,
        },
        status=400 if facility_error else 200,
    )


def _facility_filter(wanted: str, followed_at: QuerySet[Facility]) -> tuple[Facility | None, str]:
    """The facility asked for, if the user follows anyone there; else (None, why). Nobody is
    listed on a refusal: a list of everyone under a filter that was dropped would mislead."""
    if not wanted:
        return None, ""
    try:
        key = UUID(wanted)
    except ValueError:
        return None, _("This facility filter is not valid. Choose a facility from the list.")
    facility = followed_at.filter(uuid=key).first()
    if facility is None:
        return None, _(
            "Nobody you follow is monitored at this facility. Choose a facility from the list."
        )
    return facility, ""


# --- enrolment ---------------------------------------------------------------------------------


def _clinicians(patient: Patient, user: User) -> list[tuple[str, str]]:
    """Active clinicians who may follow the patient: at the facilities of the patient's chain
    (their post and those it refers to), and the user themselves."""
    reachable = facilities_above(patient.home_facility_id)
    people = (
        User.objects.filter(role=Role.CLINICIAN, is_active=True)
        .filter(Q(facility_id__in=reachable) | Q(pk=user.pk))
        .select_related("facility")
        .order_by("last_name", "first_name")[:200]
    )
    return [
        (str(person.pk), f"{person.get_full_name() or person.username} — {person.facility}")
        for person in people
    ]


def _label(code: str) -> str:
    return pages.measure_label(code)


@login_required
def enrol(request: HttpRequest, patient_uuid: UUID) -> HttpResponse:
    user = signed_in_user(request)
    if user.role != Role.CLINICIAN:
        raise PermissionDenied(_("A clinician enrols a patient in monitoring."))
    patient = get_object_or_404(Patient.objects.select_related("home_facility"), uuid=patient_uuid)
    accessor = Accessor.from_request(request)
    authorise(
        accessor=accessor,
        patient=patient,
        action=Action.UPDATE,
        details={"page": "monitoring enrolment"},
    )
    source = request.POST if request.method == "POST" else request.GET
    programme = source.get("programme", "")
    if programme not in ProgrammeChoice.values:
        return render(
            request,
            "monitoring/enrol_programme.html",
            {"patient": patient, "programmes": ProgrammeChoice.choices},
        )
    template = plans.template_json(programme)
    readings = pages.readings_of(programme, template)
    clinicians = _clinicians(patient, user)
    data = request.POST if request.method == "POST" else None
    form = EnrolForm(
        data,
        clinicians=clinicians,
        initial={
            "programme": programme,
            "responsible_feldsher": str(user.pk),
            "phone_language": language_code(),
        },
    )
    plan_form = PlanForm(data, plan=template, label=_label, prefix="plan")
    targets_form = TargetsForm(
        data,
        quantities=pages.target_quantities(readings),
        initial=pages.targets_initial(plans.default_targets(programme)),
        prefix="targets",
    )
    if request.method == "POST":
        valid = all([form.is_valid(), plan_form.is_valid(), targets_form.is_valid()])
        if valid:
            people = {
                person.pk: person
                for person in User.objects.filter(
                    pk__in=[
                        form.cleaned_data["responsible_feldsher"],
                        form.cleaned_data["responsible_doctor"],
                    ]
                )
            }
            try:
                enrolment = enrolment_services.enrol(
                    accessor=accessor,
                    patient=patient,
                    programme=programme,
                    responsible_feldsher=people[int(form.cleaned_data["responsible_feldsher"])],
                    responsible_doctor=people[int(form.cleaned_data["responsible_doctor"])],
                    in_person_visit_on=form.cleaned_data["in_person_visit_on"],
                    plan=plan_form.plan_json(),
                    targets=targets_form.targets(),
                    note=form.cleaned_data["note"],
                )
            except (ValidationError, IntegrityError, plans.PlanError) as error:
                if isinstance(error, ValidationError):
                    errors_to_form(form, error)
                else:
                    form.add_error(None, refusal_message(error))
            else:
                messages.success(request, _("The patient is enrolled in monitoring."))
                _register_phone(request, patient, form)
                return redirect("monitoring:detail", enrolment_uuid=enrolment.uuid)
    return render(
        request,
        "monitoring/enrol.html",
        {
            "patient": patient,
            "programme": programme,
            "programme_label": ProgrammeChoice(programme).label,
            "form": form,
            "plan_form": plan_form,
            "targets_form": targets_form,
        },
        status=400 if request.method == "POST" else 200,
    )


def _register_phone(request: HttpRequest, patient: Patient, form: EnrolForm) -> None:
    """The phone for SMS readings, after the enrolment: a refused number (another person's)
    is said on the next page, and the enrolment stands."""
    number = form.cleaned_data["phone"].strip()
    if not number:
        return
    try:
        enrolment_services.phone_register(
            accessor=Accessor.from_request(request),
            patient=patient,
            number=number,
            language=form.cleaned_data["phone_language"] or "ru",
        )
    except (ValidationError, IntegrityError) as error:
        messages.warning(
            request,
            _("The phone for SMS readings was not registered: %(why)s")
            % {"why": refusal_message(error)},
        )


# --- a person's monitoring page -----------------------------------------------------------------


def _enrolment(request: HttpRequest, enrolment_uuid: UUID) -> Enrolment:
    """The enrolment, its patient authorised for viewing (a change is authorised again by its
    service)."""
    enrolment = get_object_or_404(
        Enrolment.objects.select_related(
            "patient", "facility", "responsible_feldsher", "responsible_doctor"
        ),
        uuid=enrolment_uuid,
    )
    authorise(
        accessor=Accessor.from_request(request),
        patient=enrolment.patient,
        action=Action.VIEW,
        record=enrolment,
        details={"page": "monitoring"},
    )
    return enrolment


def _detail_context(
    request: HttpRequest,
    enrolment: Enrolment,
    *,
    reading_form: ReadingForm | None = None,
    ack_form: AcknowledgeForm | None = None,
    plan_form: PlanForm | None = None,
    targets_form: TargetsForm | None = None,
    end_form: EndForm | None = None,
) -> dict[str, Any]:
    user = signed_in_user(request)
    now = timezone.now()
    language = language_code()
    measures = pages.readings_of(enrolment.programme, enrolment.plan)
    readings = list(
        selectors.readings_for(enrolment.patient, since=now - pages.WINDOW).select_related(
            "entered_by"
        )[: pages.TABLE_ROWS * 4]
    )
    alerts = list(
        enrolment.alerts.select_related("recipient", "acknowledged_by").order_by("-raised_at")[:20]
    )
    is_active = enrolment.status == EnrolmentStatus.ACTIVE
    return {
        "e": enrolment,
        "patient": enrolment.patient,
        "charts": pages.charts(
            readings,
            measures=measures,
            targets=enrolment.targets,
            language=language,
            zone=timezone.get_current_timezone(),
            prefix="m",
        ),
        "readings": [
            {
                "r": r,
                "text": pages.reading_text(r, language),
                "label": pages.measure_label(r.code),
                "unit": pages.unit_label(r.code),
            }
            for r in readings[: pages.TABLE_ROWS]
        ],
        "alerts": alerts,
        "open_statuses": [s.value for s in OPEN],
        "may_record": is_active and user.role == Role.CLINICIAN,
        "may_change": is_active and user.role == Role.CLINICIAN and not at_station(),
        "at_station": at_station(),
        "reading_form": reading_form or ReadingForm(readings=measures, prefix="r"),
        "plan_form": plan_form or PlanForm(plan=enrolment.plan, label=_label, prefix="plan"),
        "targets_form": targets_form
        or TargetsForm(
            quantities=pages.target_quantities(measures),
            initial=pages.targets_initial(enrolment.targets),
            prefix="targets",
        ),
        "end_form": end_form or EndForm(),
        "ack_form": ack_form or AcknowledgeForm(),
    }


@login_required
def detail(request: HttpRequest, enrolment_uuid: UUID) -> HttpResponse:
    user = staff_only(request)
    del user
    enrolment = _enrolment(request, enrolment_uuid)
    return render(request, "monitoring/detail.html", _detail_context(request, enrolment))


@login_required
@require_POST
def add_reading(request: HttpRequest, enrolment_uuid: UUID) -> HttpResponse:
    user = staff_only(request)
    enrolment = _enrolment(request, enrolment_uuid)
    measures = pages.readings_of(enrolment.programme, enrolment.plan)
    form = ReadingForm(request.POST, readings=measures, prefix="r")
    if user.role != Role.CLINICIAN or enrolment.status != EnrolmentStatus.ACTIVE:
        form.add_error(None, _("Readings are added by the clinicians of an active enrolment."))
    elif form.is_valid():
        try:
            result = reading_services.reading_record(
                accessor=Accessor.from_request(request),
                patient=enrolment.patient,
                readings=reading_ins(form),
                source=ReadingSource.STATION if at_station() else ReadingSource.CLINICIAN,
            )
        except ValidationError as error:
            errors_to_form(form, error)
        else:
            if at_station():
                messages.success(
                    request,
                    _(
                        "The reading is saved here and goes to the hub with the next "
                        "connection; alerts are computed at the hub."
                    ),
                )
            elif result.alerts:
                messages.warning(
                    request,
                    _("The reading is saved. It raised an alert for the responsible clinician."),
                )
            else:
                messages.success(request, _("The reading is saved."))
            return redirect("monitoring:detail", enrolment_uuid=enrolment.uuid)
    return render(
        request,
        "monitoring/detail.html",
        _detail_context(request, enrolment, reading_form=form),
        status=400,
    )


@login_required
@require_POST
def change_plan(request: HttpRequest, enrolment_uuid: UUID) -> HttpResponse:
    user = staff_only(request)
    enrolment = _enrolment(request, enrolment_uuid)
    measures = pages.readings_of(enrolment.programme, enrolment.plan)
    plan_form = PlanForm(request.POST, plan=enrolment.plan, label=_label, prefix="plan")
    targets_form = TargetsForm(
        request.POST, quantities=pages.target_quantities(measures), prefix="targets"
    )
    if user.role != Role.CLINICIAN or at_station():
        plan_form.add_error(None, _("The plan is changed by a clinician at the hub."))
    elif all([plan_form.is_valid(), targets_form.is_valid()]):
        try:
            enrolment_services.enrolment_update(
                accessor=Accessor.from_request(request),
                enrolment=enrolment,
                expected_version=posted_version(request),
                plan=plan_form.plan_json(),
                targets=targets_form.targets(),
            )
        except (ValidationError, IntegrityError, plans.PlanError) as error:
            plan_form.add_error(None, refusal_message(error))
        else:
            messages.success(request, _("The plan is changed."))
            return redirect("monitoring:detail", enrolment_uuid=enrolment.uuid)
    return render(
        request,
        "monitoring/detail.html",
        _detail_context(request, enrolment, plan_form=plan_form, targets_form=targets_form),
        status=400,
    )


@login_required
@require_POST
def end(request: HttpRequest, enrolment_uuid: UUID) -> HttpResponse:
    user = staff_only(request)
    enrolment = _enrolment(request, enrolment_uuid)
    form = EndForm(request.POST)
    if user.role != Role.CLINICIAN or at_station():
        form.add_error(None, _("The monitoring is ended by a clinician at the hub."))
    elif form.is_valid():
        try:
            enrolment_services.enrolment_end(
                accessor=Accessor.from_request(request),
                enrolment=enrolment,
                reason=form.cleaned_data["reason"],
                expected_version=posted_version(request),
            )
        except (ValidationError, IntegrityError) as error:
            form.add_error(None, refusal_message(error))
        else:
            messages.success(request, _("The monitoring has ended."))
            return redirect("monitoring:detail", enrolment_uuid=enrolment.uuid)
    return render(
        request,
        "monitoring/detail.html",
        _detail_context(request, enrolment, end_form=form),
        status=400,
    )
