"""An analyst reaches no patient (issue 18, point 4). The ministry's analyst and the Korean
partner's analyst walk every address the project answers, each filled with the real keys of the
demo network's patients, consultations, transfers, reports, enrolments, studies, files, teaching
cases...: no response names a demo patient (family and given name, SNILS, OMS policy, phone, birth
date in every usual spelling, in the body, in a PDF's or a spreadsheet's text, in a header),
every address about a patient is refused (403 or 404, never 200 with the record), and nothing
answers 500. Every analytics page, export and monthly report they open is searched the same way.
The FHIR API refuses them: no token is issued to an analyst, and a token made for one anyway
reads no patient."""

from __future__ import annotations

import contextlib
import io
import json
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from itertools import islice

import pytest
from django.apps import apps
from django.db.models import Model
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import formats, translation
from openpyxl import load_workbook
from pypdf import PdfReader

from farcare.accounts.models import Role, User
from farcare.analytics import selectors
from farcare.analytics.forms import GROUPS
from farcare.analytics.indicators import CATALOGUE
from farcare.analytics.models import IndicatorCell
from farcare.demo.analytics import ANALYST_KR, load_analytics
from farcare.network.models import Practitioner, Settlement
from farcare.patients.models import Patient

from ..fhir.conftest import FhirClient, issue_token

ANALYSTS = ("analyst", ANALYST_KR)
# Keys of these models are about a patient: an address naming one is refused to an analyst.
PATIENT_DATA = {
    "patients.patient",
    "patients.consent",
    "consults.consultation",
    "consults.attachment",
    "evacuation.transfer",
    "diagnostics.diagnosticorder",
    "diagnostics.diagnosticreport",
    "diagnostics.specimen",
    "diagnostics.criticalalert",
    "imaging.imagingstudy",
    "monitoring.enrolment",
    "monitoring.monitoringalert",
    "scheduling.appointment",
    "calls.call",
    "casebook.teachingcase",
}
# How many keys of one model an address is tried with: every demo patient; a sample of the rest.
SAMPLE = 6
UUID_TEXT = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"
)
# Random tokens a page carries (CSP nonces, CSRF tokens) are not where a birth year hides.
TOKENS = re.compile(r'(?:nonce|csrfmiddlewaretoken|value)="[^"]*"')
REFUSED = (401, 403, 404, 405)


# --- what a response says ---------------------------------------------------------------------


def texts(response) -> list[str]:
    """The response as its reader's software reads it: the body (JSON unescaped, PDF text and
    metadata, every cell of a spreadsheet) and the headers (a file name travels in
    Content-Disposition). UUIDs and random tokens are taken out: their hex is not an identity."""
    body = (
        b"".join(response.streaming_content)
        if getattr(response, "streaming", False)
        else response.content
    )
    found = [body.decode("utf-8", "replace")]
    content_type = response.get("Content-Type", "")
    if "json" in content_type and body:
        with contextlib.suppress(ValueError):
            found.append(json.dumps(json.loads(body), ensure_ascii=False))
    if body.startswith(b"%PDF-"):
        reader = PdfReader(io.BytesIO(body))
        found.append(" ".join(page.extract_text() for page in reader.pages))
        found.append(json.dumps({str(k): str(v) for k, v in (reader.metadata or {}).items()}))
    if body.startswith(b"PK") and "spreadsheet" in content_type:
        workbook = load_workbook(io.BytesIO(body), read_only=True)
        found.append(
            " ".join(
                str(cell)
                for sheet in workbook.worksheets
                for row in sheet.iter_rows(values_only=True)
                for cell in row
                if cell is not None
            )
        )
    found.append(" ".join(f"{key}: {value}" for key, value in response.items()))
    return [TOKENS.sub(" ", UUID_TEXT.sub(" ", text)) for text in found]


def staff_words() -> set[str]:
    """Names staff also bear ("Ким", "Ольга"): the analyst's own name heads every page, and the
    directory lists the consultants; a patient's name that is also one of theirs is searched as
    the whole name only."""
    words: set[str] = set()
    for first, last in User.objects.values_list("first_name", "last_name"):
        words.update((first, last))
    for family, given, middle in Practitioner.objects.values_list("family", "given", "middle"):
        words.update((family, given, middle))
    return {word for word in words if word}


def spellings(patient: Patient, common: set[str]) -> list[str]:
    """Every way a page, a file or an API may write who the patient is."""
    names = [
        f"{patient.family} {patient.given}",
        f"{patient.given} {patient.family}",
        f"{patient.family} {patient.given[0]}.",
    ]
    names += [word for word in (patient.family, patient.middle) if word and word not in common]
    s, o = patient.snils, patient.oms_policy
    numbers = [s, f"{s[:3]}-{s[3:6]}-{s[6:9]} {s[9:]}", f"{s[:3]} {s[3:6]} {s[6:9]} {s[9:]}"]
    if o:
        numbers += [o, f"{o[:4]} {o[4:8]} {o[8:12]} {o[12:]}"]
    if patient.phone:
        digits = re.sub(r"\D", "", patient.phone)
        numbers += [patient.phone, digits, digits[1:]]
    return names + numbers + born(patient.birth_date)


