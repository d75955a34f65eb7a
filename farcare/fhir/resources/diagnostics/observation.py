"""Observation ↔ diagnostics.ResultObservation: a laboratory value (category `laboratory`),
a part of the Observation type beside the vital signs (composite.py).

A value is never changed: a correction is a new row, and the row it corrects points at it
(`superseded_by`). Here the whole chain is one Observation whose id is the first row's UUID; it
shows the latest row (status `corrected` once corrected), and each earlier row is a version in
its `_history`. Every row keeps that first UUID (`first_uuid`), so `_id` search and `_sort=_id`
find a corrected value by its Observation id. `valueQuantity` in UCUM, `referenceRange`
(low/high in the value's unit, or its text), `interpretation` in v3-ObservationInterpretation
(N, L, H, LL, HH, A), `performer` = the laboratory's Organization, `effectiveDateTime` =
collected, `issued` = reported, `basedOn` = the order. Laboratory values are created with their
DiagnosticReport (report.py); a laboratory Observation on its own is refused."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.diagnostics.models import (
    ObservationStatus,
    ReportStatus,
    ResultObservation,
    ValueType,
)
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import business_rule
from ...registry import Handler, Include, SearchParam, register_part
from .common import (
    INTERPRETATION,
    INTERPRETATION_DISPLAY,
    LABORATORY_CATEGORY,
    choice_q,
    loinc,
    loinc_q,
    negated,
    nothing,
    number,
    organisation,
    patient_reference,
    when,
)
from .report import released_only


def _category_q(modifier: str, system: str, code: str) -> Q:
    matches = code == "laboratory" and system in ("", systems.OBSERVATION_CATEGORY)
    return negated(Q() if matches else nothing(), modifier)


def is_laboratory(resource: dict[str, Any]) -> bool:
    return any(
        coding.get("code") == "laboratory"
        and coding.get("system") in (systems.OBSERVATION_CATEGORY, None)
        for concept in resource.get("category") or []
        for coding in (concept or {}).get("coding") or []
    )


def head(row: ResultObservation) -> ResultObservation:
    """The latest row of a chain of corrections."""
    seen = 0
    while row.superseded_by_id is not None and seen < 100:
        row = ResultObservation.objects.select_related(*RELATED).get(pk=row.superseded_by_id)
        seen += 1
    return row


def root_uuid(row: ResultObservation) -> str:
    """The Observation's id: the UUID of the first row of the chain."""
    return str(row.first_uuid or root(row).uuid)


def root(row: ResultObservation) -> ResultObservation:
    """The first row of a chain: its UUID is the Observation's id."""
    seen = 0
    while seen < 100:
        earlier = ResultObservation.objects.filter(superseded_by=row).only("pk", "uuid").first()
        if earlier is None:
            return row
        row, seen = earlier, seen + 1
    return row


RELATED = ("patient", "performer__organisation", "report__order")


