"""The printed documents of a case carry what a Russian hospital files (order 965n, domain.md
§2): the referral (направление) and the signed conclusion, as a page and as a PDF, each
conclusion under a number given once in the deployment."""

from __future__ import annotations

import io
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.utils import timezone, translation
from pypdf import PdfReader

from farcare.access.policy import ConsultView
from farcare.audit.models import AuditAction, AuditEvent
from farcare.audit.services import Accessor
from farcare.consults.conclusions import conclusion_document, conclusion_verification
from farcare.consults.documents import conclusion_printout, request_printout
from farcare.consults.models import Conclusion, Consultation, DocumentCounter, EvacuationAdvice
from farcare.consults.numbering import CONCLUSION_SERIES, document_year, next_number
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept
from farcare.core.timezones import zone_for_user
from farcare.imaging.samples import photo_jpeg
from farcare.signatures.services import sign_document

from ..conftest import logged_in

SNILS = "11224091900"
OMS = "7700000012345678"
VITALS = {"respiratory_rate": 25, "spo2": 91, "systolic_bp": 90, "heart_rate": 131}

# What order 965n asks a conclusion to state, by the key the page marks each field with.
CONCLUSION_FIELDS = {
    "number",
    "consulting_organisation",
    "consultant",
    "consultant_position",
    "consultant_specialty",
    "requesting_organisation",
    "requester",
    "patient",
    "sex",
    "birth_date",
    "snils",
    "oms",
    "form",
    "mode",
    "requested_at",
    "received_at",
    "signed_at",
    "question",
    "material_1",
    "vitals",
    "findings",
    "diagnoses",
    "recommendations",
    "evacuation",
    "verification",
}
REQUEST_FIELDS = {
    "requesting_organisation",
    "requester",
    "patient",
    "sex",
    "birth_date",
    "snils",
    "oms",
    "form",
    "mode",
    "specialty",
    "consulting_organisation",
    "requested_at",
    "received_at",
    "deadline_at",
    "question",
    "summary",
    "material_1",
    "vitals",
    "consents",
}


@pytest.fixture
def case(scene):
    patient = scene.patient
    patient.snils = SNILS
    patient.oms_policy = OMS
    patient.save()
    photo = SimpleUploadedFile("wound.jpg", photo_jpeg(200, 150, seed=3), "image/jpeg")
    return scene.submit("emergency", vitals=VITALS, files=[photo])


def sign(scene, consultation, **changes) -> Conclusion:
    accessor = Accessor(scene.hub_cardiologist)
    consultation.refresh_from_db()
    if consultation.status == "requested":
        consult_accept(accessor=accessor, consultation=consultation)
    data = ConclusionData(
        findings="ST elevation in V1–V4.",
        diagnoses=["I21.0"],
        recommendations="Aspirin 250 mg chewed; prepare for the flight.",
        evacuation=EvacuationAdvice.URGENT_AIR,
        evacuation_destination=scene.chain.hub,
    )
    for name, value in changes.items():
        setattr(data, name, value)
    return conclusion_sign(accessor=accessor, consultation=consultation, data=data)


@contextmanager
def reading_as(user) -> Iterator[None]:
    """The language and zone the user's pages are in."""
    with translation.override(user.language), timezone.override(zone_for_user(user)):
        yield


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def pdf_text(content: bytes) -> str:
    assert content.startswith(b"%PDF-")
    return flat(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages))


def page_fields(html: str) -> dict[str, str]:
    """What the printable page shows in each marked field, as plain text."""
    found = re.findall(r'<dd data-field="([a-z_0-9]+)"[^>]*>(.*?)</dd>', html, re.S)
    return {key: flat(unescape(re.sub(r"<br>", " ", value))) for key, value in found}


def test_each_signed_conclusion_gets_the_next_number_of_the_year(scene, case):
    first = sign(scene, case)
    other = scene.submit("urgent")
    second = sign(scene, other)
    amended = sign(scene, case, recommendations="Oxygen 2 L/min in flight.")
    year = document_year(first.signed_at)
    assert [first.number, second.number, amended.number] == [
        f"{CONCLUSION_SERIES}-{year}-000001",
        f"{CONCLUSION_SERIES}-{year}-000002",
        f"{CONCLUSION_SERIES}-{year}-000003",
    ]


