"""The request form as a feldsher meets it: labels with units, a diastolic pressure, an
emergency that cannot leave without its question and vital signs (or the reason they are
missing), the form NEWS2 suggests offered and the clinician's choice kept beside it, errors
listed at the top, photos from the camera shown as thumbnails."""

import io
import re

from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Attachment, Consultation, Status

from .test_pages import client_for, request_post

NO_VITALS = {
    key: ""
    for key in (
        "vital_respiratory_rate",
        "vital_spo2",
        "vital_on_oxygen",
        "vital_systolic_bp",
        "vital_heart_rate",
        "vital_consciousness",
        "vital_temperature",
    )
}


def _url(scene):
    return f"/consultations/new/{scene.patient.uuid}/"


def _summary(page):
    found = re.search(r'<div class="error-summary"[^>]*>(.*?)</div>', page, re.S)
    return found.group(1) if found else ""


def test_labels_carry_units_and_the_diastolic_pressure_is_asked(scene):
    scene.feldsher.language = "ru"
    scene.feldsher.save()
    page = client_for(scene.feldsher, "ru").get(_url(scene)).content.decode()
    assert "Пульс, /мин" in page
    assert "Систолическое артериальное давление, мм рт. ст." in page
    assert "Диастолическое артериальное давление, мм рт. ст." in page
    assert "Температура тела, °C" in page
    assert 'name="vital_diastolic_bp"' in page


def test_an_emergency_without_vitals_is_refused_with_a_summary_at_the_top(scene):
    client = client_for(scene.feldsher)
    refused = client.post(_url(scene), request_post(**NO_VITALS, question=""))
    page = refused.content.decode()
    assert refused.status_code == 200
    assert not Consultation.objects.exclude(status=Status.DRAFT).exists()
    summary = _summary(page)
    assert "Write the question you want answered." in summary
    assert "needs the vital signs NEWS2 is scored from" in summary
    assert "Missing: Respiratory rate, Oxygen saturation (SpO₂)" in summary
    assert 'href="#id_vitals_missing"' in summary and 'href="#id_question"' in summary
    assert page.index("error-summary") < page.index('name="specialty"')  # at the top


def test_with_the_reason_ticked_it_goes_and_the_case_says_why(scene):
    client = client_for(scene.feldsher)
    sent = client.post(
        _url(scene),
        request_post(**{**NO_VITALS, "vitals_missing": "no_time", "vital_heart_rate": "130"}),
    )
    assert sent.status_code == 302, _summary(sent.content.decode())
    consultation = Consultation.objects.get()
    assert consultation.status == Status.REQUESTED
    assert consultation.vitals_missing == "no_time"
    case = client.get(sent["Location"]).content.decode()
    assert "Vital signs not measured in full: no time: life-threatening condition" in case
    assert "NEWS2: 0" not in case


def test_another_reason_needs_its_words(scene):
    client = client_for(scene.feldsher)
    refused = client.post(_url(scene), request_post(**NO_VITALS, vitals_missing="other"))
    assert "Say what is missing and why." in _summary(refused.content.decode())
    sent = client.post(
        _url(scene),
        request_post(
            **NO_VITALS, vitals_missing="other", vitals_missing_note="tonometer broken in storm"
        ),
    )
    assert sent.status_code == 302
    assert Consultation.objects.get().vitals_missing_note == "tonometer broken in storm"


def test_with_every_vital_measured_no_reason_is_kept(scene):
    client = client_for(scene.feldsher)
    client.post(_url(scene), request_post(vitals_missing="no_equipment"))
    assert Consultation.objects.get().vitals_missing == ""


def test_the_box_names_the_form_to_preselect(scene):
    client = client_for(scene.feldsher)
    high = client.post("/consultations/news2/", request_post()).content.decode()
    assert 'data-suggested="emergency"' in high
    partial = client.post(
        "/consultations/news2/", {"vital_heart_rate": "72", "vital_spo2_scale": "1"}
    ).content.decode()
    assert 'data-suggested=""' in partial  # a partial low score suggests nothing
    air_only = client.post(
        "/consultations/news2/", {"vital_on_oxygen": "air", "vital_spo2_scale": "1"}
    ).content.decode()
    assert "NEWS2: 0" in air_only  # one parameter scored: an honest, incomplete 0
    nothing = client.post("/consultations/news2/", {"vital_spo2_scale": "1"}).content.decode()
    assert "NEWS2:" not in nothing


def test_the_clinicians_choice_is_kept_beside_the_suggestion(scene):
    client = client_for(scene.feldsher)
    sent = client.post(_url(scene), request_post(form="urgent"))  # NEWS2 17 suggests emergency
    consultation = Consultation.objects.get()
    assert (consultation.form, consultation.form_suggested) == ("urgent", "emergency")
    created = AuditEvent.objects.get(action=AuditAction.CREATE, record_id=str(consultation.uuid))
    assert created.details["suggested_form"] == "emergency"
    case = client.get(sent["Location"]).content.decode()
    assert "NEWS2 suggested the form “emergency”; the requester chose “urgent”." in case


def test_a_diastolic_pressure_is_kept_with_its_loinc_code_and_checked_against_the_systolic(scene):
    client = client_for(scene.feldsher)
    refused = client.post(_url(scene), request_post(vital_diastolic_bp="95"))  # systolic 90
    assert "The diastolic pressure must be lower than the systolic" in refused.content.decode()
    client.post(_url(scene), request_post(vital_diastolic_bp="60"))
    diastolic = Consultation.objects.get().vitals.get(key="diastolic_bp")
    assert (diastolic.loinc, diastolic.value, diastolic.unit) == ("8462-4", "60", "mm[Hg]")
    assert Consultation.objects.get().news2_total == 17  # NEWS2 reads the systolic only


def _jpeg(name="wound.jpg"):
    buffer = io.BytesIO()
    Image.new("RGB", (800, 600), (200, 80, 80)).save(buffer, "JPEG")
    return SimpleUploadedFile(name, buffer.getvalue(), content_type="image/jpeg")


def test_photos_come_from_the_camera_and_show_as_thumbnails(scene):
    client = client_for(scene.feldsher)
    page = client.get(_url(scene)).content.decode()
    photo_input = re.search(r'<input[^>]*name="photos"[^>]*>', page).group(0)
    assert 'accept="image/*"' in photo_input and 'capture="environment"' in photo_input
    other_input = re.search(r'<input[^>]*name="attachments"[^>]*>', page).group(0)
    assert "capture" not in other_input  # other files come from the device's storage

    sent = client.post(_url(scene), {**request_post(), "photos": _jpeg()})
    photo = Attachment.objects.get()
    assert photo.preview and photo.preview_content_type.startswith("image/")
    case = client.get(sent["Location"]).content.decode()
    assert f'<img src="/consultations/attachments/{photo.uuid}/preview/"' in case


def test_the_page_carries_no_inline_script(scene):
    page = client_for(scene.feldsher).get(_url(scene)).content.decode()
    assert re.findall(r"<script(?![^>]*\bsrc=)[^>]*>", page) == []
    assert "consults/request_form" in page


def test_a_request_needs_a_question_even_as_a_planned_one(scene):
    client = client_for(scene.feldsher)
    refused = client.post(_url(scene), request_post(form="planned", question="  "))
    assert "Write the question you want answered." in _summary(refused.content.decode())
    assert not Consultation.objects.exclude(status=Status.DRAFT).exists()
