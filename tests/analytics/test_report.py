"""The monthly report for the ministries as PDF (issue 18, point 5): in Russian, Korean or
English; the regions, the settlements where access is worst with their distance and link, the
cross-border consultations; never a patient. A Korean partner's report is the cross-border part
only. The figures come from real consultations through `compute.refresh` (the scene of
test_exports)."""

from __future__ import annotations

import io

from pypdf import PdfReader

from farcare.accounts.models import Role
from farcare.audit.models import AuditAction, AuditEvent
from tests.conftest import logged_in, make_user

from .test_exports import analyst, identifiers, korean_partner, scene  # noqa: F401  (fixture)

REPORT = "/analytics/report/2026-11.pdf"

# What the mark of a hidden figure means, as every page, export and report says it (English).
HIDDEN_NOTE = (
    "× — hidden: fewer than 5, or hidden with such a figure so that it cannot be found by "
    "subtraction."
)


def text_of(content: bytes) -> str:
    return " ".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def test_the_report_in_korean_is_korean_and_names_no_patient(scene):  # noqa: F811
    response = logged_in(analyst()).get(REPORT, {"lang": "ko"})

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert 'filename="farcare-analytics-2026-11-report-ko.pdf"' in response["Content-Disposition"]
    text = text_of(response.content)
    assert "2026년 11월" in text
    assert "원격 협진" in text, "the indicators' names in Korean"
    assert "추코트카 자치구" in text, "the region's name in Korean"
    assert "서울 협력 병원" in text and "심장내과" in text, "the cross-border part"
    for identifier in identifiers(scene):
        assert identifier not in text
    assert len(response.content) < 200_000, "small enough to send over a satellite link"


def test_the_report_lists_the_settlements_with_their_distance_and_link(scene):  # noqa: F811
    text = text_of(logged_in(analyst()).get(REPORT, {"lang": "en"}).content)

    assert "Access to care: monthly report" in text
    assert "Settlements with the fewest consultations per 1,000 residents" in text
    assert "Settlements with the longest wait for a signed conclusion" in text
    assert "Uelen" in text, "twelve requests: shown"
    assert "Satellite (VSAT)" in text and "Distance to the" in text
    assert "Lorino" not in text, "two requests: hidden, so it has no rank in either list"
    assert HIDDEN_NOTE in text
    assert text.count("×") > 1, "a hidden figure reads as the note's mark"
    assert "Evacuations" in text and "Diagnostics" in text and "Training" in text


def test_the_report_in_russian(scene):  # noqa: F811
    text = text_of(logged_in(analyst()).get(REPORT, {"lang": "ru"}).content)

    assert "Ноябрь 2026" in text
    assert "Уэлен" in text and "Чукотский АО" in text


def test_the_report_comes_in_the_readers_language_by_default(scene):  # noqa: F811
    reader = make_user(Role.ANALYST, None, language="ru")

    response = logged_in(reader, "ru").get(REPORT)

    assert response.status_code == 200
    assert "report-ru.pdf" in response["Content-Disposition"]


def test_a_korean_partners_report_is_the_cross_border_part_only(scene):  # noqa: F811
    response = logged_in(korean_partner(scene), "ko").get(REPORT)

    assert response.status_code == 200
    assert "cross-border-ko.pdf" in response["Content-Disposition"]
    text = text_of(response.content)
    assert "2026년 11월" in text
    assert "서울 협력 병원" in text and "심장내과" in text
    # No domestic section: no settlement, no region table, no evacuations, results, training.
    for domestic in ("Uelen", "Уэлен", "Lorino", "추코트카", "Settlements", "Evacuations", "교육"):
        assert domestic not in text


def test_the_report_is_audited(scene):  # noqa: F811
    user = analyst()
    logged_in(user).get(REPORT, {"lang": "en"})

    event = AuditEvent.objects.get(actor_username=user.username, action=AuditAction.EXPORT)
    assert event.details == {
        "analytics": "report",
        "fmt": "pdf",
        "query": {"month": "2026-11", "lang": "en"},
    }


def test_a_clinician_gets_no_report_and_the_refusal_is_audited(scene):  # noqa: F811
    feldsher = make_user(Role.CLINICIAN, scene.chain.post)

    response = logged_in(feldsher).get(REPORT)

    assert response.status_code == 403
    assert AuditEvent.objects.filter(
        actor_username=feldsher.username, action=AuditAction.DENIED
    ).exists()


def test_a_bad_language_or_month_is_a_clear_error_and_audited(scene):  # noqa: F811
    user = analyst()
    client = logged_in(user)

    wrong_language = client.get(REPORT, {"lang": "fr"})
    no_figures = client.get("/analytics/report/2026-05.pdf")
    no_month = client.get("/analytics/report/2026-13.pdf")

    assert wrong_language.status_code == 422
    assert "Russian, Korean or English" in wrong_language.content.decode()
    assert no_figures.status_code == 404
    assert "No figures have been computed for May 2026" in no_figures.content.decode()
    assert no_month.status_code == 404
    # Each report that could not be made is in the audit trail, as a page's bad query is.
    refused = AuditEvent.objects.filter(actor_username=user.username, action=AuditAction.EXPORT)
    assert [(e.details["query"], e.details["status"]) for e in refused.order_by("id")] == [
        ({"month": "2026-11", "lang": "fr"}, 422),
        ({"month": "2026-05", "lang": "en"}, 404),
        ({"month": "2026-13", "lang": "en"}, 404),
    ]
    assert all(e.details["invalid"] is True for e in refused)
