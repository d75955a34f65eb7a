"""The FHIR hot path (farcare/fhir/hot/) answers an ordinary read exactly as Django's path does —
the same body, the same headers, the same audit record — in three statements, and leaves every
other read to Django's path, which answers it as it always did.

Through the real ASGI application (`HotPath` in front of Django's API handler) on the real
PostgreSQL database: the hot path runs on its own connections, so these tests commit their data
(`transactional_db`). PostgreSQL only: on SQLite there is no hot path."""

from __future__ import annotations

import asyncio
import gzip
import json
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import psycopg
import pytest
from django.db import connection
from django.utils import timezone

from farcare.access.services import break_glass_open
from farcare.accounts.models import Role
from farcare.audit.models import AuditEvent
from farcare.audit.services import Accessor, audit_verify
from farcare.core.api_chain import ApiASGIHandler
from farcare.fhir import lean, systems
from farcare.fhir.hot.app import HotPath
from farcare.fhir.models import AccessToken
from farcare.fhir.versioning import move_epoch
from farcare.patients.models import Patient

from ..conftest import Chain, make_user
from ..factories import FacilityFactory, PatientFactory
from .conftest import issue_token

pytestmark = [
    pytest.mark.skipif(connection.vendor != "postgresql", reason="the hot path: PostgreSQL"),
    pytest.mark.usefixtures("transactional_db"),
]

CLIENT_IP = "10.20.30.40"
# What differs between two answers of the same read: the moment it was sent.
UNSTABLE_HEADERS = {"date"}


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    by_django: bool

    def json(self) -> Any:
        raw = gzip.decompress(self.body) if self.headers.get("content-encoding") else self.body
        return json.loads(raw)


class Server:
    """The API's ASGI application as farcare/asgi.py builds it on PostgreSQL, noting whether
    Django's handler answered each request."""

    def __init__(self) -> None:
        self.django = ApiASGIHandler()
        self.django_answered = 0
        self.hot = HotPath(self._django)

    async def _django(self, scope: Any, receive: Any, send: Any) -> Any:
        self.django_answered += 1
        return await self.django(scope, receive, send)

    def get(
        self, path: str, token: str, *, query: str = "", headers: dict[str, str] | None = None
    ) -> Answer:
        return asyncio.run(self._get(path, token, query, headers or {}))

    async def _get(self, path: str, token: str, query: str, extra: dict[str, str]) -> Answer:
        sent: list[dict[str, Any]] = []
        asked = False
        never = asyncio.Event()

        async def receive() -> dict[str, Any]:
            nonlocal asked
            if not asked:
                asked = True
                return {"type": "http.request", "body": b"", "more_body": False}
            await never.wait()  # the client stays connected
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            sent.append(message)

        headers = {"host": "testserver", "authorization": f"Bearer {token}", **extra}
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(k.encode(), v.encode()) for k, v in headers.items()],
            "client": (CLIENT_IP, 50000),
            "server": ("testserver", 80),
        }
        before = self.django_answered
        try:
            await self.hot(scope, receive, send)
        finally:
            await self.hot.close()  # each asyncio.run is its own loop: the pool with it
        start = sent[0]
        return Answer(
            status=start["status"],
            headers={k.decode().lower(): v.decode("latin1") for k, v in start["headers"]},
            body=b"".join(m.get("body", b"") for m in sent[1:]),
            by_django=self.django_answered > before,
        )


@pytest.fixture
def server() -> Server:
    lean.forget_compiled_reads()
    return Server()


@pytest.fixture
def reader(chain: Chain):
    feldsher = make_user(Role.CLINICIAN, chain.post)
    return feldsher, issue_token(feldsher, "user/*.read")


def warmed(server: Server, path: str, token: str) -> None:
    """A reader's first reads go through Django's path: the first renders and stores the
    version, the second compiles the reader's query (which the hot path then uses)."""
    for _ in range(2):
        assert server.get(path, token).status == 200


def views(patient: Patient) -> list[AuditEvent]:
    return list(AuditEvent.objects.filter(patient_uuid=patient.uuid, action="view").order_by("pk"))


