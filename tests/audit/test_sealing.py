"""Writing an audit record is one INSERT with no lock; the sequencer (`seal`, the worker
`farcare audit seal --loop`) links the appended records into the same hash chain as before, and
anything that reads the chain in order seals what is waiting first."""

from __future__ import annotations

import io
import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import DatabaseError, connection, transaction
from django.test.utils import CaptureQueriesContext

from farcare.audit.anchor import checkpoint_files
from farcare.audit.chain import GENESIS_HASH, link_hash
from farcare.audit.models import AuditChainHead, AuditEvent, AuditEventPatient
from farcare.audit.selectors import access_log, audit_events
from farcare.audit.services import (
    Accessor,
    audit_checkpoint,
    audit_record,
    audit_verify,
    seal,
)

from .test_chain import database_env

on_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL's row locks and trigger"
)
CLI = Accessor(None, "127.0.0.1", "cli")


def append(n: int, **kwargs: object) -> list[AuditEvent]:
    return [
        audit_record(accessor=CLI, action="view", details={"i": i}, **kwargs)  # type: ignore[arg-type]
        for i in range(n)
    ]


def unsealed() -> int:
    return AuditEvent.objects.filter(seq__isnull=True).count()


def in_threads(count: int, work: Callable[[int], object]) -> list[object]:
    """`work(i)` in `count` threads at once, each on its own database connection."""
    results: list[object] = [None] * count
    errors: list[BaseException] = []
    start = threading.Barrier(count)

    def run(i: int) -> None:
        try:
            start.wait()
            results[i] = work(i)
        except BaseException as error:  # the test fails with it below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return results


@contextmanager
def head_held_by_another_sealer() -> Iterator[None]:
    """Another connection holds the chain head, as a sealer at work does."""
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                AuditChainHead.objects.select_for_update().get(pk=1)
                locked.set()
                release.wait()
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    assert locked.wait(60)
    try:
        yield
    finally:
        release.set()
        holder.join()


# --- appending ---------------------------------------------------------------------------


def test_writing_a_record_costs_one_insert_and_no_lock(db):
    append(1)  # the first record of the test is not special either
    with CaptureQueriesContext(connection) as queries:
        event = audit_record(accessor=CLI, action="view", patient_uuid=uuid.uuid4())
    assert [q["sql"].split(" ")[:3] for q in queries] == [["INSERT", "INTO", '"audit_auditevent"']]
    assert (event.seq, event.prev_hash, event.hash) == (None, "", "")


def test_a_search_that_shows_patients_costs_two_inserts(db):
    shown = [uuid.uuid4() for _ in range(3)]
    with CaptureQueriesContext(connection) as queries:
        event = audit_record(accessor=CLI, action="search", patients=shown)
    assert [q["sql"].split(" ")[2] for q in queries] == [
        '"audit_auditevent"',
        '"audit_auditeventpatient"',
    ]
    assert AuditEventPatient.objects.filter(event=event).count() == 3


def test_outside_a_transaction_a_record_is_still_one_statement(transactional_db):
    with CaptureQueriesContext(connection) as queries:
        audit_record(accessor=CLI, action="view")
    assert len(queries) == 1
    with CaptureQueriesContext(connection) as queries:
        audit_record(accessor=CLI, action="search", patients=[uuid.uuid4()])
    # The record and its links commit together: two INSERTs between BEGIN and COMMIT.
    assert [q["sql"].split(" ")[0] for q in queries if q["sql"].startswith("INSERT")] == [
        "INSERT",
        "INSERT",
    ]
    assert not [q for q in queries if "auditchainhead" in q["sql"]]


# --- sealing -----------------------------------------------------------------------------


def test_a_sealed_record_carries_the_hash_it_would_have_had_if_chained_when_written(db):
    first, second = append(2)
    assert seal() == 2
    stored = {e.pk: e for e in AuditEvent.objects.all()}
    expected_prev = GENESIS_HASH
    for number, event in enumerate([first, second], start=1):
        # The record as the writer held it in memory, linked where the sequencer put it.
        fields = {f.name: getattr(event, f.name) for f in AuditEvent._meta.concrete_fields}
        fields.update(seq=number, prev_hash=expected_prev)
        assert stored[event.pk].seq == number
        assert stored[event.pk].prev_hash == expected_prev
        assert stored[event.pk].hash == link_hash(fields)
        expected_prev = stored[event.pk].hash
    head = AuditChainHead.objects.get(pk=1)
    assert (head.seq, head.hash) == (2, expected_prev)
    assert seal() == 0


