"""DiagnosticReport ↔ diagnostics.DiagnosticReport: a laboratory report with its values, or a
radiologist's signed report of an imaging study.

`category` = v2-0074 LAB or RAD; `code` LOINC; `basedOn` = the order; `status`; `effective` =
collected, `issued` = reported; `performer` = the laboratory or diagnostic centre;
`resultsInterpreter` = the radiologist; `result` = the laboratory Observations (their ids are
the first rows of their chains of corrections: observation.py); `imagingStudy`; `conclusion`
and `conclusionCode` (ICD-10); `presentedForm` = the report as PDF, `Binary/<the report's id>`
(presented_form.py). A patient's own token sees a report once it is released to them; before,
it does not exist for them (404, not 403), as its values.

POST (a single DiagnosticReport with its Observations `contained` and named in `result`, or a
transaction Bundle whose DiagnosticReport names Observation entries by their `urn:uuid:`
fullUrls) maps into `diagnostics.inbound.LabReportIn` (source "fhir") and goes to
`diagnostics.services.results.report_receive`, as HL7 v2 results do; a refusal is a 422 with the
reason (inbound.py does the mapping). Each Observation becomes a laboratory Observation of its
own, and what it carried beyond FarCare's record is kept with it (remainder.py)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core.exceptions import ObjectDoesNotExist
from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.accounts.models import Role
from farcare.diagnostics.inbound import ReportRefused
from farcare.diagnostics.models import (
    Category,
    DiagnosticReport,
    ReportStatus,
    ResultObservation,
)
from farcare.diagnostics.services.results import report_receive
from farcare.patients.models import Patient

from ... import systems
from ...auth import Principal
from ...errors import business_rule
from ...registry import Handler, Include, SearchParam, register
from ..consultation.common import _person
from .common import (
    CATEGORY_OF_SECTION,
    CATEGORY_OF_SNOMED,
    DIAGNOSTIC_SECTION,
    REPORT_SECTION,
    choice_q,
    loinc,
    loinc_q,
    negated,
    nothing,
    organisation,
    patient_reference,
    when,
)
from .inbound import contained_observations, gather_bundled, lab_report_of, refused_path


def _category_q(modifier: str, system: str, code: str) -> Q:
    category = ""
    if system in ("", DIAGNOSTIC_SECTION) and code in CATEGORY_OF_SECTION:
        category = CATEGORY_OF_SECTION[code]
    elif system in ("", systems.SNOMED) and code in CATEGORY_OF_SNOMED:
        category = CATEGORY_OF_SNOMED[code]
    elif system in ("", systems.OBSERVATION_CATEGORY) and code in Category.values:
        category = code
    return negated(Q(category=category) if category else nothing(), modifier)


def released_only(principal: Principal) -> bool:
    """A patient sees their reports once released (after review, or the delay)."""
    return principal.user.role == Role.PATIENT


@register
class DiagnosticReportHandler(Handler):
    resource_type = "DiagnosticReport"
    model = DiagnosticReport
    interactions = frozenset({"read", "vread", "history-instance", "search-type", "create"})
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "code": SearchParam("token", to_q=loinc_q("code")),
        "category": SearchParam("token", to_q=_category_q),
        "date": SearchParam("date", "effective_at", sortable=True),
        "issued": SearchParam("date", "issued_at", sortable=True),
        "status": SearchParam("token", to_q=choice_q("status", list(ReportStatus.values))),
        "based-on": SearchParam("reference", "order__uuid", target="ServiceRequest"),
        "result": SearchParam("reference", "observations__uuid", target="Observation"),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
        Include("result", "Observation", "observations"),
        Include("based-on", "ServiceRequest", "order"),
        Include("performer", "Organization", "performer.organisation"),
    )

    def all_objects(self) -> QuerySet[DiagnosticReport]:
        return DiagnosticReport.objects.select_related(
            "patient", "order", "performer__organisation", "author__practitioner"
        ).prefetch_related("author__practitioner__roles")

    def queryset(self, principal: Principal) -> QuerySet[DiagnosticReport]:
        mine = self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))
        if released_only(principal):
            mine = mine.filter(released_at__isnull=False)
        return mine

    def patient_of(self, obj: DiagnosticReport) -> Patient:
        return obj.patient

    def hidden(self, principal: Principal, obj: DiagnosticReport) -> bool:
        # To the patient a report not yet released does not exist (404, not 403), as its values.
        return released_only(principal)

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, DiagnosticReport):
            return [instance]
        if isinstance(instance, ResultObservation):
            return [instance.report]
        report_id = getattr(instance, "report_id", None)
        if instance._meta.label == "imaging.ImagingStudy" and report_id is not None:
            return DiagnosticReport.objects.filter(pk=report_id)
        return []

    def to_fhir(self, obj: DiagnosticReport) -> dict[str, Any]:
        from .observation import root_uuid

        resource: dict[str, Any] = {
            "resourceType": "DiagnosticReport",
            "id": str(obj.uuid),
            "status": obj.status,
            "category": [{"coding": [REPORT_SECTION[Category(obj.category)]]}],
            "code": loinc(obj.code, obj.display),
            "subject": patient_reference(obj.patient),
            "issued": when(obj.issued_at),
        }
        if obj.external_id and obj.source == "fhir":
            system, _bar, value = obj.external_id.rpartition("|")
            resource["identifier"] = [
                {"system": system, "value": value} if system else {"value": value}
            ]
        if obj.order is not None:
            resource["basedOn"] = [{"reference": f"ServiceRequest/{obj.order.uuid}"}]
        if obj.effective_at is not None:
            resource["effectiveDateTime"] = when(obj.effective_at)
        performer = organisation(obj.performer)
        if performer is not None:
            resource["performer"] = [performer]
        if obj.author is not None:
            resource["resultsInterpreter"] = [_person(obj.author, obj.performer)]
        current = obj.observations.filter(superseded_by__isnull=True).order_by("sequence", "pk")
        results = [
            {"reference": f"Observation/{root_uuid(row)}", "display": row.display}
            for row in current
        ]
        if results:
            resource["result"] = results
        try:
            study = obj.imaging_study
        except ObjectDoesNotExist:
            study = None
        if study is not None:
            resource["imagingStudy"] = [{"reference": f"ImagingStudy/{study.uuid}"}]
        text = "\n\n".join(part for part in (obj.findings, obj.conclusion) if part.strip())
        if text:
            resource["conclusion"] = text
        if obj.conclusion_codes:
            resource["conclusionCode"] = [
                {"coding": [{"system": systems.ICD10, "code": str(code)}]}
                for code in obj.conclusion_codes
            ]
        from .presented_form import presented_form

        forms = presented_form(obj)
        if forms:
            resource["presentedForm"] = forms
        return resource

    # --- writes ------------------------------------------------------------------------------

    def consumed(self, resource: dict[str, Any]) -> dict[str, Any]:
        """Without the contained Observations and the `result` naming them: each became a
        laboratory Observation of its own (and keeps its own remainder)."""
        rest = {key: value for key, value in resource.items() if key != "result"}
        others = [
            item
            for item in resource.get("contained") or []
            if not (isinstance(item, dict) and item.get("resourceType") == "Observation")
        ]
        if others:
            rest["contained"] = others
        else:
            rest.pop("contained", None)
        return rest

    def create(self, principal: Principal, resource: dict[str, Any]) -> DiagnosticReport:
        observations = contained_observations(resource)
        report = lab_report_of(resource, observations, principal)
        try:
            outcome = report_receive(accessor=principal.accessor, report=report)
        except ReportRefused as refused:
            raise business_rule(refused.reason, [refused_path(refused.field)]) from refused
        stored = self.all_objects().get(uuid=outcome.report_uuid)
        _keep_observations(stored, observations)
        return stored

    def gather(
        self, resource: dict[str, Any], bundled: dict[str, dict[str, Any]]
    ) -> tuple[dict[str, Any], dict[str, str]]:
        return gather_bundled(resource, bundled)

    def gathered(self, logical_id: str, local_ids: list[str]) -> dict[str, tuple[Handler, Any]]:
        from ...registry import handler_for

        observation_handler = handler_for("Observation")
        report = DiagnosticReport.objects.filter(uuid=logical_id).first()
        found: dict[str, tuple[Handler, Any]] = {}
        if report is None or observation_handler is None:
            return found
        for local_id in local_ids:
            row = _row_of(report, local_id)
            if row is not None:
                found[local_id] = (observation_handler, row)
        return found


def _row_of(report: DiagnosticReport, local_id: str) -> ResultObservation | None:
    """The current row of the value a contained Observation `#r<sequence>` became."""
    sequence = local_id.lstrip("#").removeprefix("r")
    if not sequence.isdigit():
        return None
    return (
        report.observations.filter(sequence=int(sequence), superseded_by__isnull=True)
        .order_by("-pk")
        .first()
    )


def _keep_observations(report: DiagnosticReport, observations: list[dict[str, Any]]) -> None:
    """What each sent Observation carried beyond the record, kept with its Observation."""
    from ...registry import handler_for
    from ...views import keep_remainder

    handler = handler_for("Observation")
    if handler is None:
        return
    for sequence, sent in enumerate(observations, start=1):
        row = _row_of(report, f"r{sequence}")
        if row is None:
            continue
        body = {key: value for key, value in sent.items() if key != "id"}
        keep_remainder(handler.concrete(row), row, {**body, "resourceType": "Observation"})
