"""The station's outbox: every write made at a remote post is queued here in the same
transaction as the write itself, so nothing typed offline can be lost, and leaves in the order
the link must carry it (`sync.ordering`): the most urgent request's data first; within one
urgency the records, then previews and small clinical files, then originals, the most valuable
per byte first."""

from __future__ import annotations

import hashlib
import logging
from typing import Any

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connections, router
from django.db.models import QuerySet
from django.utils import timezone

from farcare.accounts.models import User
from farcare.consults.models import Attachment, Consultation, ConsultForm, Message
from farcare.patients.models import Consent, Patient

from .models import PENDING_STATES, ItemState, OutboxItem, Phase, StationConfig
from .ordering import FileKind, Part, cost, file_kind, original_phase, queue_key
from .records import patient_fields, patient_record

logger = logging.getLogger(__name__)

RANKS = {ConsultForm.EMERGENCY: 0, ConsultForm.URGENT: 1, ConsultForm.PLANNED: 2}
UNTIED = 3  # a patient's registration or a consent, until a request needs it sooner
# The queue's order: `sync.ordering.queue_key`, then the time queued (an index serves it).
QUEUE_ORDER = ("rank", "phase", "cost", "created_at", "pk")


def station() -> StationConfig | None:
    """This installation's enrolment, or None on a hub."""
    return StationConfig.objects.select_related("facility").first()


def is_station() -> bool:
    """Whether this installation is enrolled as a station. Asked at every write (a station
    queues it, a hub does not) and never cached: enrolment is a row another process may add.
    A fixed statement, sent as it is: compiling `.exists()` anew cost more than its round trip."""
    with connections[router.db_for_read(StationConfig)].cursor() as cursor:
        cursor.execute(_ANY_STATION)
        return cursor.fetchone() is not None


_ANY_STATION = f'SELECT 1 FROM "{StationConfig._meta.db_table}" LIMIT 1'  # noqa: S608 - a model's table


def pending() -> QuerySet[OutboxItem]:
    """What still has to cross, in the order it crosses."""
    return OutboxItem.objects.filter(state__in=PENDING_STATES).order_by(*QUEUE_ORDER)


def item_key(item: OutboxItem) -> tuple[int, int, int]:
    """Where an item stands in the queue (smaller crosses first), as `pending` orders it."""
    return queue_key(item.rank, item.phase, item.cost)


def _enqueue(
    *,
    kind: str,
    label: str,
    payload: dict[str, Any],
    actor: User,
    rank: int = UNTIED,
    phase: int = Phase.RECORD,
    **fields: Any,
) -> OutboxItem:
    payload = {**payload, "actor": str(actor.uuid), "at": timezone.now().isoformat()}
    return OutboxItem.objects.create(
        kind=kind, label=label[:200], payload=payload, rank=rank, phase=phase, **fields
    )


def _raise_rank(patient: Patient, rank: int) -> None:
    """A request cannot arrive before its patient: the patient's pending records take the
    request's urgency."""
    OutboxItem.objects.filter(
        patient_uuid=patient.uuid,
        consultation_uuid__isnull=True,
        state__in=PENDING_STATES,
        rank__gt=rank,
    ).update(rank=rank)


def queue_patient_create(*, patient: Patient, actor: User) -> OutboxItem:
    return _enqueue(
        kind="patient.create",
        label=f"{patient.family} {patient.given}",
        payload={"patient": patient_record(patient)},
        actor=actor,
        patient_uuid=patient.uuid,
    )


def queue_patient_update(
    *, patient: Patient, actor: User, base: dict[str, Any], changed: list[str]
) -> OutboxItem | None:
    """`base` holds the fields as they were before the edit: the hub merges field by field."""
    if not changed:
        return None
    now = patient_fields(patient)
    return _enqueue(
        kind="patient.update",
        label=f"{patient.family} {patient.given}",
        payload={
            "patient": str(patient.uuid),
            "base": {name: base[name] for name in changed},
            "changes": {name: now[name] for name in changed},
        },
        actor=actor,
        patient_uuid=patient.uuid,
    )


def queue_consent(*, consent: Consent, actor: User) -> OutboxItem:
    return _enqueue(
        kind="consent.record",
        label=consent.get_kind_display(),
        payload={
            "consent": str(consent.uuid),
            "patient": str(consent.patient.uuid),
            "kind": consent.kind,
            "scope": consent.scope,
        },
        actor=actor,
        patient_uuid=consent.patient.uuid,
    )


def queue_consultation(*, consultation: Consultation, actor: User) -> list[OutboxItem]:
    """The request (text and vitals), then a preview and the original of each file."""
    _raise_rank(consultation.patient, _rank(consultation))
    return _queue_with_files(
        consultation,
        list(consultation.attachments.filter(message__isnull=True)),
        actor=actor,
        kind="consult.submit",
        label=f"{consultation.specialty.name_en}: {consultation.question[:120]}",
        payload={
            "client_token": str(consultation.client_token),
            "patient": str(consultation.patient.uuid),
            "specialty": consultation.specialty.code,
            "form": consultation.form,
            "mode": consultation.mode,
            "language": consultation.language,
            "question": consultation.question,
            "summary": consultation.summary,
            "vitals": {v.key: v.value for v in consultation.vitals.all()},
            "vitals_missing": consultation.vitals_missing,
            "vitals_missing_note": consultation.vitals_missing_note,
        },
    )


