"""What crosses the link first, and how long the rest will take.

Within one urgency the outbox sends what the consultant can act on soonest per byte: records,
then previews and small clinical files (an ECG, a short document), then the originals, smaller
and more valuable first. The time left comes from the rate the link carried over the last
minutes of transfer, shown as a range until enough has been measured."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from farcare.imaging.samples import ecg_dicom, photo_jpeg
from farcare.sync import station as sync
from farcare.sync.linkrate import Estimate, RateMeter, TimeLeft
from farcare.sync.models import ItemState, OutboxItem, Phase, StationConfig
from farcare.sync.ordering import FileKind, Part, cost, file_kind, original_phase, queue_key
from farcare.sync.outbox import pending
from farcare.sync.selectors import link_summary
from farcare.testing.hub import HubProcess
from farcare.testing.weaklink import WeakLink

from .helpers import hub_json, register, request

KB = 1024


def jpeg(name: str, seed: int, size: tuple[int, int]) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, photo_jpeg(*size, seed=seed), "image/jpeg")


def arrivals_at_hub(hub: HubProcess, consultation_uuid: Any) -> list[str]:
    """The names of the request's files in the order their originals reached the hub."""
    result = hub_json(
        hub,
        "from farcare.consults.models import Attachment\n"
        f"rows = Attachment.objects.filter(consultation__uuid='{consultation_uuid}',\n"
        "    original_received_at__isnull=False).order_by('original_received_at', 'pk')\n"
        "result = [a.original_name for a in rows]\n",
    )
    assert isinstance(result, list)
    return result


# ---------------------------------------------------------------- the order, as a rule


def test_an_ecg_is_worth_more_per_byte_than_a_document_and_a_document_than_a_photo():
    ecg = file_kind("application/dicom", modality="ECG")
    xray = file_kind("application/dicom", modality="CR")
    assert ecg == FileKind.WAVEFORM
    assert file_kind("application/dicom", sop_class="1.2.840.10008.5.1.4.1.1.9.1.1") == ecg
    assert xray == FileKind.IMAGE
    assert file_kind("application/pdf") == FileKind.DOCUMENT
    assert file_kind("image/jpeg") == FileKind.IMAGE
    # The same bytes: the ECG first, then the document, then the picture.
    assert cost(400 * KB, ecg) < cost(400 * KB, FileKind.DOCUMENT) < cost(400 * KB, xray)
    # A 124 KB ECG before a 336 KB photo; a small photo before a large one.
    assert cost(124 * KB, ecg) < cost(336 * KB, FileKind.IMAGE) < cost(2000 * KB, FileKind.IMAGE)


def test_small_clinical_files_cross_with_the_previews_and_large_originals_after():
    limit = 256 * KB
    # An ECG or a short PDF goes early even when it has a preview of its own.
    assert (
        original_phase(kind=FileKind.WAVEFORM, size=124 * KB, has_preview=True, small_limit=limit)
        == Part.EARLY
    )
    assert (
        original_phase(kind=FileKind.DOCUMENT, size=200 * KB, has_preview=False, small_limit=limit)
        == Part.EARLY
    )
    # A photo's original waits for all previews, however small; so does a long document.
    assert (
        original_phase(kind=FileKind.IMAGE, size=100 * KB, has_preview=True, small_limit=limit)
        == Part.ORIGINAL
    )
    assert (
        original_phase(kind=FileKind.DOCUMENT, size=900 * KB, has_preview=False, small_limit=limit)
        == Part.ORIGINAL
    )
    # A small file with no preview (the preview was not smaller) goes with the previews.
    assert (
        original_phase(kind=FileKind.IMAGE, size=40 * KB, has_preview=False, small_limit=limit)
        == Part.EARLY
    )


def test_urgency_comes_before_value_per_byte():
    emergency_photo = queue_key(0, Part.ORIGINAL, cost(5000 * KB, FileKind.IMAGE))
    urgent_ecg = queue_key(1, Part.EARLY, cost(124 * KB, FileKind.WAVEFORM))
    record = queue_key(0, Part.RECORD, 0)
    preview = queue_key(0, Part.EARLY, cost(80 * KB, FileKind.IMAGE))
    assert record < preview < emergency_photo < urgent_ecg


# ---------------------------------------------------------------- the order, on the link


