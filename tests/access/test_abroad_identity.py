"""A consultant at the Korean partner hospital never sees the identity of a Russian patient
(domain.md §3): not on any page, not over FHIR, not in a PDF, not in an upload's metadata, and
not by breaking the glass. Every response is searched for the patient's name, SNILS, OMS policy,
phone and birth date in every usual spelling."""

from __future__ import annotations

import base64
import io
import json
from datetime import date, timedelta

import pytest
from django.test import Client
from django.utils import timezone
from pypdf import PdfReader

from farcare.access.models import BreakGlassGrant
from farcare.access.policy import (
    Action,
    decide,
    may_break_glass,
    station_patients,
    visible_patients,
)
from farcare.accounts.models import Role
from farcare.audit.services import Accessor
from farcare.consults.models import Consultation, EvacuationAdvice
from farcare.consults.services import ConclusionData, conclusion_sign, consult_accept

from ..conftest import logged_in, make_user
from ..fhir.conftest import FhirClient, issue_token

SNILS = "11224091900"  # 112-240-919 00: a valid check number
OMS = "7700000012345678"
PHONE = "+79141234567"
BORN = date(1961, 3, 17)


def spellings() -> list[str]:
    """Every way the identity may be written in a response."""
    s = SNILS
    o = OMS
    return [
        "Тынетегин",
        "Tynetegin",
        "Семён",
        "Semyon",
        "Кэргыльевич",
        s,
        f"{s[:3]}-{s[3:6]}-{s[6:9]} {s[9:]}",
        f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}",
        f"{s[:3]}-{s[3:6]}-{s[6:9]}-{s[9:]}",
        o,
        f"{o[:4]} {o[4:8]} {o[8:12]} {o[12:]}",
        PHONE,
        PHONE[2:],
        "914 123-45-67",
        "914 123 45 67",
        BORN.isoformat(),
        BORN.strftime("%d.%m.%Y"),
        BORN.strftime("%d/%m/%Y"),
    ]


def texts(response) -> list[str]:
    """The body as the user's software would read it: raw, JSON unescaped, PDF text; and the
    headers (a file name travels in Content-Disposition)."""
    body = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    found = [body.decode("utf-8", "replace")]
    content_type = response.get("Content-Type", "")
    if "json" in content_type and body:
        found.append(json.dumps(json.loads(body), ensure_ascii=False))
    if body.startswith(b"%PDF-"):
        reader = PdfReader(io.BytesIO(body))
        found.append(" ".join(page.extract_text() for page in reader.pages))
        found.append(json.dumps({str(k): str(v) for k, v in (reader.metadata or {}).items()}))
    found.append(" ".join(f"{key}: {value}" for key, value in response.items()))
    return found


def assert_no_identity(response, where: str, typed: str = "") -> None:
    """`typed`: what the user typed themselves (a search form shows it back)."""
    for text in texts(response):
        if typed:
            text = text.replace(typed, "")
        for spelling in spellings():
            assert spelling not in text, f"{where}: {spelling!r} in the response"


@pytest.fixture
def korean_case(scene) -> Consultation:
    """The patient agreed to a transfer abroad; only the Korean partner answers."""
    patient = scene.patient
    patient.middle = "Кэргыльевич"
    patient.snils = SNILS
    patient.oms_policy = OMS
    patient.phone = PHONE
    patient.birth_date = BORN
    patient.save()
    scene.only_the_korean_partner_answers()
    consultation = scene.submit()
    assert consultation.assignments.get().consultant == scene.partner_cardiologist
    return consultation