def test_an_ordinary_read_is_answered_as_django_answers_it_and_audited_the_same(
    server, chain, reader
):
    feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    for headers in ({}, {"accept-encoding": "gzip", "accept-language": "ko"}):
        lean.forget_compiled_reads()  # Django's path answers, and compiles the reader's query
        by_django = server.get(path, token, headers={**headers, "accept": "*/*"})
        # The same read again: the hot path answers now.
        hot = server.get(path, token, headers={**headers, "accept": "*/*"})
        assert by_django.by_django and not hot.by_django
        assert hot.status == by_django.status == 200
        assert hot.json() == by_django.json()
        assert hot.json()["id"] == str(patient.uuid)

        def stable(answer: Answer) -> dict[str, str]:
            return {k: v for k, v in answer.headers.items() if k not in UNSTABLE_HEADERS}

        if "accept-encoding" not in headers:
            assert hot.body == by_django.body  # byte for byte
            assert stable(hot) == stable(by_django)
        else:  # gzip pads with up to 100 random bytes (BREACH): the length differs
            assert stable(hot).keys() == stable(by_django).keys()
            assert {**stable(hot), "content-length": ""} == {
                **stable(by_django),
                "content-length": "",
            }
    assert hot.headers["content-encoding"] == "gzip"
    assert hot.headers["content-language"] == "ko"
    assert hot.headers["etag"] == 'W/"1"'

    # Every read is in the trail, the hot ones exactly like the others.
    records = views(patient)
    assert len(records) == 6

    def what(event: AuditEvent) -> tuple:
        return (
            event.actor_uuid, event.actor_username, event.actor_role, event.record_type,
            event.record_id, event.purpose, event.outcome, event.channel, event.ip_address,
            json.dumps(event.details),
        )  # fmt: skip

    assert {what(event) for event in records} == {
        (feldsher.uuid, feldsher.username, feldsher.role, "Patient", str(patient.uuid),
         "normal", "success", "fhir", CLIENT_IP, "{}")
    }  # fmt: skip
    # ... and they seal into the chain like every other record.
    assert audit_verify() is None
    assert not AuditEvent.objects.filter(seq__isnull=True).exists()


def test_the_hot_read_takes_three_statements(server, chain, reader):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    sent: list[str] = []

    class Counting(psycopg.AsyncCursor):  # type: ignore[type-arg]
        """psycopg's own async cursor, noting the statements the hot path sends."""

        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append(str(query))
            return await super().execute(query, params, **kwargs)

    answer = server.get(path, token)  # the hot path's connection parameters are known now
    assert not answer.by_django
    assert server.hot._params is not None
    server.hot._params = {**server.hot._params, "cursor_factory": Counting}
    answer = server.get(path, token)
    assert answer.status == 200 and not answer.by_django
    assert len(sent) == 3, sent
    assert sent[0].lstrip().upper().startswith("SELECT")  # the token
    assert sent[1].lstrip().upper().startswith("SELECT")  # the version, with the access answer
    assert sent[2].lstrip().upper().startswith("INSERT")  # the audit record


# --- everything not ordinary goes to Django's path -------------------------------------------


def test_a_revoked_or_expired_token_is_refused_by_djangos_path(server, chain, reader):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    tokens = AccessToken.objects.filter(user=_feldsher)
    tokens.update(expires_at=timezone.now() - timedelta(seconds=1))
    expired = server.get(path, token)
    assert expired.status == 401 and expired.by_django
    tokens.update(expires_at=timezone.now() + timedelta(minutes=5), revoked=True)
    revoked = server.get(path, token)
    assert revoked.status == 401 and revoked.by_django
    assert server.get(path, "not-a-token").status == 401


def test_a_disabled_account_is_refused_by_djangos_path(server, chain, reader):
    feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    feldsher.is_active = False
    feldsher.save(update_fields=["is_active"])
    answer = server.get(path, token)
    assert answer.status == 401 and answer.by_django


def test_a_token_without_the_read_scope_is_refused_by_djangos_path(server, chain, reader):
    feldsher, _token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, _token)
    narrow = issue_token(feldsher, "user/Observation.read")
    answer = server.get(path, narrow)
    assert answer.status == 403 and answer.by_django


def test_a_patient_outside_the_readers_scope_is_refused_and_the_refusal_audited(
    server, chain, reader
):
    _feldsher, token = reader
    mine = PatientFactory(home_facility=chain.post)
    warmed(server, f"/fhir/Patient/{mine.uuid}", token)
    far = PatientFactory(home_facility=chain.other_region_post)
    stranger = make_user(Role.CLINICIAN, chain.other_region_post)
    stranger_token = issue_token(stranger, "user/*.read")
    warmed(server, f"/fhir/Patient/{far.uuid}", stranger_token)  # stored and compiled

    answer = server.get(f"/fhir/Patient/{far.uuid}", token)
    assert answer.status == 403 and answer.by_django
    refused = AuditEvent.objects.filter(patient_uuid=far.uuid, outcome="denied")
    assert refused.filter(actor_uuid=_feldsher.uuid).count() == 1


