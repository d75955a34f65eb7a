"""HL7 v2 ingest: ORU^R01 messages with 10 OBX each (a basic metabolic panel) through the real
MLLP listener into stored reports, and the time from a critical result to the orderer's
notification.

How it measures:

* A fresh temporary directory holds the files; the database is a new SQLite file there, or,
  when FARCARE_DATABASE_URL names PostgreSQL (``postgres://…``), a temporary database created
  on that server (``harness.postgres_databases``) and dropped afterwards. Migrated; no demo
  network: a small chain of care is made (a post, its district hospital, the regional hub
  whose laboratory sends as MSH-4 ``CITYLAB``, set up with ``interface_add`` as
  ``farcare hl7 interface add`` does), ``--patients`` patients with valid SNILS at the post,
  and the post's feldsher who orders.
* Baseline, in the same run: parse-only, ``farcare.hl7.oru.parse_oru`` of the same messages in
  this process (no socket, no database): the ceiling the listener's other work is measured
  against.
* Ingest: the listener (``farcare.hl7.listener.listening``, as ``farcare hl7 listen`` runs it)
  on a free loopback port in a thread of this process; ``--messages`` distinct messages (own
  control id and filler number, patients in turn) sent one after another over one persistent
  MLLP connection, each waiting for its ACK (how an analyser sends); then the same number over
  ``--connections`` connections at once. Every answer must be AA. Messages/s is messages over
  wall time; per-message latency median and p95.
* Critical: the feldsher orders a basic metabolic panel for the hub's laboratory
  (``order_place``), the laboratory sends its result with potassium 6.9 mmol/L (critical above
  6.2); timed from the first byte sent to (a) the AA and (b) the orderer's notification row
  being visible to another connection (polled every millisecond). ``--critical`` times, median
  and worst.

Run from the project root::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/hl7_ingest.py
    FARCARE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/x \\
        DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/hl7_ingest.py

Nothing is asserted about time. Exit status 0 when every figure was measured, 1 otherwise."""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from harness import load, median, p95, postgres_databases, ratio, setup_django

BMP = [
    ("2951-2", "Sodium", "139", "mmol/L", "136-145", "N"),
    ("2823-3", "Potassium", "4.4", "mmol/L", "3.5-5.1", "N"),
    ("2075-0", "Chloride", "101", "mmol/L", "98-107", "N"),
    ("2028-9", "Carbon dioxide", "25", "mmol/L", "22-29", "N"),
    ("3094-0", "Urea nitrogen", "5.1", "mmol/L", "2.5-7.1", "N"),
    ("2160-0", "Creatinine", "88", "umol/L", "62-106", "N"),
    ("2345-7", "Glucose", "5.4", "mmol/L", "3.9-6.1", "N"),
    ("17861-6", "Calcium", "2.31", "mmol/L", "2.15-2.55", "N"),
    ("33037-3", "Anion gap", "13", "mmol/L", "8-16", "N"),
    ("62238-1", "eGFR (CKD-EPI)", "84", "mL/min/{1.73_m2}", ">60", "N"),
]


def oru(control_id: str, snils: str, *, placer: str = "", potassium: str = "4.4") -> str:
    segments = [
        f"MSH|^~\\&|ALISA|CITYLAB|FARCARE|HUB|20261206093000+1200||ORU^R01^ORU_R01|{control_id}"
        "|P|2.5.1",
        f"PID|1||{snils}^^^SNILS^PT||Иванов^Иван^Иванович||19700101|M",
        f"ORC|RE|{placer}|F-{control_id}",
        f"OBR|1|{placer}|F-{control_id}|51990-0^Basic metabolic panel^LN|||20261206080000+1200"
        "|||||||||||||||20261206092500+1200|||F",
    ]
    for number, (code, text, value, unit, ref, flag) in enumerate(BMP, start=1):
        if code == "2823-3":
            value, flag = potassium, "HH" if float(potassium) > 6.2 else flag
        segments.append(
            f"OBX|{number}|NM|{code}^{text}^LN||{value}|{unit}^^UCUM|{ref}|{flag}|||F"
            "|||20261206080000+1200"
        )
    return "\r".join(segments)