def every_path(client: Client, fhir: FhirClient, case: Consultation) -> dict[str, object]:
    patient = case.patient
    pages = {
        "home": client.get("/"),
        "worklist": client.get("/consultations/"),
        "case page": client.get(f"/consultations/{case.uuid}/"),
        "patient page": client.get(f"/patients/{patient.uuid}/"),
        "access log": client.get(f"/patients/{patient.uuid}/access-log/"),
        "notifications": client.get("/notifications/"),
        "FHIR Patient read": fhir.get(f"Patient/{patient.uuid}"),
        "FHIR $everything": fhir.get(f"Patient/{patient.uuid}/$everything"),
        "FHIR ServiceRequest _include": fhir.get(
            "ServiceRequest", _include="ServiceRequest:subject"
        ),
        "FHIR Task _include": fhir.get("Task", _include="Task:patient"),
    }
    referral = f"/consultations/{case.uuid}/print/request/"
    pages["printed referral"] = client.get(referral)
    pages["printed referral PDF"] = client.get(referral, {"format": "pdf"})
    for item in case.attachments.all():
        pages[f"attachment {item.pk}"] = client.get(f"/consultations/attachments/{item.uuid}/")
    for conclusion in case.conclusions.all():
        base = f"/consultations/{case.uuid}/conclusion/{conclusion.version}/"
        pages[f"conclusion v{conclusion.version}"] = client.get(base)
        pages[f"conclusion v{conclusion.version} PDF"] = client.get(base, {"format": "pdf"})
    return pages


SEARCHES = ("Тынетегин", "Семён", SNILS, OMS)


def assert_searches_find_nothing(client: Client, fhir: FhirClient) -> None:
    for name, value in (("name", "Тынетегин"), ("identifier", SNILS), ("birthdate", "1961-03-17")):
        bundle = fhir.get("Patient", **{name: value})
        assert bundle.status_code == 200
        assert bundle.json()["entry"] == []
        assert_no_identity(bundle, f"FHIR Patient?{name}", typed=value)
    for query in SEARCHES:
        response = client.get("/patients/", {"q": query})
        assert response.status_code == 200
        assert_no_identity(response, f"patient search for {query}", typed=query)
        fragment = client.get("/patients/", {"q": query}, headers={"HX-Request": "true"})
        assert_no_identity(fragment, f"patient search fragment for {query}", typed=query)


def test_the_korean_consultant_sees_no_identity_anywhere(scene, korean_case):
    consultant = scene.partner_cardiologist
    client = logged_in(consultant)
    fhir = FhirClient(issue_token(consultant, "user/*.read user/*.write"))
    case_page = client.get(f"/consultations/{korean_case.uuid}/")
    assert case_page.status_code == 200
    assert f"Case {korean_case.uuid.hex[:8].upper()}" in case_page.content.decode()
    for where, response in every_path(client, fhir, korean_case).items():
        assert response.status_code < 500, where  # type: ignore[attr-defined]
        assert_no_identity(response, where)
    assert_searches_find_nothing(client, fhir)
    # The record itself stays closed, and the refusal page offers no emergency access.
    refused = client.get(f"/patients/{korean_case.patient.uuid}/")
    assert refused.status_code == 403
    assert "/access/break-glass/" not in refused.content.decode()


def test_the_signed_conclusion_abroad_names_the_case_not_the_patient(scene, korean_case):
    consultant = scene.partner_cardiologist
    accessor = Accessor(consultant, "127.0.0.1")
    consult_accept(accessor=accessor, consultation=korean_case)
    conclusion_sign(
        accessor=accessor,
        consultation=korean_case,
        data=ConclusionData(
            findings="Inferior STEMI.",
            diagnoses=["I21.1"],
            recommendations="Thrombolysis, then evacuation.",
            evacuation=EvacuationAdvice.URGENT_AIR,
            evacuation_destination=scene.chain.hub,
        ),
    )
    client = logged_in(consultant)
    fhir = FhirClient(issue_token(consultant, "user/*.read"))
    code = korean_case.uuid.hex[:8].upper()
    pdf = client.get(f"/consultations/{korean_case.uuid}/conclusion/1/", {"format": "pdf"})
    assert pdf.status_code == 200
    assert any(f"Case {code}" in text for text in texts(pdf))
    # The PDF filed with the case (a document like any other) is re-made with the pseudonym.
    filed = korean_case.attachments.get(conclusion__isnull=False)
    document = client.get(f"/consultations/attachments/{filed.uuid}/")
    assert document.status_code == 200
    assert any(f"Case {code}" in text for text in texts(document))
    for where, response in every_path(client, fhir, korean_case).items():
        assert_no_identity(response, where)
    # At home the requester's copy names the patient.
    home = logged_in(scene.feldsher).get(f"/consultations/attachments/{filed.uuid}/")
    assert any("Тынетегин" in text for text in texts(home))


