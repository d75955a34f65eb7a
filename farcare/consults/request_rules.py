"""What a request must carry before it is sent from the form, beyond what every request needs
(services.requesting._check_request): an emergency or urgent request carries the vital signs
NEWS2 is scored from, or the clinician's reason why some are missing. A partial score reads
lower than the patient's state; "NEWS2: 0 — low" on an emergency with no readings misled.

Only the request form asks this (at the hub's pages and a station's): a system sending a
ServiceRequest over FHIR may post its Observations after the request (basedOn), so it is not
refused for sending them separately."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.translation import gettext as _

from farcare.clinical.news2 import PARAMETERS, News2Result
from farcare.clinical.vitals import VITALS

from .models import ConsultForm, VitalsMissing

FORMS_NEEDING_VITALS = frozenset({ConsultForm.EMERGENCY, ConsultForm.URGENT})


def missing_vitals(form: str, vitals: Mapping[str, object]) -> list[str]:
    """The NEWS2 parameters (VITALS keys) an emergency or urgent request lacks; none for a
    planned one. `vitals` as parse_vitals returns them."""
    if form not in FORMS_NEEDING_VITALS:
        return []
    return [key for key in PARAMETERS if vitals.get(key) is None or vitals.get(key) == ""]


def missing_vitals_problem(
    form: str, vitals: Mapping[str, object], reason: str, language: str
) -> str:
    """Why the form cannot be sent as it is, or "" when it can."""
    missing = missing_vitals(form, vitals)
    if not missing or reason in VitalsMissing.values:
        return ""
    names = ", ".join(VITALS[key].name(language) for key in missing)
    return _(
        "An emergency or urgent request needs the vital signs NEWS2 is scored from. "
        "Missing: %(names)s. Record them, or tick why they are missing."
    ) % {"names": names}


def preselected_form(result: News2Result | None) -> str:
    """The form to choose for the clinician from a NEWS2 result: emergency or urgent as it
    suggests, planned only from a complete score (a partial low score says little); "" when
    there is nothing to go on."""
    if result is None or not result.parameters_scored:
        return ""
    suggestion = str(result.suggested_form)
    if suggestion == ConsultForm.PLANNED and not result.complete:
        return ""
    return suggestion
