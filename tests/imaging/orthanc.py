"""A real Orthanc with its DICOMweb plugin on a free loopback port, for the tests that STOW, find
and draw studies through `farcare.imaging.pacs.DicomWebPacs`.

The Debian packages `orthanc` and `orthanc-dicomweb` (.ci/run installs them) give
/usr/sbin/Orthanc and the plugin. Without them the tests marked `pacs` are skipped with the
reason, unless FARCARE_REQUIRE_PACS=1 (CI), where a missing Orthanc fails them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import requests

ORTHANC = Path(os.environ.get("FARCARE_ORTHANC", "/usr/sbin/Orthanc"))
PLUGIN_PATHS = (
    Path("/usr/share/orthanc/plugins/libOrthancDicomWeb.so"),
    Path("/usr/lib/orthanc/libOrthancDicomWeb.so.1.7"),
)


def _plugin() -> Path | None:
    return next((path for path in PLUGIN_PATHS if path.exists()), None)


def orthanc_missing() -> str:
    """Why Orthanc cannot run here, or "" when it can."""
    if not ORTHANC.exists():
        return f"Orthanc is not installed ({ORTHANC} absent: apt-get install orthanc)"
    if _plugin() is None:
        return "the Orthanc DICOMweb plugin is not installed (apt-get install orthanc-dicomweb)"
    return ""


def require_orthanc() -> None:
    reason = orthanc_missing()
    if reason:
        if os.environ.get("FARCARE_REQUIRE_PACS") == "1":
            pytest.fail(f"FARCARE_REQUIRE_PACS=1 but {reason}")
        pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def running_orthanc(workdir: Path) -> Iterator[str]:
    """Start Orthanc on loopback with a configuration of its own in `workdir`; yield the
    DICOMweb root URL; stop it (and its files stay in `workdir` for the test's tmp cleanup)."""
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    config = {
        "Name": "FARCARE_TEST",
        "HttpPort": port,
        "HttpServerEnabled": True,
        "DicomServerEnabled": False,
        "DicomPort": _free_port(),
        "StorageDirectory": str(workdir / "storage"),
        "IndexDirectory": str(workdir / "storage"),
        "Plugins": [str(_plugin())],
        "RemoteAccessAllowed": False,
        # Loopback only, and a throw-away archive: no users to manage.
        "AuthenticationEnabled": False,
        "HttpDescribeErrors": True,
        "StableAge": 1,
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": False},
    }
    path = workdir / "orthanc.json"
    path.write_text(json.dumps(config))
    log = (workdir / "orthanc.log").open("wb")
    process = subprocess.Popen(
        [str(ORTHANC), str(path)], stdout=log, stderr=subprocess.STDOUT, cwd=workdir
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"Orthanc exited ({process.returncode}):\n"
                    + (workdir / "orthanc.log").read_text(errors="replace")[-2000:]
                )
            try:
                if requests.get(f"{base}/dicom-web/studies", timeout=1).status_code == 200:
                    break
            except requests.RequestException:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("Orthanc did not start within 30 s")
            time.sleep(0.2)
        yield f"{base}/dicom-web"
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


@pytest.fixture(scope="session")
def orthanc_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One Orthanc for the test process (each test makes studies of its own UIDs)."""
    require_orthanc()
    workdir = tmp_path_factory.mktemp("orthanc")
    with running_orthanc(workdir) as url:
        yield url
    shutil.rmtree(workdir / "storage", ignore_errors=True)


@pytest.fixture
def dicomweb(orthanc_url: str, settings: object) -> str:
    """FarCare configured with the running Orthanc as its PACS."""
    settings.FARCARE_DICOMWEB_URL = orthanc_url  # type: ignore[attr-defined]
    return orthanc_url