def born(day: date) -> list[str]:
    written = {day.isoformat(), day.strftime("%d.%m.%Y"), day.strftime("%d/%m/%Y")}
    written.add(f"{day.year}. {day.month}. {day.day}.")
    for language in ("ru", "ko", "en"):
        with translation.override(language):
            written.add(str(formats.date_format(day, "DATE_FORMAT")))
            written.add(str(formats.date_format(day, "SHORT_DATE_FORMAT")))
    return sorted(written)


@dataclass
class Identities:
    # The patient's family name → how they are written: names as whole words ("Адуканов" is not
    # in his wife's "Адуканова" in the directory), numbers and dates anywhere.
    spellings: dict[str, list[re.Pattern[str]]]

    def found_in(self, response, typed: str = "") -> list[str]:
        """What names a patient; `typed`: what the reader typed, which a search shows back."""
        return [
            f"{family}: {pattern.pattern!r}"
            for text in texts(response)
            for family, written in self.spellings.items()
            for pattern in written
            if pattern.search(text.replace(typed, " ") if typed else text)
        ]


def patterns(patient: Patient, common: set[str]) -> list[re.Pattern[str]]:
    found = []
    for spelling in spellings(patient, common):
        if any(ch.isalpha() for ch in spelling) and not re.search(r"\d", spelling):
            found.append(re.compile(rf"(?<!\w){re.escape(spelling)}(?!\w)"))
        else:
            found.append(re.compile(re.escape(spelling)))
    return found


@pytest.fixture
def demo(demo_network) -> None:
    """The demo as `make run` has it: with its year of history and the figures computed."""
    load_analytics()


@pytest.fixture
def identities(demo) -> Identities:
    common = staff_words()
    patients = list(Patient.objects.all())
    assert len(patients) >= 12, "the demo's patients"
    return Identities({p.family: patterns(p, common) for p in patients})


# --- every address, filled in ------------------------------------------------------------------


def every_pattern() -> Iterator[tuple[str, URLPattern]]:
    """(the address with its converters, the pattern) of every view the project routes."""

    def walk(patterns: list, prefix: str) -> Iterator[tuple[str, URLPattern]]:
        for entry in patterns:
            if isinstance(entry, URLResolver):
                yield from walk(entry.url_patterns, prefix + str(entry.pattern))
            else:
                yield prefix + str(entry.pattern), entry

    yield from walk(get_resolver().url_patterns, "/")


PARAM = re.compile(r"<(?:(?P<converter>\w+):)?(?P<name>\w+)>|\(\?P<(?P<regex_name>\w+)>[^)]*\)")


def keyed_models() -> dict[str, list[type[Model]]]:
    """Models with a UUID, by the names an address would give their key ("report" finds
    DiagnosticReport and ReceivedReport)."""
    found: dict[str, list[type[Model]]] = {}
    for model in apps.get_models():
        if any(f.name == "uuid" for f in model._meta.concrete_fields):
            found.setdefault(model._meta.model_name or "", []).append(model)
    return found


def named_models(name: str, models: dict[str, list[type[Model]]]) -> list[type[Model]]:
    """The models a parameter names ("report_uuid": DiagnosticReport, ReceivedReport...)."""
    stem = name.removesuffix("_uuid").replace("_", "")
    if stem in ("consultant", "user"):
        return [User]
    return [model for model_name, ms in models.items() if model_name.endswith(stem) for model in ms]


def candidates_for(name: str, models: dict[str, list[type[Model]]]) -> list[str]:
    """Real keys for a parameter: the UUIDs of the models it names (every demo patient's, the
    first few of the others' and the three oldest consultations, from the year of history); a
    parameter naming no model gets every patient-data model's."""
    from farcare.consults.models import Consultation

    chosen = named_models(name, models) or [apps.get_model(label) for label in PATIENT_DATA]
    keys: list[str] = []
    for model in chosen:
        rows = model._base_manager.order_by("pk").values_list("uuid", flat=True)
        keys += [str(value) for value in islice(rows, None if model is Patient else SAMPLE)]
        if model is Consultation:
            oldest = Consultation.objects.order_by("received_at").values_list("uuid", flat=True)
            keys += [str(value) for value in oldest[:3]]
    return keys or [str(uuid.uuid4())]


def model_is_patient_data(models: list[type[Model]]) -> bool:
    return any(m._meta.label_lower in PATIENT_DATA for m in models)


