"""No page shows a raw code: every person of the demo network, in Russian, Korean and English,
opens their pages (home, worklist, the cases they may read, patients, the network directory,
the inbox) and reads words and numbers in their language, never True, "A", "high",
"Chukotka", 36.8 in Russian or 2026-12-6."""

import html as html_lib
import pprint
import re

import pytest
from django.test import Client

from farcare.accounts.models import User
from farcare.consults.models import Consultation
from farcare.core.values import REGIONS
from farcare.network.models import Facility, FacilityKind, Settlement
from farcare.patients.models import Patient

LANGUAGES = ("ru", "ko", "en")
PEOPLE = (
    "feldsher",
    "doctor",
    "cardiologist",
    "consultant_kr",
    "coordinator",
    "trainer",
    "patient",
    "analyst",
    "admin",
)

TAG = re.compile(r"<[^>]+>")
HIDDEN = re.compile(r"<(script|style|title)\b.*?</\1>", re.S)
# Time zone identifiers (Asia/Kamchatka) are how zones are named everywhere, not a region.
ZONE = re.compile(r"\b(?:Asia|Europe|America|Etc|Pacific)/[A-Za-z_+\-0-9]+")
RAW_BOOLEAN = re.compile(r"\b(True|False|None)\b")
SNAKE_CODE = re.compile(r"\b[a-z]+_[a-z_]+\b")
BAND_WORD = re.compile(r"\b(low|medium|high)\b", re.I)
UNPADDED_ISO = re.compile(r"\b\d{4}-(?:\d-\d{1,2}|\d{2}-\d)\b")
DOT_DECIMAL = re.compile(r"\d\.\d")
REGION_WORD = re.compile(r"\b(" + "|".join(REGIONS) + r")\b")
VITALS = re.compile(r'<table data-testid="vitals">(.*?)</table>', re.S)
VALUE_CELL = re.compile(r"<tr><td>[^<]*</td><td>([^<]*)</td>")
INBOX = re.compile(r'data-testid="notifications">(.*?)</section>', re.S)
# The case a notification is about, as the inbox shows it: the patient's name and the question
# as they were written (in Russian for a Russian patient), not the notification's own text.
CASE_LINE = re.compile(r'<div class="case-line".*?</div>', re.S)
CYRILLIC = re.compile(r"[А-Яа-яЁё]")


def visible_text(page: str) -> str:
    text = TAG.sub(" ", HIDDEN.sub(" ", page))
    return ZONE.sub(" ", html_lib.unescape(text))


def pages_of(user: User) -> list[str]:
    pages = ["/", "/network/facilities/", "/network/practitioners/", "/notifications/"]
    pages += [
        f"/network/facilities/{f.uuid}/"
        for f in Facility.objects.filter(
            settlement__name_en__in=["Uelen", "Anadyr", "Seongnam (Bundang)"]
        )
    ]
    if user.facility is not None:
        pages.append(f"/network/facilities/{user.facility.uuid}/")
    if user.role in ("clinician", "consultant", "coordinator"):
        pages.append("/consultations/")
        pages += [f"/consultations/{c.uuid}/" for c in Consultation.objects.all()]
    if user.role in ("clinician", "coordinator", "patient"):
        pages += [f"/patients/{p.uuid}/" for p in Patient.objects.all()]
    if user.role in ("clinician", "coordinator"):
        pages += ["/patients/?q=тын", "/patients/?q=a"]
    if user.role == "clinician":
        pages += [f"/consultations/new/{p.uuid}/" for p in Patient.objects.all()[:2]]
    return pages


def raw_values(page: str, language: str, usernames: set[str], places: re.Pattern) -> list[str]:
    """Every raw value a reader of `language` would meet on the page."""
    found: list[str] = []
    text = visible_text(page)
    found += [f"raw {m}" for m in RAW_BOOLEAN.findall(text)]
    found += [f"code {m}" for m in SNAKE_CODE.findall(text) if m not in usernames]
    found += [f"unpadded date {m}" for m in UNPADDED_ISO.findall(text)]
    for table in VITALS.findall(page):
        for value in VALUE_CELL.findall(table):
            if re.fullmatch(r"\s*[ACVPU](\b.*)?", value):
                found.append(f"ACVPU letter {value!r}")
            if language == "ru" and DOT_DECIMAL.search(value):
                found.append(f"dot decimal {value!r}")
    if language != "en":
        found += [f"English band {m}" for m in BAND_WORD.findall(text)]
        found += [f"English region {m}" for m in REGION_WORD.findall(text)]
        found += [f"English place name {m}" for m in places.findall(text)]
    if language != "ru":
        for inbox in INBOX.findall(page):
            if CYRILLIC.search(visible_text(CASE_LINE.sub(" ", inbox))):
                found.append("Russian notification text")
    return found


@pytest.mark.parametrize("language", LANGUAGES)
@pytest.mark.parametrize("username", PEOPLE)
def test_no_page_shows_a_raw_value(demo_network, username, language):
    user = User.objects.get(username=username)
    User.objects.filter(pk=user.pk).update(language=language)
    user.refresh_from_db()
    client = Client(HTTP_ACCEPT_LANGUAGE=language)
    client.force_login(user)
    usernames = set(User.objects.values_list("username", flat=True))
    english_names = Settlement.objects.values_list("name_en", flat=True)
    places = re.compile(r"\b(" + "|".join(map(re.escape, english_names)) + r")\b")
    problems = {}
    opened = []
    for path in pages_of(user):
        response = client.get(path)
        if response.status_code in (403, 404):
            continue  # not this reader's case or patient
        assert response.status_code == 200, path
        opened.append(path)
        found = raw_values(response.content.decode(), language, usernames, places)
        if found:
            problems[path] = sorted(set(found))
    assert not problems, pprint.pformat(problems, width=100)
    if username in ("feldsher", "cardiologist", "coordinator"):
        # The cases they work on were read, not refused: the check is not vacuous.
        assert [path for path in opened if re.fullmatch(r"/consultations/[0-9a-f-]{36}/", path)]


def test_the_demo_network_has_korean_and_russian_names_for_every_place(demo_network):
    """A Korean reader reads Korean names, a Russian reader Russian ones: partners too."""
    for facility in Facility.objects.select_related("settlement"):
        assert facility.name_ko and facility.settlement.name_ko, facility.name_en
        assert CYRILLIC.search(facility.name_ru), facility.name_ru
        assert not re.search(r"[A-Za-z]{3}", facility.name_ko), facility.name_ko
    partner = Facility.objects.filter(kind=FacilityKind.PARTNER_ABROAD).first()
    assert partner is not None
    assert not re.search(r"[가-힣A-Za-z]", partner.name_ru.replace("НМИЦ", ""))
