"""A learner who completed the programme receives a certificate in Russian, Korean and
English; anyone can check its code on a public page, which confirms the name, the programme,
the date and the hours and nothing else. A mistyped or altered code does not verify."""

from __future__ import annotations

import io
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from pypdf import PdfReader

from farcare.accounts.models import Role, User
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor
from farcare.learning import codes, services, throttle
from farcare.learning.models import Certificate
from tests.conftest import Chain, logged_in, make_user

from .conftest import Course, attend, enrol


def complete(course: Course, learner: User) -> None:
    for session in course.sessions:
        attend(course, session, learner, minutes=90)


@pytest.fixture
def feldsher(course: Course, chain: Chain) -> User:
    learner = make_user(
        Role.CLINICIAN,
        chain.post,
        first_name="Анна",
        last_name="Фельдшерова",
        email="anna@uelen.example",
        language="ru",
    )
    return enrol(course, learner)


@pytest.fixture
def certificate(course: Course, feldsher: User) -> Certificate:
    complete(course, feldsher)
    [issued] = services.certificates_issue(
        accessor=Accessor(course.trainer), programme=course.programme
    )
    return issued


def test_certificates_go_to_those_who_completed_the_programme(course, chain, feldsher) -> None:
    halfway = enrol(course, make_user(Role.CLINICIAN, chain.post))
    complete(course, feldsher)
    attend(course, course.sessions[0], halfway, minutes=90)

    page = logged_in(course.trainer).post(
        reverse("learning:certificates_issue", args=[course.programme.uuid]), follow=True
    )

    assert "Certificates issued: 1." in page.text
    issued = Certificate.objects.get()
    assert issued.learner == feldsher
    assert issued.hours == Decimal("3.0")
    assert issued.language == "ru"
    assert codes.well_formed(issued.code)
    # Issuing again gives nobody a second one.
    assert (
        services.certificates_issue(accessor=Accessor(course.trainer), programme=course.programme)
        == []
    )


def test_the_learner_sees_eligible_before_the_certificate_is_issued(course, feldsher) -> None:
    complete(course, feldsher)
    page = logged_in(feldsher).get(reverse("learning:credits"))
    assert 'data-testid="eligible"' in page.text


def test_only_a_trainer_of_the_programme_issues_certificates(course, feldsher) -> None:
    complete(course, feldsher)
    response = logged_in(feldsher).post(
        reverse("learning:certificates_issue", args=[course.programme.uuid])
    )
    assert response.status_code == 403
    assert not Certificate.objects.exists()


def test_the_public_page_confirms_name_programme_date_and_hours_only(certificate) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(
        reverse("learning:verify_code", args=[certificate.code])
    )

    assert page.status_code == 200
    assert 'data-verdict="valid"' in page.text
    facts = page.text.split('data-testid="certificate-facts"')[1].split("</dl>")[0]
    assert facts.count("<dt>") == 4
    assert "Анна Фельдшерова" in facts
    assert "Emergency cardiology for feldshers" in facts
    assert '<dd data-testid="fact-hours">3.0</dd>' in facts
    assert certificate.issued_at.strftime("%Y") in facts
    learner = certificate.learner
    for private in (learner.email, learner.username, str(learner.facility), "Uelen", "clinician"):
        assert private not in page.text


def test_the_get_form_finds_a_code_typed_with_dashes_and_small_letters(certificate) -> None:
    typed = codes.grouped(certificate.code).lower()
    page = Client().get(reverse("learning:verify"), {"code": typed})
    assert 'data-verdict="valid"' in page.text


def test_changing_any_one_character_of_a_code_makes_it_unknown(certificate) -> None:
    code = certificate.code
    client = Client(HTTP_ACCEPT_LANGUAGE="en")
    for position in (0, 4, 10):
        for replacement in codes.ALPHABET:
            if replacement == code[position]:
                continue
            typo = code[:position] + replacement + code[position + 1 :]
            # Every single slip is caught by the check character, before any lookup.
            assert not codes.well_formed(typo)
        typo = (
            code[:position]
            + next(c for c in codes.ALPHABET if c != code[position])
            + code[position + 1 :]
        )
        page = client.get(reverse("learning:verify_code", args=[typo]))
        assert 'data-verdict="mistyped"' in page.text
        assert "Unknown code" in page.text
        assert "Фельдшерова" not in page.text


def test_a_made_up_code_with_a_right_check_character_is_unknown(certificate) -> None:
    body = "0" * codes.BODY_LENGTH
    made_up = body + codes.check_character(body)
    page = Client().get(reverse("learning:verify_code", args=[made_up]))
    assert 'data-verdict="unknown"' in page.text


