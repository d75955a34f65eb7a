"""Bytes on disk per row and per clinical event: the measured basis of docs/scale.md.

Run from the project root (a few minutes; keep the machine otherwise quiet)::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/data_volume.py --postgres

``--postgres`` runs on a temporary database created on ``postgres://postgres@127.0.0.1:5432``
(``farcare_bench_<random>_dv``) and dropped afterwards; without it, on a SQLite file in a
temporary directory (sizes from SQLite's ``dbstat``). docs/scale.md quotes the PostgreSQL run.

How it measures:

* Migrate, load the demo network with its year of past consultations (``load_demo()``; the
  history is written in bulk and has no audit trail, see farcare/demo/analytics.py).
* Events, each made ``count`` times through the real services (never bulk SQL), one kind after
  the other; around each kind every table's rows are counted, so that the rows one event leaves
  behind are known table by table (audit records, patient links, resource versions included),
  and the SQL statements each event ran are counted:

  - consultation: a feldsher submits an urgent request with seven vital signs, adds a photo over
    the resumable-upload service, the consultant accepts, asks a question, the feldsher answers,
    the consultant signs the conclusion (PDF kept), the feldsher acknowledges it;
  - laboratory: an order of a blood count, its tube collected, shipped and received, five
    results arriving from the laboratory system (HL7 path);
  - home reading: a blood pressure reading of an enrolled patient;
  - X-ray study: a small chest X-ray (DICOM) stored in FarCare's storage, previews made;
  - page reads: the feldsher opens a case's page; the cardiologist opens the queue
    (test client, logged in);
  - FHIR create / FHIR read / FHIR search: Patient created, read by id, searched by family name
    with a bearer token, through the whole Django stack (test client);
  - station push: a station pushes a request (consult.submit) through the sync service;
    station pull: a station's pull with an hour of changes for its patients (every patient sent
    is audited); idle pull: a pull with nothing new, as a station makes every 30 s.

* Then the audit chain is sealed where the audit service has a sealer, every table is vacuumed
  (PostgreSQL: ``VACUUM FULL ANALYZE``, so the sizes are free of the dead rows the sample left)
  and each table's bytes are read: ``pg_total_relation_size`` (heap + indexes + TOAST), its
  parts, and ``count(*)``. Bytes per row = total / rows. For a table of a few hundred rows that
  figure is mostly empty pages (every index has at least two 8 KB pages), so a second figure is
  computed from the rows themselves: average tuple width + 28 bytes of tuple header and line
  pointer, plus for each index 8 + key width + 4 bytes. The per-event footprint uses the first
  where the table has at least 1,000 rows, the second below.
* Compression trials on the two largest families (resource versions, audit): a copy of the
  table with ``toast_tuple_target = 128`` and lz4, and each row's JSON through zlib.
* Files: the sizes of the files the sample left in the media root (the conclusions' PDF, photo
  previews, the X-ray) and of the synthetic samples of farcare/imaging/samples.py at realistic
  sizes (a 12 MP phone photo and its preview at the settings' FARCARE_PREVIEW_* values, a chest
  X-ray 2,048 x 2,500, one 512 x 512 CT slice).

Nothing is asserted about time. Exit status 0 when every event ran, 1 otherwise.
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from harness import SqlTimer, load, postgres_databases, setup_django, sqlite_databases

# A table with fewer rows than this is measured from its rows' widths (see the docstring).
PAGE_ROUNDED_BELOW = 1_000
SNILS_BASE = 700_000_000  # patients created here: far from the demo's and other benches' ranges
URGENT_VITALS = {
    "respiratory_rate": "22",
    "spo2": "94",
    "on_oxygen": "no",
    "systolic_bp": "104",
    "heart_rate": "112",
    "consciousness": "A",
    "temperature": "38.4",
}


# --------------------------------------------------------------------------------------------
# Tables: rows and bytes
# --------------------------------------------------------------------------------------------


@dataclass
class TableSize:
    name: str
    rows: int
    total: int  # bytes: heap + indexes + TOAST (PostgreSQL) / table + its indexes (SQLite)
    heap: int
    indexes: int
    toast: int
    width: float  # bytes per row estimated from the rows' own widths (see the docstring)

    @property
    def per_row(self) -> float:
        return self.total / self.rows if self.rows else math.nan

    @property
    def footprint(self) -> float:
        """The figure an event's rows are charged at."""
        if self.rows >= PAGE_ROUNDED_BELOW or math.isnan(self.width):
            return self.per_row
        return self.width


