"""The consultant decides: one primary "Accept" and one "Cannot take it" with the outcomes this
viewer may take and one reason; diagnoses looked up as they are typed; no default transfer on an
emergency; and a signature given only on the document shown, after the password again."""

import re

import pytest
from django.test import Client

from farcare.audit.models import AuditAction, AuditEvent
from farcare.consults.models import Conclusion, Consultation, Status
from farcare.consults.services import consult_accept

from ..factories import PASSWORD


def client_for(user, language="en"):
    user.language = language
    user.save(update_fields=["language"])
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    return client


def section(html, testid_or_id):
    match = re.search(
        rf'<(section|details)[^>]*(?:id|data-testid)="{testid_or_id}".*?</\1>', html, re.S
    )
    assert match, testid_or_id
    return match.group(0)


def actions(html):
    match = re.search(r"<h2>[^<]*</h2>\s*<div class=\"actions\">.*?</section>", html, re.S)
    assert match
    return match.group(0)


def primary_buttons(html):
    return [
        b
        for b in re.findall(r"<button[^>]*>|<summary[^>]*>|<a class=\"button[^\"]*\"", html)
        if "secondary" not in b
    ]


def outcomes(html):
    return re.findall(r'name="outcome" value="(\w+)"', section(html, "cannot-take"))


# --- Accept, or cannot take it -----------------------------------------------------------------


def test_accept_is_the_one_primary_action_and_refusals_are_one_choice(scene):
    case = scene.submit()
    html = client_for(scene.hub_cardiologist).get(f"/consultations/{case.uuid}/").content.decode()
    buttons = primary_buttons(actions(html))
    assert len(buttons) == 1 and 'data-testid="accept"' in buttons[0]
    assert outcomes(html) == ["decline", "reject", "cancel"]
    assert html.count('name="reason"') == 1  # one reason box for all three
    assert "Cannot take it…" in section(html, "cannot-take")


def test_the_coordinator_and_the_requester_may_only_cancel(scene):
    case = scene.submit()
    for user in (scene.coordinator, scene.feldsher):
        html = client_for(user).get(f"/consultations/{case.uuid}/").content.decode()
        assert outcomes(html) == ["cancel"]
        assert 'data-testid="accept"' not in html


def test_once_accepted_the_consultant_may_close_it_unanswered_or_cancel(scene):
    case = scene.submit()
    consult_accept(accessor=scene.accessor(scene.hub_cardiologist), consultation=case)
    html = client_for(scene.hub_cardiologist).get(f"/consultations/{case.uuid}/").content.decode()
    assert outcomes(html) == ["fail", "cancel"]
    assert "Cannot answer…" in html


def test_letting_go_without_a_reason_is_refused_in_russian_and_nothing_changes(scene):
    case = scene.submit()
    doctor = client_for(scene.hub_cardiologist, "ru")
    response = doctor.post(
        f"/consultations/{case.uuid}/cannot-take/", {"outcome": "decline", "reason": " "}
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "Укажите причину" in html
    assert 'data-testid="error-summary"' in html and "autofocus" in html
    assert re.search(r'<details class="refusal"[^>]* open', html)
    case.refresh_from_db()
    assert case.status == Status.REQUESTED
    assert case.assignments.filter(consultant=scene.hub_cardiologist, ended_at=None).exists()


def test_passing_it_on_sends_it_to_the_next_consultant(scene):
    case = scene.submit()
    doctor = client_for(scene.hub_cardiologist)
    response = doctor.post(
        f"/consultations/{case.uuid}/cannot-take/",
        {"outcome": "decline", "reason": "In the cath lab for two hours"},
    )
    assert response.status_code == 302 and response["Location"] == "/consultations/"
    case.refresh_from_db()
    assert case.status == Status.REQUESTED
    assert case.routed_facility == scene.chain.federal
    assert "went to the next consultant" in doctor.get("/consultations/").content.decode()


def test_refusing_as_inappropriate_closes_it_with_the_reason(scene):
    case = scene.submit()
    doctor = client_for(scene.hub_cardiologist)
    response = doctor.post(
        f"/consultations/{case.uuid}/cannot-take/",
        {"outcome": "reject", "reason": "A question for the dentist", "version": case.version},
    )
    assert response.status_code == 302
    case.refresh_from_db()
    assert case.status == Status.REJECTED
    assert case.transitions.filter(to_status=Status.REJECTED, note="A question for the dentist")


def test_an_outcome_the_viewer_may_not_take_is_refused(scene):
    case = scene.submit()
    response = client_for(scene.coordinator).post(
        f"/consultations/{case.uuid}/cannot-take/", {"outcome": "reject", "reason": "Not ours"}
    )
    assert response.status_code == 422
    assert "Choose what should happen to the request." in response.content.decode()
    case.refresh_from_db()
    assert case.status == Status.REQUESTED


# --- ICD-10 as it is typed -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("language", "typed", "code", "words"),
    [
        ("ru", "I21,0", "I21.0", "инфаркт"),
        ("ru", "инфаркт миокарда", "I21", "Острый инфаркт миокарда"),
        ("ko", "심근경색", "I21", "급성 심근경색증"),
        ("en", "pneumonia", "J18", "Pneumonia"),
    ],
)
def test_diagnoses_are_found_by_code_or_words_in_the_readers_language(
    scene, language, typed, code, words
):
    client = client_for(scene.hub_cardiologist, language)
    html = client.get("/consultations/icd10/", {"diagnoses": typed}).content.decode()
    assert code in html
    assert words in html


