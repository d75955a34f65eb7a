"""Large studies on the page "Add images": a 30 MB CT image goes from the upload's temporary
file to the storage (or the PACS) without the server holding it in memory, and the page has
limits of its own (FARCARE_IMAGING_MAX_FILE_MB, FARCARE_IMAGING_MAX_UPLOAD_MB): a file or an
upload over them is refused in the user's language, naming the limit, and nothing is kept."""

from __future__ import annotations

import hashlib
import tracemalloc
import uuid
from collections.abc import Iterator

import pytest
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.signals import request_finished, request_started

from farcare.diagnostics.models import Capability, Category
from farcare.imaging import samples
from farcare.imaging.dicom import read_dicom
from farcare.imaging.models import ImagingInstance, ImagingStudy, Storage
from farcare.imaging.pacs import DicomWebPacs, InstanceRef
from tests.conftest import logged_in

pytestmark = pytest.mark.django_db

MB = 1024 * 1024


@pytest.fixture
def xray_room(reading):
    """The district hospital makes X-rays and CTs; the regional hub reads them."""
    Capability.objects.create(
        facility=reading.chain.district, category=Category.IMAGING, modality="DX"
    )
    return reading


@pytest.fixture(scope="module")
def big_ct() -> bytes:
    """One CT image of 3900² 16-bit pixels: about 30 MB."""
    (content,) = samples.ct_series(seed=401, slices=1, size=3900)
    assert len(content) > 29 * MB
    return content


class PeakDuringRequest:
    """The most memory Python allocated while the server handled a request, beyond what it
    held when the request began (the test client's own copy of the body is not counted)."""

    def __init__(self) -> None:
        self.start = 0
        self.peak = 0

    def began(self, **_kwargs: object) -> None:
        tracemalloc.reset_peak()
        self.start = tracemalloc.get_traced_memory()[0]

    def ended(self, **_kwargs: object) -> None:
        self.peak = tracemalloc.get_traced_memory()[1] - self.start


@pytest.fixture
def peak() -> Iterator[PeakDuringRequest]:
    measure = PeakDuringRequest()
    tracemalloc.start()
    request_started.connect(measure.began)
    request_finished.connect(measure.ended)
    try:
        yield measure
    finally:
        request_started.disconnect(measure.began)
        request_finished.disconnect(measure.ended)
        tracemalloc.stop()


def _fresh_study() -> str:
    """A study UID of this run only: the storage outlives the test database."""
    return f"2.25.{uuid.uuid4().int}"


def _stored_name(study_uid: str) -> str:
    return f"imaging/{hashlib.sha256(study_uid.encode()).hexdigest()[:20]}"


def test_a_30_mb_image_is_added_without_the_server_holding_it_in_memory(xray_room, big_ct, peak):
    reading = xray_room
    client = logged_in(reading.district_doctor)
    # The first request of a process loads catalogues, URL patterns and templates: not the file.
    assert client.get(f"/imaging/add/{reading.patient.uuid}/").status_code == 200

    answer = client.post(
        f"/imaging/add/{reading.patient.uuid}/",
        {"images": [SimpleUploadedFile("chest.dcm", big_ct, "application/dicom")]},
    )

    assert answer.status_code == 302, answer.content.decode()[:2000]
    instance = ImagingInstance.objects.get(study__patient=reading.patient)
    assert instance.size == len(big_ct)
    with instance.file.open("rb") as handle:
        assert hashlib.sha256(handle.read()).digest() == hashlib.sha256(big_ct).digest()
    # Chunks of the upload and the header, not the image: well under a sixth of the file.
    assert peak.peak < 5 * MB, f"{peak.peak / MB:.1f} MB held for a {len(big_ct) / MB:.0f} MB file"


def test_a_file_over_the_limit_is_refused_in_russian_and_nothing_is_kept(xray_room, settings):
    settings.FARCARE_IMAGING_MAX_FILE_MB = 1
    reading = xray_room
    study = _fresh_study()
    small = samples.ct_series(seed=402, slices=1, size=128, study_instance_uid=study)[0]
    (large,) = samples.ct_series(seed=403, slices=1, size=800, study_instance_uid=study)
    reading.district_doctor.language = "ru"
    reading.district_doctor.save(update_fields=["language"])
    client = logged_in(reading.district_doctor, "ru")

    answer = client.post(
        f"/imaging/add/{reading.patient.uuid}/",
        {
            "images": [
                SimpleUploadedFile("small.dcm", small, "application/dicom"),
                SimpleUploadedFile("huge.dcm", large, "application/dicom"),
            ]
        },
    )

    assert answer.status_code == 413
    html = answer.content.decode()
    assert 'data-testid="error-summary"' in html
    assert "huge.dcm: больше 1 МБ" in html and "small.dcm:" not in html
    assert not ImagingStudy.objects.exists() and not ImagingInstance.objects.exists()
    study_uid = str(read_dicom(small).StudyInstanceUID)
    assert not default_storage.exists(_stored_name(study_uid))