def table_names() -> list[str]:
    from django.db import connection

    with connection.cursor() as cursor:
        return sorted(
            t for t in connection.introspection.table_names(cursor) if not t.startswith("sqlite_")
        )


def quoted(name: str) -> str:
    from django.db import connection

    return connection.ops.quote_name(name)


def row_counts() -> dict[str, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        counts = {}
        for name in table_names():
            cursor.execute(f"SELECT count(*) FROM {quoted(name)}")  # noqa: S608 - catalogue names
            counts[name] = cursor.fetchone()[0]
        return counts


def compact() -> None:
    """Rid the tables of the dead rows the sample left (updates, the audit seal), so that the
    sizes are those of the live rows; then refresh the planner's statistics (tuple widths)."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM FULL ANALYZE")
        else:
            cursor.execute("VACUUM")


def sizes() -> dict[str, TableSize]:
    from django.db import connection

    counts = row_counts()
    if connection.vendor == "postgresql":
        return {name: _pg_size(name, counts[name]) for name in counts}
    return _sqlite_sizes(counts)


def _pg_size(name: str, rows: int) -> TableSize:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_total_relation_size(c.oid), pg_relation_size(c.oid), "
            "pg_indexes_size(c.oid), coalesce(pg_total_relation_size(c.reltoastrelid), 0) "
            "FROM pg_class c WHERE c.oid = %s::regclass",
            [quoted(name)],
        )
        total, heap, indexes, toast = cursor.fetchone()
        return TableSize(name, rows, total, heap, indexes, toast, _pg_width(name, rows))


def _pg_width(name: str, rows: int) -> float:
    """Bytes a row takes when pages are full: its tuple (average width as stored, plus 24 bytes
    of header and 4 of line pointer) and one entry per index (8 bytes of index tuple header,
    the key's average width, 4 bytes of line pointer)."""
    from django.db import connection

    if not rows:
        return math.nan
    table = quoted(name)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT avg(pg_column_size(t.*)) FROM {table} t")  # noqa: S608
        tuple_width = float(cursor.fetchone()[0]) + 28
        cursor.execute(
            "SELECT array_agg(a.attname ORDER BY k.n) FROM pg_index i "
            "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, n) "
            "LEFT JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
            "WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid",
            [table],
        )
        index_width = 0.0
        for (columns,) in cursor.fetchall():
            named = [c for c in columns if c]
            key = 16.0  # an expression index: a guess of a small key
            if named:
                widths = " + ".join(f"coalesce(pg_column_size({quoted(c)}), 0)" for c in named)
                cursor.execute(f"SELECT avg({widths}) FROM {table}")  # noqa: S608
                key = float(cursor.fetchone()[0] or 0)
            index_width += 8 + 8 * math.ceil(key / 8) + 4  # keys are MAXALIGNed
        return tuple_width + index_width


def _sqlite_sizes(counts: dict[str, int]) -> dict[str, TableSize]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT m.tbl_name, m.type, sum(s.pgsize) FROM dbstat s "
            "JOIN sqlite_master m ON m.name = s.name GROUP BY m.tbl_name, m.type"
        )
        found: dict[str, dict[str, int]] = {}
        for table, kind, size in cursor.fetchall():
            found.setdefault(table, {})[kind] = size
    result = {}
    for name, rows in counts.items():
        parts = found.get(name, {})
        heap, indexes = parts.get("table", 0), parts.get("index", 0)
        result[name] = TableSize(name, rows, heap + indexes, heap, indexes, 0, math.nan)
    return result


FAMILIES = (
    ("audit", ("audit_",)),
    ("resource versions", ("fhir_resourceversion", "fhir_storedremainder")),
    ("consultations", ("consults_", "signatures_")),
    (
        "clinical",
        ("clinical_", "diagnostics_", "monitoring_", "imaging_", "patients_", "evacuation_"),
    ),
    ("sync", ("sync_",)),
    ("uploads", ("uploads_",)),
    ("notifications", ("notifications_",)),
)


def family(table: str) -> str:
    for name, prefixes in FAMILIES:
        if table.startswith(prefixes):
            return name
    return "other"


# --------------------------------------------------------------------------------------------
# Events, made through the services
# --------------------------------------------------------------------------------------------


@dataclass
class Event:
    name: str
    count: int
    make: Callable[[int], None]
    rows: dict[str, float] = field(default_factory=dict)  # rows per event, by table
    files: dict[str, float] = field(default_factory=dict)  # bytes of files per event, by kind
    seconds: float = 0.0
    statements: float = 0.0  # SQL statements per event
    error: str = ""


def snils(serial: int) -> str:
    from farcare.patients.identifiers import snils_check_number

    first_nine = f"{SNILS_BASE + serial * 7:09d}"
    return f"{first_nine}{snils_check_number(first_nine):02d}"


def seal_audit() -> None:
    """Link the appended audit records into the chain where the audit service works that way
    (append-then-seal, issue 19), so that their hashes are in the sizes."""
    from farcare.audit import services

    sealer = getattr(services, "seal", None)
    if callable(sealer):
        sealer(wait=True)


def media_files(root: Path) -> dict[Path, int]:
    if not root.exists():
        return {}
    return {p: p.stat().st_size for p in root.rglob("*") if p.is_file()}


MAGIC = (
    (b"%PDF", 0, "PDF"),
    (b"WEBP", 8, "WebP"),
    (b"\xff\xd8\xff", 0, "JPEG"),
    (b"DICM", 128, "DICOM"),
)


def file_kind(path: Path) -> str:
    """What a stored file is, by its first bytes (attachments are stored without a suffix)."""
    with path.open("rb") as file:
        head = file.read(132)
    for magic, offset, name in MAGIC:
        if head[offset : offset + len(magic)] == magic:
            return name
    return path.suffix.lower() or "other"


class Sample:
    """The demo's people and the handles the events need."""

    def __init__(self) -> None:
        from django.test import Client
        from django.utils import timezone

        from farcare.accounts.models import User
        from farcare.audit.services import Accessor
        from farcare.consults.models import Consultation
        from farcare.fhir.auth import token_digest
        from farcare.fhir.models import AccessToken
        from farcare.monitoring.models import Enrolment
        from farcare.network.models import Specialty
        from farcare.patients.models import Patient
        from farcare.sync.models import Station

        self.feldsher = User.objects.select_related("facility__organisation").get(
            username="feldsher"
        )
        assert self.feldsher.facility is not None
        self.as_feldsher = Accessor(self.feldsher, "10.0.0.1", "page")
        self.patients = list(
            Patient.objects.filter(home_facility=self.feldsher.facility).order_by("pk")
        )
        self.specialty = Specialty.objects.get(code="cardiology")
        self.organisation = str(self.feldsher.facility.organisation.uuid)
        self.station = Station.objects.create(
            name="Uelen laptop",
            facility=self.feldsher.facility,
            token_hash=token_digest(uuid.uuid4().hex),
            enrolled_by=self.feldsher,
        )
        self.enrolments = list(
            Enrolment.objects.filter(status="active")
            .select_related("patient", "responsible_feldsher")
            .order_by("pk")
        )
        token = uuid.uuid4().hex
        AccessToken.objects.create(
            token_hash=token_digest(token),
            user=self.feldsher,
            scopes="user/*.read user/*.write",
            expires_at=timezone.now() + timedelta(days=1),
        )
        self.fhir = Client(
            HTTP_AUTHORIZATION=f"Bearer {token}", HTTP_ACCEPT="application/fhir+json"
        )
        self.created: list[str] = []
        self.pages: Any = None  # a logged-in page client, made by the first page read
        self.cases: list[str] = []
        self.consultant_pages: Any = None
        self.consultation_model = Consultation
        self.rng = random.Random(19)

    def patient(self, n: int) -> Any:
        return self.patients[n % len(self.patients)]


def consultation(sample: Sample, n: int) -> None:
    from farcare.audit.services import Accessor
    from farcare.consults import services
    from farcare.imaging.samples import photo_jpeg
    from farcare.uploads.services import upload_append, upload_create

    request = services.consult_submit(
        accessor=sample.as_feldsher,
        patient=sample.patient(n),
        client_token=uuid.uuid4(),
        data=services.RequestData(
            specialty=sample.specialty,
            form="urgent",
            question="Chest pain since the morning, worse on exertion. ECG changes? Evacuate?",
            summary="62 years old, hypertension for ten years, on amlodipine; smoker.",
            vitals=_typed_vitals(),
        ),
    )
    photo = photo_jpeg(1600, 1200, seed=n, quality=85)
    upload = upload_create(
        accessor=sample.as_feldsher,
        purpose="consult-attachment",
        metadata={
            "consultation": str(request.uuid),
            "filename": f"photo-{n}.jpg",
            "filetype": "image/jpeg",
        },
        length=len(photo),
    )
    upload_append(accessor=sample.as_feldsher, upload=upload, offset=0, data=photo)
    assignment = request.assignments.filter(ended_at__isnull=True).first()
    assert assignment is not None, "the request found no consultant"
    team = Accessor(assignment.consultant, "10.0.0.2", "page")
    request = services.consult_accept(accessor=team, consultation=request)
    services.message_post(
        accessor=team,
        consultation=request,
        body="Is the pain relieved by nitroglycerin? Send the ECG if you can.",
        ask_requester=True,
    )
    request.refresh_from_db()
    services.message_post(
        accessor=sample.as_feldsher,
        consultation=request,
        body="Partly, after 5 minutes. No ECG machine at the post today.",
    )
    request.refresh_from_db()
    services.conclusion_sign(
        accessor=team,
        consultation=request,
        data=services.ConclusionData(
            findings="Typical angina at rest, tachycardia, low-grade fever; no ECG.",
            diagnoses=["I20.0"],
            recommendations="Aspirin 250 mg chewed; nitroglycerin; evacuate to Anadyr.",
            evacuation="urgent_air",
            evacuation_destination=_anadyr(),
        ),
    )
    request.refresh_from_db()
    services.consult_acknowledge(
        accessor=sample.as_feldsher, consultation=request, action="evacuated", helped="yes"
    )


def _typed_vitals() -> dict[str, Any]:
    """The vitals as the request form's cleaning leaves them (what RequestData carries)."""
    from farcare.clinical.vitals import parse_vitals

    values, errors = parse_vitals(URGENT_VITALS, "en")
    assert not errors, errors
    return values


def _anadyr() -> Any:
    from farcare.network.models import Facility, FacilityKind

    return Facility.objects.get(settlement__name_en="Anadyr", kind=FacilityKind.REGIONAL_HUB)


def laboratory(sample: Sample, n: int) -> None:
    from farcare.accounts.models import User
    from farcare.audit.services import Accessor
    from farcare.demo.diagnostics import LABORATORY_USER, LIS
    from farcare.diagnostics.inbound import LabReportIn, PatientRef, ResultIn
    from farcare.diagnostics.services.ordering import order_place
    from farcare.diagnostics.services.results import report_receive
    from farcare.diagnostics.services.specimens import (
        specimen_collect,
        specimen_receive,
        specimen_ship,
    )

    patient = sample.patient(n)
    order = order_place(
        accessor=sample.as_feldsher,
        patient=patient,
        category="laboratory",
        codes=["58410-2"],
        reason="Fatigue and pallor",
        priority="routine",
        client_token=uuid.uuid4(),
    )
    tubes = list(order.specimens.all())
    for tube in tubes:
        specimen_collect(accessor=sample.as_feldsher, specimen=tube)
    specimen_ship(
        accessor=sample.as_feldsher, specimens=tubes, batch=f"DV-{n}", transport="Mi-8 to Anadyr"
    )
    lab = Accessor(User.objects.get(username=LABORATORY_USER), None, "page")
    for tube in tubes:
        specimen_receive(accessor=lab, specimen=tube)
    values = [
        ("718-7", "124", "g/L"),
        ("6690-2", "6.4", "10*9/L"),
        ("777-3", "238", "10*9/L"),
        ("789-8", "4.1", "10*12/L"),
        ("4544-3", "38", "%"),
    ]
    report_receive(
        accessor=LIS,
        report=LabReportIn(
            patient=PatientRef(
                identifiers=(("SNILS", patient.snils),),
                family=patient.family,
                birth_date=patient.birth_date.isoformat(),
            ),
            code="58410-2",
            placer_number=order.placer_number,
            filler_number=f"DV-{order.pk:06d}",
            results=tuple(
                ResultIn(sequence=i, code=code, value=value, unit=unit)
                for i, (code, value, unit) in enumerate(values, start=1)
            ),
            source="hl7",
            external_id=f"DV-LIS-{order.placer_number}",
            sending_facility=str(order.performer.uuid) if order.performer else "",
        ),
    )


def home_reading(sample: Sample, n: int) -> None:
    from django.utils import timezone

    from farcare.audit.services import Accessor
    from farcare.monitoring.measures import Code
    from farcare.monitoring.models import ReadingSource
    from farcare.monitoring.services.readings import ReadingIn, reading_record

    enrolment = sample.enrolments[n % len(sample.enrolments)]
    feldsher = enrolment.responsible_feldsher
    reading_record(
        accessor=Accessor(feldsher, None, "page"),
        patient=enrolment.patient,
        readings=[
            ReadingIn(
                Code.BP_PANEL.value,
                Decimal(130 + n % 20),
                Decimal(80 + n % 10),
                taken_at=timezone.now() - timedelta(minutes=n + 1),
            )
        ],
        source=ReadingSource.CLINICIAN,
    )


def xray_study(sample: Sample, n: int) -> None:
    """A chest X-ray at a small size (the previews are made at once, which costs CPU); the
    bytes of a realistic one are in the files table."""
    from farcare.imaging.samples import xray_dicom
    from farcare.imaging.services import study_store

    assert sample.feldsher.facility is not None
    study_store(
        accessor=sample.as_feldsher,
        patient=sample.patient(n),
        files=[xray_dicom(seed=10_000 + n, patient_id=f"DV-{n}")],
        facility=sample.feldsher.facility,
    )


def page_read(sample: Sample, n: int) -> None:
    """The feldsher opens one of the post's cases: a page read, audited like every read."""
    if sample.pages is None:
        from django.test import Client

        sample.pages = Client()
        sample.pages.force_login(sample.feldsher)
        sample.cases = [
            str(u)
            for u in sample.consultation_model.objects.filter(
                requester=sample.feldsher
            ).values_list("uuid", flat=True)[:50]
        ]
    answer = sample.pages.get(f"/consultations/{sample.cases[n % len(sample.cases)]}/")
    if answer.status_code != 200:
        raise RuntimeError(f"the case page answered {answer.status_code}")


def worklist_read(sample: Sample, n: int) -> None:
    """The consultant's queue (GET /consultations/): a list of patients, audited as a search
    (one record, one link per patient shown)."""
    if sample.consultant_pages is None:
        from django.test import Client

        from farcare.accounts.models import User

        sample.consultant_pages = Client()
        sample.consultant_pages.force_login(User.objects.get(username="cardiologist"))
    answer = sample.consultant_pages.get("/consultations/")
    if answer.status_code != 200:
        raise RuntimeError(f"the worklist answered {answer.status_code}")


def fhir_create(sample: Sample, n: int) -> None:
    resource = {
        "resourceType": "Patient",
        "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": snils(n)}],
        "name": [{"family": "Кымылькут", "given": ["Анна", "Петровна"]}],
        "gender": "female",
        "birthDate": f"19{50 + n % 50:02d}-0{1 + n % 9}-1{n % 10}",
        "telecom": [{"system": "phone", "value": f"+7 914 {n % 1000:03d}-00-00"}],
        "managingOrganization": {"reference": f"Organization/{sample.organisation}"},
    }
    answer = sample.fhir.post("/fhir/Patient", resource, content_type="application/fhir+json")
    if answer.status_code != 201:
        raise RuntimeError(f"FHIR create answered {answer.status_code}: {answer.content[:300]!r}")
    sample.created.append(answer.json()["id"])


