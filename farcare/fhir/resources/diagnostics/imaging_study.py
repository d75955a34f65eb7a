"""ImagingStudy ↔ imaging.ImagingStudy: a study made at a district hospital (or crossing from a
station) and read at a hub.

`identifier` = the DICOM StudyInstanceUID (`urn:dicom:uid`, as `urn:oid:…`) and the accession
number (ACSN); `status`; `modality` (DICOM DCM); `started`; `basedOn` = the order; `interpreter`
= the radiologist who read it; `numberOfSeries`, `numberOfInstances`, and the `series` with
their instances; `endpoint` = the PACS's DICOMweb service (WADO-RS) when FARCARE_DICOMWEB_URL is
set, as a contained Endpoint. The signed report is its DiagnosticReport (imagingStudy)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.conf import settings
from django.db.models import Model, Q, QuerySet

from farcare.access.policy import visible_patients
from farcare.imaging.models import ImagingInstance, ImagingStudy, StudyStatus
from farcare.patients.models import Patient

from ...auth import Principal
from ...registry import Handler, Include, SearchParam, register
from ..consultation.common import _person
from .common import (
    DICOM_MODALITY,
    DICOM_UID,
    IDENTIFIER_TYPE,
    choice_q,
    negated,
    nothing,
    organisation,
    patient_reference,
    when,
)

ENDPOINT_TYPE = "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"
SOP_CLASS = "urn:ietf:rfc:3986"


def _modality_q(modifier: str, system: str, code: str) -> Q:
    if system and system != DICOM_MODALITY:
        return negated(nothing(), modifier)
    series = ImagingInstance.objects.filter(modality=code).values("study_id")
    return negated(Q(modality=code) | Q(pk__in=series), modifier)


def _identifier_q(modifier: str, system: str, value: str) -> Q:
    uid = value.removeprefix("urn:oid:")
    condition = nothing()
    if system in ("", DICOM_UID):
        condition |= Q(study_uid=uid)
    if system == "" and value:
        condition |= Q(accession_number=value)
    return negated(condition, modifier)


def dicomweb_url() -> str:
    return str(getattr(settings, "FARCARE_DICOMWEB_URL", "") or "").rstrip("/")


@register
class ImagingStudyHandler(Handler):
    resource_type = "ImagingStudy"
    model = ImagingStudy
    search_params = {
        "patient": SearchParam("reference", "patient__uuid", target="Patient"),
        "subject": SearchParam("reference", "patient__uuid", target="Patient"),
        "modality": SearchParam("token", to_q=_modality_q),
        "started": SearchParam("date", "started_at", sortable=True),
        "status": SearchParam("token", to_q=choice_q("status", list(StudyStatus.values))),
        "identifier": SearchParam("token", to_q=_identifier_q),
        "basedon": SearchParam("reference", "order__uuid", target="ServiceRequest"),
    }
    includes = (
        Include("patient", "Patient", "patient"),
        Include("subject", "Patient", "patient"),
        Include("basedon", "ServiceRequest", "order"),
    )

    def all_objects(self) -> QuerySet[ImagingStudy]:
        return ImagingStudy.objects.select_related(
            "patient", "order", "facility__organisation", "reader__practitioner", "reading_facility"
        ).prefetch_related("instances", "reader__practitioner__roles")

    def queryset(self, principal: Principal) -> QuerySet[ImagingStudy]:
        return self.all_objects().filter(patient__in=visible_patients(principal.user).values("pk"))

    def patient_of(self, obj: ImagingStudy) -> Patient:
        return obj.patient

    def versioned_objects(self, instance: Model) -> Iterable[Any]:
        if isinstance(instance, ImagingStudy):
            return [instance]
        if isinstance(instance, ImagingInstance):
            return [instance.study]
        return []

    def to_fhir(self, obj: ImagingStudy) -> dict[str, Any]:
        identifiers: list[dict[str, Any]] = [
            {"system": DICOM_UID, "value": f"urn:oid:{obj.study_uid}"}
        ]
        if obj.accession_number:
            identifiers.append(
                {
                    "type": {"coding": [{"system": IDENTIFIER_TYPE, "code": "ACSN"}]},
                    "value": obj.accession_number,
                }
            )
        instances = list(obj.instances.all())
        resource: dict[str, Any] = {
            "resourceType": "ImagingStudy",
            "id": str(obj.uuid),
            "identifier": identifiers,
            "status": obj.status,
            "modality": [{"system": DICOM_MODALITY, "code": obj.modality}],
            "subject": patient_reference(obj.patient),
            "numberOfSeries": obj.series_count or len({i.series_uid for i in instances}),
            "numberOfInstances": obj.instance_count or len(instances),
        }
        if obj.started_at is not None:
            resource["started"] = when(obj.started_at)
        if obj.order is not None:
            resource["basedOn"] = [{"reference": f"ServiceRequest/{obj.order.uuid}"}]
        if obj.reader is not None:
            resource["interpreter"] = [_person(obj.reader, obj.reading_facility)]
        if obj.description:
            resource["description"] = obj.description
        place = organisation(obj.facility)
        if place is not None:
            resource["extension"] = [
                {
                    "url": "urn:farcare:extension:performed-at",
                    "valueReference": place,
                }
            ]
        endpoint = dicomweb_url()
        if endpoint:
            resource["contained"] = [
                {
                    "resourceType": "Endpoint",
                    "id": "dicomweb",
                    "status": "active",
                    "connectionType": {"system": ENDPOINT_TYPE, "code": "dicom-wado-rs"},
                    "payloadType": [{"text": "DICOM"}],
                    "payloadMimeType": ["application/dicom"],
                    "address": endpoint,
                }
            ]
            resource["endpoint"] = [{"reference": "#dicomweb"}]
        series = _series(obj, instances)
        if series:
            resource["series"] = series
        return resource


def _series(obj: ImagingStudy, instances: list[ImagingInstance]) -> list[dict[str, Any]]:
    grouped: dict[str, list[ImagingInstance]] = {}
    for instance in instances:
        grouped.setdefault(instance.series_uid, []).append(instance)
    found = []
    for uid, members in grouped.items():
        first = members[0]
        series: dict[str, Any] = {
            "uid": uid,
            "modality": {"system": DICOM_MODALITY, "code": first.modality},
            "numberOfInstances": len(members),
            "instance": [
                {
                    "uid": member.sop_uid,
                    "sopClass": {"system": SOP_CLASS, "code": f"urn:oid:{member.sop_class_uid}"},
                    **(
                        {"number": member.instance_number}
                        if member.instance_number is not None
                        else {}
                    ),
                }
                for member in members
            ],
        }
        if first.series_number is not None:
            series["number"] = first.series_number
        if first.series_description:
            series["description"] = first.series_description
        if obj.body_site:
            series["bodySite"] = {"display": obj.body_site}
        found.append(series)
    return found
