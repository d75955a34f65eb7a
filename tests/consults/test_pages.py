"""The consultation pages, through a real request cycle: the form, the case, the worklists."""

import re
import uuid

from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from farcare.consults.models import Attachment, Consultation, Status

from ..core.test_pages import unlabelled_fields
from ..factories import PASSWORD


def client_for(user, language="en"):
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def request_post(**overrides):
    data = {
        "client_token": str(uuid.uuid4()),
        "specialty": "cardiology",
        "form": "emergency",
        "mode": "deferred",
        "consilium_size": "2",
        "request_language": "ru",
        "question": "Chest pain for two hours. Thrombolysis or evacuation?",
        "summary": "Male, 65.",
        "vital_respiratory_rate": "25",
        "vital_spo2": "91",
        "vital_spo2_scale": "1",
        "vital_on_oxygen": "air",
        "vital_systolic_bp": "90",
        "vital_heart_rate": "131",
        "vital_consciousness": "C",
        "vital_temperature": "39,1",
        "submit": "1",
    }
    data.update(overrides)
    return data


def test_the_feldsher_sends_a_request_from_the_form_and_a_double_click_makes_one(scene):
    client = client_for(scene.feldsher)
    page = client.get(f"/consultations/new/{scene.patient.uuid}/")
    assert page.status_code == 200
    assert unlabelled_fields(page.content.decode()) == []
    data = request_post()
    first = client.post(f"/consultations/new/{scene.patient.uuid}/", data)
    second = client.post(f"/consultations/new/{scene.patient.uuid}/", data)
    consultation = Consultation.objects.get()
    assert first["Location"] == second["Location"] == f"/consultations/{consultation.uuid}/"
    assert consultation.news2_total == 17
    case = client.get(first["Location"]).content.decode()
    assert "NEWS2: 17" in case
    assert "Тынетегин" in case


def test_news2_is_computed_as_the_vitals_are_typed(scene):
    client = client_for(scene.feldsher)
    response = client.post(
        "/consultations/news2/",
        {"vital_respiratory_rate": "26", "vital_heart_rate": "80"},
        HTTP_HX_REQUEST="true",
    )
    html = response.content.decode()
    assert "NEWS2: 3" in html
    assert "urgent" in html


