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
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import requests
from django.conf import settings
from django.core import serializers
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from django.utils.translation import gettext as _

from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.models import Consultation
from farcare.consults.workflow import mirror
from farcare.network.models import Facility
from farcare.patients.models import Consent, Patient

from .models import (
    PENDING_STATES,
    HubCopy,
    ItemState,
    LinkEvent,
    OutboxItem,
    Phase,
    StationConfig,
)
from .outbox import pending, station
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
            received=len(response.content),
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
        return
    LinkEvent.objects.create(
        at=now, up=up, bytes_sent=sent, bytes_received=received, seconds=seconds, note=note
    )


def link_rate() -> float | None:
    """Bytes per second the link carried over its recent stretches, or None if unknown."""
    recent = LinkEvent.objects.filter(up=True, at__gte=timezone.now() - timedelta(hours=6))
    totals = recent.aggregate(
        sent=Sum("bytes_sent"), received=Sum("bytes_received"), seconds=Sum("seconds")
    )
    seconds = totals["seconds"] or 0.0
    moved = (totals["sent"] or 0) + (totals["received"] or 0)
    if seconds < 0.2 or moved < 4096:  # too little to tell
        return None
    return moved / seconds


def time_left() -> float | None:
    """Seconds until the outbox is empty at the measured rate."""
    rate = link_rate()
    remaining = sum(max(item.size - item.sent, 512) for item in pending())
    if remaining == 0:
        return 0.0
    return remaining / rate if rate else None


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


@dataclass
class PassReport:
    delivered: list[str] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    pulled: int = 0
    link_down: str = ""
    paused: int = 0


def sync_once(progress: Progress | None = None) -> PassReport:
    config = station()
    if config is None:
        raise NotEnrolled(_("This installation is not enrolled at a hub."))
    link = Link(config.hub_url, config.token)
    report = PassReport()
    try:
        push_outbox(link, report, progress or Progress())
        report.pulled = pull(link, config)
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
    """Passes until the outbox is empty and a pull succeeded, waiting `pause` after a drop."""
    report = PassReport()
    for _attempt in range(attempts):
        report = sync_once(progress)
        if not report.link_down and not pending().exists():
            return report
        time.sleep(pause)
    return report


def push_outbox(link: Link, report: PassReport, progress: Progress) -> None:
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
            _push_records(link, batch, report)
        elif not _upload(link, head, report, progress):
            report.paused += 1


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
    head = pending().exclude(pk=item.pk).first()
    return head is not None and (head.rank, head.phase) < (item.rank, item.phase)


class _Refused(Exception):
    """The hub will not take this file; the item has been marked with its reason."""


def _upload(link: Link, item: OutboxItem, report: PassReport, progress: Progress) -> bool:
    """Send one file by tus, from where the hub says it has got to. False when paused for
    something more urgent; LinkDown when the link drops (the hub keeps what it has)."""
    progress.on_item(item)
    if item.state != ItemState.SENDING:
        progress_state(item, ItemState.SENDING)
    chunk_size = int(settings.FARCARE_STATION_CHUNK_KB) * 1024
    try:
        with default_storage.open(item.file_name, "rb") as source:
            offset = _hub_offset(link, item) if item.upload_url else None
            if offset is None:  # not started, or forgotten by the hub: create it, first chunk on
                offset = _create(link, item, source.read(chunk_size))
            while True:
                item.sent = offset
                item.save(update_fields=["sent"])
                progress.on_bytes(item, offset)
                if offset >= item.size:
                    break
                if _more_urgent_waiting(item):
                    return False
                source.seek(offset)
                offset = _patch(link, item, offset, source.read(chunk_size))
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
    return len(answer["patients"]) + len(answer["consultations"])


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
    "enrol",
    "link_rate",
    "sync_once",
    "sync_until_done",
    "time_left",
]
