"""Issue 15's story. The trainer turns a closed consultation into a teaching case, asks its
clinicians and publishes it once they agree. The trainer runs a session in the room, ticks the
feldsher present and writes a short test for it; the feldsher of Uelen passes the test, sees the
session's credit hours, receives the certificate and downloads it; a visitor with no account
checks its code on the public page, in their own language, and sees the name, programme, date
and hours only."""

from __future__ import annotations

import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from pypdf import PdfReader

from farcare.accounts.models import User
from farcare.casebook.models import ClinicianAsk, TeachingCase
from farcare.learning.codes import grouped
from farcare.learning.models import Certificate
from farcare.training.models import Enrolment, Programme, ProgrammeStatus, Session, SessionMode

from .conftest import log_in

pytestmark = pytest.mark.browser


def test_the_feldsher_attends_passes_the_test_and_a_visitor_verifies_the_certificate(
    demo, new_context
) -> None:
    trainer = User.objects.get(username="trainer")
    feldsher = User.objects.get(username="feldsher")
    programme = Programme.objects.create(
        title="Acute coronary syndrome at the post", owner=trainer, status=ProgrammeStatus.OPEN
    )
    session = Session.objects.create(
        programme=programme,
        number=1,
        title="Chest pain at the post",
        starts_at=timezone.now() - timedelta(hours=2),
        mode=SessionMode.BOTH,
        room="Anadyr, hall 2",
        credit_hours=Decimal("1.5"),
    )
    Enrolment.objects.create(programme=programme, learner=feldsher, enrolled_at=timezone.now())

    # The trainer ticks the feldsher present in the room, then writes the session's test.
    teacher = log_in(new_context(), "trainer")
    teacher.goto(f"/training/s/{session.uuid}/")
    row = teacher.locator(f'[data-learner="{feldsher.uuid}"]')
    row.get_by_test_id("tick").click()
    expect(
        teacher.locator(f'[data-learner="{feldsher.uuid}"]').get_by_test_id("minutes")
    ).to_have_text("90")
    teacher.goto(f"/learning/programme/{programme.uuid}/")
    form = teacher.get_by_test_id("quiz-form")
    form.get_by_label("Title").fill("Chest pain: check")
    form.get_by_label("Session").select_option(label=str(session))
    form.get_by_test_id("create-quiz").click()
    teacher.get_by_label("Question").fill("First drug for suspected myocardial infarction")
    teacher.get_by_label("Choices, one per line; start the right ones with *").fill(
        "Furosemide\n*Aspirin, chewed\nDiazepam"
    )
    teacher.get_by_test_id("add-quiz-question").click()
    expect(teacher.get_by_test_id("quiz-question")).to_have_count(1)

    # The feldsher: no hours before the test is passed; the test; then the hours.
    learner = log_in(new_context(), "feldsher")
    learner.goto("/learning/")
    mine = learner.locator(f'[data-programme="{programme.uuid}"]')
    expect(mine.get_by_test_id("hours")).to_have_text("0.0")
    learner.get_by_role("link", name="Chest pain: check").click()
    learner.get_by_test_id("start-quiz").click()
    learner.get_by_label("Aspirin, chewed").check()
    learner.get_by_test_id("submit-quiz").click()
    expect(learner.get_by_test_id("verdict")).to_have_text("passed")
    expect(learner.get_by_test_id("wrong")).to_have_count(0)
    learner.get_by_role("link", name="My credits").click()
    expect(mine.get_by_test_id("hours")).to_have_text("1.5")
    expect(mine.get_by_test_id("eligible")).to_be_visible()

    # The trainer issues the certificates of everyone who completed the programme.
    teacher.goto(f"/learning/programme/{programme.uuid}/")
    teacher.get_by_test_id("issue-certificates").click()
    expect(teacher.get_by_text("Certificates issued: 1.")).to_be_visible()
    certificate = Certificate.objects.get(learner=feldsher, programme=programme)

    # The feldsher downloads it in Russian: her name in Cyrillic, the code, the address.
    learner.reload()
    with learner.expect_download() as download:
        mine.get_by_test_id("certificate-ru").click()
    with open(download.value.path(), "rb") as pdf:
        text = " ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf.read())).pages)
    assert feldsher.get_full_name() in text
    assert grouped(certificate.code) in text
    assert f"/learning/verify/{certificate.code}/" in text

    # A visitor in Korea, no account, types the code as printed.
    visitor = new_context(locale="ko-KR").new_page()
    visitor.goto("/learning/verify/")
    visitor.locator("#id_code").fill(grouped(certificate.code))
    visitor.get_by_test_id("verify-submit").click()
    expect(visitor.get_by_test_id("verdict")).to_have_attribute("data-verdict", "valid")
    expect(visitor.locator("html")).to_have_attribute("lang", "ko")
    facts = visitor.get_by_test_id("certificate-facts")
    expect(facts.locator("dd")).to_have_count(4)
    expect(visitor.get_by_test_id("fact-name")).to_have_text(feldsher.get_full_name())
    expect(visitor.get_by_test_id("fact-programme")).to_have_text(programme.title)
    expect(visitor.get_by_test_id("fact-hours")).to_have_text("1.5")
    expect(visitor.locator("body")).not_to_contain_text("Uelen")

    # One character changed: unknown.
    typo = ("1" if certificate.code[3] != "1" else "2").join(
        [certificate.code[:3], certificate.code[4:]]
    )
    visitor.goto(f"/learning/verify/{typo}/")
    expect(visitor.get_by_test_id("verdict")).not_to_have_attribute("data-verdict", "valid")
    expect(visitor.get_by_test_id("certificate-facts")).to_have_count(0)


def test_the_trainer_publishes_a_case_from_a_closed_consultation(demo, new_context) -> None:
    teacher = log_in(new_context(), "trainer")
    teacher.goto("/casebook/consultations/")
    teacher.get_by_test_id("previews").get_by_role(
        "button", name="Make a teaching case"
    ).first.click()
    expect(teacher.get_by_test_id("case-status")).to_be_visible()
    case = TeachingCase.objects.get()
    teacher.get_by_role("button", name="Ask the clinicians").click()
    asks = list(ClinicianAsk.objects.filter(case=case).select_related("clinician"))
    assert asks, "the requesting and consulting clinicians are asked"

    for ask in asks:
        clinician = log_in(new_context(), ask.clinician.username)
        clinician.goto(f"/casebook/asked/{ask.uuid}/")
        clinician.get_by_label("I agree that it is used in teaching").check()
        clinician.get_by_role("button", name="Send my answer").click()
        expect(clinician.get_by_test_id("answer")).to_have_text("agreed")

    teacher.goto(f"/casebook/{case.uuid}/review/")
    teacher.get_by_role("button", name="Publish").click()
    expect(teacher.get_by_test_id("case-status")).to_have_text("published")
