"""CarePlan ↔ monitoring.Enrolment (issue 17): one person's monitoring programme.

status active / completed (ended), intent plan; category the programme (SNOMED CT 38341003
hypertension, 73211009 diabetes, 84114007 heart failure, 77386006 pregnancy; every programme also
in urn:farcare:monitoring-programme, the only coding of "after discharge"); one activity per
measure the plan watches, with its frequency as scheduledTiming when a reading is expected on a
schedule; the responsible feldsher and doctor as contributor and as the participants of a
contained CareTeam; period.start the enrolment, period.end its end; the target bands drawn on the
charts in the urn:farcare:extension:monitoring-target extension. Read and search only: enrolment
is a clinician's decision after an in-person visit, made on the pages."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from django.db.models import Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.monitoring.models import Enrolment, EnrolmentStatus
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...registry import Handler, Include, SearchParam, register
from ..consultation.common import _person
from ..diagnostics.common import negated, nothing, number, patient_reference, when
from .common import (
    CARE_TEAM_ROLE,
    PROGRAMME_SYSTEM,
    TARGET_EXTENSION,
    measure_display,
    status_q,
)

# SNOMED CT disorders / findings of each programme; "after discharge" has none.
PROGRAMME_SNOMED: dict[str, tuple[str, str]] = {
    "hypertension": ("38341003", "Hypertensive disorder, systemic arterial"),
    "diabetes": ("73211009", "Diabetes mellitus"),
    "heart_failure": ("84114007", "Heart failure"),
    "pregnancy": ("77386006", "Pregnancy"),
}
PROGRAMME_DISPLAY = {
    "hypertension": "Hypertension",
    "diabetes": "Diabetes",
    "heart_failure": "Heart failure",
    "pregnancy": "Pregnancy",
    "after_discharge": "After discharge",
}
CARE_PLAN_STATUS: dict[str, str] = {
    EnrolmentStatus.ACTIVE: "active",
    EnrolmentStatus.ENDED: "completed",
}


def _programme_q(modifier: str, system: str, code: str) -> Q:
    if system == PROGRAMME_SYSTEM or (not system and code in PROGRAMME_DISPLAY):
        condition = Q(programme=code)
    elif system in ("", systems.SNOMED):
        wanted = [key for key, (snomed, _d) in PROGRAMME_SNOMED.items() if snomed == code]
        condition = Q(programme__in=wanted) if wanted else nothing()
    else:
        condition = nothing()
    return negated(condition, modifier)


def _programme_concept(programme: str) -> dict[str, Any]:
    codings = []
    if programme in PROGRAMME_SNOMED:
        code, display = PROGRAMME_SNOMED[programme]
        codings.append({"system": systems.SNOMED, "code": code, "display": display})
    codings.append(
        {"system": PROGRAMME_SYSTEM, "code": programme, "display": PROGRAMME_DISPLAY[programme]}
    )
    return {"coding": codings, "text": PROGRAMME_DISPLAY[programme]}


def _timing(every: timedelta) -> dict[str, Any]:
    """A schedule's interval as `repeat`: "4 times a day" rather than "every 0.25 days"."""
    hours = every.total_seconds() / 3600
    if hours <= 24 and 24 % hours == 0:
        return {"repeat": {"frequency": int(24 // hours), "period": 1, "periodUnit": "d"}}
    if hours % 24 == 0:
        return {"repeat": {"frequency": 1, "period": int(hours // 24), "periodUnit": "d"}}
    return {"repeat": {"frequency": 1, "period": round(hours, 2), "periodUnit": "h"}}


def _activities(enrolment: Enrolment, active: bool) -> list[dict[str, Any]]:
    """One activity per measure the plan watches: scheduled ones with their frequency first,
    then those only a threshold or a trend looks at. A stored plan this version cannot read
    (written by a later one) shows no activities rather than failing the read."""
    from farcare.monitoring.plans import PlanError, plan_from_json

    try:
        plan = plan_from_json(
            enrolment.plan,
            subject=str(enrolment.uuid),
            programme=enrolment.programme,
            enrolled_at=enrolment.enrolled_at,
            zone=enrolment.zone,
        )
    except PlanError:
        return []
    every = {schedule.measure.value: schedule.every for schedule in plan.schedules}
    watched = [t.measure.value for t in plan.thresholds] + [g.measure.value for g in plan.gains]
    codes = list(dict.fromkeys([*every, *watched]))
    return [_activity(code, every.get(code), active) for code in codes]


def _activity(code: str, every: timedelta | None, active: bool) -> dict[str, Any]:
    display = measure_display(code)
    detail: dict[str, Any] = {
        "code": {
            "coding": [{"system": systems.LOINC, "code": code, "display": display}],
            "text": display,
        },
        "status": "in-progress" if active else "completed",
        "description": f"Home reading: {display.lower()}",
    }
    if every is not None:
        detail["scheduledTiming"] = _timing(every)
    return {"detail": detail}


def _targets(enrolment: Enrolment) -> list[dict[str, Any]]:
    extensions = []
    for code, band in sorted((enrolment.targets or {}).items()):
        if not isinstance(band, dict):
            continue
        parts: list[dict[str, Any]] = [{"url": "code", "valueCode": code}]
        for end in ("low", "high"):
            try:
                value = Decimal(str(band[end])) if band.get(end) not in (None, "") else None
            except InvalidOperation:
                value = None
            if value is not None:
                parts.append({"url": end, "valueDecimal": number(value)})
        extensions.append({"url": TARGET_EXTENSION, "extension": parts})
    return extensions


@register
class CarePlanHandler(Handler):
    resource_type = "CarePlan"
    model = Enrolment
    updated_field = "updated_at"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=status_q(CARE_PLAN_STATUS)),
        "category": SearchParam("token", to_q=_programme_q),
        "date": SearchParam("date", "enrolled_at", sortable=True),
        "care-team": SearchParam("reference", "uuid", target="CareTeam"),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
    )

    def all_objects(self) -> QuerySet[Enrolment]:
        return Enrolment.objects.select_related(
            "patient",
            "facility__organisation",
            "responsible_feldsher__practitioner",
            "responsible_doctor__practitioner",
            "enrolled_by__practitioner",
        )

    def queryset(self, principal: Principal) -> QuerySet[Enrolment]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: Enrolment) -> Patient:
        return obj.patient

    def to_fhir(self, obj: Enrolment) -> dict[str, Any]:
        active = obj.status == EnrolmentStatus.ACTIVE
        feldsher = _person(obj.responsible_feldsher, obj.facility)
        doctor = _person(obj.responsible_doctor, None)
        period: dict[str, Any] = {"start": when(obj.enrolled_at)}
        if obj.ended_at is not None:
            period["end"] = when(obj.ended_at)
        team = {
            "resourceType": "CareTeam",
            "id": "team",
            "status": "active" if active else "inactive",
            "subject": patient_reference(obj.patient),
            "participant": [
                {"role": [_role("feldsher", "Responsible feldsher")], "member": feldsher},
                {"role": [_role("doctor", "Responsible doctor")], "member": doctor},
            ],
        }
        activities = _activities(obj, active)
        resource: dict[str, Any] = {
            "resourceType": "CarePlan",
            "id": str(obj.uuid),
            "contained": [team],
            "status": CARE_PLAN_STATUS[EnrolmentStatus(obj.status)],
            "intent": "plan",
            "category": [_programme_concept(obj.programme)],
            "title": f"Remote monitoring: {PROGRAMME_DISPLAY[obj.programme].lower()}",
            "subject": patient_reference(obj.patient),
            "period": period,
            "created": when(obj.enrolled_at),
            "careTeam": [{"reference": "#team"}],
            "contributor": [feldsher, doctor],
        }
        if obj.enrolled_by is not None:
            resource["author"] = _person(obj.enrolled_by, obj.facility)
        if activities:
            resource["activity"] = activities
        notes = [obj.note] if obj.note else []
        notes += [f"In-person visit on {obj.in_person_visit_on.isoformat()}."]
        if obj.end_reason:
            notes.append(f"Ended: {obj.end_reason}")
        resource["note"] = [{"text": text} for text in notes]
        targets = _targets(obj)
        if targets:
            resource["extension"] = targets
        return resource


def _role(code: str, display: str) -> dict[str, Any]:
    return {"coding": [{"system": CARE_TEAM_ROLE, "code": code, "display": display}]}
