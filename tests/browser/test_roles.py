"""User stories, in a real browser: each demo role logs in; a feldsher registers and finds a
patient while the audit trail watches; a patient sees who opened their record; an analyst is
kept out of records."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.conf import settings
from playwright.sync_api import expect

from farcare.accounts.models import User
from farcare.audit.models import AuditAction, AuditEvent
from farcare.demo.loader import demo_snils
from farcare.patients.models import Patient

from .conftest import WORDS, log_in

pytestmark = pytest.mark.browser

RECORD_URL = re.compile(r"/patients/[0-9a-f-]{36}/$")
SEARCH_LABEL = "Name, SNILS or birth date"
FELDSHER_NAME = "Анна Рультытегина"
DEMO_PATIENT_FAMILY = "Тынетегин"  # the record linked to the "patient" account


def _role(username, locale, language, name, zone, id_=None):
    return pytest.param(username, locale, language, name, zone, id=id_ or username)


ACCOUNTS = [
    # username, browser locale, interface language expected after login, header name, zone
    _role("feldsher", "ru-RU", "ru", FELDSHER_NAME, "Asia/Anadyr", "feldsher-ru"),
    _role("doctor", "en-US", "en", "Игорь Кузнецов", "Asia/Anadyr"),
    _role("cardiologist", "ko-KR", "ko", "Виктор Ли", "Asia/Vladivostok", "cardiologist-ko"),
    # The account's own language (ko) beats the browser's English.
    _role("consultant_kr", "en-US", "ko", "민준 김", "Asia/Seoul"),
    _role("coordinator", "en-US", "en", "Мария Тынеро", "Asia/Anadyr"),
    _role("trainer", "en-US", "en", "Аграфена Сивцева", "Asia/Yakutsk"),
    _role("patient", "en-US", "en", "Семён Тынетегин", "Asia/Anadyr"),  # their home post's zone
    _role("analyst", "en-US", "en", "Ольга Минздравова", settings.TIME_ZONE),
    _role("admin", "en-US", "en", "Админ Системы", settings.TIME_ZONE),
]


@pytest.mark.parametrize(("username", "locale", "language", "name", "zone"), ACCOUNTS)
def test_every_demo_role_logs_in_and_out(demo, new_context, username, locale, language, name, zone):
    page = log_in(new_context(locale=locale), username, language=locale[:2])

    assert urlsplit(page.url).path == "/"
    expect(page.locator("html")).to_have_attribute("lang", language)
    expect(page.get_by_test_id("user")).to_have_text(name)
    expect(page.get_by_test_id("zone")).to_contain_text(f"{zone}, UTC")
    log_out = page.get_by_role("button", name=WORDS[language]["Log out"], exact=True)
    expect(log_out).to_be_visible()

    log_out.click()
    page.wait_for_url("**/accounts/login/")
    expect(page.get_by_test_id("user")).to_have_count(0)


# The registration form as it reads in English and in Russian (farcare/locale/ru).
REGISTRATION = {
    "en": {
        "family": "Family name",
        "given": "Given name",
        "middle": "Patronymic",
        "sex": "Sex",
        "female": "female",
        "birth_date": "Birth date",
        "home_settlement": "Home settlement",
        "Uelen": "Uelen",
        "home_facility": "Home facility",
        "Uelen post": "Uelen feldsher–midwife post",
        "snils": "SNILS",
        "phone": "Phone",
        "Register": "Register",
        "bad snils": "This SNILS is not valid: 11 digits with a correct check number.",
    },
    "ru": {
        "family": "Фамилия",
        "given": "Имя",
        "middle": "Отчество",
        "sex": "Пол",
        "female": "женский",
        "birth_date": "Дата рождения",
        "home_settlement": "Населённый пункт проживания",
        "Uelen": "Уэлен",
        "home_facility": "Учреждение прикрепления",
        "Uelen post": "ФАП Уэлен",
        "snils": "СНИЛС",
        "phone": "Телефон",
        "Register": "Зарегистрировать",
        "bad snils": "Неверный СНИЛС: нужно 11 цифр с правильным контрольным числом.",
    },
}


def _field(page, label):
    """The form field whose label reads exactly `label` (Django adds a colon)."""
    return page.get_by_label(re.compile(rf"^{re.escape(label)}:?$"))


def _fill_registration(page, *, family, snils, language="en"):
    words = REGISTRATION[language]
    page.goto("/patients/register/")
    _field(page, words["family"]).fill(family)
    _field(page, words["given"]).fill("Алёна")
    _field(page, words["middle"]).fill("Игоревна")
    _field(page, words["sex"]).select_option(label=words["female"])
    _field(page, words["birth_date"]).fill("1995-04-12")
    _field(page, words["home_settlement"]).select_option(label=words["Uelen"])
    _field(page, words["home_facility"]).select_option(label=words["Uelen post"])
    _field(page, words["snils"]).fill(snils)
    _field(page, words["phone"]).fill("+7 914 555-12-34")


def _live_search(page, query):
    """Type into the search box and wait for the HTMX request of exactly that query."""
    box = page.get_by_role("searchbox")

    def is_live_search(request):
        return request.headers.get("hx-request") == "true" and parse_qs(
            urlsplit(request.url).query
        ).get("q", [""]) == [query]

    with page.expect_response(lambda response: is_live_search(response.request)) as answer:
        box.fill("")
        box.press_sequentially(query)
    assert answer.value.status == 200


def test_feldsher_registers_a_patient_finds_them_live_and_the_admin_sees_the_audit(
    demo, new_context
):
    feldsher = log_in(new_context(), "feldsher")
    _fill_registration(feldsher, family="Ёлкина", snils="112-233-445 95")
    feldsher.get_by_role("button", name="Register", exact=True).click()

    feldsher.wait_for_url(RECORD_URL)
    patient_uuid = urlsplit(feldsher.url).path.split("/")[2]
    expect(feldsher.get_by_role("heading", level=1)).to_have_text("Ёлкина Алёна Игоревна")
    expect(feldsher.get_by_test_id("snils")).to_have_text("112-233-445 95")

    # The search page answers as one types: no button, no page load.
    feldsher.goto("/patients/")
    feldsher.evaluate("window.sameDocument = true")
    _live_search(feldsher, "112-233-445 95")
    results = feldsher.get_by_test_id("results")
    expect(results).to_contain_text("Ёлкина Алёна Игоревна")
    expect(results).to_contain_text("112-233-445 95")

    # Emptying the box empties the results, so what follows is the new query's answer.
    with feldsher.expect_response(lambda r: r.request.headers.get("hx-request") == "true"):
        feldsher.get_by_label(SEARCH_LABEL).fill("")
    expect(results).to_have_count(0)

    _live_search(feldsher, "елкина")  # е for ё, lower case
    expect(results.get_by_role("link", name="Ёлкина Алёна Игоревна")).to_be_visible()
    assert feldsher.evaluate("window.sameDocument") is True, "the search reloaded the page"

    results.get_by_role("link", name="Ёлкина Алёна Игоревна").click()
    feldsher.wait_for_url(f"**/patients/{patient_uuid}/")
    expect(feldsher.get_by_test_id("snils")).to_have_text("112-233-445 95")

    # The administrator, in another browser, reads what happened to this record.
    admin = log_in(new_context(), "admin")
    admin.get_by_role("link", name="Audit", exact=True).click()
    admin.wait_for_url("**/audit/")
    trail = admin.get_by_test_id("audit")
    expect(trail.locator("tbody tr").filter(has_text="searched")).not_to_have_count(0)
    admin.get_by_label("Patient identifier").fill(patient_uuid)
    admin.get_by_role("button", name="Show", exact=True).click()
    admin.wait_for_url(f"**/audit/?*patient={patient_uuid}*")
    feldsher_rows = trail.locator("tbody tr").filter(has_text="feldsher")
    expect(feldsher_rows.filter(has_text="created")).to_have_count(1)
    # Once after registering, once from the search results.
    expect(feldsher_rows.filter(has_text="viewed")).to_have_count(2)


@pytest.mark.parametrize("locale", ["en-US", "ru-RU"])
def test_an_invalid_snils_is_refused_and_the_form_keeps_what_was_typed(demo, new_context, locale):
    language = locale[:2]
    words = REGISTRATION[language]
    feldsher = log_in(new_context(locale=locale), "feldsher", language=language)
    _fill_registration(feldsher, family="Ёлкина", snils="112-233-445 96", language=language)
    settlement = _field(feldsher, words["home_settlement"])
    uelen = settlement.input_value()
    expect(settlement.locator("option:checked")).to_have_text(words["Uelen"])
    with feldsher.expect_response(lambda r: r.request.method == "POST") as answer:
        feldsher.get_by_role("button", name=words["Register"], exact=True).click()

    assert answer.value.status == 200
    assert urlsplit(feldsher.url).path == "/patients/register/"
    # Beside the field (exactly); the error summary at the top names the field before it.
    expect(feldsher.get_by_text(words["bad snils"], exact=True)).to_be_visible()
    expect(_field(feldsher, words["family"])).to_have_value("Ёлкина")
    expect(_field(feldsher, words["snils"])).to_have_value("112-233-445 96")
    expect(settlement).to_have_value(uelen)
    assert not Patient.objects.filter(family="Ёлкина", given="Алёна").exists()


def test_the_patient_sees_who_looked_at_their_record(demo, new_context):
    patient = log_in(new_context(), "patient")
    patient.get_by_role("link", name="Who looked at my record").click()
    access_log = patient.get_by_test_id("access-log")
    expect(access_log).to_be_visible()
    # The demo feldsher wrote consultations about this patient, but never opened the record.
    viewed = (
        access_log.locator('tbody tr[data-kind="viewed"]')
        .filter(has_text=FELDSHER_NAME)
        .filter(has_text="opened your record")
    )
    expect(viewed).to_have_count(0)

    # The feldsher finds the patient and opens the record, in another browser.
    feldsher = log_in(new_context(locale="ru-RU"), "feldsher", language="ru")
    feldsher.goto("/patients/")
    _live_search(feldsher, DEMO_PATIENT_FAMILY)
    feldsher.get_by_test_id("results").get_by_role("link", name=DEMO_PATIENT_FAMILY).click()
    feldsher.wait_for_url(RECORD_URL)

    patient.reload()
    expect(viewed).to_have_count(1)
    expect(viewed).to_contain_text("Requesting clinician")


def test_an_analyst_gets_403_for_a_patient_record_and_no_name(demo, new_context):
    record = Patient.objects.get(snils=demo_snils(1))
    assert record.family == DEMO_PATIENT_FAMILY
    analyst = log_in(new_context(), "analyst")

    response = analyst.goto(f"/patients/{record.uuid}/")

    assert response is not None
    assert response.status == 403
    expect(analyst.get_by_role("heading", level=1)).to_have_text("Access refused")
    content = analyst.content()
    assert record.family not in content
    assert record.given not in content
    assert record.snils_display not in content
    # No way around the refusal is offered to an analyst, and the attempt is on record.
    expect(analyst.get_by_role("link", name=re.compile("Emergency access"))).to_have_count(0)
    assert AuditEvent.objects.filter(
        actor_username="analyst", action=AuditAction.DENIED, patient_uuid=record.uuid
    ).exists()


def test_the_administrator_edits_an_account_in_the_registry_under_the_security_policy(
    demo, new_context
):
    """The registry's pages (Django's admin, with its facility search box) work under the
    Content-Security-Policy: the context fails on any violation reported in the console."""
    feldsher = User.objects.get(username="feldsher")
    admin = log_in(new_context(), "admin")
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Registry").click()
    admin.wait_for_url(f"**/{settings.FARCARE_ADMIN_URL}")
    admin.goto(f"/{settings.FARCARE_ADMIN_URL}accounts/user/{feldsher.pk}/change/")
    admin.locator(".select2-selection").first.click()  # the facility search (select2)
    admin.locator(".select2-search__field").fill("Uelen")
    expect(admin.locator(".select2-results__option").first).to_contain_text("Uelen")
    admin.keyboard.press("Escape")
    admin.get_by_label("First name").fill("Анна-Мария")
    admin.get_by_role("button", name="Save", exact=True).click()
    admin.wait_for_url(f"**/{settings.FARCARE_ADMIN_URL}accounts/user/")
    feldsher.refresh_from_db()
    assert feldsher.first_name == "Анна-Мария"