def test_a_certificate_altered_after_issue_no_longer_verifies(certificate) -> None:
    Certificate.objects.filter(pk=certificate.pk).update(hours=Decimal("30.0"))
    page = Client().get(reverse("learning:verify_code", args=[certificate.code]))
    assert 'data-verdict="unknown"' in page.text
    assert "30.0" not in page.text


def test_certificates_keep_verifying_after_the_site_key_is_rotated(
    course, feldsher, settings
) -> None:
    settings.FARCARE_CERTIFICATE_KEY = "certificates-" + "k" * 40
    complete(course, feldsher)
    [issued] = services.certificates_issue(
        accessor=Accessor(course.trainer), programme=course.programme
    )
    # A leaked SECRET_KEY is replaced; sessions end, certificates must not.
    settings.SECRET_KEY = "rotated-" + "r" * 50
    page = Client().get(reverse("learning:verify_code", args=[issued.code]))
    assert 'data-verdict="valid"' in page.text
    # Their key is what makes a code: under another one the same row does not verify.
    settings.FARCARE_CERTIFICATE_KEY = "another-" + "a" * 40
    page = Client().get(reverse("learning:verify_code", args=[issued.code]))
    assert 'data-verdict="unknown"' in page.text


def test_a_revoked_certificate_says_revoked(course, certificate) -> None:
    logged_in(course.trainer).post(reverse("learning:certificate_revoke", args=[certificate.uuid]))
    page = Client(HTTP_ACCEPT_LANGUAGE="en").get(
        reverse("learning:verify_code", args=[certificate.code])
    )
    assert 'data-verdict="revoked"' in page.text
    assert "This certificate was revoked" in page.text
    assert "Фельдшерова" not in page.text


def test_the_page_speaks_the_visitors_language(certificate) -> None:
    page = Client(HTTP_ACCEPT_LANGUAGE="ko").get(
        reverse("learning:verify_code", args=[certificate.code])
    )
    assert '<html lang="ko">' in page.text


def test_checks_are_audited_and_limited_per_address(certificate) -> None:
    client = Client(REMOTE_ADDR="203.0.113.9")
    url = reverse("learning:verify_code", args=[certificate.code])
    for _ in range(throttle.LIMIT):
        assert client.get(url).status_code == 200
    refused = client.get(url)
    assert refused.status_code == 429
    assert 'data-testid="certificate-facts"' not in refused.text
    assert Client(REMOTE_ADDR="203.0.113.10").get(url).status_code == 200
    checks = AuditEvent.objects.filter(details__verify="valid", record_id=str(certificate.uuid))
    assert checks.count() == throttle.LIMIT + 1
    assert checks.filter(ip_address="203.0.113.9").count() == throttle.LIMIT


def pdf_text(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


@pytest.mark.parametrize(
    ("language", "heading"),
    [
        ("ru", "Свидетельство об обучении"),
        ("ko", "보수교육 수료증"),
        ("en", "Certificate of continuing education"),
    ],
)
def test_the_pdf_carries_the_name_and_the_code_in_each_language(
    certificate, feldsher, language, heading
) -> None:
    response = logged_in(feldsher).get(
        reverse("learning:certificate_pdf", args=[certificate.uuid, language])
    )
    assert response["Content-Type"] == "application/pdf"
    text = pdf_text(response.content)
    assert heading in text
    assert "Анна Фельдшерова" in text
    assert codes.grouped(certificate.code) in text
    assert reverse("learning:verify_code", args=[certificate.code]) in text


def test_a_korean_learners_name_is_printed_in_hangul(course, chain) -> None:
    learner = enrol(
        course,
        make_user(Role.CONSULTANT, chain.hub, first_name="민수", last_name="김", language="ko"),
    )
    complete(course, learner)
    [issued] = services.certificates_issue(
        accessor=Accessor(course.trainer), programme=course.programme
    )
    assert issued.language == "ko"
    text = pdf_text(
        logged_in(learner)
        .get(reverse("learning:certificate_pdf", args=[issued.uuid, "ko"]))
        .content
    )
    assert "민수 김" in text


def test_nobody_else_downloads_a_learners_certificate(certificate, chain) -> None:
    other = make_user(Role.CLINICIAN, chain.post)
    url = reverse("learning:certificate_pdf", args=[certificate.uuid, "en"])
    assert logged_in(other).get(url).status_code == 404