def fhir_read(sample: Sample, n: int) -> None:
    target = sample.created[n % len(sample.created)] if sample.created else sample.patient(n).uuid
    answer = sample.fhir.get(f"/fhir/Patient/{target}")
    if answer.status_code != 200:
        raise RuntimeError(f"FHIR read answered {answer.status_code}")


def fhir_search(sample: Sample, n: int) -> None:
    answer = sample.fhir.get("/fhir/Patient", {"family": sample.patient(n).family})
    if answer.status_code != 200:
        raise RuntimeError(f"FHIR search answered {answer.status_code}")


def station_push(sample: Sample, n: int) -> None:
    from farcare.sync import hub

    item = {
        "id": str(uuid.uuid4()),
        "kind": "consult.submit",
        "payload": {
            "actor": str(sample.feldsher.uuid),
            "patient": str(sample.patient(n).uuid),
            "specialty": sample.specialty.code,
            "form": "urgent",
            "question": "Cough for three weeks and fever; shadow on the chest X-ray?",
            "vitals": URGENT_VITALS,
            "client_token": str(uuid.uuid4()),
            "consultation": str(uuid.uuid4()),
        },
    }
    (result,) = hub.push(station=sample.station, items=[item], ip="10.0.0.3")
    if result["status"] != "applied":
        raise RuntimeError(f"push refused: {result}")