FIXED = {
    "fmt": ["csv", "xlsx"],
    "table": ["dashboard", "partner", "trend", "map"],
    "language": ["ru", "ko", "en"],
    "resource_type": ["Patient", "ServiceRequest", "Task", "Observation", "DocumentReference"],
    "target": ["completed", "cancelled"],
    "event": ["arrive", "complete"],
    "version": ["1", "light"],
    "version_id": ["1"],
    "index": ["0"],
    "sop_uid": ["1.2.3"],
    "code": ["ABCD-1234"],
    "upload_id": ["x"],
}


def addresses(models: dict[str, list[type[Model]]]) -> list[tuple[str, bool]]:
    """(address, whether it is about a patient) for every routed view, each parameter filled
    with each of its candidates (the other parameters with their first)."""
    patients = [str(u) for u in Patient.objects.values_list("uuid", flat=True)]
    months = selectors.months_available()
    found: list[tuple[str, bool]] = []
    for route, _pattern in every_pattern():
        if route.startswith("/admin/") or "django-admin" in route:
            continue  # Django's own admin: an analyst is not staff (the login page answers)
        route = route.replace("^", "").replace("$", "").replace("\\", "")
        params = [m.group("name") or m.group("regex_name") for m in PARAM.finditer(route)]
        options: dict[str, list[str]] = {}
        about_patient = False
        for name in params:
            if name in FIXED:
                options[name] = FIXED[name]
            elif name in ("year", "month"):
                options[name] = [
                    str(getattr(m, name)) if name == "year" else f"{m.month:02d}" for m in months
                ][:2] or ["2026"]
            elif name == "logical_id":
                options[name] = patients[:4]
                about_patient = True
            elif name == "job_id":
                options[name] = [str(uuid.uuid4())]
            else:
                named = named_models(name, models)
                about_patient = about_patient or not named or model_is_patient_data(named)
                options[name] = candidates_for(name, models)
        firsts = {name: values[0] for name, values in options.items()}
        for name in params or [None]:
            for value in options.get(name, [None]) if name else [None]:
                filled = {**firsts, **({name: value} if name else {})}
                found.append((fill(route, filled), about_patient))
    return sorted(set(found))


def fill(route: str, values: dict[str, str]) -> str:
    return PARAM.sub(lambda m: values[m.group("name") or m.group("regex_name")], route)


def analytics_addresses() -> list[str]:
    """Every analytics page, table, export and monthly report an analyst may open."""
    months = selectors.months_available()
    assert months, "the demo's figures are computed"
    month = months[1 if len(months) > 1 else 0].strftime("%Y-%m")
    found = ["/analytics/", "/analytics/partner/", f"/analytics/partner/?month={month}"]
    for dimension in ("region", "settlement", "facility", "specialty"):
        for group in GROUPS:
            found.append(f"/analytics/?month={month}&dimension={dimension}&group={group}")
        query = f"month={month}&dimension={dimension}"
        found += [f"/analytics/export/dashboard.{fmt}?{query}" for fmt in ("csv", "xlsx")]
    for settlement in Settlement.objects.filter(name_en__in=["Uelen", "Enurmino", "Tiksi"]):
        query = f"dimension=settlement&key={settlement.uuid}"
        found += [f"/analytics/trend/?{query}", f"/analytics/export/trend.csv?{query}"]
    for indicator in CATALOGUE:
        found.append(f"/analytics/map/?month={month}&indicator={indicator.code}")
    found += [
        f"/analytics/export/map.{fmt}?month={month}&indicator={indicator.code}"
        for fmt in ("csv", "xlsx")
        for indicator in CATALOGUE
    ]
    found += [f"/analytics/export/partner.{fmt}?month={month}" for fmt in ("csv", "xlsx")]
    for language in ("ru", "ko", "en"):
        found.append(f"/analytics/report/{month}.pdf?lang={language}")
    return found


def _client(username: str) -> Client:
    # A view that crashes is a finding of the walk, not the end of it.
    client = Client(HTTP_ACCEPT_LANGUAGE="ru", raise_request_exception=False)
    client.force_login(User.objects.get(username=username))
    return client


# --- the stories -------------------------------------------------------------------------------


@pytest.mark.parametrize("username", ANALYSTS)
def test_an_analyst_reaches_no_patient_through_any_address(identities, username):
    client = _client(username)
    models = keyed_models()
    opened, refused, leaks, crashes, served_records = [], [], {}, [], []
    for address, about_patient in addresses(models):
        response = client.get(address)
        if response.status_code >= 500:
            crashes.append(f"{address}: {response.status_code}")
            continue
        found = identities.found_in(response)
        if found:
            leaks[address] = found
        if response.status_code in REFUSED or response.status_code == 302:
            refused.append(address)
        elif about_patient:
            served_records.append(f"{address}: {response.status_code}")
        else:
            opened.append(address)
    assert not leaks, leaks
    assert not crashes, crashes
    assert not served_records, served_records
    # Not vacuous: the patients' own addresses were tried, and the analyst's own pages opened.
    assert any(a.startswith("/patients/") for a in refused)
    assert "/" in opened