def test_sealing_goes_in_batches_and_stops_at_the_limit(db, monkeypatch):
    monkeypatch.setattr("farcare.audit.services.SEAL_BATCH", 3)
    append(8)
    assert seal(limit=5) == 5
    assert unsealed() == 3
    assert seal() == 3
    assert list(AuditEvent.objects.order_by("id").values_list("seq", flat=True)) == list(
        range(1, 9)
    )
    assert audit_verify() is None


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite before 3.33")
def test_an_older_sqlite_without_update_from_seals_the_same_chain(db, monkeypatch):
    append(3)
    seal()
    monkeypatch.setattr("farcare.audit.services.sqlite3.sqlite_version_info", (3, 31, 1))
    append(3)
    assert seal() == 3
    assert audit_verify() is None


def test_the_chain_verifies_after_interleaved_appends_from_several_connections(
    transactional_db,
):
    def write_and_sometimes_seal(worker: int) -> int:
        sealed = 0
        for i in range(30):
            audit_record(accessor=CLI, action="view", details={"worker": worker, "i": i})
            if worker == 0 and i % 7 == 0:
                sealed += seal()  # a sealer at work while the others append
        return sealed

    in_threads(4, write_and_sometimes_seal)
    seal()
    assert unsealed() == 0
    assert AuditEvent.objects.count() == 120
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 121))
    assert audit_verify() is None


def test_concurrent_sealers_never_seal_a_record_twice(transactional_db, monkeypatch):
    monkeypatch.setattr("farcare.audit.services.SEAL_BATCH", 25)
    append(300)
    counts = in_threads(4, lambda _i: sum(seal() for _ in range(5)))
    left = seal(wait=True)
    assert sum(counts) + left == 300  # type: ignore[arg-type]  # each record counted once
    assert unsealed() == 0
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 301))
    assert AuditChainHead.objects.get(pk=1).seq == 300
    assert audit_verify() is None


@on_postgresql
def test_a_second_sealer_steps_aside_instead_of_queueing(transactional_db):
    append(3)
    seal()  # the head exists from now on
    append(2)
    with head_held_by_another_sealer():
        assert seal() == 0  # at once: SKIP LOCKED, not a wait on the lock
        assert unsealed() == 2
    assert seal() == 2


# --- the database refuses anything but sealing (PostgreSQL) ------------------------------


def refused(sql: str, params: tuple = ()) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(sql, params)
    except DatabaseError as error:
        assert "append-only" in str(error)
        return True
    return False


