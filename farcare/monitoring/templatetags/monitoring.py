"""The patient's page shows their monitoring (issue 17): the enrolments, with a link to each
person's monitoring page, and "Enrol in monitoring" for a clinician at the hub. The page has
already authorised and audited the read of the patient. And `risk_reason`: the stored reason
codes of a risk put into the viewer's words."""

from __future__ import annotations

from typing import Any

from django import template

from farcare.accounts.models import Role
from farcare.core.ports import replication

from .. import risk
from ..models import Enrolment

register = template.Library()


@register.filter
def risk_reason(codes: str) -> str:
    """ "alert_urgent;outside_target" as words in the active language (risk.describe); the
    codes are stored so that a list read in Korean does not show a reason kept in Russian."""
    return risk.describe(codes or "")


@register.inclusion_tag("monitoring/_patient_monitoring.html", takes_context=True)
def patient_monitoring(context: dict[str, Any], patient: Any) -> dict[str, Any]:
    request = context.get("request")
    user = getattr(request, "user", None)
    role = getattr(user, "role", "")
    enrolments = list(
        Enrolment.objects.filter(patient_id=patient.pk)
        .select_related("facility")
        .order_by("status", "-enrolled_at")[:10]
    )
    return {
        "enrolments": enrolments,
        "patient": patient,
        "staff": role in (Role.CLINICIAN, Role.COORDINATOR, Role.CONSULTANT),
        "own": role == Role.PATIENT,
        # Enrolments are made at the hub: a station's copy would not cross back up.
        "may_enrol": role == Role.CLINICIAN and not replication().is_station(),
    }