def station_pull(sample: Sample, n: int) -> None:
    """A pull whose window holds changes (the cursor an hour back): every patient sent is
    audited."""
    from django.utils import timezone

    from farcare.sync import hub

    since = (timezone.now() - timedelta(hours=1)).isoformat()
    hub.pull(station=sample.station, since=since, ip="10.0.0.3")


def idle_pull(sample: Sample, n: int) -> None:
    from django.utils import timezone

    from farcare.sync import hub

    hub.pull(station=sample.station, since=timezone.now().isoformat(), ip="10.0.0.3")


def events(scale: float) -> list[tuple[str, int, Callable[[Sample, int], None]]]:
    def times(n: int) -> int:
        return max(1, round(n * scale))

    return [
        # First: nothing has changed within the pull's 5 s overlap yet (farcare.sync.hub).
        ("station pull (idle)", times(100), idle_pull),
        ("consultation (full lifecycle)", times(40), consultation),
        ("laboratory order + 5 results", times(40), laboratory),
        ("home reading (BP)", times(100), home_reading),
        ("X-ray study stored (512x416)", times(10), xray_study),
        ("page read: a case opened", times(100), page_read),
        ("page read: consultant's worklist", times(50), worklist_read),
        ("FHIR create Patient", times(100), fhir_create),
        ("FHIR read Patient/<id>", times(200), fhir_read),
        ("FHIR search Patient?family", times(100), fhir_search),
        ("station push (1 request)", times(40), station_push),
        ("station pull (changes)", times(20), station_pull),
    ]


