"""What the requester writes may be read abroad: the question, the summary and the thread are
checked for the patient's names and numbers in any spelling; free text has a size limit; the
consilium size is asked for a consilium only."""

from __future__ import annotations

import uuid
from datetime import date

import pytest
from django.core.exceptions import ValidationError

from farcare.audit.services import Accessor
from farcare.consults.identity_check import PatientFacts, find_identity, transliterations
from farcare.consults.models import Consultation, Message
from farcare.consults.services import RequestData, message_post
from farcare.sync.hub import push
from farcare.sync.models import Station

from ..conftest import logged_in
from .test_pages import request_post

FACTS = PatientFacts(
    family="Тынетегин",
    given="Семён",
    middle="Кэргыльевич",
    snils="11224091900",
    oms="7700000012345678",
    phone="+79141234567",
    birth_date=date(1961, 3, 17),
)


@pytest.mark.parametrize(
    ("text", "kinds"),
    [
        ("Больной Тынетегин, 65 лет", {"family name"}),
        ("Осмотрен Тынетегина С.К.", {"family name"}),
        ("Patient TYNETEGIN Semyon, chest pain", {"family name", "given name"}),
        ("Semen Kergylevich, 65", {"given name", "patronymic"}),
        ("СНИЛС 112-240-919 00", {"SNILS"}),
        ("snils 112 240 919 00 and OMS 7700 0000 1234 5678", {"SNILS", "OMS policy"}),
        ("SNILS 11224091900", {"SNILS"}),
        ("call 8 (914) 123-45-67", {"phone"}),
        ("born 17.03.1961", {"birth date"}),
        ("born 1961-03-17", {"birth date"}),
        ("род. 17 марта 1961 г.", {"birth date"}),
    ],
)
def test_names_and_numbers_are_found_in_any_spelling(text, kinds):
    assert {finding.kind for finding in find_identity(text, FACTS)} == kinds


@pytest.mark.parametrize(
    "text",
    [
        "Male, 65, crushing chest pain since 1961 hours? BP 90/60, HR 131, SpO2 91 %.",
        "Семёновка post, sent by the feldsher; troponin 112 ng/L, glucose 9.1",
        "Thrombolysis or evacuation? ECG: ST elevation in V1–V4.",
    ],
)
def test_clinical_text_is_not_mistaken_for_an_identity(text):
    assert find_identity(text, FACTS) == []


def test_cyrillic_names_have_their_latin_spellings():
    assert "tynetegin" in transliterations("Тынетегин")
    assert {"semyon", "semen", "semjon"} <= set(transliterations("Семён"))


def test_a_question_naming_the_patient_is_refused_with_what_was_found(scene):
    n = scene.patient.snils
    with pytest.raises(ValidationError) as refused:
        scene.submit(question=f"Тынетегин, СНИЛС {n[:3]}-{n[3:6]}-{n[6:9]} {n[9:]}: lysis?")
    message = " ".join(refused.value.message_dict["question"])
    assert "family name" in message and "SNILS" in message
    assert not Consultation.objects.exclude(status="draft").exists()
    with pytest.raises(ValidationError) as refused:
        scene.submit(summary="Tynetegin, chest pain")
    assert "family name" in " ".join(refused.value.message_dict["summary"])


def test_the_request_form_says_what_to_edit(scene):
    client = logged_in(scene.feldsher)
    page = client.post(
        f"/consultations/new/{scene.patient.uuid}/",
        request_post(question="Пациент Тынетегин: тромболизис?"),
    )
    assert page.status_code == 200
    text = page.content.decode()
    assert "family name" in text
    assert "Пациент Тынетегин: тромболизис?" in text  # what was typed stays in the form
    assert not Consultation.objects.exists()


def test_a_message_naming_the_patient_is_refused(scene):
    case = scene.submit()
    with pytest.raises(ValidationError) as refused:
        message_post(
            accessor=Accessor(scene.feldsher), consultation=case, body="Tynetegin is worse"
        )
    assert "family name" in " ".join(refused.value.messages)
    assert not Message.objects.exists()


def test_free_text_has_a_size_limit(scene, settings):
    settings.FARCARE_QUESTION_MAX_CHARS = 100
    settings.FARCARE_MESSAGE_MAX_CHARS = 50
    with pytest.raises(ValidationError) as refused:
        scene.submit(question="Chest pain. " * 20)
    assert "100" in " ".join(refused.value.message_dict["question"])
    client = logged_in(scene.feldsher)
    page = client.post(
        f"/consultations/new/{scene.patient.uuid}/", request_post(question="Chest pain. " * 20)
    )
    assert page.status_code == 200
    assert "100" in page.content.decode()
    case = scene.submit()
    with pytest.raises(ValidationError):
        message_post(accessor=Accessor(scene.feldsher), consultation=case, body="x" * 51)
    answer = client.post(
        f"/consultations/{case.uuid}/message/", {"body": "x" * 51, "version": case.version}
    )
    assert answer.status_code == 422
    assert "50" in answer.content.decode()
    assert not Message.objects.exists()


def test_a_station_message_beyond_the_limit_or_naming_the_patient_is_refused(scene, settings):
    settings.FARCARE_MESSAGE_MAX_CHARS = 50
    case = scene.submit()
    station = Station.objects.create(
        name="Uelen laptop",
        facility=scene.chain.post,
        token_hash="x" * 64,
        enrolled_by=scene.feldsher,
    )

    def item(body: str) -> dict:
        return {
            "id": str(uuid.uuid4()),
            "kind": "message.post",
            "payload": {
                "actor": str(scene.feldsher.uuid),
                "consultation": str(case.uuid),
                "message": str(uuid.uuid4()),
                "body": body,
            },
        }

    results = push(station=station, items=[item("y" * 51), item("Тынетегин: BP 90/60")], ip=None)
    assert [r["status"] for r in results] == ["refused", "refused"]
    assert "50" in results[0]["message"]
    assert "family name" in results[1]["message"]
    assert not Message.objects.exists()


def test_the_consilium_size_is_asked_for_a_consilium_only(scene):
    client = logged_in(scene.feldsher)
    page = client.get(f"/consultations/new/{scene.patient.uuid}/").content.decode()
    assert 'name="consilium_size"' not in page
    assert "style=" not in page and "onclick" not in page and "<script>" not in page
    fragment = client.get("/consultations/new/consilium-size/", {"mode": "consilium"})
    assert 'name="consilium_size"' in fragment.content.decode()
    empty = client.get("/consultations/new/consilium-size/", {"mode": "deferred"})
    assert 'name="consilium_size"' not in empty.content.decode()

    refused = client.post(
        f"/consultations/new/{scene.patient.uuid}/",
        request_post(mode="deferred", consilium_size="4"),
    )
    assert refused.status_code == 200
    assert "consilium" in refused.content.decode()
    assert not Consultation.objects.exists()
    with pytest.raises(ValidationError):
        scene.submit(mode="deferred", consilium_size=3)

    # A consilium is asked for with its size, and the form shows it again on an error.
    again = client.post(
        f"/consultations/new/{scene.patient.uuid}/",
        request_post(mode="consilium", consilium_size="9"),
    )
    assert 'name="consilium_size"' in again.content.decode()


def test_request_data_defaults_keep_working():
    data = RequestData(specialty=None, form="urgent", question="q")  # type: ignore[arg-type]
    assert data.consilium_size is None