@register_part
class LaboratoryObservationHandler(Handler):
    resource_type = "Observation"
    model = ResultObservation
    # `_id` search and sort: the Observation's id, which every row of a chain keeps.
    lookup = "first_uuid"
    updated_field = "created_at"  # rows are never changed: a correction is a new row
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "code": SearchParam("token", to_q=loinc_q("code")),
        "category": SearchParam("token", to_q=_category_q),
        "date": SearchParam("date", "effective_at", sortable=True),
        "status": SearchParam("token", to_q=choice_q("status", list(ObservationStatus.values))),
        "based-on": SearchParam("reference", "report__order__uuid", target="ServiceRequest"),
        "performer": SearchParam(
            "reference", "performer__organisation__uuid", target="Organization"
        ),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
        Include("based-on", "ServiceRequest", "report.order"),
        Include("performer", "Organization", "performer.organisation"),
    )

    def all_objects(self) -> QuerySet[ResultObservation]:
        # One Observation per chain of corrections: its latest row.
        return ResultObservation.objects.filter(superseded_by__isnull=True).select_related(*RELATED)

    def queryset(self, principal: Principal) -> QuerySet[ResultObservation]:
        mine = self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))
        if released_only(principal):
            # A patient sees a value once its report is released, and never a preliminary one.
            mine = mine.filter(report__released_at__isnull=False).exclude(
                Q(status=ObservationStatus.PRELIMINARY) | Q(report__status=ReportStatus.PRELIMINARY)
            )
        return mine

    def find(self, logical_id: str) -> ResultObservation | None:
        current = (
            ResultObservation.objects.select_related(*RELATED)
            .filter(first_uuid=logical_id, superseded_by__isnull=True)
            .first()
        )
        if current is not None:
            return current
        first = (
            ResultObservation.objects.select_related(*RELATED)
            .filter(uuid=logical_id, supersedes__isnull=True)
            .first()
        )
        return head(first) if first is not None else None

    def refresh(self, obj: ResultObservation) -> ResultObservation | None:
        fresh = ResultObservation.objects.select_related(*RELATED).filter(pk=obj.pk).first()
        return head(fresh) if fresh is not None else None

    def visible(self, principal: Principal, obj: ResultObservation) -> bool:
        return self.queryset(principal).filter(pk=head(obj).pk).exists()

    def hidden(self, principal: Principal, obj: ResultObservation) -> bool:
        # To the patient a value not yet released does not exist (404, not 403).
        return released_only(principal)

    def logical_id(self, obj: ResultObservation) -> str:
        return root_uuid(obj)

    def patient_of(self, obj: ResultObservation) -> Patient:
        return obj.patient

    def claims(self, resource: dict[str, Any]) -> bool:
        return is_laboratory(resource)

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        return [instance] if isinstance(instance, ResultObservation) else []

    def to_fhir(self, obj: ResultObservation) -> dict[str, Any]:
        return render(head(obj), root_uuid(obj))

    def create(self, principal: Principal, resource: dict[str, Any]) -> Any:
        raise business_rule(
            "A laboratory value arrives with its report: POST a DiagnosticReport with the "
            "Observations contained, or both in a transaction Bundle.",
            ["Observation.category"],
        )


def render(obj: ResultObservation, logical_id: str) -> dict[str, Any]:
    resource: dict[str, Any] = {
        "resourceType": "Observation",
        "id": logical_id,
        "status": obj.status,
        "category": [LABORATORY_CATEGORY],
        "code": loinc(obj.code, obj.display),
        "subject": patient_reference(obj.patient),
        "effectiveDateTime": when(obj.effective_at),
        "issued": when(obj.issued_at),
    }
    if obj.report.order is not None:
        resource["basedOn"] = [{"reference": f"ServiceRequest/{obj.report.order.uuid}"}]
    performer = organisation(obj.performer)
    if performer is not None:
        resource["performer"] = [performer]
    if obj.value_type == ValueType.NUMBER and obj.value_number is not None:
        resource["valueQuantity"] = quantity(obj.value_number, obj.unit)
    elif obj.value_type == ValueType.CODED:
        resource["valueCodeableConcept"] = {"text": obj.value_text}
    elif obj.value_text:
        resource["valueString"] = obj.value_text
    if obj.interpretation:
        resource["interpretation"] = [
            {
                "coding": [
                    {
                        "system": INTERPRETATION,
                        "code": obj.interpretation,
                        "display": INTERPRETATION_DISPLAY.get(obj.interpretation, ""),
                    }
                ]
            }
        ]
    reference: dict[str, Any] = {}
    if obj.reference_low is not None:
        reference["low"] = quantity(obj.reference_low, obj.unit)
    if obj.reference_high is not None:
        reference["high"] = quantity(obj.reference_high, obj.unit)
    if obj.reference_text:
        reference["text"] = obj.reference_text
    if reference:
        resource["referenceRange"] = [reference]
    return resource


def quantity(value: Any, unit: str) -> dict[str, Any]:
    result: dict[str, Any] = {"value": number(value)}
    if unit:
        result.update({"unit": unit, "system": systems.UCUM, "code": unit})
    return result