def test_a_code_typed_with_a_comma_is_read_and_described_beside_the_field(scene):
    client = client_for(scene.hub_cardiologist, "ru")
    html = client.get("/consultations/icd10/", {"diagnoses": "I10, I21,0"}).content.decode()
    read = section_list(html, "icd10-read")
    assert "I10" in read[0] and "I21.0" in read[1] and "I21,0" in read[1]


def section_list(html, testid):
    match = re.search(rf'<ul[^>]*data-testid="{testid}"[^>]*>(.*?)</ul>', html, re.S)
    assert match, testid
    return re.findall(r"<li[^>]*>(.*?)</li>", match.group(1), re.S)


def test_picking_a_suggestion_puts_the_code_in_place_of_the_words(scene):
    client = client_for(scene.hub_cardiologist, "ru")
    html = client.get(
        "/consultations/icd10/", {"diagnoses": "I10, инфаркт", "pick": "I21.0"}
    ).content.decode()
    assert re.search(r'<input[^>]*value="I10, I21.0, "', html)
    assert "autofocus" in html
    assert len(section_list(html, "icd10-read")) == 2


# --- the conclusion: evacuation, review, signing ---------------------------------------------


def accepted(scene, form="emergency"):
    case = scene.submit(form)
    consult_accept(accessor=scene.accessor(scene.hub_cardiologist), consultation=case)
    case.refresh_from_db()
    return case


def conclusion_post(scene, case, **overrides):
    data = {
        "findings": "ST elevation V1–V4.\r\nKillip II.",
        "diagnoses": "I21,0",
        "recommendations": "Aspirin 250 mg; prepare for the flight.",
        "evacuation": "urgent_air",
        "evacuation_destination": str(scene.chain.hub.uuid),
        "follow_up": "",
        "version": str(case.version),
    }
    data.update(overrides)
    return data


def checked_evacuation(html):
    return re.findall(r'<input type="radio" name="evacuation" value="(\w+)"[^>]*checked', html)


def test_an_emergency_has_no_default_transfer_and_must_choose_one(scene):
    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist)
    html = doctor.get(f"/consultations/{case.uuid}/").content.decode()
    assert checked_evacuation(html) == []
    response = doctor.post(
        f"/consultations/{case.uuid}/conclusion/review/",
        conclusion_post(scene, case, evacuation="", evacuation_destination=""),
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "an emergency has no default" in html
    assert re.search(r'data-testid="error-summary".*href="#id_evacuation"', html, re.S)


def test_a_planned_request_defaults_to_no_transfer(scene):
    case = accepted(scene, "planned")
    html = client_for(scene.hub_cardiologist).get(f"/consultations/{case.uuid}/").content.decode()
    assert checked_evacuation(html) == ["none"]


def test_an_unknown_code_is_reported_beside_the_field_and_on_top(scene):
    case = accepted(scene)
    response = client_for(scene.hub_cardiologist).post(
        f"/consultations/{case.uuid}/conclusion/review/",
        conclusion_post(scene, case, diagnoses="I21.0, Q99.99"),
    )
    assert response.status_code == 422
    html = response.content.decode()
    summary = re.search(r'data-testid="error-summary".*?</div>', html, re.S).group(0)
    assert 'href="#id_diagnoses"' in summary and "Q99.99" in summary
    field = re.search(r'<div id="diagnoses-field">.*?</div></div>', html, re.S).group(0)
    assert "Q99.99" in field and "is not an ICD-10 code" in field


def review(client, case, data):
    response = client.post(f"/consultations/{case.uuid}/conclusion/review/", data)
    assert response.status_code == 200, response.content.decode()[:2000]
    html = response.content.decode()
    digest = re.search(r'name="digest" value="([0-9a-f]{64})"', html).group(1)
    return html, {**data, "digest": digest}


def test_signing_shows_the_document_in_russian_and_asks_for_the_password(scene):
    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist, "ru")
    html, data = review(doctor, case, conclusion_post(scene, case))
    shown = section(html, "to-sign")
    assert "I21.0 — Острый трансмуральный инфаркт передней стенки миокарда" in shown
    assert "ST elevation V1–V4.<br>Killip II." in shown
    assert "срочная санитарная авиаэвакуация" in shown
    assert 'type="password"' in html and 'autocomplete="current-password"' in html
    assert not Conclusion.objects.exists()  # nothing is signed by looking

    wrong = doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": "guess"})
    assert wrong.status_code == 422
    assert "Неверный пароль" in wrong.content.decode()
    assert not Conclusion.objects.exists()
    scene.hub_cardiologist.refresh_from_db()
    assert scene.hub_cardiologist.failed_logins == 1
    assert AuditEvent.objects.filter(action=AuditAction.LOGIN_FAILED).exists()

    signed = doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": PASSWORD})
    assert signed.status_code == 302
    conclusion = Conclusion.objects.get()
    assert conclusion.findings == "ST elevation V1–V4.\nKillip II."
    assert [entry["code"] for entry in conclusion.diagnoses] == ["I21.0"]
    case.refresh_from_db()
    assert case.status == Status.COMPLETED
    assert AuditEvent.objects.filter(
        action=AuditAction.LOGIN, details__reauthenticated="sign conclusion"
    ).exists()
    page = doctor.get(f"/consultations/{case.uuid}/").content.decode()
    assert "Подпись действительна" in page or "signature is valid" in page.lower()


