"""Files of a pseudonymised case: neutral names abroad, and a file crosses only once the
requester has checked that it shows no name or number; photos lose their metadata."""

from __future__ import annotations

import io

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.models import Attachment, EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.imaging.samples import photo_jpeg

from ..conftest import logged_in

PDF_NAME = "Тынетегин Семён СНИЛС 112-240-919 00.pdf"


def files():
    return [
        SimpleUploadedFile("Тынетегин рана.jpg", photo_jpeg(400, 300, seed=2), "image/jpeg"),
        SimpleUploadedFile(PDF_NAME, b"%PDF-1.4\n% Tynetegin 112-240-919 00\n", "application/pdf"),
        SimpleUploadedFile("ЭКГ Тынетегин.txt", b"HR 88, sinus rhythm", "text/plain"),
    ]


def korean_case(scene):
    scene.only_the_korean_partner_answers()
    return scene.submit(files=files())


def body(response) -> str:
    if getattr(response, "streaming", False):
        return b"".join(response.streaming_content).decode("utf-8", "replace")
    return response.content.decode("utf-8", "replace")


def test_abroad_files_have_neutral_names_and_wait_for_the_requesters_check(scene):
    case = korean_case(scene)
    photo, pdf, text = case.attachments.order_by("uploaded_at", "pk")
    abroad = logged_in(scene.partner_cardiologist)
    page = abroad.get(f"/consultations/{case.uuid}/").content.decode()
    assert "Тынетегин" not in page and "112-240-919" not in page
    for label in ("Photo 1", "Document 2", "Document 3"):
        assert label in page
    assert page.count("withheld: awaiting the requester") == 3
    for item in (photo, pdf, text):
        refused = abroad.get(f"/consultations/attachments/{item.uuid}/")
        assert refused.status_code == 403
        assert "Тынетегин" not in body(refused)
        assert "awaiting the requester" in body(refused)
    # The consultant abroad cannot mark a file checked.
    assert abroad.post(f"/consultations/attachments/{pdf.uuid}/checked/").status_code == 403

    # The requester sees the real names, and is asked file by file.
    requester = logged_in(scene.feldsher)
    home = requester.get(f"/consultations/{case.uuid}/").content.decode()
    assert PDF_NAME in home
    assert f"/consultations/attachments/{pdf.uuid}/checked/" in home
    answer = requester.post(f"/consultations/attachments/{pdf.uuid}/checked/")
    assert answer.status_code == 302
    pdf.refresh_from_db()
    assert pdf.identity_checked_by == scene.feldsher
    assert pdf.identity_checked_at is not None
    assert AuditEvent.objects.filter(
        record_id=str(pdf.uuid), details__identity_checked=True
    ).exists()

    got = abroad.get(f"/consultations/attachments/{pdf.uuid}/")
    assert got.status_code == 200
    disposition = got["Content-Disposition"]
    assert "Тынетегин" not in disposition and "%D0" not in disposition
    assert "document-2.pdf" in disposition
    page = abroad.get(f"/consultations/{case.uuid}/").content.decode()
    assert page.count("withheld: awaiting the requester") == 2


def test_a_consultant_at_home_needs_no_check_and_sees_the_real_names(scene):
    case = scene.submit(files=files())
    consultant = case.assignments.get().consultant
    client = logged_in(consultant)
    page = client.get(f"/consultations/{case.uuid}/").content.decode()
    assert PDF_NAME in page
    assert "withheld" not in page
    pdf = case.attachments.get(content_type="application/pdf")
    assert client.get(f"/consultations/attachments/{pdf.uuid}/").status_code == 200


def test_a_photo_abroad_arrives_without_its_metadata_and_its_pixels_untouched(scene):
    case = korean_case(scene)
    photo = case.attachments.get(content_type="image/jpeg")
    logged_in(scene.feldsher).post(f"/consultations/attachments/{photo.uuid}/checked/")
    got = logged_in(scene.partner_cardiologist).get(f"/consultations/attachments/{photo.uuid}/")
    assert got.status_code == 200
    received = b"".join(got.streaming_content) if got.streaming else got.content
    image = Image.open(io.BytesIO(received))
    assert not image.getexif().get_ifd(0x8825)  # no GPS position of the post
    assert b"Synthetic phone" not in received
    photo.file.seek(0)
    original = photo.file.read()
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()
    assert "photo-1.jpg" in got["Content-Disposition"]
    # At home the original is the very file sent.
    home = logged_in(scene.feldsher).get(f"/consultations/attachments/{photo.uuid}/")
    assert b"".join(home.streaming_content) == original


def test_a_text_file_naming_the_patient_cannot_be_marked_clean(scene):
    scene.only_the_korean_partner_answers()
    case = scene.submit(
        files=[
            SimpleUploadedFile(
                "ecg.txt", "Пациент: Тынетегин С., ЭКГ: синусовый ритм".encode(), "text/plain"
            )
        ]
    )
    item = case.attachments.get()
    requester = logged_in(scene.feldsher)
    answer = requester.post(f"/consultations/attachments/{item.uuid}/checked/", follow=True)
    assert "family name" in answer.content.decode()
    item.refresh_from_db()
    assert item.identity_checked_at is None


def test_the_conclusions_materials_abroad_are_listed_by_neutral_names(scene):
    case = korean_case(scene)
    accessor = Accessor(scene.partner_cardiologist, "127.0.0.1")
    consult_accept(accessor=accessor, consultation=case)
    conclusion_sign(
        accessor=accessor,
        consultation=case,
        data=ConclusionData(
            findings="Healing wound.",
            diagnoses=["T14.1"],
            recommendations="Dressings.",
            evacuation=EvacuationAdvice.NONE,
        ),
    )
    abroad = logged_in(scene.partner_cardiologist)
    printed = abroad.get(f"/consultations/{case.uuid}/conclusion/1/").content.decode()
    assert "Тынетегин" not in printed
    for name in ("Photo 1", "Document 2", "Document 3"):
        assert f"{name} — " in printed  # each with when it came
    home = logged_in(scene.feldsher).get(f"/consultations/{case.uuid}/conclusion/1/")
    assert PDF_NAME in home.content.decode()
    assert Attachment.objects.filter(conclusion__isnull=False).count() == 1