def test_the_number_is_signed_and_stays_the_same_however_often_it_is_printed(scene, case):
    conclusion = sign(scene, case)
    assert conclusion_document(conclusion)["number"] == conclusion.number
    client = logged_in(scene.feldsher)
    url = f"/consultations/{case.uuid}/conclusion/1/"
    for _ in range(2):
        assert page_fields(client.get(url).content.decode())["number"] == conclusion.number
        assert conclusion.number in pdf_text(client.get(url, {"format": "pdf"}).content)
    conclusion.refresh_from_db()
    assert conclusion.number.endswith("-000001")
    assert DocumentCounter.objects.get().last == 1
    # Renumbering it afterwards breaks the signature, like any other change.
    Conclusion.objects.filter(pk=conclusion.pk).update(number="ТМК-1999-000001")
    conclusion.refresh_from_db()
    assert not conclusion_verification(conclusion).valid


def test_a_conclusion_signed_before_numbering_still_verifies(scene, case):
    """Conclusions signed before documents were numbered have none, and their signature did not
    cover one: the signed document names a number only when there is one."""
    conclusion = sign(scene, case)
    old = Conclusion(
        consultation=case,
        version=2,
        author=conclusion.author,
        findings=conclusion.findings,
        diagnoses=conclusion.diagnoses,
        recommendations=conclusion.recommendations,
        evacuation=conclusion.evacuation,
        evacuation_destination=conclusion.evacuation_destination,
        signed_at=conclusion.signed_at,
    )
    assert "number" not in conclusion_document(old)
    old.signature = sign_document(
        signer_user=scene.hub_cardiologist,
        document_type="conclusion",
        document_id=f"{case.uuid}/v2",
        document=conclusion_document(old),
    )
    old.save()
    assert conclusion_verification(old).valid
    page = logged_in(scene.feldsher).get(f"/consultations/{case.uuid}/conclusion/2/")
    assert page.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_signers_at_the_same_moment_get_different_numbers(scene):
    moment = scene.patient.registered_at
    numbers: list[str] = []
    barrier = threading.Barrier(4)

    def take() -> None:
        try:
            barrier.wait(timeout=10)
            with transaction.atomic():
                numbers.append(next_number(series=CONCLUSION_SERIES, moment=moment))
        finally:
            connection.close()

    threads = [threading.Thread(target=take) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    year = document_year(moment)
    assert sorted(numbers) == [f"{CONCLUSION_SERIES}-{year}-{n:06d}" for n in range(1, 5)]


def test_the_conclusion_page_and_pdf_carry_every_field_of_the_order(scene, case):
    conclusion = sign(scene, case)
    scene.feldsher.language = "ru"
    scene.feldsher.save()
    client = logged_in(scene.feldsher, "ru")
    url = f"/consultations/{case.uuid}/conclusion/1/"
    page = client.get(url)
    assert page.status_code == 200
    fields = page_fields(page.content.decode())
    assert set(fields) >= CONCLUSION_FIELDS, CONCLUSION_FIELDS - set(fields)
    assert fields["number"] == conclusion.number
    assert fields["consultant"] == "Петров Пётр"  # as the practitioner register names them
    assert fields["consultant_specialty"] == scene.cardiology.name_ru
    assert scene.chain.hub.name_ru in fields["consulting_organisation"]
    assert scene.chain.post.name_ru in fields["requesting_organisation"]
    assert "Тынетегин Семён" in fields["patient"]
    assert fields["birth_date"].startswith("01.01.1970")
    assert fields["snils"] == "112-240-919 00"
    assert fields["oms"] == OMS
    assert fields["form"] == "экстренная"
    for moment in ("requested_at", "received_at", "signed_at"):
        assert "UTC+" in fields[moment], moment  # every time says its zone
    assert "wound.jpg" in fields["material_1"]
    assert "NEWS2" in fields["vitals"]
    assert fields["diagnoses"].startswith("I21.0 — ")
    assert fields["verification"].startswith("✔")

    text = pdf_text(client.get(url, {"format": "pdf"}).content)
    with reading_as(scene.feldsher):
        printout = conclusion_printout(conclusion, ConsultView(True))
    for entry in printout.entries():
        assert flat(entry.label) in text, entry.key
        if entry.key != "signature":  # the digest may break across lines
            assert flat(entry.value) in text, entry.key


@pytest.mark.parametrize(
    ("language", "title"),
    [
        ("ru", "Медицинское заключение"),
        ("en", "Medical conclusion"),
        ("ko", "원격 협진 소견서"),
    ],
)
def test_the_conclusion_prints_in_the_readers_language(scene, case, language, title):
    conclusion = sign(scene, case)
    scene.feldsher.language = language
    scene.feldsher.save()
    client = logged_in(scene.feldsher, language)
    url = f"/consultations/{case.uuid}/conclusion/1/"
    html = client.get(url).content.decode()
    assert f'lang="{language}"' in html
    assert title in html
    assert conclusion.number in html
    assert title in pdf_text(client.get(url, {"format": "pdf"}).content)


def test_the_filed_pdf_is_in_the_deployments_language(scene, case, settings):
    settings.LANGUAGE_CODE = "ru"
    sign(scene, case)
    filed = case.attachments.get(conclusion__isnull=False)
    with filed.file.open("rb") as stored:
        text = pdf_text(stored.read())
    assert "Медицинское заключение" in text
    assert "Тынетегин" in text


def test_the_referral_prints_with_every_field(scene, case):
    scene.feldsher.language = "ru"
    scene.feldsher.save()
    client = logged_in(scene.feldsher, "ru")
    url = f"/consultations/{case.uuid}/print/request/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert "Направление на консультацию с применением телемедицинских технологий" in html
    assert "consults/print.css" in html and "style=" not in html and "<script>" not in html
    fields = page_fields(html)
    assert set(fields) >= REQUEST_FIELDS, REQUEST_FIELDS - set(fields)
    assert fields["snils"] == "112-240-919 00"
    assert "Chest pain" in fields["question"]
    assert scene.chain.hub.name_ru in fields["consulting_organisation"]
    text = pdf_text(client.get(url, {"format": "pdf"}).content)
    with reading_as(scene.feldsher):
        printout = request_printout(case, ConsultView(True))
    for entry in printout.entries():
        assert flat(entry.label) in text, entry.key
        assert flat(entry.value) in text, entry.key
    assert AuditEvent.objects.filter(
        action=AuditAction.VIEW, patient_uuid=scene.patient.uuid, details__document="request"
    ).exists()


def test_a_consultant_abroad_prints_the_referral_without_the_patients_identity(scene):
    patient = scene.patient
    patient.snils, patient.oms_policy = SNILS, OMS
    patient.save()
    scene.only_the_korean_partner_answers()
    case = scene.submit()
    client = logged_in(scene.partner_cardiologist)
    url = f"/consultations/{case.uuid}/print/request/"
    for response in (client.get(url), client.get(url, {"format": "pdf"})):
        assert response.status_code == 200
        shown = (
            pdf_text(response.content)
            if response["Content-Type"] == "application/pdf"
            else response.content.decode()
        )
        assert f"Case {case.uuid.hex[:8].upper()}" in shown
        for identity in ("Тынетегин", "Семён", "112-240-919", SNILS, OMS, "1970"):
            assert identity not in shown


def test_the_referral_is_refused_to_who_has_no_part_in_the_case_and_the_refusal_audited(
    scene, case
):
    stranger = logged_in(scene.federal_cardiologist)
    for query in ({}, {"format": "pdf"}):
        refused = stranger.get(f"/consultations/{case.uuid}/print/request/", query)
        assert refused.status_code == 403
        assert "Тынетегин" not in refused.content.decode()
    assert AuditEvent.objects.filter(
        action=AuditAction.DENIED, patient_uuid=scene.patient.uuid, outcome="denied"
    ).exists()


def test_the_referral_says_which_form_news2_suggested_and_why_vitals_are_missing(scene, case):
    Consultation.objects.filter(pk=case.pk).update(
        form="urgent",
        form_suggested="emergency",
        vitals_missing="no_equipment",
        vitals_missing_note="no pulse oximeter",
    )
    case.refresh_from_db()
    client = logged_in(scene.feldsher, "en")
    fields = page_fields(client.get(f"/consultations/{case.uuid}/print/request/").content.decode())
    assert fields["form"] == "urgent"
    assert fields["form_suggested"] == "emergency"
    assert fields["vitals_missing"] == "no equipment to measure them: no pulse oximeter"
    # A form chosen as suggested, with every reading there, says neither.
    Consultation.objects.filter(pk=case.pk).update(
        form="emergency", vitals_missing="", vitals_missing_note=""
    )
    fields = page_fields(client.get(f"/consultations/{case.uuid}/print/request/").content.decode())
    assert "form_suggested" not in fields and "vitals_missing" not in fields