def run_events(sample: Sample, media: Path, scale: float) -> list[Event]:
    from django.db import connection

    done = []
    for name, count, make in events(scale):
        event = Event(name, count, lambda n, make=make: make(sample, n))
        seal_audit()
        before, files_before = row_counts(), media_files(media)
        timer = SqlTimer()
        started = time.perf_counter()
        try:
            with connection.execute_wrapper(timer):
                for n in range(count):
                    event.make(n)
        except Exception as error:  # reported; the other events still run
            event.error = f"{type(error).__name__}: {error}"[:300]
        event.seconds = time.perf_counter() - started
        event.statements = timer.count / count
        seal_audit()
        after = row_counts()
        event.rows = {
            t: (after[t] - before.get(t, 0)) / count for t in after if after[t] != before.get(t, 0)
        }
        for path, size in media_files(media).items():
            grown = size - files_before.get(path, 0)
            if grown:
                kind = file_kind(path)
                event.files[kind] = event.files.get(kind, 0.0) + grown / count
        done.append(event)
        print(
            f"  {name}: {count} in {event.seconds:.1f} s, {event.statements:.0f} SQL each"
            + (f"  ERROR {event.error}" if event.error else "")
        )
    return done


# --------------------------------------------------------------------------------------------
# Files at realistic sizes
# --------------------------------------------------------------------------------------------


