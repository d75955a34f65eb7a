"""The station's side of sync: enrol at a hub, push the outbox (records in batches, files by
tus in chunks, the most urgent first, pausing a file when something more urgent is queued), and
pull back what concerns our patients. Any failure of the link stops the pass where it is; the
next pass resumes from what the hub acknowledged: nothing is lost, nothing is applied twice."""

from __future__ import annotations

import base64
import gzip
import hashlib
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import requests
from django.conf import settings
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.workflow import mirror
from farcare.network.models import Facility
from farcare.patients.models import Consent, Patient

from . import diagnostics_mirror, evacuation_mirror, monitoring_mirror, training_mirror
from .linkrate import Estimate, RateMeter, TimeLeft
from .models import (
    PENDING_STATES,
    HubCopy,
    ItemState,
    LinkEvent,
    LinkMeter,
    OutboxItem,
    Phase,
    StationConfig,
)
from .outbox import item_key, pending, station
from .records import patient_data

logger = logging.getLogger(__name__)

TUS_HEADERS = {"Tus-Resumable": "1.0.0"}
RECORD_BATCH = 50
# Request body bytes handed to the link, by method and by "upload" or "api" (the benchmark counts
# what was sent twice).
TRAFFIC: Counter[str] = Counter()
# Link events closer together than this are one stretch of the link's history.
STRETCH = timedelta(seconds=60)


class LinkDown(Exception):
    """The hub could not be reached, or the connection dropped mid-exchange."""


class NotEnrolled(Exception):
    pass


# ---------------------------------------------------------------- the link