def queue_message(*, message: Message, actor: User) -> list[OutboxItem]:
    return _queue_with_files(
        message.consultation,
        list(message.attachments.all()),
        actor=actor,
        kind="message.post",
        label=message.body[:120],
        payload={"message": str(message.uuid), "body": message.body},
    )


def _rank(consultation: Consultation) -> int:
    return RANKS.get(ConsultForm(consultation.form), UNTIED)


def _queue_with_files(
    consultation: Consultation,
    attachments: list[Attachment],
    *,
    actor: User,
    kind: str,
    label: str,
    payload: dict[str, Any],
) -> list[OutboxItem]:
    """A record of a request, naming its files; then each file's preview and original."""
    rank = _rank(consultation)
    items = [
        _enqueue(
            kind=kind,
            label=label,
            payload={
                **payload,
                "consultation": str(consultation.uuid),
                "attachments": [_declared(a) for a in attachments],
            },
            actor=actor,
            rank=rank,
            patient_uuid=consultation.patient.uuid,
            consultation_uuid=consultation.uuid,
        )
    ]
    for attachment in attachments:
        items.extend(_queue_files(attachment, actor=actor, rank=rank))
    return items


def _declared(attachment: Attachment) -> dict[str, Any]:
    return {
        "uuid": str(attachment.uuid),
        "name": attachment.original_name,
        "content_type": attachment.content_type,
        "size": attachment.size,
        "sha256": attachment.sha256,
    }


def originals_follow() -> bool:
    return str(settings.FARCARE_STATION_ORIGINALS) != "on-request"


def _queue_files(attachment: Attachment, *, actor: User, rank: int) -> list[OutboxItem]:
    from farcare.imaging.previews import make_preview

    common: dict[str, Any] = {
        "actor": actor,
        "rank": rank,
        "patient_uuid": attachment.consultation.patient.uuid,
        "consultation_uuid": attachment.consultation.uuid,
        "attachment_uuid": attachment.uuid,
    }
    items: list[OutboxItem] = []
    preview = None
    kind = _file_kind(attachment)
    common["cost"] = cost(attachment.size, kind)
    try:
        with attachment.file.open("rb") as source:
            preview = make_preview(source.read(), attachment.content_type)
    except (ValueError, OSError) as error:  # the original still goes; the consultant opens it
        logger.warning("no preview of %s: %s", attachment.uuid, error)
    if preview is not None and len(preview.content) < attachment.size:
        attachment.preview.save("preview", ContentFile(preview.content), save=False)
        attachment.preview_content_type = preview.content_type
        attachment.save(update_fields=["preview", "preview_content_type"])
        items.append(
            _enqueue(
                kind="file.preview",
                label=f"{attachment.original_name} ({preview.width}×{preview.height})",
                payload=_file_payload(attachment, "preview", preview.content_type),
                phase=Phase.PREVIEW,
                file_name=attachment.preview.name,
                size=len(preview.content),
                **{**common, "cost": cost(len(preview.content), kind)},
            )
        )
    # A small file with no preview, or a small ECG or document even with one, is what the
    # consultant opens first: it crosses with the previews.
    phase = original_phase(
        kind=kind,
        size=attachment.size,
        has_preview=bool(items),
        small_limit=int(settings.FARCARE_STATION_SMALL_FILE_KB) * 1024,
    )
    # Kept at the post until asked for: a large original whose preview has gone (not a small
    # ECG or document, which goes with the previews whatever the setting).
    on_request = bool(items) and phase == Part.ORIGINAL and not originals_follow()
    items.append(
        _enqueue(
            kind="file.original",
            label=attachment.original_name,
            payload=_file_payload(attachment, "original", attachment.content_type),
            phase=Phase.PREVIEW if phase == Part.EARLY else Phase.ORIGINAL,
            file_name=attachment.file.name,
            size=attachment.size,
            state=ItemState.ON_REQUEST if on_request else ItemState.QUEUED,
            **common,
        )
    )
    return items


def _file_kind(attachment: Attachment) -> FileKind:
    """What the file is; for DICOM its modality and SOP class tell an ECG from an X-ray."""
    modality = sop_class = ""
    if attachment.content_type == "application/dicom":
        import pydicom
        from pydicom.errors import InvalidDicomError

        try:
            with attachment.file.open("rb") as source:
                header = pydicom.dcmread(
                    source, stop_before_pixels=True, specific_tags=["Modality", "SOPClassUID"]
                )
            modality = str(header.get("Modality", ""))
            sop_class = str(header.get("SOPClassUID", ""))
        except (InvalidDicomError, OSError, ValueError, EOFError) as error:
            logger.warning("cannot read the DICOM header of %s: %s", attachment.uuid, error)
    return file_kind(attachment.content_type, modality=modality, sop_class=sop_class)


def _file_payload(attachment: Attachment, part: str, content_type: str) -> dict[str, Any]:
    return {
        "purpose": "consult-attachment",
        "consultation": str(attachment.consultation.uuid),
        "attachment": str(attachment.uuid),
        "part": part,
        "filename": attachment.original_name,
        "filetype": content_type,
    }


def file_sha256(name: str) -> str:
    digest = hashlib.sha256()
    with default_storage.open(name, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()