def test_a_break_glass_read_is_audited_as_emergency_access_by_djangos_path(server, chain, reader):
    far = PatientFactory(home_facility=chain.other_region_post)
    stranger = make_user(Role.CLINICIAN, chain.post)
    token = issue_token(stranger, "user/*.read")
    break_glass_open(accessor=Accessor(stranger), patient=far, reason="Found unconscious")
    path = f"/fhir/Patient/{far.uuid}"
    for _ in range(3):
        answer = server.get(path, token)
        assert answer.status == 200 and answer.by_django
    reads = AuditEvent.objects.filter(patient_uuid=far.uuid, action="view", outcome="success")
    assert reads.count() == 3
    assert set(reads.values_list("purpose", flat=True)) == {"break_glass"}


def test_a_consultant_abroad_never_gets_the_record_from_the_hot_path(server, chain):
    patient = PatientFactory(home_facility=chain.post)
    korean = FacilityFactory(country="KR", region="Seoul", time_zone="Asia/Seoul")
    consultant = make_user(Role.CONSULTANT, korean)
    token = issue_token(consultant, "user/*.read")
    path = f"/fhir/Patient/{patient.uuid}"
    for _ in range(3):
        answer = server.get(path, token)
        assert answer.by_django and answer.status in (403, 404)
        assert patient.family.encode() not in answer.body


def test_a_stale_version_is_rendered_again_by_djangos_path(server, chain, reader):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    # A change made in bulk (no signal refreshes the version), then the render epoch moved:
    # every version confirmed before it is stale.
    Patient.objects.filter(pk=patient.pk).update(family="Renamed")
    move_epoch()
    answer = server.get(path, token)
    assert answer.by_django and answer.status == 200
    assert answer.json()["name"][0]["family"] == "Renamed"


def test_unusual_requests_go_to_djangos_path(server, chain, reader):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    xml = server.get(path, token, query="_format=xml")
    assert xml.status == 406 and xml.by_django
    refused = server.get(path, token, headers={"accept": "application/fhir+xml"})
    assert refused.status == 406 and refused.by_django
    unknown = server.get("/fhir/Patient/no-such-patient", token)
    assert unknown.status == 404 and unknown.by_django
    elsewhere = server.get("/fhir/Practitioner/x", token)
    assert elsewhere.by_django


def test_a_read_over_plain_http_is_redirected_by_djangos_path(chain, reader, settings):
    settings.SECURE_SSL_REDIRECT = True
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")  # as in production
    lean.forget_compiled_reads()
    server = Server()  # its middleware reads the setting when loaded
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed_over_https = {"x-forwarded-proto": "https"}
    for _ in range(2):
        assert server.get(path, token, headers=warmed_over_https).status == 200
    assert not server.get(path, token, headers=warmed_over_https).by_django
    plain = server.get(path, token)
    assert plain.status == 301 and plain.by_django
    assert plain.headers["location"].startswith("https://")


def test_when_the_hot_path_cannot_reach_the_database_djangos_path_answers(
    server, chain, reader, settings
):
    settings.FARCARE_FHIR_HOT_POOL_TIMEOUT = 1
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    assert not server.get(path, token).by_django
    # Its own connections go to a port where nothing listens (Django's still work).
    assert server.hot._params is not None
    server.hot._params = {**server.hot._params, "port": 1, "connect_timeout": 1}
    answer = server.get(path, token)
    assert answer.status == 200 and answer.by_django
    assert answer.json()["id"] == str(patient.uuid)


# --- searches ----------------------------------------------------------------------------------

SNILS_SYSTEM = systems.SNILS


def searched_twice(server: Server, token: str, query: str, **kw: Any) -> tuple[Answer, Answer]:
    """The same search through Django's path (which remembers the reader's scope), then again
    (the hot path answers)."""
    lean.forget_compiled_reads()
    by_django = server.get("/fhir/Patient", token, query=query, **kw)
    hot = server.get("/fhir/Patient", token, query=query, **kw)
    return by_django, hot


