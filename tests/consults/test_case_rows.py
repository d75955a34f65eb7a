"""Every list of cases says who each one is about: the consultant's queue, the facility's
requests and the coordinator's board show the patient (the case's pseudonym abroad), sex, age,
the first words of the question and the deadline, in a fixed number of queries, and the
list's audit record links every patient it showed."""

from __future__ import annotations

import gzip
import re
import uuid
from datetime import date

from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone, translation

from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.consults.case_rows import age_words, first_words, sex_word, short_name
from farcare.consults.models import Consultation
from farcare.consults.services import RequestData, consult_submit
from farcare.patients.models import Consent, ConsentKind

from ..conftest import logged_in, make_user
from ..factories import PatientFactory

QUESTION = (
    "Crushing chest pain for two hours, sweating, ST elevation in V1 to V4 on the ECG. "
    "Thrombolysis here or evacuation to Anadyr?"
)


def test_a_patient_is_named_by_family_name_and_initials():
    assert short_name("Тынетегин", "Семён", "Кэргыльевич") == "Тынетегин С. К."
    assert short_name("Ким", "Су Джин", "") == "Ким С."


def test_the_question_is_cut_at_a_word_with_an_ellipsis():
    words = first_words(QUESTION)
    assert words == "Crushing chest pain for two hours, sweating, ST elevation in V1 to V4 on the…"
    assert len(words) <= 81
    assert first_words("Rash for a week.\n\nWhat do you advise?") == (
        "Rash for a week. What do you advise?"
    )
    assert first_words("x" * 200).endswith("…")


def test_age_in_years_in_the_readers_language_and_months_for_an_infant():
    today = date(2026, 12, 6)
    with translation.override("en"):
        assert age_words(date(1961, 12, 7), today) == "64 years"
        assert age_words(date(1961, 12, 6), today) == "65 years"
        assert age_words(date(2026, 7, 1), today) == "5 months"
        assert sex_word("female") == "female"
    with translation.override("ru"):
        assert age_words(date(1961, 12, 6), today) == "65 лет"
        assert age_words(date(2005, 1, 1), today) == "21 год"
        assert age_words(date(2003, 1, 1), today) == "23 года"
        assert sex_word("male") == "муж."
    with translation.override("ko"):
        assert age_words(date(1961, 12, 6), today) == "65세"


def _row(html: str, consultation: Consultation) -> str:
    found = re.search(rf'<tr [^>]*data-testid="case-{consultation.uuid}">(.*?)</tr>', html, re.S)
    assert found, f"no row for {consultation.uuid}"
    return found.group(1)


def test_the_queue_row_says_who_what_and_by_when(scene):
    consultation = scene.submit("planned", question=QUESTION)
    patient = scene.patient
    age = patient.age_on(timezone.localdate())
    html = logged_in(scene.hub_cardiologist).get("/consultations/").content.decode()
    row = _row(html, consultation)
    assert "Тынетегин С. И." in row
    assert f"male, {age} years" in row
    assert "Crushing chest pain for two hours" in row and "evacuation to Anadyr" not in row
    assert "planned" in row and "Cardiology" in row
    assert "left" in row and "<time" in row  # the deadline and the time left
    assert f'href="/consultations/{consultation.uuid}/"' in row


def test_abroad_the_same_row_shows_the_pseudonym_and_no_identity(scene):
    scene.patient.snils = "11224091900"
    scene.patient.save()
    scene.only_the_korean_partner_answers()
    consultation = scene.submit("planned", question=QUESTION)
    html = logged_in(scene.partner_cardiologist).get("/consultations/").content.decode()
    row = _row(html, consultation)
    assert f"Case {consultation.uuid.hex[:8].upper()}" in row
    assert "Crushing chest pain" in row and "years" in row
    for identity in ("Тынетегин", "Семён", "Тынетегин С.", "11224091900", "112-240-919 00"):
        assert identity not in html
    assert scene.patient.birth_date.isoformat() not in html
    assert scene.patient.birth_date.strftime("%d.%m.%Y") not in html
    # The home page's queue and the inbox list the case by its pseudonym too.
    client = logged_in(scene.partner_cardiologist)
    for path in ("/", "/notifications/"):
        page = client.get(path).content.decode()
        assert f"Case {consultation.uuid.hex[:8].upper()}" in page, path
        assert "Тынетегин" not in page and "11224091900" not in page, path


def _submit_for(scene, family: str, n: int = 0) -> Consultation:
    patient = PatientFactory(home_facility=scene.chain.post, family=family)
    Consent.objects.create(
        patient=patient, kind=ConsentKind.TELECONSULTATION, scope="all", recorded_by=scene.feldsher
    )
    return consult_submit(
        accessor=scene.accessor(scene.feldsher),
        patient=patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=scene.cardiology, form="planned", question=f"Chest pain, case {n}. Advise?"
        ),
    )


def test_opening_a_worklist_audits_every_patient_it_shows(scene):
    cases = [_submit_for(scene, family) for family in ("Рультына", "Нутэвги", "Кымылькут")]
    for user, kind in (
        (scene.hub_cardiologist, "queue"),
        (scene.coordinator, "board"),
        (scene.feldsher, "requests"),
    ):
        html = logged_in(user).get("/consultations/").content.decode()
        for family in ("Рультына", "Нутэвги", "Кымылькут"):
            assert f"{family} И. И." in html, (kind, family)
        event = AuditEvent.objects.filter(details__worklist=kind).latest("id")
        linked = {str(u) for u in event.patient_links.values_list("patient_uuid", flat=True)}
        assert linked == {str(c.patient.uuid) for c in cases}, kind
        assert sorted(event.details["patients_shown"]) == sorted(linked)


def test_a_queue_of_fifty_takes_as_many_queries_as_a_queue_of_one_and_stays_small(
    scene, django_assert_max_num_queries
):
    _submit_for(scene, "Первый")
    client = logged_in(scene.hub_cardiologist)
    client.get("/consultations/")  # the session and the caches warm
    with CaptureQueriesContext(connection) as one:
        client.get("/consultations/")
    for n in range(49):
        _submit_for(scene, f"Пациент{n}", n)
    with django_assert_max_num_queries(len(one.captured_queries)):
        html = client.get("/consultations/").content.decode()
    assert html.count('data-testid="patient"') == 50
    # Fifty cases, each with its patient and question, stay a small page on a satellite link.
    assert len(gzip.compress(html.encode())) < 20_000


def test_a_trainer_at_the_facility_lists_no_patient(scene):
    scene.submit()
    trainer = make_user(Role.TRAINER, scene.chain.post)
    html = logged_in(trainer).get("/consultations/").content.decode()
    assert "Тынетегин" not in html
    assert "Nothing here." in html