@pytest.mark.weaklink
def test_the_ecg_original_reaches_the_hub_before_the_photo_originals(
    station: StationConfig, hub: HubProcess, link: WeakLink
):
    # Two large photos taken first, the ECG recorded last: the old order (by time queued) sent
    # the ECG's 124 KB after every photo.
    files = [
        jpeg("chest.jpg", 1, (2400, 1800)),
        jpeg("hands.jpg", 2, (2000, 1500)),
        SimpleUploadedFile("ecg.dcm", ecg_dicom(seed=3), "application/dicom"),
    ]
    consultation = request(register("Кардиова"), files=files)
    queued = [(i.kind, i.label) for i in pending()]
    ecg = OutboxItem.objects.get(kind="file.original", label="ecg.dcm")
    assert ecg.phase == Phase.PREVIEW, queued

    sync.sync_until_done(pause=0.1)
    # The ECG, then the smaller photo, then the larger one.
    assert arrivals_at_hub(hub, consultation.uuid) == ["ecg.dcm", "hands.jpg", "chest.jpg"]


@pytest.mark.weaklink
def test_with_originals_on_request_a_small_ecg_still_goes_with_the_previews(
    station: StationConfig, settings: Any
):
    settings.FARCARE_STATION_ORIGINALS = "on-request"
    files = [
        jpeg("chest.jpg", 1, (2000, 1500)),
        SimpleUploadedFile("ecg.dcm", ecg_dicom(seed=3), "application/dicom"),
    ]
    request(register("Запросова"), files=files)
    waiting = {i.label: i.state for i in OutboxItem.objects.filter(kind="file.original")}
    assert waiting == {"chest.jpg": ItemState.ON_REQUEST, "ecg.dcm": ItemState.QUEUED}


@pytest.mark.weaklink
def test_a_photo_in_flight_gives_way_to_a_smaller_original_queued_meanwhile(
    station: StationConfig, hub: HubProcess, settings: Any
):
    settings.FARCARE_STATION_CHUNK_KB = 16
    large = request(register("Большова"), form="planned", files=[jpeg("back.jpg", 4, (2400, 1800))])
    small: list[Any] = []

    def queue_small(item: OutboxItem, sent: int) -> None:
        if item.kind == "file.original" and sent > 40_000 and not small:
            small.append(
                request(
                    register("Малова"), form="planned", files=[jpeg("ear.jpg", 5, (1600, 1200))]
                )
            )

    report = sync.sync_once(sync.Progress(on_bytes=queue_small))
    assert report.paused >= 1 and not report.link_down
    assert not pending().exists()
    big = OutboxItem.objects.get(kind="file.original", consultation_uuid=large.uuid)
    ear = OutboxItem.objects.get(kind="file.original", consultation_uuid=small[0].uuid)
    assert ear.delivered_at < big.delivered_at
    assert big.attempts == 1  # paused and resumed, not started again


# ---------------------------------------------------------------- the rate, as a rule

CHUNK = 64 * KB
KBIT = 1000 / 8  # bytes per second in one kbit/s


def send(meter: RateMeter, *, start: float, kbit: float, seconds: float, rtt: float = 0.6) -> float:
    """Chunks of 64 KiB over a link of `kbit` with a round trip each, for `seconds`; returns
    when the last ended."""
    at = start
    while at < start + seconds:
        took = CHUNK / (kbit * KBIT) + rtt
        at += took
        meter.add(at=at, nbytes=CHUNK, seconds=took)
    return at


def kbit(estimate: Estimate) -> float:
    assert estimate.rate is not None
    return estimate.rate / KBIT


def test_a_fall_from_256_to_64_kbit_is_followed_within_two_minutes():
    meter = RateMeter()
    at = send(meter, start=0, kbit=256, seconds=600)
    at = send(meter, start=at, kbit=64, seconds=120)
    # The chunks carry a round trip each: 64 KiB in 8.2 + 0.6 s is 59.6 kbit/s of payload.
    assert kbit(meter.estimate(at)) == pytest.approx(59.6, rel=0.10)


def test_a_fast_link_six_hours_ago_does_not_inflate_todays_estimate():
    meter = RateMeter()
    at = send(meter, start=0, kbit=256, seconds=3600)
    at = send(meter, start=at + 6 * 3600, kbit=64, seconds=15)
    estimate = meter.estimate(at)
    assert kbit(estimate) == pytest.approx(59.6, rel=0.05)
    # Two chunks are not enough to be sure: a range, not a figure.
    assert not estimate.settled
    left = estimate.time_left(1_000_000)
    assert left.low is not None and left.high is not None
    assert left.low < 1_000_000 / (59.6 * KBIT) < left.high