def test_an_identifier_search_is_answered_as_django_answers_it_and_audited_the_same(
    server, chain, reader
):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post)
    PatientFactory(home_facility=chain.post)  # another, not matching
    far = PatientFactory(home_facility=chain.other_region_post)  # outside the reader's scope
    query = f"identifier={SNILS_SYSTEM}|{patient.snils}"
    by_django, hot = searched_twice(server, token, query)
    assert by_django.by_django and not hot.by_django
    assert hot.status == by_django.status == 200
    assert hot.body == by_django.body  # byte for byte
    assert {k: v for k, v in hot.headers.items() if k not in UNSTABLE_HEADERS} == {
        k: v for k, v in by_django.headers.items() if k not in UNSTABLE_HEADERS
    }
    bundle = hot.json()
    assert bundle["total"] == 1
    assert [entry["resource"]["id"] for entry in bundle["entry"]] == [str(patient.uuid)]
    assert bundle["entry"][0]["fullUrl"] == f"http://testserver/fhir/Patient/{patient.uuid}"

    searches = list(AuditEvent.objects.filter(action="search").order_by("pk"))
    assert len(searches) == 2
    django_record, hot_record = searches
    for field_name in ("actor_uuid", "actor_username", "actor_role", "purpose", "outcome",
                       "channel", "ip_address", "details"):  # fmt: skip
        assert getattr(hot_record, field_name) == getattr(django_record, field_name), field_name
    assert hot_record.details["patients_shown"] == [str(patient.uuid)]
    # Linked to the patient shown: it is on their "who looked at my record".
    linked = AuditEvent.objects.filter(patient_links__patient_uuid=patient.uuid, action="search")
    assert linked.count() == 2
    # A patient outside the scope is not found, on either path.
    by_django, hot = searched_twice(server, token, f"identifier={SNILS_SYSTEM}|{far.snils}")
    assert by_django.by_django and not hot.by_django
    assert hot.body == by_django.body and hot.json()["total"] == 0
    assert not AuditEvent.objects.filter(patient_links__patient_uuid=far.uuid).exists()
    assert audit_verify() is None


def test_a_family_search_pages_counts_and_links_as_django_does(server, chain, reader):
    _feldsher, token = reader
    for given in ("Анна", "Мария", "Ольга"):
        PatientFactory(home_facility=chain.post, family="Тынетегин", given=given)
    PatientFactory(home_facility=chain.post, family="Иванов")
    for query in ("family=тынетегин&_count=2", "family=Тынетегин&_count=2&_total=none",
                  "family=тын", "family=Нет-такой"):  # fmt: skip
        by_django, hot = searched_twice(server, token, query)
        assert by_django.by_django and not hot.by_django, query
        assert hot.body == by_django.body, query
    paged = searched_twice(server, token, "family=тынетегин&_count=2")[1].json()
    assert paged["total"] == 3 and len(paged["entry"]) == 2
    following = [link["url"] for link in paged["link"] if link["relation"] == "next"]
    assert len(following) == 1 and "_cursor=" in following[0]
    # The next page (a cursor): Django's path, and it holds the third.
    rest = server.get("/fhir/Patient", token, query=following[0].split("?", 1)[1])
    assert rest.by_django and len(rest.json()["entry"]) == 1


def test_the_hot_search_takes_at_most_five_statements(server, chain, reader):
    _feldsher, token = reader
    for given in ("Анна", "Мария", "Ольга"):
        PatientFactory(home_facility=chain.post, family="Тынетегин", given=given)
    query = "family=Тынетегин&_count=2"  # a page that does not hold every match: counted
    searched_twice(server, token, query)
    sent: list[str] = []

    class Counting(psycopg.AsyncCursor):  # type: ignore[type-arg]
        async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
            sent.append(str(query))
            return await super().execute(query, params, **kwargs)

    assert server.hot._params is not None
    server.hot._params = {**server.hot._params, "cursor_factory": Counting}
    answer = server.get("/fhir/Patient", token, query=query)
    assert answer.status == 200 and not answer.by_django
    assert len(sent) == 5, sent  # token, page, versions, count, audit record with its links


