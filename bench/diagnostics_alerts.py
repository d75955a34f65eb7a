"""From a result received to the clinician who ordered it: the time from a laboratory result
arriving (ORU^R01 through the real MLLP listener, or a FHIR DiagnosticReport POST) to the
orderer's notification row and to the SMS delivery attempt reaching an SMS gateway.

How it measures:

* A fresh temporary directory holds the files; the database is a new SQLite file there, or,
  when FARCARE_DATABASE_URL names PostgreSQL (``postgres://…``), a temporary database created
  on that server (``harness.postgres_databases``) and dropped afterwards. Migrated; no demo
  network: the small chain of ``hl7_ingest.setup_world`` (a post, its district hospital, the
  regional hub whose laboratory sends as MSH-4 ``CITYLAB``), the post's feldsher who orders,
  with SMS chosen in his notification preferences (a phone, no e-mail), and a laboratory
  account at the hub that posts FHIR with a bearer token.
* The SMS gateway is a stand-in on loopback: an HTTP server in a thread of this process (the
  shape of tests/notifications' gateway) that answers 200 and notes when each request came.
  FARCARE_SMS_GATEWAY_URL points at it; the task backend is the settings' (ImmediateBackend in
  farcare.settings.test: the outbox's first attempt runs right after the result's commit).
* Each round: the feldsher orders a basic metabolic panel for the hub's laboratory
  (``order_place``); the laboratory sends its result, either normal (potassium 4.4) or critical
  (potassium 6.9 mmol/L, above 6.2). Timed from the first byte sent (HL7) or the POST's start
  (FHIR, Django's test client in this process) to (a) the answer (AA / 201), (b) the
  orderer's new notification row being visible to another connection (polled every
  millisecond), (c) the SMS request arriving at the gateway.
* Baseline, in the same run: a normal result's store time (to its AA / 201), the work every
  result costs whatever it says. ``--rounds`` rounds of each kind; median and worst.

Run from the project root::

    DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/diagnostics_alerts.py
    FARCARE_DATABASE_URL=postgres://postgres@127.0.0.1:5432/x \\
        DJANGO_SETTINGS_MODULE=farcare.settings.test .venv/bin/python bench/diagnostics_alerts.py

Nothing is asserted about time. Exit status 0 when every figure was measured, 1 otherwise."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from harness import load, postgres_databases, setup_django
from hl7_ingest import Client, ack_code, oru, setup_world

PHONE = "+79140000000"


# --- the SMS gateway stand-in ------------------------------------------------------------------


@dataclass
class Gateway:
    url: str = ""
    arrivals: list[tuple[float, dict[str, Any]]] = field(default_factory=list)
    arrived: threading.Condition = field(default_factory=threading.Condition)

    def first_after(self, started: float, timeout: float = 10) -> float | None:
        """Seconds from `started` to the first SMS that arrived after it."""
        deadline = time.perf_counter() + timeout
        with self.arrived:
            while True:
                later = [at for at, _body in self.arrivals if at >= started]
                if later:
                    return min(later) - started
                left = deadline - time.perf_counter()
                if left <= 0:
                    return None
                self.arrived.wait(left)


class GatewayHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        at = time.perf_counter()
        gateway: Gateway = self.server.gateway  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        answer = b'{"accepted": true}'
        self.send_response(200)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)
        with gateway.arrived:
            gateway.arrivals.append((at, json.loads(body)))
            gateway.arrived.notify_all()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def sms_gateway() -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatewayHandler)
    state = Gateway(url=f"http://127.0.0.1:{server.server_address[1]}/sms")
    server.gateway = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


# --- one round ---------------------------------------------------------------------------------


@dataclass
class Timings:
    answer: list[float] = field(default_factory=list)
    row: list[float] = field(default_factory=list)
    sms: list[float] = field(default_factory=list)


def watch_row(recipient: Any, before: int, started: float, seen: list[float]) -> None:
    """On a connection of its own: when the recipient's new notification becomes visible."""
    from django.db import connections

    from farcare.notifications.models import Notification

    deadline = time.perf_counter() + 10
    try:
        while time.perf_counter() < deadline:
            if Notification.objects.filter(recipient=recipient).count() > before:
                seen.append(time.perf_counter() - started)
                return
            time.sleep(0.001)
    finally:
        connections.close_all()