def sample_files() -> list[tuple[str, int, str]]:
    """(what, bytes, how) for the files a case brings, at realistic sizes."""
    from django.conf import settings

    from farcare.imaging import samples
    from farcare.imaging.previews import make_preview

    found = []
    photo = samples.photo_jpeg(4000, 3000, seed=1)
    found.append(("phone photo 4000x3000 JPEG q90", len(photo), "imaging.samples.photo_jpeg"))
    preview = make_preview(photo, "image/jpeg")
    if preview is not None:
        found.append(
            (
                f"its preview ({settings.FARCARE_PREVIEW_FORMAT}, "
                f"{settings.FARCARE_PREVIEW_MAX_PX} px, q{settings.FARCARE_PREVIEW_QUALITY})",
                len(preview.content),
                "imaging.previews.make_preview",
            )
        )
    ecg = samples.ecg_dicom()
    found.append(("12-lead ECG, 10 s at 500 Hz (DICOM)", len(ecg), "imaging.samples.ecg_dicom"))
    xray = samples.xray_dicom(rows=2500, columns=2048)
    found.append(("chest X-ray 2048x2500 16-bit (DICOM)", len(xray), "imaging.samples.xray_dicom"))
    (ct_slice,) = samples.ct_series(slices=1, size=512)
    found.append(
        ("one CT slice 512x512 16-bit (DICOM)", len(ct_slice), "imaging.samples.ct_series")
    )
    return found


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------


