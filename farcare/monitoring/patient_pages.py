"""The person's own monitoring page, `/my/readings/` (issue 17, point 2): phone first, their
readings added, their charts and targets in plain words; nobody else's."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.access.policy import Action
from farcare.access.services import authorise
from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.patients.models import Patient

from . import pages, selectors
from .forms import ReadingForm
from .models import (
    Enrolment,
    EnrolmentStatus,
    HomeReading,
    ReadingSource,
)
from .page_common import (
    errors_to_form,
    language_code,
    reading_ins,
    signed_in_user,
)
from .services import readings as reading_services

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
    language = language_code()
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
    user = signed_in_user(request)
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
                readings=reading_ins(form),
                source=ReadingSource.PATIENT,
            )
        except ValidationError as error:
            errors_to_form(form, error)
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
