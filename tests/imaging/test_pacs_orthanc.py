"""With a real Orthanc (DICOMweb plugin) on loopback as the PACS: a CT series made with pydicom
is STOWed, found by QIDO, listed on the hub radiologist's worklist, drawn with presets through
WADO-RS, and reported in a signed report that verifies."""

from __future__ import annotations

import re

import pytest

from farcare.imaging.models import Storage
from farcare.imaging.pacs import DicomWebPacs, InstanceRef, NotInPacs
from farcare.imaging.report_document import report_verification
from tests.conftest import logged_in
from tests.imaging.test_reading_report import read_and_sign

pytestmark = [pytest.mark.django_db, pytest.mark.pacs]


def test_a_study_stowed_to_orthanc_is_found_read_and_reported(reading, dicomweb):
    study = reading.store_ct(seed=101)

    assert study.storage == Storage.PACS
    assert not any(instance.file for instance in study.instances.all())  # kept in Orthanc only
    pacs = DicomWebPacs(dicomweb)
    (found,) = pacs.search_studies(study_uid=study.study_uid)
    assert found.modalities == ("CT",) and found.instances == 5
    (series,) = pacs.search_series(study.study_uid)
    assert len(pacs.search_instances(study.study_uid, series.series_uid)) == 5

    client = logged_in(reading.radiologist)
    assert f"study-{study.uuid}" in client.get("/imaging/reading/").content.decode()
    frames = {}
    for preset in ("lung", "bone"):
        html = client.get(f"/imaging/studies/{study.uuid}/?w={preset}").content.decode()
        url = re.search(r'<img class="frame" src="([^"]+)"', html).group(1).replace("&amp;", "&")
        answer = client.get(url)
        assert answer.status_code == 200 and answer["Content-Type"] == "image/webp"
        frames[preset] = answer.content
    assert frames["lung"] != frames["bone"]

    report = read_and_sign(reading, study)
    study.refresh_from_db()
    assert report.status == "final" and report_verification(study).valid


def test_an_instance_orthanc_does_not_have_is_a_clear_error(dicomweb):
    with pytest.raises(NotInPacs):
        DicomWebPacs(dicomweb).retrieve(InstanceRef("1.2.3", "1.2.3.4", "1.2.3.4.5"))