def test_searches_the_hot_path_does_not_do_go_to_djangos_path(server, chain, reader):
    _feldsher, token = reader
    patient = PatientFactory(home_facility=chain.post, family="Рультытегин")
    searched_twice(server, token, "family=Рультытегин")  # the reader's scope is remembered
    for query, status in (
        ("family=Рультытегин&_sort=-birthdate", 200),
        ("family=Рультытегин&_summary=count", 200),
        ("family=Рультытегин&_include=Patient:organization", 200),
        ("colour=blue", 400),
        ("birthdate=not-a-date", 400),
        ("family=Рультытегин&_count=many", 400),
    ):
        answer = server.get("/fhir/Patient", token, query=query)
        assert answer.by_django and answer.status == status, (query, answer.status)
    # A stale version (a change made in bulk, then the epoch moved): Django renders the row.
    Patient.objects.filter(pk=patient.pk).update(given="Переименован")
    move_epoch()
    answer = server.get("/fhir/Patient", token, query="family=Рультытегин")
    assert answer.by_django
    assert answer.json()["entry"][0]["resource"]["name"][0]["given"][0] == "Переименован"


def test_a_consultant_abroad_finds_nobody_on_any_path(server, chain):
    patient = PatientFactory(home_facility=chain.post)
    korean = FacilityFactory(country="KR", region="Seoul", time_zone="Asia/Seoul")
    token = issue_token(make_user(Role.CONSULTANT, korean), "user/*.read")
    for _ in range(3):
        answer = server.get(
            "/fhir/Patient", token, query=f"identifier={SNILS_SYSTEM}|{patient.snils}"
        )
        assert answer.by_django and answer.status == 200
        assert answer.json()["total"] == 0
        assert patient.family.encode() not in answer.body


def test_a_system_clients_reads_and_searches_take_the_hot_path(server, chain):
    """A laboratory's or a regional system's client (a service account of role `system`)."""
    from farcare.fhir.oauth.clients import system_client_create

    made = system_client_create(name="Regional MIS", scopes="system/*.read")
    token = issue_token(made.client.account, "system/*.read")
    AccessToken.objects.filter(user=made.client.account).update(client=made.client)
    patient = PatientFactory(home_facility=chain.other_region_post)
    path = f"/fhir/Patient/{patient.uuid}"
    warmed(server, path, token)
    read = server.get(path, token)
    assert read.status == 200 and not read.by_django
    by_django, hot = searched_twice(server, token, f"identifier={SNILS_SYSTEM}|{patient.snils}")
    assert by_django.by_django and not hot.by_django
    assert hot.body == by_django.body and hot.json()["total"] == 1


def test_searches_of_one_shape_share_one_compiled_statement_and_answer_as_django_does(
    server, chain, reader
):
    """The page's SQL is compiled once per shape of the conditions, each search's own texts
    put where the stand-ins came out — escaped for LIKE where a pattern took them. Texts with
    LIKE's own characters, quotes, ё, alternatives, dates, ids: every answer is Django's."""
    from farcare.fhir.hot import searches

    _feldsher, token = reader
    names = ["О'Нил", "Ли_Ан", "Сто%", "Back\\slash", "Ёлкин", "Лиан", "Стол"]
    made = [PatientFactory(home_facility=chain.post, family=name) for name in names]
    female = PatientFactory(home_facility=chain.post, family="Женская", sex="female")
    queries = [
        "family=О'Нил", "family=ли_ан", "family=сто%25", "family=back%5Cslash", "family=елкин",
        "family=Лиан", "family=сто", "family=Ли_Ан,Сто%25", "family:exact=Стол",
        "family:contains=_", f"given={made[0].given}", f"birthdate={female.birth_date}",
        "gender=female&family=Жен", f"identifier={made[1].snils}", f"_id={made[2].uuid}",
        f"identifier={SNILS_SYSTEM}|{made[3].snils},{SNILS_SYSTEM}|{made[4].snils}",
    ]  # fmt: skip
    for query in queries:
        by_django, hot = searched_twice(server, token, query)
        assert by_django.by_django and not hot.by_django, query
        assert hot.status == 200 and hot.body == by_django.body, query
    # ... and the family searches above shared their statement: one shape, one entry.
    shapes = searches._SHAPES._compiled
    before = len(shapes)
    for family in ("Нет-такой", "Ещё_одна%", "Ли"):
        hot = server.get("/fhir/Patient", token, query=f"family={family}")
        assert not hot.by_django
    assert len(shapes) == before
    found = server.get("/fhir/Patient", token, query="family=ли_")
    assert [e["resource"]["id"] for e in found.json()["entry"]] == [str(made[1].uuid)]
