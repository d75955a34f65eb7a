"""The diagnostics of issue 13 as FHIR R4: ServiceRequest for laboratory tests and imaging
(a part of the ServiceRequest type beside consultations), Specimen, DiagnosticReport (created
with its Observations, contained or in a transaction), Observation for laboratory values (a part
of the Observation type beside vital signs) and ImagingStudy. Scoped by the one access policy
(`visible_patients`: a consultant abroad sees none of them), audited by the views as every
resource is."""

from .imaging_study import ImagingStudyHandler
from .observation import LaboratoryObservationHandler
from .presented_form import ReportFormHandler
from .report import DiagnosticReportHandler
from .service_request import DiagnosticOrderHandler
from .specimen import SpecimenHandler

__all__ = [
    "DiagnosticOrderHandler",
    "DiagnosticReportHandler",
    "ImagingStudyHandler",
    "LaboratoryObservationHandler",
    "ReportFormHandler",
    "SpecimenHandler",
]