def test_an_upload_over_its_limit_is_refused_in_korean_and_nothing_is_kept(xray_room, settings):
    settings.FARCARE_IMAGING_MAX_UPLOAD_MB = 2
    reading = xray_room
    files = samples.ct_series(seed=404, slices=3, size=700, study_instance_uid=_fresh_study())
    reading.district_doctor.language = "ko"
    reading.district_doctor.save(update_fields=["language"])
    client = logged_in(reading.district_doctor, "ko")

    answer = client.post(
        f"/imaging/add/{reading.patient.uuid}/",
        {
            "images": [
                SimpleUploadedFile(f"slice{n}.dcm", content, "application/dicom")
                for n, content in enumerate(files)
            ]
        },
    )

    assert answer.status_code == 413
    html = answer.content.decode()
    assert "2 MB" in html and "PACS" in html and "업로드" in html
    assert not ImagingStudy.objects.exists() and not ImagingInstance.objects.exists()
    assert not default_storage.exists(_stored_name(str(read_dicom(files[0]).StudyInstanceUID)))

    # The same study in parts, each under the limit, is added (the second adds to the first).
    for part in (files[:2], files[2:]):
        answer = client.post(
            f"/imaging/add/{reading.patient.uuid}/",
            {"images": [SimpleUploadedFile("s.dcm", c, "application/dicom") for c in part]},
        )
        assert answer.status_code == 302
    assert ImagingStudy.objects.get(patient=reading.patient).instance_count == 3


def test_the_page_names_its_limits(xray_room, settings):
    settings.FARCARE_IMAGING_MAX_FILE_MB = 150
    settings.FARCARE_IMAGING_MAX_UPLOAD_MB = 900
    page = logged_in(xray_room.district_doctor).get(f"/imaging/add/{xray_room.patient.uuid}/")
    assert "up to 150 MB a file and 900 MB in all" in page.content.decode()


def test_a_file_cut_short_in_transfer_is_refused_without_a_500(xray_room):
    (content,) = samples.ct_series(seed=405, slices=1, size=256)
    answer = logged_in(xray_room.district_doctor).post(
        f"/imaging/add/{xray_room.patient.uuid}/",
        {"images": [SimpleUploadedFile("cut.dcm", content[:-4000], "application/dicom")]},
    )
    assert answer.status_code == 422
    assert "damaged" in answer.content.decode()
    assert not ImagingStudy.objects.exists()


@pytest.mark.pacs
def test_a_large_study_is_streamed_to_orthanc(xray_room, dicomweb):
    reading = xray_room
    files = samples.ct_series(seed=406, slices=2, size=1500)  # 4.5 MB each: temporary files
    answer = logged_in(reading.district_doctor).post(
        f"/imaging/add/{reading.patient.uuid}/",
        {
            "images": [
                SimpleUploadedFile(f"{n}.dcm", content, "application/dicom")
                for n, content in enumerate(files)
            ]
        },
    )

    assert answer.status_code == 302
    study = ImagingStudy.objects.get(patient=reading.patient)
    assert study.storage == Storage.PACS and study.instance_count == 2
    pacs = DicomWebPacs(dicomweb)
    found = pacs.search_instances(study.study_uid)
    assert len(found) == 2
    first = read_dicom(files[0])
    back = pacs.retrieve(
        InstanceRef(study.study_uid, str(first.SeriesInstanceUID), str(first.SOPInstanceUID))
    )
    assert back.PixelData == first.PixelData


def test_the_page_still_checks_the_csrf_token(xray_room):
    """The limits need the page's own upload handler, set before Django's CSRF check reads the
    form: the check runs after it, and a post without the token is still refused."""
    from django.test import Client

    from tests.conftest import PASSWORD

    client = Client(enforce_csrf_checks=True)
    assert client.login(username=xray_room.district_doctor.username, password=PASSWORD)
    (content,) = samples.ct_series(seed=407, slices=1, size=64, study_instance_uid=_fresh_study())
    answer = client.post(
        f"/imaging/add/{xray_room.patient.uuid}/",
        {"images": [SimpleUploadedFile("a.dcm", content, "application/dicom")]},
    )
    assert answer.status_code == 403
    assert not ImagingStudy.objects.exists()