@pytest.mark.parametrize("username", ANALYSTS)
def test_every_address_about_a_patient_is_refused_to_an_analyst(identities, username):
    client = _client(username)
    for patient in Patient.objects.all():
        for address in (
            f"/patients/{patient.uuid}/",
            f"/patients/{patient.uuid}/access-log/",
            f"/patients/{patient.uuid}/edit/",
            f"/consultations/new/{patient.uuid}/",
            f"/diagnostics/patients/{patient.uuid}/",
            f"/imaging/add/{patient.uuid}/",
            f"/monitoring/enrol/{patient.uuid}/",
            f"/access/break-glass/{patient.uuid}/",
        ):
            response = client.get(address)
            assert response.status_code in (403, 404), (address, response.status_code)
            assert not identities.found_in(response), address
        # The search answers, and finds nobody: not by name, SNILS, OMS policy or birth date.
        for typed in (patient.family, patient.snils, patient.oms_policy, str(patient.birth_date)):
            response = client.get("/patients/", {"q": typed})
            assert response.status_code in (200, 403)
            assert not identities.found_in(response, typed=typed), typed
            assert str(patient.uuid) not in response.content.decode()
    for consultation in patient.consultations.all():
        response = client.get(f"/consultations/{consultation.uuid}/")
        assert response.status_code in (403, 404)


def test_every_analytics_page_export_and_report_names_no_patient(identities):
    client = _client("analyst")
    for address in analytics_addresses():
        response = client.get(address)
        assert response.status_code == 200, (address, response.status_code)
        assert not identities.found_in(response), (address, identities.found_in(response))
    # The pages hold the year of history the demo computed, hidden cells and all.
    assert IndicatorCell.objects.filter(suppressed=True).exists()
    assert IndicatorCell.objects.filter(suppressed=False, count__gte=5).exists()


def test_the_partners_analyst_opens_the_partners_view_and_names_no_patient(identities):
    client = _client(ANALYST_KR)
    months = selectors.months_available(cross_border=True)
    assert months, "the demo's cross-border figures are computed"
    for month in months:
        query = f"month={month:%Y-%m}"
        for address in (
            f"/analytics/partner/?{query}",
            f"/analytics/export/partner.csv?{query}",
            f"/analytics/export/partner.xlsx?{query}",
            f"/analytics/report/{month:%Y-%m}.pdf?lang=ko",
        ):
            response = client.get(address)
            assert response.status_code == 200, (address, response.status_code)
            assert not identities.found_in(response), address


@pytest.mark.parametrize("username", ANALYSTS)
def test_the_fhir_api_refuses_an_analyst(identities, username):
    analyst = User.objects.get(username=username)
    client = _client(username)
    # No token is issued to an analyst: the page to make one refuses them.
    page = client.get("/fhir/auth/user-token")
    assert page.status_code in (403, 404, 405)
    assert client.post(
        "/fhir/auth/user-token", {"scopes": ["user/*.read"], "hours": "1"}
    ).status_code in (403, 404, 405)
    # And a token made for one anyway reads no patient.
    fhir = FhirClient(issue_token(analyst, "user/*.read"))
    patient = Patient.objects.order_by("pk").first()
    assert patient is not None
    for path in (f"Patient/{patient.uuid}", f"Patient/{patient.uuid}/$everything"):
        response = fhir.get(path)
        assert response.status_code in (401, 403, 404), (path, response.status_code)
        assert not identities.found_in(response), path
    # A search is refused or finds nothing, whatever it asks.
    for path, query in (
        ("Patient", {}),
        ("Patient", {"name": patient.family}),
        ("Patient", {"identifier": patient.snils}),
        ("ServiceRequest", {}),
        ("Task", {}),
        ("Observation", {}),
        ("DiagnosticReport", {}),
        ("DocumentReference", {}),
    ):
        response = fhir.get(path, **query)
        assert response.status_code in (200, 401, 403), (path, response.status_code)
        if response.status_code == 200:
            assert not response.json().get("entry"), (path, query)
        typed = next(iter(query.values()), "")
        assert not identities.found_in(response, typed=typed), (path, query)


def test_an_analyst_is_an_analyst(demo):
    """The two accounts the stories above are told as."""
    assert User.objects.get(username="analyst").role == Role.ANALYST
    partner = User.objects.select_related("facility").get(username=ANALYST_KR)
    assert partner.role == Role.ANALYST
    assert partner.facility is not None and partner.facility.country == "KR"
