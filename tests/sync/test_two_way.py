"""Both ways at once over a satellite link: the consultant's question reaches the post while the
post's photos are still crossing; a feldsher who presses "Sync now" during a sync (or starts
`farcare station sync` beside it) sends nothing twice; after a storm the station is back as
soon as the link answers, and says meanwhile when it will try again."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import call_command
from django.db import connections
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from farcare.accounts.models import User
from farcare.consults.models import Status
from farcare.imaging.samples import photo_jpeg
from farcare.sync import selectors
from farcare.sync import station as sync
from farcare.sync.models import ItemState, OutboxItem, Phase, StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_consultation, register, request

pytestmark = pytest.mark.weaklink
# The station's pass runs in its own thread, as the loop and "Sync now" run it: each thread has
# its own connection, so the test's writes must be committed for it to see them.
threads = pytest.mark.django_db(transaction=True)


@contextmanager
def in_background(
    work: Callable[[], Any], end: Callable[[], Any] | None = None
) -> Iterator[threading.Thread]:
    """`work` in its own thread (as the station's loop or a page's request runs), with its own
    database connection, closed when it ends; `end` makes it end when the test is done."""
    failures: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as error:  # reported in the test's own thread
            failures.append(error)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    try:
        yield thread
    finally:
        if end is not None:
            end()
        thread.join(timeout=120)
        assert not thread.is_alive(), "the background work did not end"
        if failures:
            raise failures[0]


def wait_for(check: Callable[[], Any], seconds: float, what: str) -> Any:
    deadline = time.monotonic() + seconds
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, what
        time.sleep(0.2)


def original_crossing() -> OutboxItem | None:
    item = OutboxItem.objects.filter(phase=Phase.ORIGINAL, state=ItemState.SENDING).first()
    return item if item is not None and item.sent > 0 else None


@threads
@pytest.mark.long(40)
def test_a_question_asked_while_an_original_crosses_reaches_the_post_within_30_s(
    station: StationConfig, link: WeakLink, hub: HubProcess
):
    big = SimpleUploadedFile("chest.jpg", photo_jpeg(4000, 3000, seed=21), "image/jpeg")
    assert big.size is not None and big.size > 2_000_000
    consultation = request(register("Вопросова"), form="emergency", files=[big])
    # The satellite link: 64 kbit/s, 600 ms round trips. 2 MB take about 4.5 minutes.
    link.rate_bps = 64_000
    link.one_way = 0.3
    # The pass ends when the link goes down; the original resumes another time.
    with in_background(sync.sync_once, end=link.go_down):
        wait_for(original_crossing, 60, "the original did not start")
        hub.consultant_asks(consultation.uuid, "Есть ли одышка?")
        asked = time.monotonic()

        def heard() -> bool:
            case = selectors.case_delivery(consultation)
            copy = case["copy"] if case else None
            return bool(copy and [m["body"] for m in copy["messages"]] == ["Есть ли одышка?"])

        wait_for(heard, 35, "the question did not reach the post")
        waited = time.monotonic() - asked
        crossing = original_crossing()
    print(f"the question reached the post {waited:.1f} s after it was asked")
    assert waited <= 30, f"the question took {waited:.0f} s"
    # It came down while the original was still on its way, not after it.
    assert crossing is not None and crossing.sent < crossing.size
    consultation.refresh_from_db()
    assert consultation.status == Status.ON_HOLD  # the hub's status came with it


def upload_bytes() -> int:
    return sync.TRAFFIC["POST upload"] + sync.TRAFFIC["PATCH upload"]


@threads
@pytest.mark.long(20)
def test_sync_now_and_the_command_during_a_pass_send_no_file_twice(
    station: StationConfig, link: WeakLink, hub: HubProcess, settings: Any
):
    photos = [
        SimpleUploadedFile(f"leg-{n}.jpg", photo_jpeg(1600, 1200, seed=30 + n), "image/jpeg")
        for n in range(2)
    ]
    consultation = request(register("Кнопкина"), form="urgent", files=photos)
    files = [i for i in pending() if i.file_name]
    file_bytes = sum(i.size for i in files)
    chunk = int(settings.FARCARE_STATION_CHUNK_KB) * 1024
    link.rate_bps = 400_000  # ~15 s for the package: the presses land mid-pass
    up_before, uploads_before = link.counters.up, upload_bytes()
    User.objects.filter(username="feldsher").update(language="en")
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    console = io.StringIO()

    with in_background(sync.sync_once):  # the station's own loop, say
        wait_for(original_crossing, 60, "the originals did not start")
        answer = client.post(reverse("sync:sync_now"), follow=True)
        assert "A sync is running; it will check again at once." in answer.content.decode()
        with in_background(lambda: call_command("station", "sync", stdout=console)):
            pass

    assert "A sync is already running" in console.getvalue()
    assert "0 items wait" in console.getvalue()
    # With no pass running, the button starts one (and the page says so).
    answer = client.post(reverse("sync:sync_now"), follow=True)
    assert "Sync started." in answer.content.decode()
    sync.sync_once(wait=True)  # after the pass the button started
    assert not pending().exists()
    at_hub = hub_consultation(hub, consultation.uuid)
    assert all(a["original"] and a["preview"] for a in at_hub["attachments"])
    # Each file's bytes crossed once: at most the chunk in flight again, and on the wire no
    # more than the files, that chunk and the protocol's few kilobytes.
    print(
        f"files {file_bytes:,} B; file bytes sent {upload_bytes() - uploads_before:,} B; "
        f"station → hub on the wire {link.counters.up - up_before:,} B"
    )
    assert upload_bytes() - uploads_before <= file_bytes + chunk
    assert link.counters.up - up_before <= file_bytes + chunk + 48 * 1024


def test_a_sync_started_while_another_runs_joins_it_across_processes(tmp_path: Path):
    """The lock is the operating system's: another process (`farcare station sync` beside the
    server) sees it held, and takes it once it is let go."""
    lock_file = tmp_path / "station.sync.lock"
    other = (
        "import django\n"
        "django.setup()\n"
        "from farcare.sync.station import SyncLock\n"
        f"lock = SyncLock({str(lock_file)!r})\n"
        "print('took' if lock.acquire(blocking=False) else 'busy')\n"
    )
    held = sync.SyncLock(lock_file)
    assert held.acquire(blocking=False)
    assert not sync.SyncLock(lock_file).acquire(blocking=False)  # another thread, same process
    answer = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
    assert answer.stdout.strip() == "busy", answer.stderr
    held.release()
    answer = subprocess.run([sys.executable, "-c", other], capture_output=True, text=True)
    assert answer.stdout.strip() == "took", answer.stderr


@threads
@pytest.mark.long(20)
def test_after_a_drop_the_station_is_back_as_soon_as_the_link_answers(
    station: StationConfig, link: WeakLink, hub: HubProcess, settings: Any
):
    settings.FARCARE_STATION_PROBE_SECONDS = 1
    settings.FARCARE_STATION_PROBE_MAX_SECONDS = 4
    User.objects.filter(username="feldsher").update(language="en")
    client = Client()
    assert client.login(username="feldsher", password="farcare-demo")
    stop = threading.Event()
    link.go_down()
    consultation = request(register("Штормова"), form="emergency")
    with in_background(lambda: sync.sync_loop(stop), end=stop.set):
        time.sleep(17)  # a storm: the probe has backed off to its longest interval
        summary = selectors.link_summary()
        assert summary.up is False
        assert summary.next_try_at is not None
        assert 0 < (summary.next_try_at - timezone.now()).total_seconds() <= 4
        assert "next try in" in client.get(reverse("sync:overview")).content.decode()

        link.come_up()
        back = time.monotonic()
        wait_for(lambda: not pending().exists(), 30, "the station did not come back")
        waited = time.monotonic() - back
    print(f"back {waited:.1f} s after the link returned")
    # Back within one probe interval (and the pass itself), not after a long backoff.
    assert waited <= 4 + 3, f"back {waited:.0f} s after the link"
    assert hub_consultation(hub, consultation.uuid) is not None
    assert selectors.link_summary().next_try_at is None


def test_a_pull_goes_first_when_the_next_chunk_would_end_past_the_interval():
    # A chunk of 8 s (64 KiB at 64 kbit/s) starting 13 s after the last pull would end past
    # 20 s, so the pull goes first; after 11 s the chunk may still go.
    assert sync.pull_due(since=13, ahead=8, every=20)
    assert not sync.pull_due(since=11, ahead=8, every=20)
    # Never pulled: at once.
    assert sync.pull_due(since=float("inf"), ahead=0, every=20)


def test_only_the_probe_backs_off_doubling_up_to_its_longest_interval():
    delays = [sync.probe_delay(n, first=2, longest=15) for n in range(1, 8)]
    assert delays == [2, 4, 8, 15, 15, 15, 15]
