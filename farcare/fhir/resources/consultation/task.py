"""Task: the consultation's workflow; its status moves through the one state machine."""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError

from farcare.consults import services
from farcare.consults.models import (
    Consultation,
    Status,
)
from farcare.consults.workflow import find_move

from ...auth import Principal
from ...errors import FhirError, business_rule
from ...registry import Include, SearchParam, register
from ...validation import validated
from .common import (
    CANCELLED_THROUGH_FHIR,
    CONSULT_NOTE,
    TASK_CODE,
    ConsultationHandler,
    _consultant,
    _patient,
    _primary,
    _requester,
    _when,
    as_fhir,
    conclusion_documents,
    consultation_of,
    owner_q,
    person_q,
)

TASK_PATHS = {"reason": "Task.statusReason"}


@register
class TaskHandler(ConsultationHandler):
    resource_type = "Task"
    interactions = frozenset(
        {"read", "vread", "history-instance", "search-type", "create", "update"}
    )
    search_params = {
        "status": SearchParam("token", "status"),
        "business-status": SearchParam("token", "business_status"),
        "owner": SearchParam(
            "reference", "assignments__consultant__practitioner__roles__uuid", to_q=owner_q
        ),
        "requester": SearchParam(
            "reference", "requester__practitioner__roles__uuid", to_q=person_q("requester")
        ),
        "focus": SearchParam("reference", "uuid", target="ServiceRequest"),
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "authored-on": SearchParam("date", "created_at", sortable=True),
        "period": SearchParam("date", "deadline_at", sortable=True),
    }
    # `focus` is the consultation itself: the empty attribute path names the object.
    includes = (
        Include("focus", "ServiceRequest", ""),
        Include("patient", "Patient", "patient"),
    )

    def to_fhir(self, obj: Consultation) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Task",
            "id": str(obj.uuid),
            "status": obj.status,
            "intent": "order",
            "priority": obj.fhir_priority,
            "code": {"coding": [{"system": TASK_CODE, "code": "fulfill"}]},
            "focus": {"reference": f"ServiceRequest/{obj.uuid}"},
            "for": _patient(obj),
            "authoredOn": _when(obj.created_at),
            "lastModified": _when(obj.updated_at),
            "requester": _requester(obj),
        }
        if obj.business_status:
            resource["businessStatus"] = {"text": obj.business_status}
        if obj.received_at is not None:
            resource["executionPeriod"] = {"start": _when(obj.received_at)}
        primary = _primary(obj)
        if primary is not None:
            resource["owner"] = _consultant(primary)
        if obj.deadline_at is not None:
            resource["restriction"] = {"period": {"end": _when(obj.deadline_at)}}
        documents = conclusion_documents(obj)
        if obj.status == Status.COMPLETED and documents:
            resource["output"] = [
                {
                    "type": {"coding": [CONSULT_NOTE], "text": "Signed medical conclusion"},
                    "valueReference": {"reference": f"DocumentReference/{documents[0].uuid}"},
                }
            ]
        return resource

    # `consultation_of` loads the request as `refresh` does, and nothing is written to it.
    create_answers_stored = True

    def create(self, principal: Principal, resource: dict[str, Any]) -> Consultation:
        """Every consultation has its Task already: posting one for a request gives it back."""
        validated("Task", resource)
        reference = (resource.get("focus") or {}).get("reference", "")
        if not reference:
            raise business_rule(
                "A Task is the workflow of a request: focus must name its ServiceRequest.",
                ["Task.focus"],
            )
        try:
            return consultation_of(principal, reference, "ServiceRequest", shown=True)
        except FhirError as error:
            if error.status == 422:
                error.expression = ["Task.focus"]
            raise

    def update(
        self, principal: Principal, obj: Consultation, resource: dict[str, Any]
    ) -> Consultation:
        """A new status moves the state machine; nothing else of a Task is written here."""
        validated("Task", resource)
        wanted = str(resource.get("status", ""))
        if wanted == obj.status:
            return obj
        target = _task_target(obj, wanted)
        accessor = principal.accessor
        reason = _task_reason(resource)
        try:
            if target == Status.ACCEPTED:
                return services.consult_accept(accessor=accessor, consultation=obj)
            if target == Status.CANCELLED:
                return services.consult_cancel(
                    accessor=accessor, consultation=obj, reason=reason or CANCELLED_THROUGH_FHIR
                )
            return services.consult_transition(
                accessor=accessor, consultation=obj, target=target, note=reason
            )
        except ValidationError as error:
            raise as_fhir(error, TASK_PATHS, "Task.status") from error


def _task_target(obj: Consultation, wanted: str) -> Status:
    """The status a PUT asks for, if FarCare moves a Task there through this API."""
    if wanted not in Status.values:
        raise business_rule(f"FarCare does not use the Task status {wanted!r}.", ["Task.status"])
    target = Status(wanted)
    if target == Status.ON_HOLD:
        raise business_rule(
            "A consultant puts a request on hold by sending a Communication that asks the "
            "requester (category 'question').",
            ["Task.status"],
        )
    if target == Status.COMPLETED:
        raise business_rule(
            "A request is completed by signing the conclusion in FarCare.", ["Task.status"]
        )
    if find_move(obj.status, target) is None:
        raise business_rule(
            f"A request that is {obj.status} cannot become {target}.", ["Task.status"]
        )
    if target == Status.REQUESTED:
        raise business_rule(
            "A draft is sent by setting its ServiceRequest's status to 'active'.",
            ["Task.status"],
        )
    return target


def _task_reason(resource: dict[str, Any]) -> str:
    reason = (resource.get("statusReason") or {}).get("text", "")
    if not reason:
        notes = [str(note.get("text") or "") for note in resource.get("note") or []]
        reason = notes[-1] if notes else ""
    return str(reason).strip()
