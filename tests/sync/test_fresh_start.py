"""`farcare station` on a fresh laptop: it enrols, migrates, serves its pages with their styles
and says nothing alarming on the way (no warning about a missing static directory)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from farcare.testing.hub import HubProcess, free_port
from farcare.testing.weaklink import WeakLink

from .test_command import station_env

pytestmark = pytest.mark.weaklink


def test_farcare_station_starts_without_warnings_on_a_fresh_install(
    hub: HubProcess, link: WeakLink, tmp_path: Path
):
    directory = tmp_path / "station"
    directory.mkdir()  # only the database's folder: no static/, no media/, no collectstatic
    env = station_env(directory)
    env["PYTHONWARNINGS"] = "default"  # every warning shown once, as a user's console would
    port = free_port()
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "farcare.cli",
            "station",
            "--hub",
            f"http://127.0.0.1:{link.port}",
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
    try:
        assert server.stdin is not None
        server.stdin.write("farcare-demo\n")
        server.stdin.close()
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"http://127.0.0.1:{port}/health", timeout=1).ok:
                    break
            except requests.ConnectionError:
                pass
            assert server.poll() is None, server.stderr.read() if server.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.2)
        login = requests.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=10)
        assert login.status_code == 200
        style = requests.get(f"http://127.0.0.1:{port}/static/farcare/farcare.css", timeout=10)
        assert style.status_code == 200 and b"{" in style.content
    finally:
        server.terminate()
        server.wait(timeout=30)
    assert server.stdout is not None and server.stderr is not None
    out, err = server.stdout.read(), server.stderr.read()
    assert "Enrolled as" in out
    assert "Warning" not in err and "No directory at" not in err, err
