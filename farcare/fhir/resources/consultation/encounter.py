"""Encounter (class VR): the virtual encounter of a consultation, read-only."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from farcare.consults.models import (
    Consultation,
    ConsultForm,
    Status,
)

from ... import systems
from ...registry import SearchParam, register
from .common import (
    ACT_PRIORITY,
    ACT_PRIORITY_OF_FORM,
    ENCOUNTER_STATUS,
    PARTICIPATION_TYPE,
    ConsultationHandler,
    _consultant,
    _organisation,
    _patient,
    _requester,
    _when,
    active_assignments,
    fixed_code,
    mapped_status,
)


def completed_at(obj: Consultation) -> datetime | None:
    signed = [a.conclusion.signed_at for a in obj.attachments.all() if a.conclusion is not None]
    return min(signed) if signed else None


@register
class EncounterHandler(ConsultationHandler):
    resource_type = "Encounter"
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=mapped_status(ENCOUNTER_STATUS)),
        "class": SearchParam("token", to_q=fixed_code(systems.V3_ACT_CODE, "VR")),
        "date": SearchParam("date", "received_at", sortable=True),
    }

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        participants = [
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "REF"}]}],
                "individual": _requester(obj),
            }
        ] + [
            {
                "type": [{"coding": [{"system": PARTICIPATION_TYPE, "code": "CON"}]}],
                "individual": _consultant(assignment),
            }
            for assignment in active_assignments(obj)
        ]
        resource: dict[str, Any] = {
            "resourceType": "Encounter",
            "id": str(obj.uuid),
            "status": ENCOUNTER_STATUS[Status(obj.status)],
            "class": {"system": systems.V3_ACT_CODE, "code": "VR", "display": "virtual"},
            "priority": {
                "coding": [
                    {"system": ACT_PRIORITY, "code": ACT_PRIORITY_OF_FORM[ConsultForm(obj.form)]}
                ],
                "text": obj.form,
            },
            "subject": _patient(obj),
            "basedOn": [{"reference": f"ServiceRequest/{obj.uuid}"}],
            "participant": participants,
        }
        if obj.received_at is not None:
            period = {"start": _when(obj.received_at)}
            completed = completed_at(obj) if obj.status == Status.COMPLETED else None
            if completed is not None:
                period["end"] = _when(completed)
            resource["period"] = period
        if obj.routed_facility is not None:
            resource["serviceProvider"] = _organisation(obj.routed_facility)
        return resource