@on_postgresql
def test_postgresql_allows_sealing_and_nothing_else(db):
    [sealed_one] = append(1, patients=[uuid.uuid4()])
    seal()
    [waiting] = append(1)
    assert refused("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ("f" * 64, sealed_one.pk))
    assert refused(
        "UPDATE audit_auditevent SET seq = NULL, prev_hash = '', hash = '' WHERE id = %s",
        (sealed_one.pk,),
    )
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", (sealed_one.pk,))
    assert refused("DELETE FROM audit_auditevent WHERE id = %s", (waiting.pk,))
    # Sealing an unsealed record while changing anything else is not sealing.
    assert refused(
        "UPDATE audit_auditevent SET seq = 99, prev_hash = %s, hash = %s, "
        "details = '{\"i\": 42}' WHERE id = %s",
        (GENESIS_HASH, "e" * 64, waiting.pk),
    )
    assert refused("UPDATE audit_auditevent SET details = '{}' WHERE id = %s", (waiting.pk,))
    assert refused("UPDATE audit_auditeventpatient SET patient_uuid = %s", (str(uuid.uuid4()),))
    assert refused("DELETE FROM audit_auditeventpatient")
    assert not refused(
        "UPDATE audit_auditevent SET seq = 99, prev_hash = %s, hash = %s WHERE id = %s",
        (GENESIS_HASH, "e" * 64, waiting.pk),
    )
    assert refused("UPDATE audit_auditevent SET hash = %s WHERE id = %s", ("d" * 64, waiting.pk))


# --- whatever reads the chain in order seals first ---------------------------------------


def test_verify_seals_and_checks_what_was_appended(db):
    append(3)
    assert audit_verify() is None
    assert unsealed() == 0
    out = io.StringIO()
    call_command("audit", "verify", stdout=out, stderr=io.StringIO())
    assert "3 records" in out.getvalue()


def test_a_checkpoint_vouches_for_records_appended_since_the_last_seal(db, settings, tmp_path):
    settings.FARCARE_AUDIT_ANCHOR_DIR = tmp_path / "checkpoints"
    settings.FARCARE_AUDIT_ANCHOR_KEY = tmp_path / "signing.pem"
    settings.FARCARE_AUDIT_ANCHOR_PUBLIC_KEY = tmp_path / "verify.pem"
    append(4)
    path = audit_checkpoint()
    assert path is not None and path.name == "checkpoint-000000000004.json"


def test_checkpoints_every_n_are_written_when_the_sealing_commits(
    db, settings, tmp_path, django_capture_on_commit_callbacks
):
    settings.FARCARE_AUDIT_ANCHOR_DIR = tmp_path / "checkpoints"
    settings.FARCARE_AUDIT_ANCHOR_KEY = tmp_path / "signing.pem"
    settings.FARCARE_AUDIT_ANCHOR_PUBLIC_KEY = tmp_path / "verify.pem"
    settings.FARCARE_AUDIT_CHECKPOINT_EVERY = 3
    append(7)
    assert checkpoint_files() == []  # appending alone vouches for nothing yet
    with django_capture_on_commit_callbacks(execute=True):
        seal()
    assert [p.name for p in checkpoint_files()] == [
        "checkpoint-000000000003.json",
        "checkpoint-000000000006.json",
    ]


def test_who_looked_at_my_record_lists_records_not_sealed_yet(db):
    patient = uuid.uuid4()
    [opened] = append(1, patient_uuid=patient)
    searched = audit_record(accessor=CLI, action="search", patients=[patient])
    listed = list(access_log(patient))
    assert [e.pk for e in listed] == [searched.pk, opened.pk]  # newest first
    assert all(e.seq is not None for e in listed)  # sealed before being read
    assert [e.pk for e in audit_events(patient=str(patient))] == [searched.pk, opened.pk]


@on_postgresql
def test_records_are_listed_newest_first_even_while_a_sealer_holds_the_chain(transactional_db):
    patient = uuid.uuid4()
    [older] = append(1, patient_uuid=patient)
    seal()
    [newer] = append(1, patient_uuid=patient)
    with head_held_by_another_sealer():
        listed = list(access_log(patient))
    assert [(e.pk, e.seq) for e in listed] == [(newer.pk, None), (older.pk, 1)]


def test_the_fhir_audit_event_carries_its_place_in_the_chain(db):
    from farcare.fhir.resources.audit_event import AuditEventHandler

    [event] = append(1)
    resource = AuditEventHandler().to_fhir(event)
    [chain] = resource["extension"]
    values = {part["url"]: part["valueString"] for part in chain["extension"]}
    stored = AuditEvent.objects.get(pk=event.pk)
    assert values == {"seq": str(stored.seq), "hash": stored.hash, "prevHash": stored.prev_hash}
    assert stored.seq == 1


# --- the worker --------------------------------------------------------------------------


def test_the_worker_logs_a_failed_pass_goes_on_and_stops_on_sigterm(transactional_db, monkeypatch):
    passes: list[str] = []

    def flaky_seal() -> int:
        passes.append("pass")
        if len(passes) == 1:
            raise DatabaseError("the database went away")
        if len(passes) == 3:
            os.kill(os.getpid(), signal.SIGTERM)  # systemctl stop, during a pass
        return seal()

    monkeypatch.setattr("farcare.audit.management.commands.audit.seal", flaky_seal)
    append(2)
    out, err = io.StringIO(), io.StringIO()
    call_command("audit", "seal", "--loop", "0.01", stdout=out, stderr=err)
    assert len(passes) == 3  # the pass under way finished, no new one began
    assert "Sealing failed" in err.getvalue()
    assert "Sealed 2 records." in out.getvalue()
    assert out.getvalue().endswith("Stopped.\n")
    assert unsealed() == 0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    """Waits for another process; the deadline only keeps a broken run from hanging."""
    deadline = time.monotonic() + 90
    while not condition():
        assert time.monotonic() < deadline, f"never happened: {what}"
        time.sleep(0.2)


def test_the_seal_worker_seals_as_records_come_and_stops_cleanly_on_sigterm(
    transactional_db, tmp_path: Path
):
    append(5)
    env = {**database_env(), "FARCARE_AUDIT_ANCHOR_DIR": str(tmp_path / "checkpoints")}
    worker = subprocess.Popen(
        [sys.executable, "-m", "farcare.cli", "audit", "seal", "--loop", "0.2"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        wait_until(lambda: unsealed() == 0, "the first records sealed")
        append(3)
        wait_until(lambda: unsealed() == 0, "the records appended later sealed")
    finally:
        worker.send_signal(signal.SIGTERM)
        stdout, stderr = worker.communicate(timeout=60)
    assert worker.returncode == 0, stderr
    assert stdout.rstrip().endswith("Stopped.")
    assert sorted(AuditEvent.objects.values_list("seq", flat=True)) == list(range(1, 9))
    assert audit_verify() is None
