"""A feldsher searches, finds nobody, and registers the patient without typing the search again;
the form starts at the post's own settlement and facility, and the birth date is typed as the
page's language writes dates, whatever language the browser speaks."""

import re
from datetime import date
from html import unescape
from urllib.parse import quote

from farcare.core.dates import format_typed_date, parse_typed_date
from farcare.patients.models import Patient
from farcare.patients.search_text import initial_from_search

from ..conftest import logged_in
from .test_registration import form_data


def _value(page: str, name: str) -> str:
    found = re.search(rf'<input[^>]*name="{name}"[^>]*>', page)
    assert found, name
    value = re.search(r'value="([^"]*)"', found.group(0))
    return unescape(value.group(1)) if value else ""


def _selected(page: str, name: str) -> str:
    select = re.search(rf'<select[^>]*name="{name}".*?</select>', page, re.S)
    assert select, name
    chosen = re.search(r'<option value="([^"]*)"[^>]*selected', select.group(0))
    return chosen.group(1) if chosen else ""


def test_the_search_text_is_carried_into_registration(chain, feldsher):
    feldsher.language = "ru"
    feldsher.save()
    client = logged_in(feldsher, "ru")
    query = "рультына анна 12.04.1995"

    results = client.get("/patients/", {"q": query}, HTTP_HX_REQUEST="true").content.decode()
    assert "<table" not in results  # nobody matches
    link = re.search(r'href="(/patients/register/\?q=[^"]+)"', results)
    assert link, results
    assert link.group(1) == f"/patients/register/?q={quote(query)}"

    # The "Register a patient" button above the live results follows the search text too.
    button = re.search(r'<a[^>]*id="register-link"[^>]*>', results)
    assert button and 'hx-swap-oob="true"' in button.group(0)
    assert f'href="/patients/register/?q={quote(query)}"' in button.group(0)

    page = client.get(unescape(link.group(1))).content.decode()
    assert _value(page, "family") == "Рультына"
    assert _value(page, "given") == "Анна"
    assert _value(page, "birth_date") == "12.04.1995"  # as a Russian page writes it
    # The post's own settlement and facility, already chosen.
    assert _selected(page, "home_settlement") == str(chain.post.settlement.uuid)
    assert _selected(page, "home_facility") == str(chain.post.uuid)


def test_a_snils_searched_for_is_carried_too():
    assert initial_from_search("112-233-445 95") == {"snils": "112-233-445 95"}
    assert initial_from_search("петрова анна-мария 1970-01-02") == {
        "family": "Петрова",
        "given": "Анна-Мария",
        "birth_date": date(1970, 1, 2),
    }
    assert initial_from_search("") == {}


def test_the_birth_date_is_typed_as_the_page_writes_dates(chain, feldsher):
    feldsher.language = "ru"
    feldsher.save()
    client = logged_in(feldsher, "ru")
    page = client.get("/patients/register/").content.decode()
    field = re.search(r'<input[^>]*name="birth_date"[^>]*>', page).group(0)
    assert 'type="text"' in field  # not type="date", which follows the browser's locale
    assert 'placeholder="ДД.ММ.ГГГГ"' in field

    answer = client.post("/patients/register/", form_data(chain, birth_date="07.03.1958"))
    assert answer.status_code == 302, answer.content.decode()[:3000]
    assert Patient.objects.get().birth_date == date(1958, 3, 7)


def test_an_english_page_takes_the_iso_date_and_refuses_a_slashed_one(chain, feldsher):
    client = logged_in(feldsher, "en")
    page = client.get("/patients/register/").content.decode()
    assert 'placeholder="YYYY-MM-DD"' in page
    refused = client.post("/patients/register/", form_data(chain, birth_date="03/07/1958"))
    text = refused.content.decode()
    assert refused.status_code == 200
    assert "Enter the date as YYYY-MM-DD, for example 1958-03-07." in text
    # The error summary at the top names the field and links to it.
    summary = re.search(r'<div class="error-summary"([^>]*)>(.*?)</div>', text, re.S)
    assert summary, text
    assert 'tabindex="-1"' in summary.group(1)  # it can take the focus
    assert 'href="#id_birth_date"' in summary.group(2)
    assert not Patient.objects.exists()


def test_dates_in_both_spellings_are_read_and_impossible_ones_are_not():
    assert parse_typed_date("7.3.1958") == date(1958, 3, 7)
    assert parse_typed_date("1958-03-07") == date(1958, 3, 7)
    assert parse_typed_date("31.02.1958") is None
    assert parse_typed_date("03/07/1958") is None
    assert format_typed_date(date(1958, 3, 7), "ru") == "07.03.1958"
    assert format_typed_date(date(1958, 3, 7), "ko") == "1958-03-07"
