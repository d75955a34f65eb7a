"""FarCare as production runs it (tests/deploy/conftest.py): two gunicorn workers both serve, a
clinician logs in and works, an uploaded file lands in the S3 bucket and comes back, a change
made through one worker reaches a live worklist held open on the other (through Redis), static
files come compressed and cached for good, and the long-running workers do their passes and stop
cleanly when systemd stops them."""

from __future__ import annotations

import base64
import hashlib
import http.client
import io
import json
import random
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import psutil
import psycopg
import pytest
import requests
from tusclient.client import TusClient
from websockets.sync.client import ClientConnection, connect

from farcare.testing.production import FORWARDED

from .conftest import Browser, Deployment, static_files

pytestmark = pytest.mark.long(90)

MB = 1024 * 1024


def worker_holding(deployment: Deployment, client_port: int) -> int | None:
    """The gunicorn worker whose end of a loopback connection is at `client_port`'s peer."""
    for pid in deployment.server.worker_pids:
        for connection in psutil.Process(pid).net_connections(kind="tcp"):
            if (
                connection.status == psutil.CONN_ESTABLISHED
                and connection.laddr.port == deployment.server.port
                and connection.raddr
                and connection.raddr.port == client_port
            ):
                return pid
    return None


def test_both_workers_serve(deployment: Deployment):
    """Connections kept open (as nginx keeps its upstream ones) are spread over both workers,
    and each worker answers on the ones it holds."""
    workers = deployment.server.worker_pids
    assert len(workers) == 2
    held: dict[int, list[http.client.HTTPConnection]] = {pid: [] for pid in workers}
    opened: list[http.client.HTTPConnection] = []
    try:
        for _ in range(60):
            connection = http.client.HTTPConnection("127.0.0.1", deployment.server.port, timeout=30)
            connection.request("GET", "/accounts/login/", headers=FORWARDED)
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            opened.append(connection)
            pid = worker_holding(deployment, connection.sock.getsockname()[1])
            assert pid in held
            held[pid].append(connection)
            if all(held.values()):
                break
        assert all(held.values()), {pid: len(c) for pid, c in held.items()}
        # ... and a second request on each connection is answered by the same worker.
        for connection in opened:
            connection.request("GET", "/health", headers=FORWARDED)
            response = connection.getresponse()
            assert response.status == 200
            assert json.loads(response.read()) == {"status": "ok"}
    finally:
        for connection in opened:
            connection.close()


def test_a_clinician_logs_in_and_opens_pages(browser: Browser):
    assert browser.get_page("/").status_code == 302  # to the login page
    browser.log_in("feldsher")
    for path in ("/", "/consultations/", "/patients/", "/accounts/preferences/"):
        response = browser.get_page(path)
        assert response.status_code == 200, (path, response.status_code)
    # The production security headers are there.
    response = browser.get_page("/consultations/")
    assert response.headers["Strict-Transport-Security"].startswith("max-age=31536000")
    assert "Secure" in response.raw.headers.get("Set-Cookie", "Secure")


def test_without_https_the_site_redirects(deployment: Deployment):
    response = requests.get(f"{deployment.url}/accounts/login/", allow_redirects=False, timeout=30)
    assert response.status_code == 301
    assert response.headers["Location"].startswith("https://")