def test_the_signed_document_is_the_one_shown(scene):
    from farcare.consults.conclusions import draft_digest

    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist)
    _html, data = review(doctor, case, conclusion_post(scene, case))
    doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": PASSWORD})
    assert draft_digest(Conclusion.objects.get()) == data["digest"]


def test_a_draft_changed_after_review_is_not_signed(scene):
    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist)
    _html, data = review(doctor, case, conclusion_post(scene, case))
    changed = {**data, "recommendations": "Stay at the post.", "secret": PASSWORD}
    response = doctor.post(f"/consultations/{case.uuid}/conclusion/", changed)
    assert response.status_code == 422
    assert "changed since you reviewed it" in response.content.decode()
    assert not Conclusion.objects.exists()


def test_signing_without_review_is_refused(scene):
    case = accepted(scene)
    response = client_for(scene.hub_cardiologist).post(
        f"/consultations/{case.uuid}/conclusion/",
        {**conclusion_post(scene, case), "secret": PASSWORD},
    )
    assert response.status_code == 422
    assert "Review the conclusion before you sign it." in response.content.decode()
    assert not Conclusion.objects.exists()


def test_changing_the_conclusion_from_the_review_keeps_what_was_typed(scene):
    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist)
    _html, data = review(doctor, case, conclusion_post(scene, case))
    back = doctor.post(f"/consultations/{case.uuid}/conclusion/review/", {**data, "edit": "1"})
    assert back.status_code == 200
    html = back.content.decode()
    assert "Aspirin 250 mg; prepare for the flight." in html
    assert checked_evacuation(html) == ["urgent_air"]


def test_wrong_passwords_at_signing_lock_the_account(scene, settings):
    case = accepted(scene)
    doctor = client_for(scene.hub_cardiologist)
    _html, data = review(doctor, case, conclusion_post(scene, case))
    for _attempt in range(settings.FARCARE_LOCKOUT_ATTEMPTS):
        last = doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": "guess"})
    assert last.status_code == 422
    assert "The account is locked until" in last.content.decode()
    # Locked out: the session ends too, and the right password signs nothing any more.
    response = doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/accounts/login/")
    assert not Conclusion.objects.exists()


def test_a_consultant_with_an_authenticator_signs_with_its_code(scene):
    from django_otp.oath import totp
    from django_otp.plugins.otp_totp.models import TOTPDevice

    device = TOTPDevice.objects.create(user=scene.hub_cardiologist, name="phone", confirmed=True)
    case = accepted(scene)
    doctor = Client(HTTP_ACCEPT_LANGUAGE="en")
    doctor.post(
        "/accounts/login/", {"username": scene.hub_cardiologist.username, "password": PASSWORD}
    )
    token = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    assert doctor.post("/accounts/otp/verify/", {"token": token, "next": "/"}).status_code == 302
    html, data = review(doctor, case, conclusion_post(scene, case))
    assert 'autocomplete="one-time-code"' in html
    by_password = doctor.post(
        f"/consultations/{case.uuid}/conclusion/", {**data, "secret": PASSWORD}
    )
    assert by_password.status_code == 422
    TOTPDevice.objects.filter(pk=device.pk).update(
        last_t=-1, throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device.refresh_from_db()
    token = f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"
    signed = doctor.post(f"/consultations/{case.uuid}/conclusion/", {**data, "secret": token})
    assert signed.status_code == 302
    assert Consultation.objects.get().status == Status.COMPLETED


def test_a_consultant_abroad_reviews_in_korean_without_the_patients_name(scene):
    scene.only_the_korean_partner_answers()
    case = scene.submit()
    consult_accept(accessor=scene.accessor(scene.partner_cardiologist), consultation=case)
    case.refresh_from_db()
    korean = client_for(scene.partner_cardiologist, "ko")
    html, _data = review(korean, case, conclusion_post(scene, case, diagnoses="i21,0"))
    assert "소견서 확인 및 서명" in html
    assert "전벽의 급성 전층심근경색증" in section(html, "to-sign")
    assert scene.patient.family not in html and scene.patient.snils not in html