def test_idle_time_between_transfers_does_not_count():
    meter = RateMeter()
    at = 0.0
    for _ in range(10):
        at = send(meter, start=at + 300, kbit=64, seconds=20)  # five idle minutes each time
    assert kbit(meter.estimate(at)) == pytest.approx(59.6, rel=0.05)


def test_a_first_sample_inflated_by_buffering_is_damped():
    meter = RateMeter()
    # The modem's buffer took the first chunk at 256 kbit/s; the link carries 64.
    meter.add(at=2.6, nbytes=CHUNK, seconds=2.6)
    at = send(meter, start=2.6, kbit=64, seconds=25)
    assert kbit(meter.estimate(at)) == pytest.approx(59.6, rel=0.08)


def test_small_exchanges_dominated_by_the_round_trip_hardly_count():
    meter = RateMeter()
    at = 0.0
    for _ in range(20):
        at = send(meter, start=at, kbit=64, seconds=1)
        at += 0.7
        meter.add(at=at, nbytes=600, seconds=0.7)  # a HEAD or a record: round trip only
    assert kbit(meter.estimate(at)) == pytest.approx(59.6, rel=0.05)


def test_the_estimate_is_a_range_until_a_minute_is_measured_then_one_figure():
    meter = RateMeter()
    assert meter.estimate(0).time_left(500_000) == TimeLeft(None, None, None)
    at = send(meter, start=0, kbit=64, seconds=20)
    early = meter.estimate(at).time_left(500_000)
    assert early.low is not None and early.high is not None and early.middle is not None
    assert early.low < early.middle < early.high
    at = send(meter, start=at, kbit=64, seconds=45)
    settled = meter.estimate(at)
    assert settled.settled and settled.measured_seconds >= 60
    later = settled.time_left(500_000)
    assert later.low == later.middle == later.high
    assert meter.estimate(at).time_left(0) == TimeLeft(0.0, 0.0, 0.0)
    # The state survives a round trip through the database's JSON.
    assert RateMeter.from_json(meter.to_json()).estimate(at) == meter.estimate(at)


# ---------------------------------------------------------------- the rate, on the link


@pytest.mark.weaklink
@pytest.mark.long(120)
def test_after_the_first_minute_the_time_left_is_within_a_fifth_of_the_truth(
    station: StationConfig, hub: HubProcess, link: WeakLink, settings: Any
):
    # Enrolled over a fast link a moment ago; now a 64 kbit/s satellite hop with 600 ms round
    # trips, and a package of about 0.8 MB (a photo and its preview): some 110 s of link, so
    # that a good part of it is still to cross when the first minute has been measured.
    link.rate_bps = 64_000
    link.one_way = 0.3
    settings.FARCARE_STATION_TIMEOUT_SECONDS = 30
    request(register("Оценкина"), files=[jpeg("burn.jpg", 9, (2400, 1800))])
    waiting = sum(i.size for i in pending())
    assert 700_000 < waiting < 950_000
    started = time.monotonic()
    seen: dict[str, Any] = {}

    def look_at_the_page(item: OutboxItem, sent: int) -> None:
        if "early" not in seen and time.monotonic() - started >= 20:
            seen["early"] = link_summary()
        if "summary" not in seen and time.monotonic() - started >= 60:
            seen["summary"] = link_summary()
            seen["at"] = time.time()

    report = sync.sync_once(sync.Progress(on_bytes=look_at_the_page))
    emptied = max(i.delivered_at for i in OutboxItem.objects.all() if i.delivered_at)
    assert not report.link_down and not pending().exists()
    truth = emptied.timestamp() - seen["at"]
    # Twenty seconds in, too little measured for one figure: the page shows a range.
    early = seen["early"]
    assert early.measured_seconds < 60
    assert early.time_left_low < early.time_left < early.time_left_high
    print(f"at 20 s: {early.time_left_low:.0f}–{early.time_left_high:.0f} s")
    summary = seen["summary"]
    print(
        f"estimate {summary.time_left:.0f} s ({summary.time_left_low:.0f}–"
        f"{summary.time_left_high:.0f}), truth {truth:.0f} s, rate "
        f"{summary.rate_bps / 1000:.1f} kbit/s, measured {summary.measured_seconds:.0f} s"
    )
    assert summary.time_left == pytest.approx(truth, rel=0.20)
