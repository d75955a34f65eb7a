"""`farcare station` on a fresh laptop: it enrols, migrates, serves its pages with their styles
and says nothing alarming on the way (no warning about a missing static directory)."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import station_env, station_process

pytestmark = pytest.mark.weaklink


def test_farcare_station_starts_without_warnings_on_a_fresh_install(
    hub: HubProcess, link: WeakLink, tmp_path: Path
):
    directory = tmp_path / "station"
    directory.mkdir()  # only the database's folder: no static/, no media/, no collectstatic
    env = station_env(directory)
    env["PYTHONWARNINGS"] = "default"  # every warning shown once, as a user's console would
    with station_process(f"http://127.0.0.1:{link.port}", env) as (server, station):
        login = requests.get(f"{station}/accounts/login/", timeout=10)
        assert login.status_code == 200
        style = requests.get(f"{station}/static/farcare/farcare.css", timeout=10)
        assert style.status_code == 200 and b"{" in style.content
    assert server.stdout is not None and server.stderr is not None
    out, err = server.stdout.read(), server.stderr.read()
    assert "Enrolled as" in out
    assert "Warning" not in err and "No directory at" not in err, err