def place(world: dict[str, Any], patient: Any) -> Any:
    from farcare.audit.services import Accessor
    from farcare.diagnostics.services.ordering import order_place

    return order_place(
        accessor=Accessor(world["feldsher"]),
        patient=patient,
        category="laboratory",
        codes=["51990-0"],
        reason="Weakness on diuretics",
        priority="urgent",
        client_token=uuid.uuid4(),
        performer=world["hub"],
    )


def timed(world: dict[str, Any], gateway: Gateway, send: Callable[[], bool], into: Timings) -> None:
    """`send` delivers the result and says whether it was accepted."""
    from farcare.notifications.models import Notification

    feldsher = world["feldsher"]
    before = Notification.objects.filter(recipient=feldsher).count()
    seen: list[float] = []
    started = time.perf_counter()
    watcher = threading.Thread(target=watch_row, args=(feldsher, before, started, seen))
    watcher.start()
    accepted = send()
    answered = time.perf_counter() - started
    watcher.join(10)
    sms = gateway.first_after(started)
    if not accepted or not seen or sms is None:
        raise RuntimeError(f"accepted={accepted} row={bool(seen)} sms={sms is not None}")
    into.answer.append(answered * 1000)
    into.row.append(seen[0] * 1000)
    into.sms.append(sms * 1000)


def hl7_round(
    host: str, port: int, world: dict[str, Any], gateway: Gateway, n: int, potassium: str
) -> Callable[[Timings], None]:
    patient = world["patients"][n % len(world["patients"])]
    order = place(world, patient)
    message = oru(f"ALERT-{potassium}-{n}", patient.snils, placer=order.placer_number,
                  potassium=potassium)  # fmt: skip

    def run(into: Timings) -> None:
        client = Client(host, port)
        try:
            timed(world, gateway, lambda: ack_code(client.send(message)) == "AA", into)
        finally:
            client.close()

    return run


PANEL = (
    ("2345-7", 5.4, "mmol/L"),
    ("2160-0", 88, "umol/L"),
    ("2951-2", 139, "mmol/L"),
    ("2823-3", 4.4, "mmol/L"),
    ("2075-0", 101, "mmol/L"),
    ("2028-9", 25, "mmol/L"),
)


def fhir_report(order: Any, patient: Any, potassium: float, identifier: str) -> dict[str, Any]:
    from farcare.fhir import systems

    category = "http://terminology.hl7.org/CodeSystem/observation-category"
    contained = []
    for index, (code, value, unit) in enumerate(PANEL):
        contained.append(
            {
                "resourceType": "Observation",
                "id": f"v{index}",
                "status": "final",
                "category": [{"coding": [{"system": category, "code": "laboratory"}]}],
                "code": {"coding": [{"system": systems.LOINC, "code": code}]},
                "effectiveDateTime": "2026-12-06T08:00:00+12:00",
                "valueQuantity": {
                    "value": potassium if code == "2823-3" else value,
                    "unit": unit,
                    "system": systems.UCUM,
                    "code": unit,
                },
            }
        )
    return {
        "resourceType": "DiagnosticReport",
        "identifier": [{"system": "urn:oid:1.2.643.5.1.13.3.25.87.9", "value": identifier}],
        "basedOn": [{"reference": f"ServiceRequest/{order.uuid}"}],
        "status": "final",
        "code": {"coding": [{"system": systems.LOINC, "code": "51990-0"}]},
        "subject": {"reference": f"Patient/{patient.uuid}"},
        "effectiveDateTime": "2026-12-06T08:00:00+12:00",
        "issued": "2026-12-06T09:30:00+12:00",
        "contained": contained,
        "result": [{"reference": f"#v{index}"} for index in range(len(PANEL))],
    }


def fhir_round(
    world: dict[str, Any], gateway: Gateway, n: int, potassium: float
) -> Callable[[Timings], None]:
    from django.test import Client as HttpClient

    patient = world["patients"][n % len(world["patients"])]
    order = place(world, patient)
    body = json.dumps(fhir_report(order, patient, potassium, f"FHIR-{potassium}-{n}"))
    http = HttpClient()
    headers = {
        "Authorization": f"Bearer {world['token']}",
        "Accept": "application/fhir+json",
    }

    def post() -> bool:
        response = http.post(
            "/fhir/DiagnosticReport", body, content_type="application/fhir+json", headers=headers
        )
        return response.status_code == 201

    return lambda into: timed(world, gateway, post, into)


