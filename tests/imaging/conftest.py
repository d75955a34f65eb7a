"""Sample files made once per test session: the 4000×3000 photo takes about half a second."""

from __future__ import annotations

import pytest

from farcare.imaging import samples


@pytest.fixture(scope="session")
def photo() -> bytes:
    return samples.photo_jpeg()


@pytest.fixture(scope="session")
def ecg() -> bytes:
    return samples.ecg_dicom()


@pytest.fixture(scope="session")
def xray() -> bytes:
    return samples.xray_dicom()


# A real Orthanc on loopback for the tests marked `pacs` (tests/imaging/orthanc.py).
# --- remote reading: a chain whose regional hub reads the images of its district ---------------
import datetime as dt  # noqa: E402
from dataclasses import dataclass  # noqa: E402

from farcare.accounts.models import Role, User  # noqa: E402
from farcare.audit.services import Accessor  # noqa: E402
from farcare.diagnostics.models import Capability, Category  # noqa: E402
from farcare.imaging.models import ImagingStudy  # noqa: E402
from farcare.imaging.services import study_store  # noqa: E402
from farcare.patients.models import Patient  # noqa: E402
from tests.conftest import Chain, make_user  # noqa: E402
from tests.factories import FacilityFactory, PatientFactory  # noqa: E402

from .orthanc import dicomweb, orthanc_url  # noqa: E402, F401


@dataclass
class Reading:
    chain: Chain
    patient: Patient
    district_doctor: User  # makes the study at the district hospital
    radiologist: User  # at the regional hub, which reads the district's images
    other_radiologist: User  # at another region's hub
    abroad_radiologist: User  # at a partner hub abroad

    def store_ct(
        self, *, seed: int = 0, slices: int = 5, size: int = 256, **kw: object
    ) -> ImagingStudy:
        return study_store(
            accessor=Accessor(self.district_doctor),
            patient=self.patient,
            files=samples.ct_series(seed=seed, slices=slices, size=size),
            facility=self.chain.district,
            **kw,  # type: ignore[arg-type]
        )


@pytest.fixture
def reading(chain: Chain) -> Reading:
    for facility in (chain.hub, chain.other_region_hub):
        Capability.objects.create(
            facility=facility, category=Category.IMAGING, modality="CT", reads_images=True
        )
    abroad = FacilityFactory(country="KR", region="Seoul", time_zone="Asia/Seoul")
    patient = PatientFactory(
        home_facility=chain.post,
        family="Тынетегин",
        given="Семён",
        middle="Кымыевич",
        birth_date=dt.date(1958, 3, 14),
    )
    return Reading(
        chain=chain,
        patient=patient,
        district_doctor=make_user(Role.CLINICIAN, chain.district, language="en"),
        radiologist=make_user(Role.RADIOLOGIST, chain.hub, language="en"),
        other_radiologist=make_user(Role.RADIOLOGIST, chain.other_region_hub, language="en"),
        abroad_radiologist=make_user(Role.RADIOLOGIST, abroad, language="en"),
    )
