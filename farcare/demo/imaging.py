"""Imaging in the demo network (issue 13): a chest CT of Тынетегин Семён made at the Lavrentiya
district hospital (a small synthetic series, `imaging.samples.ct_series`), kept in FarCare's
own storage, waiting on the reading worklist of the Anadyr regional hospital, where
`radiologist.anadyr` reads it; the signed report goes to the district hospital's clinicians
(`doctor`). Loading twice changes nothing: the study is found by its UID."""

from __future__ import annotations

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from farcare.imaging.services import study_store
from farcare.network.models import Facility, FacilityKind
from farcare.patients.models import Patient

CT_SEED = 1301
CT_SLICES = 9
STUDY_UID = "2.25.130113011301130113011301"


def load_imaging() -> None:
    if ImagingStudy.objects.filter(study_uid=STUDY_UID).exists():
        return
    patient = Patient.objects.get(family="Тынетегин")
    district = Facility.objects.get(
        settlement__name_en="Lavrentiya", kind=FacilityKind.DISTRICT_HOSPITAL
    )
    doctor = User.objects.get(username="doctor")
    files = samples.ct_series(
        seed=CT_SEED,
        slices=CT_SLICES,
        size=256,
        patient_name=f"{patient.family}^{patient.given}^{patient.middle}",
        patient_id=patient.snils,
        study_instance_uid=STUDY_UID,
    )
    study_store(
        accessor=Accessor(doctor, None, "demo"), patient=patient, files=files, facility=district
    )
