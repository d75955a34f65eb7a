"""Imaging in the demo network (issue 13): a chest CT of Тынетегин Семён ordered by the district
hospital's doctor in Lavrentiya (`doctor`, through the ordering service like any order: routed
by modality to the Anadyr regional hospital, which has CT), made there (a small synthetic
series, `imaging.samples.ct_series`, its accession number the order's number), kept in
FarCare's own storage, waiting on Anadyr's reading worklist with the order's number, reason and
priority, where `radiologist.anadyr` reads it; the signed report goes to the orderer. Loading
twice changes nothing: the order is found by its client token, the study by its UID."""

from __future__ import annotations

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.diagnostics.models import Category
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from farcare.imaging.services import study_store

from .diagnostics import demo_order

CHEST_CT = "24627-2"
CT_SEED = 1301
CT_SLICES = 9
STUDY_UID = "2.25.130113011301130113011301"


def load_imaging() -> None:
    order, _new = demo_order("ct", "Тынетегин", [CHEST_CT], "urgent", Category.IMAGING, "doctor")
    if ImagingStudy.objects.filter(study_uid=STUDY_UID).exists():
        return
    patient = order.patient
    doctor = User.objects.get(username="doctor")
    files = samples.ct_series(
        seed=CT_SEED,
        slices=CT_SLICES,
        size=256,
        patient_name=f"{patient.family}^{patient.given}^{patient.middle}",
        patient_id=patient.snils,
        study_instance_uid=STUDY_UID,
    )
    assert order.performer is not None  # routed to the CT in Anadyr
    study_store(
        accessor=Accessor(doctor, None, "demo"),
        patient=patient,
        files=files,
        facility=order.performer,
        order=order,
    )
