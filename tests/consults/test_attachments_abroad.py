"""Files on the hub's case page: previews first, originals on request, and DICOM that goes
abroad only de-identified."""

from __future__ import annotations

import hashlib
import io

import pydicom
import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.consults.attachments import attachment_declare, attachment_receive_part
from farcare.imaging.previews import make_preview
from farcare.imaging.samples import xray_dicom

from ..conftest import logged_in


def dicom_upload(**kwargs) -> SimpleUploadedFile:
    return SimpleUploadedFile("chest.dcm", xray_dicom(**kwargs), "application/dicom")


def test_a_consultant_abroad_gets_dicom_de_identified(scene):
    scene.only_the_korean_partner_answers()
    consultation = scene.submit(files=[dicom_upload(patient_name="Тынетегин^Семён")])
    item = consultation.attachments.get()
    response = logged_in(scene.partner_cardiologist).get(f"/consultations/attachments/{item.uuid}/")
    assert response.status_code == 200
    received = pydicom.dcmread(io.BytesIO(response.content))
    assert "Тынетегин" not in str(received.PatientName)
    assert received.PatientName == f"CASE-{consultation.uuid.hex[:8].upper()}"
    assert received.PatientIdentityRemoved == "YES"
    assert received.DeidentificationMethodCodeSequence[0].CodeValue == "113100"
    assert not any(element.tag.is_private for element in received.iterall())
    # At home the same file is the original, byte for byte.
    home = logged_in(scene.feldsher).get(f"/consultations/attachments/{item.uuid}/")
    item.file.seek(0)
    assert b"".join(home.streaming_content) == item.file.read()


def test_dicom_with_identifiers_burned_into_the_pixels_is_not_sent_abroad(scene):
    scene.only_the_korean_partner_answers()
    consultation = scene.submit(files=[dicom_upload(burned_in_annotation="YES")])
    item = consultation.attachments.get()
    response = logged_in(scene.partner_cardiologist).get(f"/consultations/attachments/{item.uuid}/")
    assert response.status_code == 403
    assert "burned into its pixels" in response.content.decode()
    # Nor its preview, which shows the same pixels.
    preview = make_preview(xray_dicom(burned_in_annotation="YES"), "application/dicom")
    assert preview is not None
    attachment_receive_part(
        attachment=item,
        part="preview",
        upload=SimpleUploadedFile("p", preview.content, preview.content_type),
        content_type=preview.content_type,
    )
    response = logged_in(scene.partner_cardiologist).get(
        f"/consultations/attachments/{item.uuid}/preview/"
    )
    assert response.status_code == 403


def test_a_declared_file_shows_its_preview_until_the_consultant_asks_for_the_original(scene):
    consultation = scene.submit()
    content = xray_dicom(seed=4)
    item = attachment_declare(
        consultation=consultation,
        user=scene.feldsher,
        uuid="6f1c8a52-2f0e-4d8e-9c1a-3a1b2c3d4e5f",
        name="chest.dcm",
        content_type="application/dicom",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    preview = make_preview(content, "application/dicom")
    assert preview is not None
    attachment_receive_part(
        attachment=item,
        part="preview",
        upload=SimpleUploadedFile("p", preview.content, preview.content_type),
        content_type=preview.content_type,
    )
    consultant = consultation.assignments.get().consultant
    client = logged_in(consultant)
    page = client.get(f"/consultations/{consultation.uuid}/").content.decode()
    assert "preview; the original is on its way" in page
    assert f"/consultations/attachments/{item.uuid}/preview/" in page
    assert client.get(f"/consultations/attachments/{item.uuid}/").status_code == 404
    image = client.get(f"/consultations/attachments/{item.uuid}/preview/")
    assert image["Content-Type"] == "image/webp"
    item.refresh_from_db()
    assert item.viewed_at is not None  # the post sees "read by the consultant"

    client.post(f"/consultations/attachments/{item.uuid}/request/")
    item.refresh_from_db()
    assert item.original_requested_at is not None
    assert (
        "original asked for" in client.get(f"/consultations/{consultation.uuid}/").content.decode()
    )

    # A damaged original is refused; the very file declared is filed.
    with pytest.raises(ValidationError):
        attachment_receive_part(
            attachment=item,
            part="original",
            upload=SimpleUploadedFile("chest.dcm", content[:-1] + b"\0", "application/dicom"),
            content_type="application/dicom",
        )
    attachment_receive_part(
        attachment=item,
        part="original",
        upload=SimpleUploadedFile("chest.dcm", content, "application/dicom"),
        content_type="application/dicom",
    )
    assert client.get(f"/consultations/attachments/{item.uuid}/").status_code == 200