def kb(value: float) -> str:
    return "-" if math.isnan(value) else f"{value / 1024:,.2f}"


def print_tables(measured: dict[str, TableSize], touched: set[str]) -> None:
    print("\nTables the events wrote to (after VACUUM FULL; bytes per row = total / rows)")
    print(
        f"{'table':<40} {'rows':>9} {'total KB':>10} {'heap KB':>9} {'index KB':>9} "
        f"{'toast KB':>9} {'B/row':>8} {'B/row est':>10}"
    )
    for name in sorted(touched, key=lambda t: -measured[t].total):
        size = measured[name]
        rounded = "*" if size.rows < PAGE_ROUNDED_BELOW else " "
        print(
            f"{name:<40} {size.rows:>9,} {size.total / 1024:>10,.0f} {size.heap / 1024:>9,.0f} "
            f"{size.indexes / 1024:>9,.0f} {size.toast / 1024:>9,.0f} "
            f"{size.per_row:>7,.0f}{rounded} {size.width:>10,.0f}"
        )
    print(
        f"  * fewer than {PAGE_ROUNDED_BELOW:,} rows: the total is mostly empty pages; the events "
        "are charged the estimate from row widths (B/row est)"
    )


def print_events(events_done: list[Event], measured: dict[str, TableSize]) -> None:
    print(
        "\nPer event: SQL statements, rows left behind and bytes on disk (indexes and TOAST "
        "included; audit and versions are parts of DB KB)"
    )
    print(
        f"{'event':<32} {'SQL':>5} {'rows':>7} {'DB KB':>8} {'audit':>7} {'versions':>9} "
        f"{'files KB':>9}  rows by table"
    )
    for event in events_done:
        total = sum(event.rows.values())
        by_family: dict[str, float] = {}
        for table, rows in event.rows.items():
            by_family[family(table)] = (
                by_family.get(family(table), 0.0) + rows * measured[table].footprint
            )
        bytes_total = sum(by_family.values())
        detail = ", ".join(
            f"{t} {r:g}"
            for t, r in sorted(event.rows.items(), key=lambda item: -item[1])
            if abs(r) >= 0.05
        )
        print(
            f"{event.name:<32} {event.statements:>5.0f} {total:>7.1f} {kb(bytes_total):>8} "
            f"{kb(by_family.get('audit', 0.0)):>7} "
            f"{kb(by_family.get('resource versions', 0.0)):>9} "
            f"{kb(sum(event.files.values())):>9}  {detail}"
        )
        if event.files:
            kinds = ", ".join(f"{k} {kb(v)} KB" for k, v in sorted(event.files.items()))
            print(f"{'':<38} files: {kinds}")
        if event.error:
            print(f"{'':<38} ERROR {event.error}")


def print_families(measured: dict[str, TableSize]) -> None:
    print("\nThe whole database by family (demo + sample)")
    totals: dict[str, list[int]] = {}
    for size in measured.values():
        entry = totals.setdefault(family(size.name), [0, 0])
        entry[0] += size.rows
        entry[1] += size.total
    for name, (rows, total) in sorted(totals.items(), key=lambda item: -item[1][1]):
        print(f"  {name:<20} {rows:>9,} rows {total / 1024 / 1024:>8.1f} MB")


COMPRESSIBLE = (("fhir_resourceversion", "content"), ("audit_auditevent", "details"))


