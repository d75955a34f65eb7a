"""Imaging studies through FHIR, and what the CapabilityStatement says of the diagnostics: the
hub's radiologist finds the chest X-ray made at the district hospital with its series and, when
a PACS is configured, where its DICOMweb service is."""

from __future__ import annotations

import pytest
from django.test import override_settings
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.diagnostics.models import Category
from farcare.imaging.models import ImagingInstance, ImagingStudy, Storage

from ..conftest import make_user
from ..diagnostics.scene import make_scene

DCM = "http://dicom.nema.org/resources/ontology/DCM"


@pytest.fixture
def dx(chain):
    return make_scene(chain)


@pytest.fixture
def study(dx) -> ImagingStudy:
    order = dx.order(["36643-5"], category=Category.IMAGING, user=dx.district_doctor)
    made = ImagingStudy.objects.create(
        study_uid="1.2.826.0.1.3680043.8.498.1",
        patient=dx.patient,
        order=order,
        facility=dx.chain.district,
        reading_facility=dx.chain.hub,
        modality="DX",
        body_site="chest",
        description="Chest X-ray, two views",
        accession_number="ACC-17",
        started_at=timezone.now(),
        storage=Storage.EMBEDDED,
        series_count=1,
        instance_count=2,
    )
    for number in (1, 2):
        ImagingInstance.objects.create(
            study=made,
            series_uid="1.2.826.0.1.3680043.8.498.1.1",
            series_number=1,
            modality="DX",
            sop_uid=f"1.2.826.0.1.3680043.8.498.1.1.{number}",
            sop_class_uid="1.2.840.10008.5.1.4.1.1.1.1",
            instance_number=number,
        )
    return made


def test_the_radiologist_finds_the_study_with_its_series(dx, study, fhir_as):
    radiologist = fhir_as(make_user(Role.RADIOLOGIST, dx.chain.hub, language="en"))
    found = radiologist.get("ImagingStudy", modality=f"{DCM}|DX", started="ge2020-01-01").json()
    assert found["total"] == 1
    resource = found["entry"][0]["resource"]
    assert resource["identifier"][0] == {
        "system": "urn:dicom:uid",
        "value": "urn:oid:1.2.826.0.1.3680043.8.498.1",
    }
    assert resource["numberOfSeries"] == 1 and resource["numberOfInstances"] == 2
    assert [i["number"] for i in resource["series"][0]["instance"]] == [1, 2]
    assert resource["basedOn"] == [{"reference": f"ServiceRequest/{study.order.uuid}"}]
    assert "endpoint" not in resource  # no PACS: FarCare keeps the images itself
    assert radiologist.get("ImagingStudy", modality="CT").json()["total"] == 0
    imaging_orders = radiologist.get("ServiceRequest", category="363679005").json()
    assert [e["resource"]["id"] for e in imaging_orders["entry"]] == [str(study.order.uuid)]


@override_settings(FARCARE_DICOMWEB_URL="http://127.0.0.1:8042/dicom-web/")
def test_with_a_pacs_the_study_names_its_dicomweb_endpoint(dx, study, fhir_as):
    resource = fhir_as(dx.district_doctor).get(f"ImagingStudy/{study.uuid}").json()
    assert resource["endpoint"] == [{"reference": "#dicomweb"}]
    [endpoint] = resource["contained"]
    assert endpoint["address"] == "http://127.0.0.1:8042/dicom-web"
    assert endpoint["connectionType"]["code"] == "dicom-wado-rs"


def test_the_capability_statement_lists_the_diagnostics(dx, fhir_as):
    statement = fhir_as(dx.feldsher).get("metadata").json()
    resources = {entry["type"]: entry for entry in statement["rest"][0]["resource"]}
    for kind, params in {
        "ServiceRequest": {"patient", "code", "category", "status", "authored", "performer"},
        "Specimen": {"patient", "status"},
        "DiagnosticReport": {"patient", "code", "category", "date", "status"},
        "Observation": {"patient", "code", "category", "date", "status"},
        "ImagingStudy": {"patient", "modality", "started"},
    }.items():
        names = {param["name"] for param in resources[kind]["searchParam"]}
        assert params <= names, (kind, params - names)
    assert "DiagnosticReport:result" in resources["DiagnosticReport"]["searchInclude"]
    assert {"ServiceRequest:subject", "ServiceRequest:performer"} <= set(
        resources["ServiceRequest"]["searchInclude"]
    )
    assert {"code": "create"} in resources["DiagnosticReport"]["interaction"]


def test_a_consultant_abroad_sees_no_study(dx, study, fhir_as):
    from ..factories import FacilityFactory

    seoul = FacilityFactory(country="KR", region="Gyeonggi", time_zone="Asia/Seoul")
    abroad = fhir_as(make_user(Role.CONSULTANT, seoul, language="en"))
    assert abroad.get(f"ImagingStudy/{study.uuid}").status_code == 403
    assert abroad.get("ImagingStudy").json()["total"] == 0
    assert abroad.get("DiagnosticReport").json()["total"] == 0
    assert abroad.get("Observation", category="laboratory").json()["total"] == 0
