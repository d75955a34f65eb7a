"""The hub's radiologist starts reading a study, writes the report, reviews it and signs it
with their password: a final imaging DiagnosticReport, signed with the deployment's signer,
linked to the study, whose signature is shown as valid."""

from __future__ import annotations

import re

import pytest

from farcare.diagnostics.models import DiagnosticReport
from farcare.imaging.models import ImagingStudy
from farcare.imaging.report_document import report_verification
from tests.conftest import logged_in
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db

REPORT = {
    "findings": "Инфильтрация в нижней доле правого лёгкого.",
    "impression": "Правосторонняя нижнедолевая пневмония.",
    "codes": "J18.9",
}


def sign_report(client, study: ImagingStudy, password: str = PASSWORD):
    review = client.post(f"/imaging/studies/{study.uuid}/report/review/", REPORT)
    assert review.status_code == 200, review.content.decode()[:2000]
    digest = re.search(r'name="digest" value="([0-9a-f]+)"', review.content.decode()).group(1)
    return client.post(
        f"/imaging/studies/{study.uuid}/report/sign/",
        {**REPORT, "digest": digest, "secret": password},
    )


def read_and_sign(reading, study: ImagingStudy) -> DiagnosticReport:
    client = logged_in(reading.radiologist)
    assert client.post(f"/imaging/studies/{study.uuid}/claim/").status_code == 302
    signed = sign_report(client, study)
    assert signed.status_code == 302
    study.refresh_from_db()
    return study.report


def test_a_signed_report_is_a_final_imaging_report_whose_signature_verifies(reading):
    study = reading.store_ct()
    report = read_and_sign(reading, study)

    assert (report.category, report.status, report.author) == (
        "imaging",
        "final",
        reading.radiologist,
    )
    assert report.conclusion_codes == ["J18.9"] and report.signature is not None
    assert study.reading_status == "reported" and study.reported_at is not None
    assert report_verification(study).valid
    page = logged_in(reading.radiologist).get(f"/imaging/studies/{study.uuid}/").content.decode()
    assert "The signature is valid" in page and "пневмония" in page
    # The ordering clinician sees the same report, verified.
    doctor_page = logged_in(reading.district_doctor).get(f"/imaging/studies/{study.uuid}/")
    assert "The signature is valid" in doctor_page.content.decode()


def test_a_report_changed_after_signing_no_longer_verifies(reading):
    study = reading.store_ct()
    report = read_and_sign(reading, study)
    DiagnosticReport.objects.filter(pk=report.pk).update(conclusion="Норма.")
    study.refresh_from_db()
    result = report_verification(study)
    assert not result.valid and "changed" in result.reason


def test_a_wrong_password_signs_nothing(reading):
    study = reading.store_ct()
    client = logged_in(reading.radiologist)
    client.post(f"/imaging/studies/{study.uuid}/claim/")
    refused = sign_report(client, study, password="not the password")
    assert refused.status_code == 422 and "password is wrong" in refused.content.decode()
    study.refresh_from_db()
    assert study.report is None and study.reading_status == "reading"


def test_only_the_reader_who_claimed_the_study_reports_it(reading, chain):
    from farcare.accounts.models import Role
    from tests.conftest import make_user

    study = reading.store_ct()
    logged_in(reading.radiologist).post(f"/imaging/studies/{study.uuid}/claim/")
    colleague = logged_in(make_user(Role.RADIOLOGIST, chain.hub))
    answer = colleague.post(f"/imaging/studies/{study.uuid}/report/review/", REPORT)
    assert answer.status_code == 422
    assert "Start reading the study" in answer.content.decode()
    # The district doctor, who may view the study, may not report it.
    doctor = logged_in(reading.district_doctor)
    assert doctor.post(f"/imaging/studies/{study.uuid}/report/review/", REPORT).status_code == 403