class Client:
    """One MLLP connection, one message at a time."""

    def __init__(self, host: str, port: int) -> None:
        self.sock = socket.create_connection((host, port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def send(self, message: str) -> str:
        self.sock.sendall(b"\x0b" + message.encode() + b"\x1c\x0d")
        received = b""
        while not received.endswith(b"\x1c\x0d"):
            chunk = self.sock.recv(65536)
            if not chunk:
                raise ConnectionError("closed without an answer")
            received += chunk
        return received.strip(b"\x0b\x1c\r").decode()

    def close(self) -> None:
        self.sock.close()


def ack_code(answer: str) -> str:
    for segment in answer.split("\r"):
        if segment.startswith("MSA|"):
            return segment.split("|")[1]
    return ""


def setup_world(patients: int) -> dict[str, Any]:
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from farcare.accounts.models import Role
    from farcare.audit.services import Accessor
    from farcare.diagnostics.models import Capability, Category
    from farcare.hl7.interfaces import interface_add
    from farcare.network.models import FacilityKind
    from tests.factories import FacilityFactory, PatientFactory, UserFactory, link

    hub = FacilityFactory(kind=FacilityKind.REGIONAL_HUB, name_en="Anadyr regional hospital")
    district = FacilityFactory(kind=FacilityKind.DISTRICT_HOSPITAL)
    post = FacilityFactory(kind=FacilityKind.FELDSHER_POST)
    link(post, district)
    link(district, hub)
    Capability.objects.create(facility=hub, category=Category.LABORATORY)
    interface_add(accessor=Accessor(None, None, "cli"), facility=hub, sending_facility="CITYLAB")
    people = [PatientFactory(home_facility=post) for _ in range(patients)]
    feldsher = UserFactory(role=Role.CLINICIAN, facility=post, language="en")
    return {"hub": hub, "patients": people, "feldsher": feldsher}


def parse_rate(messages: list[str]) -> float:
    from farcare.hl7.oru import parse_oru

    parse_oru(messages[0])
    started = time.perf_counter()
    for message in messages:
        parse_oru(message)
    return len(messages) / (time.perf_counter() - started)


def sequential(host: str, port: int, messages: list[str]) -> tuple[float, list[float]]:
    client = Client(host, port)
    latencies = []
    try:
        started = time.perf_counter()
        for message in messages:
            sent = time.perf_counter()
            answer = client.send(message)
            latencies.append((time.perf_counter() - sent) * 1000)
            if ack_code(answer) != "AA":
                raise RuntimeError(f"not accepted: {answer!r}")
        return len(messages) / (time.perf_counter() - started), latencies
    finally:
        client.close()


def concurrent(host: str, port: int, messages: list[str], connections: int) -> float:
    shares = [messages[index::connections] for index in range(connections)]
    failures: list[str] = []

    def run(share: list[str]) -> None:
        try:
            sequential(host, port, share)
        except Exception as error:
            failures.append(repr(error))

    threads = [threading.Thread(target=run, args=(share,)) for share in shares]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    if failures:
        raise RuntimeError(failures[0])
    return len(messages) / elapsed


def watch_notifications(
    recipient: Any, before: int, started: float, seen: list[float], stop: threading.Event
) -> None:
    """On a connection of its own: when the recipient's new notification becomes visible."""
    from django.db import connections

    from farcare.notifications.models import Notification

    try:
        while not stop.is_set():
            if Notification.objects.filter(recipient=recipient).count() > before:
                seen.append(time.perf_counter() - started)
                return
            time.sleep(0.001)
    finally:
        connections.close_all()


def critical_times(
    host: str, port: int, world: dict[str, Any], rounds: int
) -> tuple[list[float], list[float]]:
    from farcare.audit.services import Accessor
    from farcare.diagnostics.services.ordering import order_place
    from farcare.notifications.models import Notification

    feldsher = world["feldsher"]
    to_ack, to_row = [], []
    for round_number in range(rounds):
        patient = world["patients"][round_number % len(world["patients"])]
        order = order_place(
            accessor=Accessor(feldsher),
            patient=patient,
            category="laboratory",
            codes=["51990-0"],
            reason="Weakness on diuretics",
            priority="urgent",
            client_token=uuid.uuid4(),
            performer=world["hub"],
        )
        before = Notification.objects.filter(recipient=feldsher).count()
        message = oru(
            f"CRIT-{round_number}", patient.snils, placer=order.placer_number, potassium="6.9"
        )
        seen: list[float] = []
        stop = threading.Event()
        client = Client(host, port)
        started = time.perf_counter()
        watcher = threading.Thread(
            target=watch_notifications, args=(feldsher, before, started, seen, stop)
        )
        watcher.start()
        answer = client.send(message)
        acked = time.perf_counter() - started
        watcher.join(10)
        stop.set()
        client.close()
        if ack_code(answer) != "AA" or not seen:
            raise RuntimeError(f"critical result not notified: {answer!r}")
        to_ack.append(acked * 1000)
        to_row.append(seen[0] * 1000)
    return to_ack, to_row


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("FARCARE_DATABASE_URL", "")
    if configured.startswith("postgres"):
        with postgres_databases(["hl7"]) as databases:
            yield databases.url(databases.names[0])
    else:
        yield f"sqlite:///{workdir / 'hl7.sqlite3'}"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=300)
    parser.add_argument("--connections", type=int, default=4)
    parser.add_argument("--patients", type=int, default=50)
    parser.add_argument("--critical", type=int, default=5)
    args = parser.parse_args()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="hl7-bench-")))
        url = stack.enter_context(database(workdir))
        setup_django(workdir, url, demo=False)
        from django.conf import settings
        from django.db import connection

        settings.FARCARE_HL7_LANGUAGE = "en"
        world = setup_world(args.patients)
        snils = [patient.snils for patient in world["patients"]]

        def batch(prefix: str) -> list[str]:
            return [oru(f"{prefix}-{n}", snils[n % len(snils)]) for n in range(args.messages)]

        from farcare.hl7.listener import listening

        print(f"HL7 ingest, ORU^R01 with 10 OBX, on {connection.vendor}; {load()}")
        baseline = parse_rate(batch("P"))
        with listening("127.0.0.1", 0) as running:
            one_rate, latencies = sequential(running.host, running.port, batch("S"))
            many_rate = concurrent(running.host, running.port, batch("C"), args.connections)
            to_ack, to_row = critical_times(running.host, running.port, world, args.critical)
        from farcare.diagnostics.models import DiagnosticReport, ResultObservation

        reports = DiagnosticReport.objects.count()
        values = ResultObservation.objects.count()
        print(f"  parse only (baseline)          {baseline:8.1f} messages/s")
        print(
            f"  listener, 1 connection         {one_rate:8.1f} messages/s"
            f"  ({ratio(one_rate, baseline)} of parse-only; latency median "
            f"{median(latencies):.1f} ms, p95 {p95(latencies):.1f} ms)"
        )
        print(
            f"  listener, {args.connections} connections        {many_rate:8.1f} messages/s"
            f"  ({ratio(many_rate, baseline)} of parse-only, "
            f"{ratio(many_rate, one_rate)} of one connection)"
        )
        print(f"  stored: {reports} reports, {values} values")
        print(
            f"  critical potassium → AA            median {statistics.median(to_ack):.1f} ms,"
            f" worst {max(to_ack):.1f} ms"
        )
        print(
            f"  critical potassium → notification  median {statistics.median(to_row):.1f} ms,"
            f" worst {max(to_row):.1f} ms ({args.critical} results)"
        )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a figure that could not be measured
        print(f"failed: {error!r}", file=sys.stderr)
        sys.exit(1)