def compression_trial() -> list[tuple[str, float, float, float]]:
    """PostgreSQL only: the JSON of the two largest families is mostly under the 2 KB at which
    PostgreSQL starts compressing a row, so it is stored as is. Two trials per table: a copy
    with ``toast_tuple_target = 128`` and lz4 on its JSON column (does the storage parameter make
    PostgreSQL compress short rows?), and each row's JSON compressed on its own with zlib (what
    compressing in the application would save). (table, bytes per row as stored, bytes per row
    in the copy, zlib's compressed ÷ plain length of the JSON)."""
    import zlib

    from django.db import connection

    if connection.vendor != "postgresql":
        return []
    found = []
    with connection.cursor() as cursor:
        for table, column in COMPRESSIBLE:
            copy = f"dv_trial_{table}"
            cursor.execute(
                f"CREATE TABLE {copy} (LIKE {table} INCLUDING DEFAULTS INCLUDING INDEXES) "
                "WITH (toast_tuple_target = 128)"
            )
            cursor.execute(f"ALTER TABLE {copy} ALTER COLUMN {column} SET COMPRESSION lz4")
            cursor.execute(f"INSERT INTO {copy} SELECT * FROM {table}")  # noqa: S608
            cursor.execute(f"VACUUM ANALYZE {copy}")
            counting = f"SELECT pg_total_relation_size(%s), pg_total_relation_size(%s), count(*) FROM {table}"  # noqa: S608, E501 - our own table names
            cursor.execute(counting, [table, copy])
            before, after, rows = cursor.fetchone()
            cursor.execute(f"DROP TABLE {copy}")
            cursor.execute(f"SELECT {column}::text FROM {table} ORDER BY id DESC LIMIT 2000")  # noqa: S608
            texts = [row[0].encode() for row in cursor.fetchall()]
            plain = sum(len(t) for t in texts)
            packed = sum(len(zlib.compress(t, 6)) for t in texts)
            if rows:
                found.append((table, before / rows, after / rows, packed / plain if plain else 1.0))
    return found


def print_compression(found: list[tuple[str, float, float, float]]) -> None:
    if not found:
        return
    print(
        "\nCompression trials: a copy with toast_tuple_target = 128 and lz4 on the JSON column;"
        " each row's JSON through zlib"
    )
    for table, before, after, ratio in found:
        print(
            f"  {table:<24} {before:>6,.0f} B/row as stored, {after:>6,.0f} in the copy; "
            f"zlib keeps {ratio:.0%} of the JSON"
        )


def print_files(found: list[tuple[str, int, str]]) -> None:
    print("\nFiles (synthetic samples at realistic sizes)")
    for what, size, how in found:
        print(f"  {what:<52} {size / 1024:>10,.0f} KB   ({how})")


# --------------------------------------------------------------------------------------------


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--postgres", action="store_true", help="a temporary PostgreSQL database")
    parser.add_argument(
        "--scale", type=float, default=1.0, help="multiply every event's count (0.25 to try)"
    )
    parser.add_argument(
        "--no-history", action="store_true", help="leave out the demo's year of past cases"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="farcare-volume-") as tmp:
        workdir = Path(tmp)
        if args.postgres:
            with postgres_databases(["dv"]) as databases:
                return run(workdir, databases.url(databases.names[0]), args, started)
        databases = sqlite_databases(workdir, ["dv"])
        return run(workdir, databases.url(databases.names[0]), args, started)


def run(workdir: Path, url: str, args: argparse.Namespace, started: float) -> int:
    setup_django(workdir, url, demo=False, test_client=True)
    from django.db import connection

    from farcare.demo.loader import load_demo

    print(f"FarCare data volume on {connection.vendor}; {load()}")
    load_demo(analytics=not args.no_history)
    print(f"demo loaded in {time.perf_counter() - started:.0f} s; events:")
    sample = Sample()
    done = run_events(sample, workdir / "media", args.scale)
    seal_audit()
    compact()
    measured = sizes()
    touched = {t for event in done for t, r in event.rows.items() if r > 0}
    print_tables(measured, touched)
    print_events(done, measured)
    print_families(measured)
    print_compression(compression_trial())
    print_files(sample_files())
    print(f"\nwall time {time.perf_counter() - started:.0f} s; {load()}")
    return 1 if any(event.error for event in done) else 0


if __name__ == "__main__":
    sys.exit(main())
