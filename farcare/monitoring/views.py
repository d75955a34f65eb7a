"""Pages of remote monitoring (issue 17, point 4), thin: services write, selectors read,
`pages.py` words. The programme list sorted by risk for the post and the district doctor, the
enrolment form, a person's monitoring page with charts and the reading form, the alert inbox
and an alert's page, from which one button opens a teleconsultation request with the trend.

Every refusal a service raises comes back on the page as a message in the reader's language;
nothing here answers 500 to bad input. A consultant abroad sees no identity here by any path:
the list refuses them (403) before any query, and the other pages authorise the patient, which
refuses them too. At a station the feldsher's reading goes through the same service (the
station's outbox carries it to the hub); alerts and risk are computed at the hub."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db import IntegrityError
from django.db.models import Count, Q, QuerySet
from django.forms import BaseForm
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from farcare.access.policy import Action, is_abroad
from farcare.access.services import authorise
from farcare.accounts.models import Role, User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.drafts import form_url
from farcare.core.ports import replication
from farcare.core.posted import posted_version
from farcare.network.models import Facility
from farcare.network.selectors import facilities_above
from farcare.patients.models import Patient

from . import pages, plans, selectors
from .forms import AcknowledgeForm, EndForm, EnrolForm, PlanForm, ReadingForm, TargetsForm
from .models import (
    AlertStatus,
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    MonitoringAlert,
    ProgrammeChoice,
    ReadingSource,
)
from .services import alerts as alert_services
from .services import enrolment as enrolment_services
from .services import readings as reading_services
from .services.readings import ReadingIn
from .workflow import EVENT_LABELS

PAGE_SIZE = 30
FACILITY_CHOICES = 100  # in the filter's menu; any facility followed is accepted as a filter
OPEN = (AlertStatus.OPEN, AlertStatus.ESCALATED)
STAFF_ROLES = (Role.CLINICIAN, Role.COORDINATOR, Role.CONSULTANT)


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _language() -> str:
    return (get_language() or "ru").split("-")[0]


def _errors_to_form(form: BaseForm, error: ValidationError) -> None:
    if hasattr(error, "error_dict"):
        for name, errors in error.error_dict.items():
            for item in errors:
                form.add_error(name if name in form.fields else None, item)
    else:
        for message in error.messages:
            form.add_error(None, message)


def _message(error: ValidationError | IntegrityError | plans.PlanError) -> str:
    if isinstance(error, ValidationError):
        return " ".join(error.messages)
    if isinstance(error, plans.PlanError):
        return error.message
    return _("Someone changed this at the same moment. Reload the page and try again.")


def _staff_only(request: HttpRequest) -> User:
    """The monitoring pages of staff: clinicians, coordinators and consultants in Russia. A
    consultant abroad works on pseudonymised cases only (domain.md §3): no list of names."""
    user = _user(request)
    if user.role not in STAFF_ROLES:
        raise PermissionDenied(_("These pages are for the clinicians who follow monitored people."))
    if is_abroad(user):
        raise PermissionDenied(_("Monitored people are shown only to clinicians in Russia."))
    return user


def at_station() -> bool:
    return replication().is_station()


# --- the programme list ------------------------------------------------------------------------


@login_required
def programme_list(request: HttpRequest) -> HttpResponse:
    user = _staff_only(request)
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
    language = _language()
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
    user = _user(request)
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
            "phone_language": _language(),
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
                    _errors_to_form(form, error)
                else:
                    form.add_error(None, _message(error))
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
            _("The phone for SMS readings was not registered: %(why)s") % {"why": _message(error)},
        )


# --- a person's monitoring page -----------------------------------------------------------------


def _enrolment(
    request: HttpRequest, enrolment_uuid: UUID, action: Action = Action.VIEW
) -> Enrolment:
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
    user = _user(request)
    now = timezone.now()
    language = _language()
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
    user = _staff_only(request)
    del user
    enrolment = _enrolment(request, enrolment_uuid)
    return render(request, "monitoring/detail.html", _detail_context(request, enrolment))


def _reading_ins(form: ReadingForm) -> list[ReadingIn]:
    taken_at: datetime | None = form.cleaned_data.get("taken_at")
    return [
        ReadingIn(
            code=typed.code.value,
            value=typed.value,
            value_2=typed.value_2,
            taken_at=taken_at,
            note=form.cleaned_data.get("note", ""),
        )
        for typed in form.cleaned_data["readings"]
    ]


@login_required
@require_POST
def add_reading(request: HttpRequest, enrolment_uuid: UUID) -> HttpResponse:
    user = _staff_only(request)
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
                readings=_reading_ins(form),
                source=ReadingSource.STATION if at_station() else ReadingSource.CLINICIAN,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
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
    user = _staff_only(request)
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
            plan_form.add_error(None, _message(error))
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
    user = _staff_only(request)
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
            form.add_error(None, _message(error))
        else:
            messages.success(request, _("The monitoring has ended."))
            return redirect("monitoring:detail", enrolment_uuid=enrolment.uuid)
    return render(
        request,
        "monitoring/detail.html",
        _detail_context(request, enrolment, end_form=form),
        status=400,
    )


# --- alerts ------------------------------------------------------------------------------------


@login_required
def alerts(request: HttpRequest) -> HttpResponse:
    user = _staff_only(request)
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
    language = _language()
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
            "may_consult": _user(request).role == Role.CLINICIAN and not at_station(),
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
    _staff_only(request)
    return _alert_page(request, _alert(request, alert_uuid))


@login_required
@require_POST
def alert_acknowledge(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    _staff_only(request)
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
            form.add_error(None, _message(error))
        else:
            messages.success(request, _("The alert is acknowledged."))
            return redirect("monitoring:alert", alert_uuid=alert.uuid)
    return _alert_page(request, alert, ack_form=form, status=400)


@login_required
@require_POST
def alert_consult(request: HttpRequest, alert_uuid: UUID) -> HttpResponse:
    user = _staff_only(request)
    alert = _alert(request, alert_uuid)
    if user.role != Role.CLINICIAN:
        messages.error(request, _("A teleconsultation is requested by a clinician."))
        return _alert_page(request, alert, status=403)
    try:
        draft = alert_services.alert_open_consultation(
            accessor=Accessor.from_request(request), alert=alert
        )
    except (ValidationError, IntegrityError) as error:
        messages.error(request, _message(error))
        return _alert_page(request, alert, status=400)
    return redirect(form_url(draft))


# --- the patient's partial ---------------------------------------------------------------------


def enrolments_of(patient: Patient) -> list[Enrolment]:
    return list(
        Enrolment.objects.filter(patient=patient)
        .select_related("facility")
        .order_by("status", "-enrolled_at")[:10]
    )


def latest_readings(patient: Patient) -> list[HomeReading]:
    return list(selectors.readings_for(patient)[:1])


# --- the person's own page ---------------------------------------------------------------------


def _my_context(
    request: HttpRequest, patient: Patient | None, form: ReadingForm | None = None
) -> dict[str, Any]:
    if patient is None:
        return {"patient": None, "enrolments": []}
    enrolments = list(
        Enrolment.objects.filter(patient=patient, status=EnrolmentStatus.ACTIVE).order_by(
            "enrolled_at"
        )
    )
    measures = pages.readings_of_all(enrolments)
    targets: dict[str, Any] = {}
    for enrolment in enrolments:
        targets.update(enrolment.targets)
    now = timezone.now()
    language = _language()
    readings = list(selectors.readings_for(patient, since=now - pages.WINDOW)[:400])
    latest: dict[str, HomeReading] = {}
    for reading in readings:
        latest.setdefault(reading.code, reading)
    states = [
        {"l": row, "plain": pages.plain_state(row)}
        for row in pages.latest_rows(latest, measures, targets, language)
    ]
    return {
        "patient": patient,
        "enrolments": enrolments,
        "form": form or ReadingForm(readings=measures, prefix="r"),
        "states": states,
        "charts": pages.charts(
            readings,
            measures=measures,
            targets=targets,
            language=language,
            zone=timezone.get_current_timezone(),
            prefix="my",
        ),
    }


def _own_patient(request: HttpRequest) -> Patient | None:
    user = _user(request)
    if user.role != Role.PATIENT:
        raise PermissionDenied(
            _(
                "This page is for a person sending their own readings. Staff add readings on the "
                "person's monitoring page."
            )
        )
    return Patient.objects.filter(user=user).first()


@login_required
def my_readings(request: HttpRequest) -> HttpResponse:
    patient = _own_patient(request)
    if patient is None:
        return render(request, "monitoring/my_readings.html", _my_context(request, None))
    accessor = Accessor.from_request(request)
    authorise(
        accessor=accessor, patient=patient, action=Action.VIEW, details={"page": "my readings"}
    )
    context = _my_context(request, patient)
    if request.method != "POST":
        return render(request, "monitoring/my_readings.html", context)
    form = ReadingForm(
        request.POST, readings=pages.readings_of_all(context["enrolments"]), prefix="r"
    )
    if not context["enrolments"]:
        form.add_error(
            None, _("You are not in a monitoring programme: ask your feldsher to enrol you first.")
        )
    elif form.is_valid():
        try:
            result = reading_services.reading_record(
                accessor=accessor,
                patient=patient,
                readings=_reading_ins(form),
                source=ReadingSource.PATIENT,
            )
        except ValidationError as error:
            _errors_to_form(form, error)
        else:
            if result.alerts:
                messages.warning(
                    request,
                    _(
                        "Thank you, the reading is saved. It is outside your target: your feldsher "
                        "has been told and will contact you. If you feel unwell, call 103."
                    ),
                )
            else:
                messages.success(request, _("Thank you, the reading is saved."))
            return redirect("my_readings:home")
    return render(
        request, "monitoring/my_readings.html", _my_context(request, patient, form), status=400
    )
