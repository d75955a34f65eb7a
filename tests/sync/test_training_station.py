"""The Uelen feldsher follows "Emergency cardiology for feldshers" (the demo's programme at the
hub): its sessions and the light version of its handout come to the post's laptop with the
syncs, and she reads them there with the hub out of reach."""

from __future__ import annotations

import hashlib

import pytest
from django.test import Client
from django.urls import reverse

from farcare.sync import station as sync
from farcare.sync import training_mirror
from farcare.sync.models import StationConfig
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink
from farcare.training.models import Material, Programme

from .helpers import hub_json

pytestmark = pytest.mark.weaklink

TITLE = "Emergency cardiology for feldshers"


def hub_handout(hub: HubProcess) -> dict:
    return hub_json(
        hub,
        "import hashlib\n"
        "from farcare.training.models import Material\n"
        f"m = Material.objects.get(programme__title='{TITLE}')\n"
        "result = {'uuid': str(m.uuid), 'light_size': m.light_size, 'size': m.size,\n"
        "  'sha': hashlib.sha256(m.light_file.read()).hexdigest()}\n",
    )


def feldsher_at_the_post() -> Client:
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    return client


def test_the_programme_and_its_light_handout_are_read_at_the_post_with_the_hub_down(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    at_hub = hub_handout(hub)
    report = sync.sync_until_done(pause=0.1)
    assert not report.link_down

    programme = Programme.objects.get(title=TITLE)
    assert programme.sessions.count() == 4
    handout = Material.objects.get(uuid=at_hub["uuid"])
    assert handout.light_size == at_hub["light_size"] < at_hub["size"]
    assert hashlib.sha256(handout.light_file.read()).hexdigest() == at_hub["sha"]
    assert not handout.file  # the full version stays at the hub

    link.go_down()
    client = feldsher_at_the_post()
    mine = client.get(reverse("training:mine"))
    assert TITLE in mine.text and mine.text.count('data-testid="session-time"') == 4
    page = client.get(reverse("training:programme", args=[programme.uuid]))
    assert 'data-testid="light-download"' in page.text
    assert 'data-testid="full-download"' not in page.text  # the full version stays at the hub
    response = client.get(reverse("training:material_download", args=[handout.uuid, "light"]))
    assert response.status_code == 200
    assert hashlib.sha256(b"".join(response.streaming_content)).hexdigest() == at_hub["sha"]
    # A file that broke off halfway resumes from the post's copy too (HTTP Range).
    part = client.get(
        reverse("training:material_download", args=[handout.uuid, "light"]),
        headers={"Range": "bytes=100-"},
    )
    assert part.status_code == 206


def test_a_light_file_resumes_where_the_last_pass_stopped_and_is_checked_whole(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    at_hub = hub_handout(hub)
    config = StationConfig.objects.get()
    sync.pull(sync.Link(config.hub_url, config.token), config)  # records only
    handout = Material.objects.get(uuid=at_hub["uuid"])
    assert not handout.light_file and training_mirror.waiting_files() == [handout]

    # What an earlier pass left: 40 000 bytes, here deliberately wrong. The next pass asks
    # only for the rest; the whole then fails its check and is not kept.
    training_mirror._partial(handout).write_bytes(b"\0" * 40_000)
    sync.sync_once()
    handout.refresh_from_db()
    assert not handout.light_file, "a file assembled from a bad start must not be served"

    sync.sync_once()
    handout.refresh_from_db()
    assert hashlib.sha256(handout.light_file.read()).hexdigest() == at_hub["sha"]
    assert not training_mirror._partial(handout).exists()
