"""A clinician at a district hospital that makes images adds the DICOM files of a study on the
page "Add images", for one of the patient's open imaging orders: the study is on the hub's
reading worklist under the order's number. Anything that is not DICOM is refused with a clear
message; a post that makes no images has no such page."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from farcare.accounts.models import Role
from farcare.diagnostics.models import Capability, Category, DiagnosticOrder, OrderedTest
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from tests.conftest import logged_in, make_user

pytestmark = pytest.mark.django_db


def _order(reading, priority: str = "urgent") -> DiagnosticOrder:
    order = DiagnosticOrder.objects.create(
        client_token=uuid.uuid4(),
        patient=reading.patient,
        orderer=reading.district_doctor,
        ordering_facility=reading.chain.district,
        performer=reading.chain.district,
        category="imaging",
        priority=priority,
        reason="кашель три недели",
        status="active",
        placer_number=f"DX-2026-{uuid.uuid4().int % 10**6:06d}",
        placed_at=timezone.now(),
    )
    OrderedTest.objects.create(order=order, code="36643-5", display="Chest X-ray", modality="DX")
    return order


@pytest.fixture
def xray_room(reading):
    Capability.objects.create(
        facility=reading.chain.district, category=Category.IMAGING, modality="DX"
    )
    return reading


def _files(seed: int, slices: int = 3) -> list[SimpleUploadedFile]:
    return [
        SimpleUploadedFile(f"slice{n}.dcm", content, "application/dicom")
        for n, content in enumerate(samples.ct_series(seed=seed, slices=slices, size=128))
    ]


def test_the_district_doctor_adds_a_study_for_an_open_order(xray_room):
    reading = xray_room
    order = _order(reading)
    client = logged_in(reading.district_doctor)
    patient_page = client.get(f"/patients/{reading.patient.uuid}/").content.decode()
    assert f"/imaging/add/{reading.patient.uuid}/" in patient_page

    form = client.get(f"/imaging/add/{reading.patient.uuid}/").content.decode()
    assert order.placer_number in form and 'type="file"' in form and "multiple" in form

    answer = client.post(
        f"/imaging/add/{reading.patient.uuid}/",
        {"images": _files(seed=31), "order": str(order.uuid)},
        follow=True,
    )

    study = ImagingStudy.objects.get(patient=reading.patient)
    assert answer.status_code == 200
    assert "3 images added" in answer.content.decode()
    assert (study.order, study.accession_number, study.priority) == (
        order,
        order.placer_number,
        "urgent",
    )
    assert (study.facility, study.reading_facility) == (reading.chain.district, reading.chain.hub)
    worklist = logged_in(reading.radiologist).get("/imaging/reading/").content.decode()
    assert f"study-{study.uuid}" in worklist


def test_files_that_name_the_order_find_it_without_choosing(xray_room):
    reading = xray_room
    order = _order(reading)
    from farcare.imaging.dicom import read_dicom

    files = []
    for n, content in enumerate(samples.ct_series(seed=32, slices=2, size=128)):
        ds = read_dicom(content)
        ds.AccessionNumber = order.placer_number
        import io

        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        files.append(SimpleUploadedFile(f"{n}.dcm", out.getvalue(), "application/dicom"))

    logged_in(reading.district_doctor).post(
        f"/imaging/add/{reading.patient.uuid}/", {"images": files}
    )

    assert ImagingStudy.objects.get(patient=reading.patient).order == order


def test_a_photo_among_the_files_is_refused_by_name_and_nothing_is_kept(xray_room):
    reading = xray_room
    photo = SimpleUploadedFile("chest.dcm", samples.photo_jpeg(), "application/dicom")
    answer = logged_in(reading.district_doctor, "ru").post(
        f"/imaging/add/{reading.patient.uuid}/", {"images": [*_files(seed=33, slices=1), photo]}
    )

    assert answer.status_code == 422
    html = answer.content.decode()
    assert "chest.dcm" in html and 'data-testid="error-summary"' in html
    assert not ImagingStudy.objects.exists()


def test_no_files_is_a_clear_error(xray_room):
    answer = logged_in(xray_room.district_doctor).post(f"/imaging/add/{xray_room.patient.uuid}/")
    assert answer.status_code == 422
    assert "Choose the DICOM files of the study." in answer.content.decode()


def test_a_post_that_makes_no_images_has_no_page(reading):
    feldsher = make_user(Role.CLINICIAN, reading.chain.post)
    client = logged_in(feldsher)
    assert "/imaging/add/" not in client.get(f"/patients/{reading.patient.uuid}/").content.decode()
    assert client.get(f"/imaging/add/{reading.patient.uuid}/").status_code == 403