def test_nobody_abroad_may_break_the_glass(scene, korean_case):
    consultant = scene.partner_cardiologist
    client = logged_in(consultant)
    patient = korean_case.patient
    assert not may_break_glass(consultant)
    page = client.get(f"/access/break-glass/{patient.uuid}/")
    assert page.status_code == 403
    assert "outside Russia" in page.content.decode()
    attempt = client.post(
        f"/access/break-glass/{patient.uuid}/",
        {"reason": "Patient crashing, I need the full history now"},
    )
    assert attempt.status_code == 403
    assert_no_identity(attempt, "break-glass POST")
    assert not BreakGlassGrant.objects.exists()
    fhir = FhirClient(issue_token(consultant, "user/*.read"))
    for where, response in every_path(client, fhir, korean_case).items():
        assert_no_identity(response, f"after break-glass attempt: {where}")
    assert_searches_find_nothing(client, fhir)


def test_an_old_grant_gives_nothing_once_the_user_works_abroad(scene, korean_case):
    """Defence in depth: a grant made while the user worked in Russia does not travel with them
    (nor one written into the table by any other way)."""
    consultant = scene.partner_cardiologist
    patient = korean_case.patient
    now = timezone.now()
    BreakGlassGrant.objects.create(
        user=consultant,
        patient=patient,
        reason="Made before the move to Korea",
        created_at=now,
        expires_at=now + timedelta(hours=1),
    )
    for action in Action:
        assert not decide(consultant, action, patient)
    assert not visible_patients(consultant).exists()
    client = logged_in(consultant)
    fhir = FhirClient(issue_token(consultant, "user/*.read"))
    responses = every_path(client, fhir, korean_case)
    assert responses["patient page"].status_code == 403  # type: ignore[attr-defined]
    assert responses["FHIR Patient read"].status_code in (403, 404)  # type: ignore[attr-defined]
    assert responses["FHIR $everything"].status_code in (403, 404)  # type: ignore[attr-defined]
    for where, response in responses.items():
        assert_no_identity(response, f"with an old grant: {where}")
    assert_searches_find_nothing(client, fhir)


def test_any_role_at_a_facility_abroad_reaches_no_patient(scene, korean_case):
    """A clinician or coordinator on the partner's staff: the referral links make the partner
    a facility 'above' the region, which must not make its staff the patients' doctors."""
    patient = korean_case.patient
    for role in (Role.CLINICIAN, Role.COORDINATOR, Role.SYSTEM):
        user = make_user(role, scene.partner)
        assert not visible_patients(user).exists(), role
        assert not decide(user, Action.VIEW, patient), role
        assert not may_break_glass(user), role
    # A station cannot be abroad: were one enrolled there, it would hold nobody.
    assert not station_patients(scene.partner).exists()


def test_uploads_of_the_case_tell_the_consultant_abroad_nothing(scene, korean_case):
    requester = Client()
    requester.force_login(scene.feldsher)
    headers = {"Tus-Resumable": "1.0.0"}

    def meta(**values: str) -> str:
        return ",".join(f"{k} {base64.b64encode(v.encode()).decode()}" for k, v in values.items())

    made = requester.post(
        "/uploads/",
        b"",
        content_type="application/offset+octet-stream",
        headers={
            **headers,
            "Upload-Length": "100",
            "Upload-Metadata": meta(
                purpose="consult-attachment",
                consultation=str(korean_case.uuid),
                filename=f"Тынетегин СНИЛС {SNILS}.txt",
            ),
        },
    )
    assert made.status_code == 201, made.content
    location = made["Location"]
    abroad = logged_in(scene.partner_cardiologist)
    head = abroad.head(location, headers=headers)
    assert head.status_code == 404
    assert_no_identity(head, "tus HEAD")
    got = abroad.get(location, headers=headers)
    assert_no_identity(got, "tus GET")
    # Nor may the consultant abroad file documents into the record.
    create = abroad.post(
        "/uploads/",
        b"",
        content_type="application/offset+octet-stream",
        headers={
            **headers,
            "Upload-Length": "10",
            "Upload-Metadata": meta(
                purpose="consult-attachment",
                consultation=str(korean_case.uuid),
                filename="ecg.txt",
            ),
        },
    )
    assert create.status_code == 403
    assert_no_identity(create, "tus create")