# --- the world ---------------------------------------------------------------------------------


def prepare(world: dict[str, Any]) -> None:
    """The feldsher wants SMS (no e-mail); the hub's laboratory posts FHIR with a token."""
    import secrets
    from datetime import timedelta

    from django.utils import timezone

    from farcare.accounts.models import Role
    from farcare.core.bearer import token_digest
    from farcare.fhir.models import AccessToken
    from farcare.notifications.services import preference_for
    from tests.factories import UserFactory

    feldsher = world["feldsher"]
    feldsher.email = ""
    feldsher.save(update_fields=["email"])
    preference = preference_for(feldsher)
    preference.sms_enabled, preference.phone = True, PHONE
    preference.save()
    laboratory = UserFactory(role=Role.LABORATORY, facility=world["hub"], language="en")
    token = secrets.token_urlsafe(24)
    AccessToken.objects.create(
        token_hash=token_digest(token),
        user=laboratory,
        scopes="user/*.read user/*.write",
        expires_at=timezone.now() + timedelta(hours=2),
    )
    world["token"] = token


@contextmanager
def database(workdir: Path) -> Iterator[str]:
    configured = os.environ.get("FARCARE_DATABASE_URL", "")
    if configured.startswith("postgres"):
        with postgres_databases(["alerts"]) as databases:
            yield databases.url(databases.names[0])
    else:
        yield f"sqlite:///{workdir / 'alerts.sqlite3'}"


def line(label: str, values: list[float], baseline: float | None = None) -> str:
    med, worst = statistics.median(values), max(values)
    text = f"  {label:<48} median {med:7.1f} ms, worst {worst:7.1f} ms"
    if baseline:
        text += f"  ({med / baseline:.1f}× the baseline)"
    return text


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--patients", type=int, default=10)
    args = parser.parse_args()
    with ExitStack() as stack:
        workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        url = stack.enter_context(database(workdir))
        setup_django(workdir, url, demo=False, test_client=True)
        from django.conf import settings
        from django.db import connection

        gateway = stack.enter_context(sms_gateway())
        settings.FARCARE_HL7_LANGUAGE = "en"
        settings.FARCARE_SMS_GATEWAY_URL = gateway.url
        settings.FARCARE_SMS_GATEWAY_TOKEN = "bench"  # noqa: S105 - the stand-in's own
        settings.FARCARE_SMS_TIMEOUT_SECONDS = 5
        world = setup_world(args.patients)
        prepare(world)

        from farcare.hl7.listener import listening

        print(
            f"Result → orderer's notification and SMS, on {connection.vendor} "
            f"(tasks: {settings.TASKS['default']['BACKEND'].rsplit('.', 1)[-1]}); {load()}"
        )
        figures: dict[tuple[str, str], Timings] = {}
        with listening("127.0.0.1", 0) as running:
            for n in range(args.rounds):
                for kind, potassium in (("normal", "4.4"), ("critical", "6.9")):
                    hl7_round(running.host, running.port, world, gateway, n, potassium)(
                        figures.setdefault(("HL7", kind), Timings())
                    )
        for n in range(args.rounds):
            for kind, value in (("normal", 4.4), ("critical", 6.9)):
                fhir_round(world, gateway, n, value)(figures.setdefault(("FHIR", kind), Timings()))

        from farcare.diagnostics.models import CriticalAlert

        alerts = CriticalAlert.objects.count()
        for way in ("HL7", "FHIR"):
            normal, critical = figures[(way, "normal")], figures[(way, "critical")]
            base = statistics.median(normal.answer)
            answer = "AA" if way == "HL7" else "201"
            print(f" {way} ({args.rounds} results of each kind)")
            print(line(f"normal result stored, → {answer} (baseline)", normal.answer))
            print(line("normal result → orderer's notification row", normal.row, base))
            print(line("normal result → SMS at the gateway", normal.sms, base))
            print(line(f"critical potassium → {answer}", critical.answer, base))
            print(line("critical potassium → orderer's notification row", critical.row, base))
            print(line("critical potassium → SMS at the gateway", critical.sms, base))
        print(f"  critical alerts raised: {alerts}; SMS received: {len(gateway.arrivals)}")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except Exception as error:  # a figure that could not be measured
        print(f"failed: {error!r}", file=sys.stderr)
        sys.exit(1)
