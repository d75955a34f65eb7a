"""Photos and an ECG from the post: previews cross first, originals follow byte for byte, the
most urgent request goes before anything of a planned one, and neither a drop nor a hub
restart in the middle of a file makes it start again."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.imaging.samples import ecg_dicom, photo_jpeg
from farcare.sync import station as sync
from farcare.sync.models import ItemState, OutboxItem, Phase, StationConfig
from farcare.sync.outbox import pending
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_consultation, register, request

pytestmark = pytest.mark.weaklink


def jpeg(name: str, seed: int, size: tuple[int, int] = (1600, 1200)) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, photo_jpeg(*size, seed=seed), "image/jpeg")


def test_previews_cross_first_and_originals_follow_byte_for_byte(
    station: StationConfig, hub: HubProcess
):
    files = [jpeg("wound.jpg", 1), jpeg("rash.jpg", 2)]
    ecg = ecg_dicom(seed=3)
    files.append(SimpleUploadedFile("ecg.dcm", ecg, "application/dicom"))
    originals = {f.name: hashlib.sha256(f.read()).hexdigest() for f in files}
    for f in files:
        f.seek(0)
    consultation = request(register("Превьюшкина"), files=files)

    order = [(i.kind, i.phase) for i in pending()]
    assert order[:2] == [("patient.create", Phase.RECORD), ("consult.submit", Phase.RECORD)]
    # Both photos' previews, and the small ECG with no smaller preview of its own... or its
    # preview: whatever the consultant opens first, before any photo's original.
    first_original = next(n for n, (k, p) in enumerate(order) if p == Phase.ORIGINAL)
    assert all(p == Phase.PREVIEW for _k, p in order[2:first_original])
    assert all(p == Phase.ORIGINAL for _k, p in order[first_original:])
    previews = OutboxItem.objects.filter(kind="file.preview")
    assert previews.count() == 3
    assert all(p.size < 100_000 for p in previews)

    sync.sync_until_done(pause=0.1)
    at_hub = hub_consultation(hub, consultation.uuid)
    received = {a["name"]: a for a in at_hub["attachments"]}
    assert set(received) == set(originals)
    for name, digest in originals.items():
        assert received[name]["preview"] is True
        assert received[name]["original_sha256"] == digest


def test_an_emergency_goes_before_anything_of_a_planned_request(
    station: StationConfig, hub: HubProcess, link: WeakLink
):
    link.go_down()
    planned = request(
        register("Плановая"), form="planned", files=[jpeg("knee.jpg", 4, (2400, 1800))]
    )
    emergency = request(register("Экстренная"), form="emergency", files=[jpeg("burn.jpg", 5)])
    order = [(i.consultation_uuid or i.patient_uuid, i.kind) for i in pending()]
    emergency_items = [n for n, i in enumerate(pending()) if i.rank == 0]
    planned_items = [n for n, i in enumerate(pending()) if i.rank == 2]
    assert max(emergency_items) < min(planned_items), order
    link.come_up()
    sync.sync_until_done(pause=0.1)
    delivered = list(OutboxItem.objects.order_by("delivered_at"))
    assert [i.rank for i in delivered] == sorted(i.rank for i in delivered)
    assert hub_consultation(hub, planned.uuid)["attachments"][0]["original"] is True
    assert hub_consultation(hub, emergency.uuid)["attachments"][0]["original"] is True


def test_an_emergency_queued_mid_file_overtakes_the_planned_original(
    station: StationConfig, hub: HubProcess, settings: Any
):
    settings.FARCARE_STATION_CHUNK_KB = 16
    request(register("Долгая"), form="planned", files=[jpeg("xray.jpg", 6, (2000, 1500))])
    original = OutboxItem.objects.get(kind="file.original")
    progress = sync.Progress(
        on_bytes=lambda item, sent: (
            sent > 40_000
            and not OutboxItem.objects.filter(rank=0).exists()
            and request(register("Срочнова"), form="emergency")
        )
    )
    report = sync.sync_once(progress)
    assert report.paused >= 1
    emergency = OutboxItem.objects.get(kind="consult.submit", rank=0)
    original.refresh_from_db()
    assert emergency.delivered_at is not None
    assert original.delivered_at is not None
    assert emergency.delivered_at < original.delivered_at
    assert original.attempts == 1 or original.sent == original.size


def test_a_drop_mid_file_resends_only_the_chunk_in_flight(
    station: StationConfig, hub: HubProcess, link: WeakLink, settings: Any
):
    settings.FARCARE_STATION_CHUNK_KB = 32
    photo = jpeg("leg.jpg", 7, (2000, 1500))
    size = photo.size
    consultation = request(register("Обрывная"), form="urgent", files=[photo])
    OutboxItem.objects.filter(kind="file.preview").update(state=ItemState.ON_REQUEST)
    sync.TRAFFIC.clear()
    drops = 0
    while pending().exists():
        link.cut_after(size // 3)
        report = sync.sync_once()
        drops += bool(report.link_down)
    assert drops >= 2
    sent_twice = sync.TRAFFIC["PATCH upload"] + sync.TRAFFIC["POST upload"] - size
    # Each drop costs at most the chunk that was on its way.
    assert sent_twice <= drops * 32 * 1024
    digest = hub_consultation(hub, consultation.uuid)["attachments"][0]["original_sha256"]
    photo.seek(0)
    assert digest == hashlib.sha256(photo.read()).hexdigest()


def test_a_hub_restarted_mid_upload_loses_nothing(
    station: StationConfig, hub: HubProcess, link: WeakLink, settings: Any
):
    settings.FARCARE_STATION_CHUNK_KB = 16
    settings.FARCARE_STATION_TIMEOUT_SECONDS = 3
    link.rate_bps = 2_000_000
    photo = jpeg("chest.jpg", 8, (2000, 1500))
    consultation = request(register("Рестартова"), form="urgent", files=[photo])
    original = OutboxItem.objects.get(kind="file.original")

    def crash_when_half_sent(item: OutboxItem, sent: int) -> None:
        if item.kind == "file.original" and sent > item.size // 2 and hub.running:
            hub.stop(kill=True)  # as in a power cut at the hub

    report = sync.sync_once(sync.Progress(on_bytes=crash_when_half_sent))
    assert report.link_down
    original.refresh_from_db()
    sent_before = original.sent
    assert 0 < sent_before < original.size

    hub.start()
    sync.TRAFFIC.clear()
    sync.sync_until_done(pause=0.1)
    original.refresh_from_db()
    assert original.state == ItemState.DELIVERED
    # The hub kept what it had acknowledged: only the rest crossed again.
    assert sync.TRAFFIC["PATCH upload"] <= original.size - sent_before + 16 * 1024
    photo.seek(0)
    at_hub = hub_consultation(hub, consultation.uuid)
    assert at_hub["attachments"][0]["original_sha256"] == hashlib.sha256(photo.read()).hexdigest()
