"""`farcare station`: the post's laptop enrols, serves FarCare and syncs in the background; the
console shows progress bars."""

from __future__ import annotations

import io
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command

from farcare.imaging.samples import photo_jpeg
from farcare.sync.models import StationConfig
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import (
    hub_consultation,
    hub_json,
    register,
    request,
    station_env,
    station_process,
)

pytestmark = pytest.mark.weaklink


def test_the_console_shows_a_progress_bar_per_file(station: StationConfig, hub: HubProcess):
    photo = SimpleUploadedFile("hand.jpg", photo_jpeg(1600, 1200, seed=11), "image/jpeg")
    consultation = request(register("Консольная"), files=[photo])
    out = io.StringIO()
    call_command("station", "status", stdout=out)
    assert "4 items wait" in out.getvalue()
    assert "queued" in out.getvalue()

    out = io.StringIO()
    call_command("station", "sync", stdout=out)
    text = out.getvalue()
    assert "delivered: Консольная Анна" in text
    assert re.search(r"hand\.jpg.*100%\|", text)  # tqdm's bar at its end
    assert "0 items wait" in text
    assert hub_consultation(hub, consultation.uuid)["attachments"][0]["original"] is True


@pytest.mark.long(13)
def test_farcare_station_enrols_serves_and_syncs_in_the_background(
    hub: HubProcess, link: WeakLink, tmp_path: Path
):
    env = station_env(tmp_path / "station")
    (tmp_path / "station").mkdir()  # a fresh laptop: the command migrates its own database
    with station_process(f"http://127.0.0.1:{link.port}", env) as (_server, station):
        # The feldsher logs in at the post and makes a request there; the background loop
        # takes it to the hub.
        make = (
            "from tests.sync.helpers import register, request\n"
            "print(request(register('Фоновая')).uuid)\n"
        )
        made = subprocess.run(
            [sys.executable, "-m", "farcare.cli", "shell", "-v", "0", "-c", make],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
            cwd=Path(__file__).resolve().parents[2],
        )
        uuid = made.stdout.strip().splitlines()[-1]
        deadline = time.monotonic() + 60
        while hub_consultation(hub, uuid) is None:
            assert time.monotonic() < deadline, "the station's loop did not deliver it"
            time.sleep(1)

        session = requests.Session()
        login = session.get(f"{station}/accounts/login/", timeout=10)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)
        assert token
        session.post(
            f"{station}/accounts/login/",
            data={
                "csrfmiddlewaretoken": token.group(1),
                "username": "feldsher",
                "password": "farcare-demo",
            },
            headers={"Referer": f"{station}/accounts/login/"},
            timeout=10,
        )
        page = session.get(f"{station}/station/", timeout=10)
        assert page.status_code == 200
        assert "Фоновая" in page.text
        assert (
            hub_json(
                hub, "from farcare.sync.models import Station\nresult = Station.objects.count()"
            )
            == 1
        )
