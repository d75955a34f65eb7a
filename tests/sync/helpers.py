"""Writes made at the station as a feldsher makes them, through the same services as its pages;
what the hub holds; `farcare station` started on a fresh laptop."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import requests
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.accounts.models import User
from farcare.audit.services import Accessor
from farcare.clinical.vitals import parse_vitals
from farcare.consults.models import Consultation
from farcare.consults.services import RequestData, consult_submit
from farcare.demo.loader import DEMO_PASSWORD
from farcare.network.models import Specialty
from farcare.patients.models import Patient
from farcare.patients.services import consent_record, patient_register
from farcare.testing.hub import HubProcess, free_port


def feldsher() -> Accessor:
    return Accessor(User.objects.get(username="feldsher"), "127.0.0.1", "page")


def register(family: str, given: str = "Анна", born: date = date(1984, 3, 2)) -> Patient:
    accessor = feldsher()
    facility = accessor.user.facility  # type: ignore[union-attr]
    assert facility is not None
    return patient_register(
        accessor=accessor,
        data={
            "family": family,
            "given": given,
            "middle": "",
            "sex": "female",
            "birth_date": born,
            "home_settlement": facility.settlement,
            "home_facility": facility,
            "snils": "",
            "oms_policy": "",
            "phone": "",
        },
        confirm_duplicate=True,
    )


def photo(width: int = 800, height: int = 600, seed: int = 0) -> SimpleUploadedFile:
    from farcare.imaging.samples import photo_jpeg

    return SimpleUploadedFile(
        f"photo-{seed}.jpg", photo_jpeg(width, height, seed=seed), "image/jpeg"
    )


def request(
    patient: Patient,
    *,
    form: str = "emergency",
    question: str = "Боль за грудиной 40 минут",
    files: list[Any] | None = None,
    specialty: str = "cardiology",
) -> Consultation:
    if form == "planned":
        consent_record(
            accessor=feldsher(), patient=patient, kind="teleconsultation", scope="consultations"
        )
    vitals, errors = parse_vitals({"respiratory_rate": "26", "heart_rate": "124"}, "en")
    assert not errors
    return consult_submit(
        accessor=feldsher(),
        patient=patient,
        client_token=uuid.uuid4(),
        data=RequestData(
            specialty=Specialty.objects.get(code=specialty),
            form=form,
            question=question,
            vitals=vitals,
            files=files or [],
        ),
    )


def hub_json(hub: HubProcess, code: str) -> Any:
    """Run `code` in the hub's Django; it assigns `result`, which comes back as JSON."""
    script = "import json\n" + code + "\nprint(json.dumps(result, default=str, ensure_ascii=False))"
    return json.loads(hub.python(script).splitlines()[-1])


def hub_consultation(hub: HubProcess, consultation_uuid: Any) -> dict[str, Any]:
    result = hub_json(
        hub,
        "from farcare.consults.models import Consultation\n"
        f"c = Consultation.objects.filter(uuid='{consultation_uuid}').first()\n"
        "result = None if c is None else {\n"
        "  'status': c.status, 'question': c.question, 'form': c.form,\n"
        "  'received_at': c.received_at, 'routed': bool(c.routed_facility_id),\n"
        "  'vitals': {v.key: v.value for v in c.vitals.all()},\n"
        "  'attachments': [{'uuid': str(a.uuid), 'name': a.original_name, 'sha256': a.sha256,\n"
        "     'preview': bool(a.preview), 'original': bool(a.file),\n"
        "     'original_sha256': __import__('hashlib').sha256(a.file.read()).hexdigest()\n"
        "        if a.file else None} for a in c.attachments.all()],\n"
        "}\n",
    )
    assert isinstance(result, dict | type(None))
    return result  # type: ignore[return-value]


def station_env(directory: Path) -> dict[str, str]:
    """A station's environment: its files and database in ``directory``, none of this test
    process's FARCARE_* settings, English, a short sync interval."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("FARCARE_")}
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "farcare.settings.dev",
            "FARCARE_VAR_DIR": str(directory),
            "FARCARE_DATABASE_URL": f"sqlite:///{directory / 'station.sqlite3'}",
            "FARCARE_LANGUAGE_CODE": "en",
            "FARCARE_STATION_SYNC_SECONDS": "2",
        }
    )
    return env


@contextmanager
def station_process(
    hub_url: str, env: dict[str, str]
) -> Iterator[tuple[subprocess.Popen[str], str]]:
    """`farcare station` as the post's laptop runs it: enrolled at ``hub_url`` by the Uelen
    feldsher (the password on stdin), serving on a free port. Yields the process and its
    address once /health answers; terminated on the way out, so that what it wrote to stdout
    and stderr can be read to the end afterwards."""
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "farcare.cli",
            "station",
            "--hub",
            hub_url,
            "--username",
            "feldsher",
            "--password-stdin",
            "--port",
            str(port),
        ],
        env=env,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    address = f"http://127.0.0.1:{port}"
    try:
        assert server.stdin is not None
        server.stdin.write(f"{DEMO_PASSWORD}\n")
        server.stdin.close()
        # Migrating a fresh station database, enrolling and the first pull take ~20 s alone and
        # several times that beside a loaded parallel run: a wait for readiness, not a target.
        deadline = time.monotonic() + 180
        while True:
            try:
                if requests.get(f"{address}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        yield server, address
    finally:
        server.terminate()
        server.wait(timeout=30)
