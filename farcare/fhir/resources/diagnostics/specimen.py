"""Specimen ↔ diagnostics.Specimen: a tube on its way from the post to the laboratory.

`identifier` = the label printed on the tube (`urn:farcare:specimen-label`); `status` available
(collected, shipped, received), unavailable (not collected yet) or unsatisfactory (rejected);
where it is on its way in the extension `urn:farcare:extension:specimen-stage`; `request` = the
order's ServiceRequest; `collection` (who, when); `receivedTime`; a rejection's reason as
`condition` (`urn:farcare:specimen-rejection`, the note as its text); the shipment (batch,
transport, when) as a note. Read and search only: the pages and the laboratory move it."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet
from django.utils import translation

from farcare.access.policy import visible_patients
from farcare.diagnostics.models import RejectionReason, Specimen, SpecimenStatus
from farcare.patients.models import Patient

from ...auth import Principal
from ...registry import Handler, Include, SearchParam, register
from ..consultation.common import _person
from .common import REJECTION_REASON, SPECIMEN_LABEL, negated, nothing, patient_reference, when

STAGE = "urn:farcare:extension:specimen-stage"
FHIR_STATUS = {
    SpecimenStatus.AWAITING: "unavailable",
    SpecimenStatus.COLLECTED: "available",
    SpecimenStatus.SHIPPED: "available",
    SpecimenStatus.RECEIVED: "available",
    SpecimenStatus.REJECTED: "unsatisfactory",
}


def _status_q(modifier: str, system: str, code: str) -> Q:
    stages = [stage for stage, status in FHIR_STATUS.items() if status == code]
    return negated(Q(status__in=stages) if stages else nothing(), modifier)


@register
class SpecimenHandler(Handler):
    resource_type = "Specimen"
    model = Specimen
    search_params = {
        "patient": SearchParam("reference", "order__patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "order__patient__uuid", target="Patient"),
        "status": SearchParam("token", to_q=_status_q),
        "identifier": SearchParam("token", "label", system=SPECIMEN_LABEL),
        "collected": SearchParam("date", "collected_at", sortable=True),
        "request": SearchParam("reference", "order__uuid", target="ServiceRequest"),
    }
    includes = (
        Include("patient", "Patient", "order.patient"),
        Include("subject", "Patient", "order.patient"),
        Include("request", "ServiceRequest", "order"),
    )

    def all_objects(self) -> QuerySet[Specimen]:
        return Specimen.objects.select_related(
            "order__patient", "order__ordering_facility", "collected_by__practitioner"
        ).prefetch_related("collected_by__practitioner__roles")

    def queryset(self, principal: Principal) -> QuerySet[Specimen]:
        patients = visible_patients(principal.user).values("pk")
        return self.all_objects().filter(order__patient__in=patients)

    def patient_of(self, obj: Specimen) -> Patient:
        return obj.order.patient

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        return [instance] if isinstance(instance, Specimen) else []

    def to_fhir(self, obj: Specimen) -> dict[str, Any]:
        resource: dict[str, Any] = {
            "resourceType": "Specimen",
            "id": str(obj.uuid),
            "extension": [{"url": STAGE, "valueCode": obj.status}],
            "identifier": [{"system": SPECIMEN_LABEL, "value": obj.label}],
            "status": FHIR_STATUS[SpecimenStatus(obj.status)],
            "type": {"text": obj.kind},
            "subject": patient_reference(obj.order.patient),
            "request": [{"reference": f"ServiceRequest/{obj.order.uuid}"}],
        }
        if obj.received_at is not None:
            resource["receivedTime"] = when(obj.received_at)
        collection: dict[str, Any] = {}
        if obj.collected_by is not None:
            collection["collector"] = _person(obj.collected_by, obj.order.ordering_facility)
        if obj.collected_at is not None:
            collection["collectedDateTime"] = when(obj.collected_at)
        if collection:
            resource["collection"] = collection
        if obj.status == SpecimenStatus.REJECTED and obj.rejection_reason:
            with translation.override("en"):
                display = str(RejectionReason(obj.rejection_reason).label)
            condition: dict[str, Any] = {
                "coding": [
                    {"system": REJECTION_REASON, "code": obj.rejection_reason, "display": display}
                ]
            }
            if obj.rejection_note:
                condition["text"] = obj.rejection_note
            resource["condition"] = [condition]
        if obj.shipped_at is not None:
            shipped = f"Shipped {when(obj.shipped_at)}"
            shipped += f", batch {obj.batch}" if obj.batch else ""
            shipped += f", by {obj.transport}" if obj.transport else ""
            resource["note"] = [{"text": shipped, "time": when(obj.shipped_at)}]
        return resource
