"""A consultant asks the feldsher a question: the feldsher's home page puts the request at the
top under "Answer needed" with the question's first words and when it was asked, and the
notification says plainly that an answer is needed, in the reader's language, without naming
the patient (it may also go by e-mail or SMS). The inbox, behind the login, shows the case."""

from __future__ import annotations

import re

from farcare.accounts.models import User
from farcare.audit.models import AuditEvent
from farcare.consults.models import Consultation, Status
from farcare.consults.services import consult_accept, consult_transition, message_post
from farcare.notifications.models import Notification

from ..conftest import logged_in

ASKED = "Please send the ECG and the latest temperature; is there vomiting?"


def _asked(scene) -> Consultation:
    consultation = scene.submit("planned", question="Chest pain at night for a week. Advise?")
    doctor = scene.accessor(scene.hub_cardiologist)
    consult_accept(accessor=doctor, consultation=consultation)
    message_post(accessor=doctor, consultation=consultation, body=ASKED, ask_requester=True)
    consultation.refresh_from_db()
    assert consultation.status == "on-hold"
    return consultation


def _in_russian(user: User):
    User.objects.filter(pk=user.pk).update(language="ru")  # the account's choice wins
    return logged_in(user, "ru")


def _section(html: str) -> str:
    found = re.search(r'data-testid="answer-needed">(.*?)</section>', html, re.S)
    assert found, "no 'Answer needed' section"
    return found.group(1)


def test_the_requesters_home_shows_the_question_at_the_top(scene):
    consultation = _asked(scene)
    html = logged_in(scene.feldsher).get("/").content.decode()
    section = _section(html)
    assert html.index('data-testid="answer-needed"') < html.index("Requests of my facility")
    assert "Answer needed" in section
    assert "Тынетегин С. И." in section
    assert "Please send the ECG and the latest temperature" in section
    assert "The consultant asked <time" in section
    assert f'href="/consultations/{consultation.uuid}/"' in section
    ru = _in_russian(scene.feldsher).get("/").content.decode()
    assert "Нужен ваш ответ" in _section(ru)
    # The home page named the patient: its audit record links them.
    event = AuditEvent.objects.filter(details__worklist="home").latest("id")
    assert [str(u) for u in event.patient_links.values_list("patient_uuid", flat=True)] == [
        str(scene.patient.uuid)
    ]


def test_once_answered_the_request_leaves_answer_needed(scene):
    consultation = _asked(scene)
    message_post(
        accessor=scene.accessor(scene.feldsher),
        consultation=consultation,
        body="ECG attached; 37.9; no vomiting.",
    )
    html = logged_in(scene.feldsher).get("/").content.decode()
    assert 'data-testid="answer-needed"' not in html


def test_the_notification_says_an_answer_is_needed_in_the_readers_language(scene):
    _asked(scene)
    told = Notification.objects.filter(recipient=scene.feldsher)
    events = list(told.values_list("event", flat=True))
    assert "consult.question" in events and "consult.message" not in events
    note = told.get(event="consult.question")
    subject_en, body_en = note.texts["en"]
    subject_ru, body_ru = note.texts["ru"]
    assert subject_en == "Answer needed: Cardiology"
    assert "Your answer is needed" in body_en
    assert subject_ru.startswith("Нужен ваш ответ")
    assert "Нужен ваш ответ" in body_ru
    for text in (subject_en, body_en, subject_ru, body_ru, *note.texts["ko"]):
        assert "Тынетегин" not in text and "Семён" not in text

    inbox_en = logged_in(scene.feldsher).get("/notifications/").content.decode()
    assert "Answer needed: Cardiology" in inbox_en
    line = re.search(r'data-testid="case-line">(.*?)</div>', inbox_en, re.S)
    assert line and "Тынетегин С. И." in line.group(1)
    inbox_ru = _in_russian(scene.feldsher).get("/notifications/").content.decode()
    assert "Нужен ваш ответ" in inbox_ru
    event = AuditEvent.objects.filter(details__worklist="notifications").latest("id")
    assert event.patient_links.get().patient_uuid == scene.patient.uuid


def test_the_consultants_colleagues_still_hear_of_a_new_message(scene):
    consultation = scene.submit("planned")
    doctor = scene.accessor(scene.hub_cardiologist)
    consult_accept(accessor=doctor, consultation=consultation)
    message_post(accessor=scene.accessor(scene.feldsher), consultation=consultation, body="ECG?")
    assert Notification.objects.filter(
        recipient=scene.hub_cardiologist, event="consult.message"
    ).exists()
    assert not Notification.objects.filter(event="consult.question").exists()


def test_put_on_hold_by_the_move_also_asks_for_an_answer(scene):
    consultation = scene.submit("planned")
    doctor = scene.accessor(scene.hub_cardiologist)
    consult_accept(accessor=doctor, consultation=consultation)
    consult_transition(
        accessor=doctor,
        consultation=consultation,
        target=Status.ON_HOLD,
        note="Send the ECG taken this morning.",
    )
    assert Notification.objects.filter(recipient=scene.feldsher, event="consult.question").exists()
    section = _section(logged_in(scene.feldsher).get("/").content.decode())
    assert "Send the ECG taken this morning." in section