def test_an_uploaded_file_lands_in_the_bucket_and_comes_back(deployment: Deployment):
    consultation, consultant = deployment.open_case()
    before = deployment.bucket_keys()
    data = b"%PDF-1.4\n" + random.Random(19).randbytes(3 * MB)
    token = deployment.server.user_token("feldsher")
    client = TusClient(
        f"{deployment.url}/uploads/", headers={**FORWARDED, "Authorization": f"Bearer {token}"}
    )
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=MB,
        metadata={
            "purpose": "consult-attachment",
            "consultation": consultation,
            "filename": "echo.pdf",
        },
        upload_checksum=True,
    )
    # The server names the upload by its public (https) address, as nginx serves it; here the
    # test talks to the workers directly, so the same path over the loopback's plain HTTP.
    uploader.set_url(uploader.create_url().replace("https://", "http://", 1))
    uploader.upload()
    result = uploader.request.response_headers["farcare-upload-result"]

    added = deployment.bucket_keys() - before
    stored = [
        key
        for key in added
        if hashlib.sha256(
            deployment.s3.get_object(Bucket=deployment.bucket, Key=key)["Body"].read()
        ).digest()
        == hashlib.sha256(data).digest()
    ]
    assert stored, f"no object in the bucket holds the file; new keys: {sorted(added)}"

    reader = deployment.server.user_token(consultant, "user/*.read")
    response = requests.get(
        f"{deployment.url}/fhir/Binary/{result}",
        headers={
            **FORWARDED,
            "Authorization": f"Bearer {reader}",
            "Accept": "application/fhir+json",
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text[:2000]
    assert base64.b64decode(response.json()["data"]) == data


@contextmanager
def worklists_on_both_workers(
    deployment: Deployment, browser: Browser
) -> Iterator[list[ClientConnection]]:
    """The consultant's live worklist open in several tabs, until both workers hold one."""
    url = deployment.url.replace("http://", "ws://") + "/ws/worklist/"
    with ExitStack() as stack:
        sockets: list[ClientConnection] = []
        holders: set[int | None] = set()
        for _ in range(40):
            socket = stack.enter_context(
                connect(
                    url,
                    origin="https://127.0.0.1",  # type: ignore[arg-type]
                    additional_headers={**FORWARDED, "Cookie": browser.session_cookie},
                    open_timeout=30,
                )
            )
            sockets.append(socket)
            holders.add(worker_holding(deployment, socket.socket.getsockname()[1]))
            if holders >= set(deployment.server.worker_pids):
                break
        assert holders >= set(deployment.server.worker_pids), holders
        yield sockets


def test_a_change_through_one_worker_reaches_worklists_on_the_other(
    deployment: Deployment, browser: Browser
):
    consultation, consultant = deployment.open_case()
    browser.log_in(consultant)
    feldsher = Browser(deployment.url)
    feldsher.log_in("feldsher")
    with worklists_on_both_workers(deployment, browser) as tabs:
        # The requester writes on the case: one worker saves it and tells the channel layer.
        response = feldsher.post_form(
            f"/consultations/{consultation}/message/",
            {"body": "The ECG is attached; pain since this morning."},
            form_page=f"/consultations/{consultation}/",
        )
        assert response.status_code == 302, response.text[:2000]
        # Every tab hears of it, whichever worker holds it.
        for tab in tabs:
            assert json.loads(tab.recv(timeout=30)) == {"changed": consultation}


def test_static_files_come_compressed_and_cached_for_good(deployment: Deployment):
    root = Path(deployment.server.env["FARCARE_STATIC_ROOT"])
    files = static_files(root)
    stylesheet = next(hashed for plain, hashed in files.items() if plain.endswith(".css"))
    for encoding in ("gzip", "br"):
        response = requests.get(
            f"{deployment.url}/static/{stylesheet}",
            headers={**FORWARDED, "Accept-Encoding": encoding},
            timeout=30,
        )
        assert response.status_code == 200
        assert response.headers["Content-Encoding"] == encoding
        assert "immutable" in response.headers["Cache-Control"]
        assert "max-age=315360000" in response.headers["Cache-Control"]
        assert response.text == (root / stylesheet).read_text()  # decoded by requests


WORKERS = [
    ("consults", "watch", "--loop", "30"),
    ("notifications", "deliver", "--loop", "30"),
    ("uploads", "expire", "--loop", "3600"),
]


def database_sessions(database_url: str) -> dict[str, str]:
    """application_name → state of this database's sessions of FarCare's processes."""
    with psycopg.connect(database_url) as connection:
        rows = connection.execute(
            "SELECT application_name, state FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name LIKE 'farcare%'"
        ).fetchall()
    return {name: state for name, state in rows}


def test_the_workers_do_their_passes_and_stop_on_sigterm(deployment: Deployment):
    server = deployment.server
    started = {f"farcare-{args[0]}-{args[1]}": server.worker(*args) for args in WORKERS}
    try:
        # A pass done: the worker's own connection is there and idle between passes (sleeping
        # until the next), not inside a transaction.
        deadline = time.monotonic() + 60
        while True:
            sessions = database_sessions(server.database_url)
            if all(sessions.get(name) == "idle" for name in started):
                break
            for name, process in started.items():
                assert process.poll() is None, (name, process.communicate())
            assert time.monotonic() < deadline, sessions
            time.sleep(0.5)
    finally:
        for process in started.values():
            process.send_signal(signal.SIGTERM)
    outputs = {}
    for name, process in started.items():
        try:
            outputs[name], err = process.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            pytest.fail(f"{name} did not stop within 15 s of SIGTERM")
        # Ended by the signal (what systemd counts as a clean stop) or exited 0; never a trace.
        assert process.returncode in (0, -signal.SIGTERM), (name, process.returncode, err)
        assert "Traceback" not in err, (name, err)
    # The one worker that reports every pass said so.
    assert "expired uploads removed" in outputs["farcare-uploads-expire"]
    sessions = database_sessions(server.database_url)
    assert not set(started) & set(sessions), sessions


def test_fhir_reads_and_searches_are_answered_on_the_hot_path_in_the_event_loop(
    deployment: Deployment,
):
    """A FHIR client reading a patient again and again on one kept-alive connection, then
    finding them by SNILS: the first of each go through Django (which stores the version and
    compiles the reader's query and scope), the next through the worker's hot path, on its own
    connections (farcare/fhir/hot/), with the same answer; every one is audited."""
    server = deployment.server
    token = server.user_token("feldsher", "user/*.read")
    patient, snils = server.python(
        "from farcare.accounts.models import User\n"
        "from farcare.patients.models import Patient\n"
        "post = User.objects.get(username='feldsher').facility\n"
        "found = Patient.objects.filter(home_facility=post).exclude(snils='').order_by('pk')[0]\n"
        "print(found.uuid, found.snils)"
    ).split()
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    answers: dict[str, list[tuple[int, object]]] = {"read": [], "search": []}
    paths = {
        "read": f"/fhir/Patient/{patient}",
        "search": f"/fhir/Patient?identifier=urn:oid:1.2.643.100.3%7C{snils}",
    }
    try:
        for kind, path in paths.items():
            for _ in range(6):
                connection.request(
                    "GET", path, headers={**FORWARDED, "Authorization": f"Bearer {token}"}
                )
                response = connection.getresponse()
                answers[kind].append((response.status, json.loads(response.read())))
    finally:
        connection.close()
    for kind, got in answers.items():
        assert {status for status, _body in got} == {200}, kind
        assert all(body == got[0][1] for _status, body in got), kind
    assert answers["read"][0][1]["id"] == patient
    assert [e["resource"]["id"] for e in answers["search"][0][1]["entry"]] == [patient]
    assert any(name.endswith("-fhir-hot") for name in database_sessions(server.database_url))
    audited = server.python(
        "from farcare.audit.models import AuditEvent\n"
        f"print(AuditEvent.objects.filter(patient_uuid='{patient}', action='view',"
        " channel='fhir', actor_username='feldsher').count(),"
        f" AuditEvent.objects.filter(patient_links__patient_uuid='{patient}', action='search',"
        " channel='fhir', actor_username='feldsher').count())"
    )
    assert audited == "6 6"


def test_fhir_creates_at_once_are_all_kept(deployment: Deployment):
    """Eight clients register patients at the same moment: the workers run them on their API
    threads (farcare/core/api_threads.py), each on its own pooled connection; every one is
    created (201), found by its SNILS, and audited once."""
    from concurrent.futures import ThreadPoolExecutor

    from farcare.patients.identifiers import snils_check_number

    server = deployment.server
    token = server.user_token("feldsher", "user/*.read user/*.write")
    organisation = server.python(
        "from farcare.accounts.models import User\n"
        "print(User.objects.get(username='feldsher').facility.organisation.uuid)"
    )
    base = random.randint(100_000, 800_000) * 100

    def snils(n: int) -> str:
        nine = f"{base + n:09d}"
        return f"{nine}{snils_check_number(nine):02d}"

    def create(n: int) -> tuple[int, str]:
        body = {
            "resourceType": "Patient",
            "identifier": [{"system": "urn:oid:1.2.643.100.3", "value": snils(n)}],
            "name": [{"family": "Параллельная", "given": [f"Номер{n}"]}],
            "gender": "female",
            "birthDate": "1980-01-01",
            "managingOrganization": {"reference": f"Organization/{organisation}"},
        }
        response = requests.post(
            f"{deployment.url}/fhir/Patient", json=body, timeout=60,
            headers={**FORWARDED, "Authorization": f"Bearer {token}",
                     "Content-Type": "application/fhir+json"},
        )  # fmt: skip
        return response.status_code, response.json().get("id", "")

    with ThreadPoolExecutor(8) as pool:
        made = list(pool.map(create, range(16)))
    assert [status for status, _id in made] == [201] * 16, made
    counted = server.python(
        "from farcare.audit.models import AuditEvent\n"
        "from farcare.patients.models import Patient\n"
        "made = Patient.objects.filter(family='Параллельная')\n"
        "print(made.count(), AuditEvent.objects.filter(action='create',"
        " patient_uuid__in=made.values('uuid')).count())"
    )
    assert counted == "16 16"