class Link:
    """Requests to the hub over one keep-alive connection (a new TCP connection costs a round
    trip of 600 ms on a satellite link), each one measured for the link's history."""

    def __init__(self, hub_url: str, token: str = "") -> None:
        self.hub_url = hub_url.rstrip("/")
        self.session = requests.Session()
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"
        self.timeout = float(settings.FARCARE_STATION_TIMEOUT_SECONDS)

    def url(self, path: str) -> str:
        return path if path.startswith("http") else f"{self.hub_url}{path}"

    def request(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        started = time.monotonic()
        body = kwargs.get("data") or b""
        TRAFFIC[f"{method} {'upload' if '/uploads/' in self.url(path) else 'api'}"] += len(body)
        try:
            response = self.session.request(method, self.url(path), timeout=self.timeout, **kwargs)
        except requests.RequestException as error:
            _link_event(up=False, note=type(error).__name__)
            self.session.close()  # a fresh connection next time
            raise LinkDown(str(error)) from error
        _link_event(
            up=True,
            sent=len(body),
            received=_wire_bytes(response),
            seconds=time.monotonic() - started,
        )
        return response

    def json(
        self, method: str, path: str, payload: Any = None, params: dict[str, str] | None = None
    ) -> Any:
        kwargs: dict[str, Any] = {"params": params}
        if payload is not None:
            kwargs["data"] = gzip.compress(json.dumps(payload).encode(), 6)
            kwargs["headers"] = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
        response = self.request(method, path, **kwargs)
        if response.status_code >= 500:
            raise LinkDown(f"hub answered {response.status_code}")
        if response.status_code >= 400:
            raise HubRefused(_detail(response), _code(response))
        return response.json()


class HubRefused(Exception):
    """The hub said no; `code` names the reason where it gives one (e.g. the enrolment's
    "second_factor_required"), whatever the language of the message."""

    def __init__(self, detail: str, code: str = "") -> None:
        super().__init__(detail)
        self.code = code


def _code(response: requests.Response) -> str:
    try:
        answer = response.json()
    except ValueError:
        return ""
    return str(answer.get("code", "")) if isinstance(answer, dict) else ""


def _detail(response: requests.Response) -> str:
    try:
        return str(response.json().get("detail", response.text))
    except ValueError:
        return response.text[:300]


def _wire_bytes(response: requests.Response) -> int:
    """The body's bytes as they crossed the link: a gzip-compressed answer counted
    decompressed made the link look several times faster than it is."""
    raw = getattr(response, "raw", None)
    crossed = raw.tell() if raw is not None and hasattr(raw, "tell") else 0
    return int(crossed) or len(response.content)


def _link_event(
    *, up: bool, sent: int = 0, received: int = 0, seconds: float = 0.0, note: str = ""
) -> None:
    last = LinkEvent.objects.first()
    now = timezone.now()
    if last is not None and last.up == up and now - last.at < STRETCH and not note:
        LinkEvent.objects.filter(pk=last.pk).update(
            at=now,
            bytes_sent=last.bytes_sent + sent,
            bytes_received=last.bytes_received + received,
            seconds=last.seconds + seconds,
        )
    else:
        LinkEvent.objects.create(
            at=now, up=up, bytes_sent=sent, bytes_received=received, seconds=seconds, note=note
        )
    if up:
        _measure(sent + received, seconds, now)


def _measure(nbytes: int, seconds: float, now: datetime) -> None:
    """One exchange into the estimator of the link's recent rate (one row: its state)."""
    row = LinkMeter.objects.first() or LinkMeter.objects.create()
    meter = RateMeter.from_json(row.state)
    meter.add(at=now.timestamp(), nbytes=nbytes, seconds=seconds)
    LinkMeter.objects.filter(pk=row.pk).update(state=meter.to_json(), updated_at=now)


def link_estimate() -> Estimate:
    """The link's rate over the recent past (`sync.linkrate`), or an unknown rate."""
    row = LinkMeter.objects.first()
    return RateMeter.from_json(row.state if row else None).estimate(timezone.now().timestamp())


def link_rate() -> float | None:
    """Bytes per second the link carried over the last minutes of transfer, or None if
    unknown."""
    return link_estimate().rate


def remaining_bytes() -> int:
    """What the outbox still has to send (a record counts as 512 bytes)."""
    return sum(max(item.size - item.sent, 512) for item in pending())


def time_left_range(estimate: Estimate | None = None) -> TimeLeft:
    """Seconds until the outbox is empty at the measured rate: a range while the rate is
    still being measured, one figure once it is known."""
    return (estimate or link_estimate()).time_left(remaining_bytes())


def time_left() -> float | None:
    """Seconds until the outbox is empty at the measured rate (the middle of the range)."""
    return time_left_range().middle


# ---------------------------------------------------------------- enrolment


def enrol(
    *, hub_url: str, username: str, password: str, name: str = "", otp: str = ""
) -> StationConfig:
    """Enrol this installation: the network and our staff come down, then our patients. `otp`
    is the code of the clinician's second factor, where the hub asks for one (HubRefused with
    code "second_factor_required" otherwise)."""
    link = Link(hub_url)
    answer = link.json(
        "POST",
        "/api/sync/enrol",
        {"username": username, "password": password, "name": name, "otp": otp},
    )
    with transaction.atomic():
        hashes: dict[str, str] = {}
        for obj in serializers.deserialize("json", answer["reference"]):
            obj.save()
            if isinstance(obj.object, User):
                hashes[str(obj.object.uuid)] = obj.object.password
        config = StationConfig.objects.create(
            staff_hashes=hashes,
            hub_url=hub_url.rstrip("/"),
            token=answer["token"],
            station_uuid=answer["station"],
            name=answer["name"],
            facility=Facility.objects.get(uuid=answer["facility"]),
        )
    pull(Link(config.hub_url, config.token), config)
    return config


# ---------------------------------------------------------------- one pass


@dataclass
class Progress:
    """What a pass reports as it goes (the console draws bars from it; pages poll the models)."""

    on_item: Callable[[OutboxItem], None] = lambda item: None
    on_bytes: Callable[[OutboxItem, int], None] = lambda item, sent: None
    # Another pass holds the station's sync lock; this start waits for it (the console says so).
    on_wait: Callable[[], None] = lambda: None


@dataclass
class PassReport:
    delivered: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    pulled: int = 0
    link_down: str = ""
    paused: int = 0
    # Another pass was running: this start asked it to go round once more instead of sending
    # anything itself.
    joined: bool = False

    def add(self, other: PassReport) -> PassReport:
        """Two rounds of one start, as one report."""
        return PassReport(
            delivered=[*self.delivered, *other.delivered],
            refused=[*self.refused, *other.refused],
            pulled=self.pulled + other.pulled,
            link_down=other.link_down,
            paused=self.paused + other.paused,
            joined=self.joined and other.joined,
        )


# ---------------------------------------------------------------- one sync at a time
#
# The background loop, the "Sync now" button and `farcare station sync` (perhaps another process)
# all run passes through `sync_once`, which holds an exclusive lock on a file next to the
# station's database: two passes at once would both send the head of the queue (the outside
# review saw three files cross twice). The operating system lets go of the lock when its process
# dies, so a crash never leaves the station locked. A start that finds the lock held leaves a
# "wake" flag beside it: the running pass pulls at its next chunk and goes round once more.


class SyncLock:
    """An exclusive lock on a file (flock; msvcrt on Windows), across threads and processes."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._handle: Any = None

    def acquire(self, *, blocking: bool) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        handle = open(self.path, "a+b")  # noqa: SIM115 (held until release)
        while True:
            try:
                _lock_file(handle, blocking=blocking)
            except OSError:
                if blocking:  # msvcrt gives up after ten seconds; flock does not
                    continue
                handle.close()
                return False
            self._handle = handle
            return True

    def release(self) -> None:
        if self._handle is not None:
            _unlock_file(self._handle)
            self._handle.close()
            self._handle = None


if os.name == "nt":  # pragma: no cover (the stations we test run Linux)
    import msvcrt

    def _lock_file(handle: Any, *, blocking: bool) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_LOCK if blocking else msvcrt.LK_NBLCK, 1)  # type: ignore[attr-defined]

    def _unlock_file(handle: Any) -> None:
        handle.seek(0)
        msvcrt.locking(handle.fileno(), msvcrt.LK_UNLCK, 1)  # type: ignore[attr-defined]

else:
    import fcntl

    def _lock_file(handle: Any, *, blocking: bool) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))

    def _unlock_file(handle: Any) -> None:
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)


def lock_path() -> Path:
    """Beside the station's SQLite file (one lock per database, whichever process opens it);
    for another database, in FARCARE_VAR_DIR under a name taken from the database's address."""
    database = connections["default"].settings_dict
    name = str(database.get("NAME") or "")
    if "sqlite" in database["ENGINE"] and name and name != ":memory:" and "mode=" not in name:
        return Path(f"{name}.sync.lock")
    where = f"{database.get('HOST', '')}:{database.get('PORT', '')}/{name}"
    key = hashlib.sha256(where.encode()).hexdigest()[:16]
    return Path(settings.VAR_DIR) / f"station-sync-{key}.lock"


def _wake_path() -> Path:
    return lock_path().with_name(lock_path().name + ".wake")


def wake() -> None:
    """Ask the running pass to check with the hub at once and go round once more."""
    _wake_path().touch()


def _take_wake() -> bool:
    try:
        _wake_path().unlink()
    except FileNotFoundError:
        return False
    return True


def sync_once(progress: Progress | None = None, *, wait: bool = False) -> PassReport:
    """One pass: push the outbox (pulling between files and every FARCARE_STATION_PULL_SECONDS
    of sending) and pull. If a pass is already running, `wait` waits for it and then makes one;
    otherwise the running pass is asked to go round once more and the report says `joined`."""
    if station() is None:
        raise NotEnrolled(_("This installation is not enrolled at a hub."))
    progress = progress or Progress()
    lock = _take_lock(wait=wait, progress=progress)
    if lock is None:
        return PassReport(joined=True)
    return _passes(lock, progress)


def start_sync() -> bool:
    """For "Sync now": True when a pass started in the background, False when one was running
    (it goes round once more at once). Never a second pass beside the first."""
    lock = _take_lock(wait=False, progress=Progress())
    if lock is None:
        return False

    def run() -> None:
        try:
            _passes(lock, Progress())
        except Exception:
            logger.exception("the sync started by Sync now failed")
        finally:
            connections.close_all()  # this thread's own connection

    threading.Thread(target=run, name="station-sync-now", daemon=True).start()
    return True


def _take_lock(*, wait: bool, progress: Progress) -> SyncLock | None:
    lock = SyncLock(lock_path())
    if lock.acquire(blocking=False):
        return lock
    if wait:
        progress.on_wait()
        lock.acquire(blocking=True)
        return lock
    wake()
    # The running pass may have let go just before the flag was set, without seeing it.
    return lock if lock.acquire(blocking=False) else None


def _passes(lock: SyncLock, progress: Progress) -> PassReport:
    """Rounds while someone asks for one more; then let go of the lock (and take it again if a
    start asked as it was let go: nobody's "Sync now" is lost)."""
    report: PassReport | None = None
    while True:
        try:
            while True:
                _take_wake()  # this round serves every start so far
                one = _one_pass(progress)
                report = one if report is None else report.add(one)
                if report.link_down or not _wake_path().exists():
                    break
        finally:
            lock.release()
        if report.link_down or not _wake_path().exists() or not lock.acquire(blocking=False):
            return report


def _one_pass(progress: Progress) -> PassReport:
    config = station()
    if config is None:
        raise NotEnrolled(_("This installation is not enrolled at a hub."))
    report = PassReport()
    talk = _Pass(Link(config.hub_url, config.token), config, report, progress)
    try:
        push_outbox(talk)
        talk.pull()
        # Training materials' light files last, and only with nothing clinical left to send.
        if not pending().exists():
            training_mirror.fetch_light_files(talk.link)
    except (LinkDown, HubRefused) as error:
        # HubRefused here: the hub turned the station itself away (a revoked token); what waits
        # stays queued for when an administrator has enrolled the laptop again.
        report.link_down = str(error)
        # Back in the queue, with what the hub acknowledged kept: nothing is "sending" now.
        OutboxItem.objects.filter(state=ItemState.SENDING).update(state=ItemState.QUEUED)
    return report


def sync_until_done(
    *, attempts: int = 20, pause: float = 1.0, progress: Progress | None = None
) -> PassReport:
    """Passes until the outbox is empty and a pull succeeded, waiting `pause` after a drop (and
    for a pass already running, if one is)."""
    report = PassReport()
    for _attempt in range(attempts):
        report = sync_once(progress, wait=True)
        if not report.link_down and not pending().exists():
            return report
        time.sleep(pause)
    return report


# ---------------------------------------------------------------- the background loop
#
# After a drop the loop does not retry whole passes on a growing timer: it asks the hub's
# `/health` (a TCP handshake and a few hundred bytes; nothing at all crosses while the link is
# dead) and syncs the moment it answers. Only the probe backs off, doubling from
# FARCARE_STATION_PROBE_SECONDS up to FARCARE_STATION_PROBE_MAX_SECONDS, so the post is back
# within one probe interval of the link, at worst the longest one. The time of the next try is
# kept in `StationConfig.next_try_at` for the pages ("next try in N s").

LOOP_TICK_SECONDS = 2.0
PROBE_TIMEOUT_SECONDS = 5.0


def probe_delay(failures: int, *, first: float, longest: float) -> float:
    """Seconds to wait before the next probe when the last `failures` tries in a row failed."""
    return float(min(first * 2 ** max(failures - 1, 0), longest))


def probe(hub_url: str) -> bool:
    """Does the hub answer at all? Not recorded in the link's history: it is the same outage."""
    try:
        answer = requests.get(f"{hub_url.rstrip('/')}/health", timeout=PROBE_TIMEOUT_SECONDS)
    except requests.RequestException:
        return False
    return answer.status_code < 500


def _next_try(at: datetime | None) -> None:
    if at is None:  # the link is up: one write only when there was a time to clear
        StationConfig.objects.filter(next_try_at__isnull=False).update(next_try_at=None)
    else:
        StationConfig.objects.update(next_try_at=at)


def sync_loop(stop: threading.Event) -> None:
    """The station's background sync (`farcare station`): a pass whenever something waits or is
    asked for, and every FARCARE_STATION_SYNC_SECONDS to pull; after a drop, probe until the
    hub answers. Ends when `stop` is set."""
    interval = float(settings.FARCARE_STATION_SYNC_SECONDS)
    last = -float("inf")
    # Passes in a row that failed although the probe answered (a hub refusing the station, or
    # failing): they back off too, so a broken hub is not asked again every few seconds.
    failed = 0
    while not stop.is_set():
        if time.monotonic() - last >= interval or pending().exists() or _wake_path().exists():
            last = time.monotonic()
            report = sync_once()
            if report.link_down:
                made_progress = bool(report.delivered or report.refused or report.pulled)
                failed = 0 if made_progress else failed + 1
                _wait_for_the_link(stop, failed)
                last = -float("inf")  # the hub answers (or someone asked): a pass at once
                continue
            failed = 0
            _next_try(None)
        stop.wait(LOOP_TICK_SECONDS)


def _wait_for_the_link(stop: threading.Event, failed: int) -> None:
    config = station()
    if config is None:
        return
    first = float(settings.FARCARE_STATION_PROBE_SECONDS)
    longest = float(settings.FARCARE_STATION_PROBE_MAX_SECONDS)
    tries = failed
    while True:
        tries += 1
        delay = probe_delay(tries, first=first, longest=longest)
        _next_try(timezone.now() + timedelta(seconds=delay))
        if stop.wait(delay) or _wake_path().exists() or probe(config.hub_url):
            return


# ---------------------------------------------------------------- pulls between pushes
#
# One pass talks over one connection, in one thread, with one writer to the station's database:
# the pull goes between two chunks of an upload rather than beside it in a second loop (a second
# connection would halve the upload's share of a 64 kbit/s link while it lasted, and a second
# writer would contend for SQLite's only write lock). A pull costs one round trip and a few
# kilobytes; a chunk of 64 KiB takes 8 s at 64 kbit/s, so before each file and each chunk a pull
# is due when that chunk would end past FARCARE_STATION_PULL_SECONDS after the last pull (by any
# pass): what the hub says reaches the post within that interval and a round trip, whatever
# waits in the outbox. Not a pull before every file: a burst of previews (one chunk each, the
# emergency's first seconds) would pay a round trip and the case's copy per file.


def pull_due(*, since: float, ahead: float, every: float) -> bool:
    """Whether to pull now: `since` seconds after the last pull, before a chunk expected to take
    `ahead` seconds, with a pull due every `every` seconds of sending."""
    return since + ahead >= every


class _Pass:
    """What one pass carries from call to call: its link, report and the time of its last pull."""

    def __init__(
        self, link: Link, config: StationConfig, report: PassReport, progress: Progress
    ) -> None:
        self.link = link
        self.config = config
        self.report = report
        self.progress = progress
        self.every = float(settings.FARCARE_STATION_PULL_SECONDS)
        # The last pull by any pass (a pass after a drop may owe one at once).
        self.last_pull = config.last_sync_at
        # How long the last chunk took: the next one takes about as long.
        self.chunk_seconds = 0.0

    def pull(self) -> None:
        self.config.refresh_from_db()  # the cursor the last pull left
        self.report.pulled += pull(self.link, self.config)
        self.last_pull = timezone.now()

    def pull_if_due(self) -> None:
        since = (
            (timezone.now() - self.last_pull).total_seconds() if self.last_pull else float("inf")
        )
        # "Sync now" pressed during this pass: the feldsher wants the hub's news now.
        if _take_wake() or pull_due(since=since, ahead=self.chunk_seconds, every=self.every):
            self.pull()


def push_outbox(talk: _Pass) -> None:
    while True:
        items = list(pending()[:RECORD_BATCH])
        if not items:
            return
        head = items[0]
        if head.phase == Phase.RECORD:
            batch: list[OutboxItem] = []
            for item in items:
                if item.phase != Phase.RECORD:
                    break
                batch.append(item)
            _push_records(talk.link, batch, talk.report)
            continue
        talk.pull_if_due()
        if not _upload(talk, head):
            talk.report.paused += 1


def _push_records(link: Link, batch: list[OutboxItem], report: PassReport) -> None:
    for item in batch:
        progress_state(item, ItemState.SENDING)
    answer = link.json(
        "POST",
        "/api/sync/push",
        {"items": [{"id": str(i.uuid), "kind": i.kind, "payload": i.payload} for i in batch]},
    )
    by_id = {r["id"]: r for r in answer["results"]}
    for item in batch:
        result = by_id.get(str(item.uuid))
        if result is None:
            continue
        if result["status"] == "refused":
            _refuse(item, result.get("message", ""))
            report.refused.append(item.label)
        else:
            _delivered(item, result.get("result") or {})
            report.delivered.append(item.label)


def progress_state(item: OutboxItem, state: str) -> None:
    item.state = state
    item.attempts += 1
    item.save(update_fields=["state", "attempts"])


def _delivered(item: OutboxItem, result: dict[str, Any]) -> None:
    item.state = ItemState.DELIVERED
    item.sent = item.size
    item.delivered_at = timezone.now()
    item.result = result
    item.last_error = ""
    item.save()


def _refuse(item: OutboxItem, message: str) -> None:
    """Kept with the hub's reason for the user to see and act on; what depends on it (the files
    of a refused request) cannot go either."""
    with transaction.atomic():
        item.state = ItemState.REFUSED
        item.last_error = message[:500]
        item.save()
        if item.kind == "consult.submit" and item.consultation_uuid:
            OutboxItem.objects.filter(
                consultation_uuid=item.consultation_uuid, state__in=PENDING_STATES
            ).exclude(pk=item.pk).update(
                state=ItemState.REFUSED, last_error=_("The request itself was refused.")
            )


def _more_urgent_waiting(item: OutboxItem) -> bool:
    # The queue's own key (`sync.ordering`): whatever `pending()` would send first goes first.
    head = pending().exclude(pk=item.pk).first()
    return head is not None and item_key(head) < item_key(item)


class _Refused(Exception):
    """The hub will not take this file; the item has been marked with its reason."""


def _upload(talk: _Pass, item: OutboxItem) -> bool:
    """Send one file by tus, from where the hub says it has got to, pulling between chunks when
    a pull is due. False when paused for something more urgent (a pull may have queued it);
    LinkDown when the link drops (the hub keeps what it has)."""
    link, report, progress = talk.link, talk.report, talk.progress
    progress.on_item(item)
    if item.state != ItemState.SENDING:
        progress_state(item, ItemState.SENDING)
    chunk_size = int(settings.FARCARE_STATION_CHUNK_KB) * 1024
    try:
        with default_storage.open(item.file_name, "rb") as source:
            offset = _hub_offset(link, item) if item.upload_url else None
            if offset is None:  # not started, or forgotten by the hub: create it, first chunk on
                started = time.monotonic()
                offset = _create(link, item, source.read(chunk_size))
                talk.chunk_seconds = time.monotonic() - started
            while True:
                item.sent = offset
                item.save(update_fields=["sent"])
                progress.on_bytes(item, offset)
                if offset >= item.size:
                    break
                talk.pull_if_due()
                if _more_urgent_waiting(item):
                    return False
                source.seek(offset)
                started = time.monotonic()
                offset = _patch(link, item, offset, source.read(chunk_size))
                talk.chunk_seconds = time.monotonic() - started
    except _Refused:
        report.refused.append(item.label)
        return True
    _delivered(item, {"upload": item.upload_url})
    report.delivered.append(item.label)
    return True


def _tus_headers(item: OutboxItem, chunk: bytes | None = None) -> dict[str, str]:
    headers = {**TUS_HEADERS, "FarCare-Actor": str(item.payload.get("actor", ""))}
    if chunk is not None:
        digest = base64.b64encode(hashlib.sha256(chunk).digest()).decode()
        headers["Content-Type"] = "application/offset+octet-stream"
        headers["Upload-Checksum"] = f"sha256 {digest}"
    return headers


def _check(response: requests.Response, item: OutboxItem) -> None:
    if response.status_code >= 500:
        raise LinkDown(f"hub answered {response.status_code}")
    if response.status_code >= 400:
        _refuse(item, response.text)
        raise _Refused


def _create(link: Link, item: OutboxItem, first: bytes) -> int:
    """POST with the first chunk (tus creation-with-upload: one round trip less per file)."""
    metadata = ",".join(
        f"{key} {base64.b64encode(str(value).encode()).decode()}"
        for key, value in item.payload.items()
        if key not in ("actor", "at")
    )
    response = link.request(
        "POST",
        "/uploads/",
        data=first,
        headers={
            **_tus_headers(item, first),
            "Upload-Length": str(item.size),
            "Upload-Metadata": metadata,
        },
    )
    _check(response, item)
    item.upload_url = link.url(response.headers["Location"])
    item.save(update_fields=["upload_url"])
    return int(response.headers.get("Upload-Offset", 0))


def _hub_offset(link: Link, item: OutboxItem) -> int | None:
    """How much of the file the hub holds; None when it no longer knows the upload."""
    response = link.request("HEAD", item.upload_url, headers=_tus_headers(item))
    if response.status_code == 200:
        return int(response.headers["Upload-Offset"])
    if response.status_code in (404, 410):  # expired or removed at the hub: start again
        item.upload_url = ""
        item.save(update_fields=["upload_url"])
        return None
    _check(response, item)
    raise LinkDown(f"hub answered {response.status_code}")


def _patch(link: Link, item: OutboxItem, offset: int, chunk: bytes) -> int:
    response = link.request(
        "PATCH",
        item.upload_url,
        data=chunk,
        headers={**_tus_headers(item, chunk), "Upload-Offset": str(offset)},
    )
    if response.status_code == 204:
        return int(response.headers["Upload-Offset"])
    if response.status_code in (409, 460):  # out of step, or damaged in transit: ask again
        known = _hub_offset(link, item)
        if known is None:
            raise LinkDown("the hub forgot the upload; it starts again")
        return known
    _check(response, item)
    raise LinkDown(f"hub answered {response.status_code}")


# ---------------------------------------------------------------- pull


def pull(link: Link, config: StationConfig) -> int:
    """Apply what changed at the hub for our patients; returns how many records came."""
    answer = link.json("GET", "/api/sync/pull", params={"since": config.pull_cursor})
    with transaction.atomic():
        _mirror_staff(answer.get("staff") or "[]", config)
        for record in answer["patients"]:
            _mirror_patient(record)
        for record in answer["consents"]:
            _mirror_consent(record, config)
        for copy in answer["consultations"]:
            _mirror_consultation(copy)
        diagnostics = diagnostics_mirror.mirror(answer.get("diagnostics") or {})
        training_mirror.mirror(answer.get("training") or {})
        evacuation_mirror.mirror(answer.get("evacuation") or {})
        monitoring_mirror.mirror(answer.get("monitoring") or {})
        if answer["patients"]:
            audit_record(
                accessor=Accessor(None, None, "sync"),
                action=AuditAction.UPDATE,
                details={"pulled": "patients"},
                patients=[p["uuid"] for p in answer["patients"]],
            )
        StationConfig.objects.filter(pk=config.pk).update(
            pull_cursor=answer["cursor"], last_sync_at=timezone.now()
        )
    for copy in answer["consultations"]:
        _fetch_conclusion(link, copy)
    return len(answer["patients"]) + len(answer["consultations"]) + diagnostics


STAFF_UPDATES = ("first_name", "last_name", "email", "role", "is_active")


def _mirror_staff(text: str, config: StationConfig) -> None:
    """The post's staff as the hub has them: a new colleague can log in, a changed password or a
    disabled account takes effect here too. Only these fields: the station's own lockout
    counters, last logins and interface preferences stay as they are."""
    seen = dict(config.staff_hashes)
    for obj in serializers.deserialize("json", text):
        incoming = obj.object
        if not isinstance(incoming, User):
            continue
        key = str(incoming.uuid)
        local = User.objects.filter(uuid=incoming.uuid).first()
        if local is None:
            if incoming.is_active:
                obj.save()
                seen[key] = incoming.password
            continue
        changes = {name: getattr(incoming, name) for name in STAFF_UPDATES}
        if seen.get(key) != incoming.password:
            changes["password"] = seen[key] = incoming.password
        User.objects.filter(pk=local.pk).update(**changes)
    StationConfig.objects.filter(pk=config.pk).update(staff_hashes=seen)


def _mirror_patient(record: dict[str, Any]) -> None:
    # An edit still waiting in our outbox wins here until the hub has merged it.
    if OutboxItem.objects.filter(patient_uuid=record["uuid"], state__in=PENDING_STATES).exists():
        return
    values = patient_data(record)
    patient = Patient.objects.filter(uuid=record["uuid"]).first() or Patient(uuid=record["uuid"])
    for name, value in values.items():
        setattr(patient, name, value)
    patient.save()


def _mirror_consent(record: dict[str, Any], config: StationConfig) -> None:
    patient = Patient.objects.filter(uuid=record["patient"]).first()
    if patient is None:
        return
    consent = Consent.objects.filter(uuid=record["uuid"]).first()
    if consent is None:
        recorder = User.objects.filter(facility=config.facility).order_by("pk").first()
        if recorder is None:
            return
        consent = Consent(
            uuid=record["uuid"], patient=patient, kind=record["kind"], recorded_by=recorder
        )
    consent.scope = record["scope"]
    consent.granted_at = _datetime(record["granted_at"]) or timezone.now()
    consent.revoked_at = _datetime(record.get("revoked_at"))
    consent.save()


def _datetime(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _mirror_consultation(copy: dict[str, Any]) -> None:
    HubCopy.objects.update_or_create(
        consultation_uuid=copy["uuid"], defaults={"data": copy, "pulled_at": timezone.now()}
    )
    local = Consultation.objects.filter(uuid=copy["uuid"]).first()
    if local is not None:
        mirror(local, status=copy["status"])
    for entry in copy["attachments"]:
        items = OutboxItem.objects.filter(attachment_uuid=entry["uuid"])
        if entry.get("viewed_at"):
            items.filter(state=ItemState.DELIVERED).update(
                state=ItemState.READ, read_at=_datetime(entry["viewed_at"])
            )
        if entry.get("original_requested_at"):
            items.filter(state=ItemState.ON_REQUEST).update(state=ItemState.QUEUED)


def _fetch_conclusion(link: Link, copy: dict[str, Any]) -> None:
    """The signed conclusion's PDF, once: the feldsher prints it for the patient."""
    conclusion = copy.get("conclusion") or {}
    pdf = conclusion.get("pdf")
    if not pdf:
        return
    name = f"station/conclusions/{pdf}.pdf"
    if default_storage.exists(name):
        return
    response = link.request("GET", f"/api/sync/files/{pdf}")
    if response.status_code == 200:
        default_storage.save(name, ContentFile(response.content))


def conclusion_pdf_name(copy: dict[str, Any]) -> str | None:
    pdf = (copy.get("conclusion") or {}).get("pdf")
    name = f"station/conclusions/{pdf}.pdf" if pdf else None
    return name if name and default_storage.exists(name) else None


__all__ = [
    "Link",
    "LinkDown",
    "NotEnrolled",
    "Progress",
    "SyncLock",
    "enrol",
    "link_rate",
    "probe",
    "probe_delay",
    "pull_due",
    "start_sync",
    "sync_loop",
    "sync_once",
    "sync_until_done",
    "time_left",
    "wake",
]