def test_a_pulse_of_900_is_refused_in_russian_and_nothing_is_saved(scene):
    client = client_for(scene.feldsher, "ru")
    scene.feldsher.language = ""
    scene.feldsher.save()
    response = client.post(
        f"/consultations/new/{scene.patient.uuid}/", request_post(vital_heart_rate="900")
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "900" in html
    assert "невозможно" in html.lower() or "невозмож" in html.lower()
    assert "Chest pain for two hours" in html  # what was typed is kept
    assert not Consultation.objects.exists()


def test_a_forbidden_attachment_is_refused_and_a_good_one_is_kept(scene):
    client = client_for(scene.feldsher)
    bad = SimpleUploadedFile("notes.exe", b"MZ\x90\x00", content_type="application/octet-stream")
    response = client.post(
        f"/consultations/new/{scene.patient.uuid}/", {**request_post(), "attachments": bad}
    )
    assert response.status_code == 200
    assert "not accepted" in response.content.decode()
    assert not Consultation.objects.exists()
    fake_jpeg = SimpleUploadedFile("ecg.jpg", b"GIF89a not a jpeg", content_type="image/jpeg")
    response = client.post(
        f"/consultations/new/{scene.patient.uuid}/", {**request_post(), "attachments": fake_jpeg}
    )
    assert "not the kind of file" in response.content.decode()
    jpeg = SimpleUploadedFile("ecg.jpg", b"\xff\xd8\xff\xe0 fake but jpeg-headed", "image/jpeg")
    response = client.post(
        f"/consultations/new/{scene.patient.uuid}/", {**request_post(), "attachments": jpeg}
    )
    assert response.status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.original_name == "ecg.jpg"
    assert "ecg" not in attachment.file.name  # stored under a random name
    download = client_for(scene.hub_cardiologist).get(
        f"/consultations/attachments/{attachment.uuid}/"
    )
    assert download.status_code == 200


def test_the_consultant_accepts_asks_and_signs_through_the_pages(scene):
    scene.submit("emergency")
    consultation = Consultation.objects.get()
    doctor = client_for(scene.hub_cardiologist)
    queue = doctor.get("/consultations/")
    assert str(consultation.uuid) in queue.content.decode()
    stale = consultation.version
    accepted = doctor.post(
        f"/consultations/{consultation.uuid}/accept/", {"version": consultation.version}
    )
    assert accepted.status_code == 302
    # a second, stale click is explained, not an error page
    again = doctor.post(f"/consultations/{consultation.uuid}/accept/", {"version": stale})
    assert again.status_code == 302
    assert "accepted or closed already" in doctor.get(again["Location"]).content.decode()
    wrong = doctor.post(
        f"/consultations/{consultation.uuid}/conclusion/review/",
        {
            "findings": "ST elevation",
            "diagnoses": "Q99.99",
            "recommendations": "Fly",
            "evacuation": "urgent_air",
            "evacuation_destination": str(scene.chain.hub.uuid),
        },
    )
    assert wrong.status_code == 422
    assert "Not an ICD-10 code: Q99.99" in wrong.content.decode()
    assert (
        'value="ST elevation"' in wrong.content.decode() or "ST elevation" in wrong.content.decode()
    )
    conclusion = {
        "findings": "ST elevation V1–V4",
        "diagnoses": "I21.0",
        "recommendations": "Aspirin; prepare for the flight.",
        "evacuation": "urgent_air",
        "evacuation_destination": str(scene.chain.hub.uuid),
    }
    # Signing shows the document first, then asks for the password again (test_deciding).
    review = doctor.post(f"/consultations/{consultation.uuid}/conclusion/review/", conclusion)
    assert review.status_code == 200
    digest = re.search(r'name="digest" value="(\w+)"', review.content.decode()).group(1)
    signed = doctor.post(
        f"/consultations/{consultation.uuid}/conclusion/",
        {**conclusion, "digest": digest, "secret": PASSWORD},
    )
    assert signed.status_code == 302
    consultation.refresh_from_db()
    assert consultation.status == Status.COMPLETED
    case = client_for(scene.feldsher).get(f"/consultations/{consultation.uuid}/").content.decode()
    assert "The signature is valid." in case
    assert "urgent evacuation by air" in case
    printable = client_for(scene.feldsher, "ru").get(
        f"/consultations/{consultation.uuid}/conclusion/1/"
    )
    assert printable.status_code == 200
    home = client_for(scene.feldsher).get("/").content.decode()
    assert f"/consultations/{consultation.uuid}/" in home  # waiting for acknowledgement
    client_for(scene.feldsher).post(
        f"/consultations/{consultation.uuid}/acknowledge/",
        {"action": "evacuated", "helped": "yes", "note": ""},
    )
    home = client_for(scene.feldsher).get("/").content.decode()
    assert f"/consultations/{consultation.uuid}/" not in home


def test_a_consultant_abroad_sees_the_case_without_the_name(scene):
    scene.only_the_korean_partner_answers()
    consultation = scene.submit()
    korean = client_for(scene.partner_cardiologist, "ko")
    html = korean.get(f"/consultations/{consultation.uuid}/").content.decode()
    assert scene.patient.family not in html
    assert scene.patient.snils not in html
    assert 'data-testid="pseudonymised"' in html
    assert korean.get(f"/patients/{scene.patient.uuid}/").status_code == 403


def test_strangers_cannot_open_a_case(scene):
    consultation = scene.submit()
    from farcare.accounts.models import Role

    from ..conftest import make_user

    stranger = make_user(Role.CLINICIAN, scene.chain.other_region_post)
    assert client_for(stranger).get(f"/consultations/{consultation.uuid}/").status_code == 403
    analyst = make_user(Role.ANALYST)
    assert client_for(analyst).get(f"/consultations/{consultation.uuid}/").status_code == 403


def test_the_coordinators_board_shows_every_open_request_of_the_region(scene):
    consultation = scene.submit()
    board = client_for(scene.coordinator).get("/consultations/").content.decode()
    assert str(consultation.uuid) in board
    assert "Coordinator" in board


def test_an_attachment_over_the_size_limit_is_refused(scene, settings):
    settings.FARCARE_ATTACHMENT_MAX_MB = 1
    client = client_for(scene.feldsher)
    big = SimpleUploadedFile(
        "xray.png", b"\x89PNG\r\n\x1a\n" + b"0" * (1024 * 1024 + 1), "image/png"
    )
    response = client.post(
        f"/consultations/new/{scene.patient.uuid}/", {**request_post(), "attachments": big}
    )
    assert response.status_code == 200
    assert "larger than 1 MB" in response.content.decode()
    assert not Consultation.objects.exists()


def test_the_conclusion_goes_into_the_patients_record(scene):
    consultation = scene.submit()
    record = client_for(scene.feldsher).get(f"/patients/{scene.patient.uuid}/").content.decode()
    assert f"/consultations/{consultation.uuid}/" in record
