"""Studies a modality sent straight to the PACS (a real Orthanc) are registered by
`farcare imaging import-from-pacs`: by the order's placer number in AccessionNumber, or by
the patient's SNILS as PatientID (with the birth date agreeing); a study that names nobody
stays in the PACS, listed with the reason; the next poll registers nothing twice."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.utils import timezone

from farcare.imaging import samples
from farcare.imaging.dicom import read_dicom
from farcare.imaging.models import ImagingStudy, Storage
from farcare.imaging.pacs import DicomWebPacs, InstanceRef
from tests.conftest import logged_in
from tests.imaging.test_intake_page import _order

pytestmark = [pytest.mark.django_db, pytest.mark.pacs]


def _send_to_orthanc(url: str, *, seed: int, **tags: str) -> str:
    """What a CT scanner does: STOW the series to the PACS, FarCare not involved."""
    files = []
    for content in samples.ct_series(seed=seed, slices=3, size=128):
        ds = read_dicom(content)
        ds.StudyDate = timezone.localdate().strftime("%Y%m%d")  # made today
        for key, value in tags.items():
            setattr(ds, key, value)
        out = io.BytesIO()
        ds.save_as(out, enforce_file_format=True)
        files.append(
            (
                InstanceRef(ds.StudyInstanceUID, ds.SeriesInstanceUID, ds.SOPInstanceUID),
                out.getvalue(),
            )
        )
    DicomWebPacs(url).store(files)
    return str(files[0][0].study_uid)


def _poll(capsys, *args: str) -> str:
    call_command("imaging", "import-from-pacs", *args)
    return capsys.readouterr().out


def test_studies_sent_to_orthanc_are_registered_by_order_or_snils(reading, dicomweb, capsys):
    order = _order(reading, priority="asap")
    by_order = _send_to_orthanc(dicomweb, seed=201, AccessionNumber=order.placer_number)
    snils = reading.patient.snils
    by_snils = _send_to_orthanc(
        dicomweb,
        seed=202,
        AccessionNumber="",
        PatientID=f"{snils[:3]}-{snils[3:6]}-{snils[6:9]} {snils[9:]}",
        PatientBirthDate=reading.patient.birth_date.strftime("%Y%m%d"),
    )
    nobody = _send_to_orthanc(dicomweb, seed=203, AccessionNumber="", PatientID="UEL-000123")

    out = _poll(capsys, "--facility", str(reading.chain.district.uuid))

    first = ImagingStudy.objects.get(study_uid=by_order)
    assert (first.order, first.priority, first.facility) == (order, "asap", reading.chain.district)
    assert first.storage == Storage.PACS and first.instance_count == 3
    second = ImagingStudy.objects.get(study_uid=by_snils)
    assert second.patient == reading.patient and second.order is None
    assert not ImagingStudy.objects.filter(study_uid=nobody).exists()
    assert f"registered: {by_order}" in out and f"not registered: {nobody}" in out

    # The radiologist reads it: frames come from Orthanc by WADO-RS.
    client = logged_in(reading.radiologist)
    assert f"study-{first.uuid}" in client.get("/imaging/reading/").content.decode()
    instance = first.instances.first()
    frame = client.get(f"/imaging/studies/{first.uuid}/frames/{instance.sop_uid}/0/")
    assert frame.status_code == 200 and frame["Content-Type"] == "image/webp"

    again = _poll(capsys)
    assert "registered: " not in again.replace("not registered: ", "")
    assert ImagingStudy.objects.count() == 2


def test_a_snils_with_another_birth_date_matches_nobody(reading, dicomweb, capsys):
    uid = _send_to_orthanc(
        dicomweb,
        seed=204,
        AccessionNumber="",
        PatientID=reading.patient.snils,
        PatientBirthDate="19000101",
    )
    out = _poll(capsys, "--facility", str(reading.chain.district.uuid))
    assert f"not registered: {uid}" in out
    assert not ImagingStudy.objects.filter(study_uid=uid).exists()


def test_without_a_pacs_the_command_says_so(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="FARCARE_DICOMWEB_URL"):
        call_command("imaging", "import-from-pacs")
