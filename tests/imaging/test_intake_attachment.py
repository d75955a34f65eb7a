"""A DICOM image attached to a consultation at a post becomes a study on the hub's reading
worklist by itself once the request is saved; an ECG waveform stays an attachment only; and a
file that cannot be filed leaves the attachment as it was."""

from __future__ import annotations

import uuid

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from farcare.accounts.models import Role
from farcare.consults.attachments import attachment_store
from farcare.consults.models import Attachment, Consultation
from farcare.imaging import samples
from farcare.imaging.models import ImagingStudy
from farcare.notifications.models import Notification
from tests.conftest import logged_in, make_user
from tests.factories import PatientFactory, SpecialtyFactory

pytestmark = pytest.mark.django_db


def _case(reading, patient=None):
    feldsher = make_user(Role.CLINICIAN, reading.chain.post)
    consultation = Consultation.objects.create(
        patient=patient or reading.patient,
        requester=feldsher,
        requesting_facility=reading.chain.post,
        specialty=SpecialtyFactory(),
        form="urgent",
        client_token=uuid.uuid4(),
    )
    return feldsher, consultation


def _attach(consultation, feldsher, name: str, content: bytes) -> Attachment:
    with transaction.atomic():
        return attachment_store(
            consultation=consultation,
            upload=SimpleUploadedFile(name, content, "application/dicom"),
            user=feldsher,
        )


def test_an_xray_attached_at_the_post_is_on_the_hubs_worklist_and_its_radiologist_told(
    reading, django_capture_on_commit_callbacks
):
    feldsher, consultation = _case(reading)
    with django_capture_on_commit_callbacks(execute=True):
        _attach(consultation, feldsher, "chest.dcm", samples.xray_dicom(seed=41))

    study = ImagingStudy.objects.get(patient=reading.patient)
    assert (study.modality, study.facility, study.reading_facility) == (
        "CR",
        reading.chain.post,
        reading.chain.hub,
    )
    html = logged_in(reading.radiologist).get("/imaging/reading/").content.decode()
    assert f"study-{study.uuid}" in html
    told = Notification.objects.get(event="imaging.study_waiting")
    assert told.recipient == reading.radiologist and told.link == f"/imaging/studies/{study.uuid}/"
    assert "Тынетегин" not in told.subject + told.body  # no patient in a message


def test_an_ecg_attachment_stays_an_attachment(reading, django_capture_on_commit_callbacks):
    feldsher, consultation = _case(reading)
    with django_capture_on_commit_callbacks(execute=True):
        attachment = _attach(consultation, feldsher, "ecg.dcm", samples.ecg_dicom())

    assert not ImagingStudy.objects.exists()
    assert Attachment.objects.filter(pk=attachment.pk).exists()


def test_a_file_that_cannot_be_filed_keeps_the_attachment(
    reading, django_capture_on_commit_callbacks
):
    # The same study already filed for another patient: refused there, kept here.
    other = PatientFactory(home_facility=reading.chain.post)
    content = samples.xray_dicom(seed=42)
    feldsher, first_case = _case(reading, patient=other)
    with django_capture_on_commit_callbacks(execute=True):
        _attach(first_case, feldsher, "chest.dcm", content)
    feldsher, second_case = _case(reading)
    with django_capture_on_commit_callbacks(execute=True):
        kept = _attach(second_case, feldsher, "chest-again.dcm", content)

    assert Attachment.objects.filter(pk=kept.pk, consultation=second_case).exists()
    assert list(ImagingStudy.objects.values_list("patient", flat=True)) == [other.pk]


def test_sending_the_same_file_twice_files_one_study(reading, django_capture_on_commit_callbacks):
    feldsher, consultation = _case(reading)
    content = samples.xray_dicom(seed=43)
    with django_capture_on_commit_callbacks(execute=True):
        _attach(consultation, feldsher, "a.dcm", content)
    with django_capture_on_commit_callbacks(execute=True):
        _attach(consultation, feldsher, "b.dcm", content)
    study = ImagingStudy.objects.get()
    assert study.instance_count == 1
    assert Notification.objects.filter(event="imaging.study_waiting").count() == 1
