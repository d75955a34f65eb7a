"""What an upload is for. The client names a purpose in its metadata (`purpose`); the purpose's
handler decides whether the user may make such an upload at all (before any byte travels, and
again when the last byte has arrived, since access can change while a large file crawls over a
satellite link) and, once complete, turns the bytes into a record.

    register("consult-attachment", ConsultAttachment())

A handler raises PermissionDenied (403) or ValidationError; the ValidationError's code picks
the status the client sees: BAD_METADATA 400, UNSUPPORTED_TYPE 415, TOO_LARGE 413, anything
else 422. Messages are shown to the user: translate them.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from pathlib import PurePath
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from farcare.access.policy import Action, Decision, consult_sides
from farcare.access.services import require
from farcare.accounts.models import User
from farcare.audit.models import AuditAction
from farcare.audit.services import Accessor, audit_record
from farcare.consults.attachments import (
    ALLOWED,
    attachment_receive_part,
    attachment_store,
    max_bytes,
)
from farcare.consults.models import OPEN_STATUSES, Attachment, Consultation
from farcare.consults.workflow import Side

if TYPE_CHECKING:
    from .models import Upload

BAD_METADATA = "bad_metadata"
UNSUPPORTED_TYPE = "unsupported_type"
TOO_LARGE = "too_large"


class PurposeHandler(Protocol):
    def authorise(
        self, *, user: User, accessor: Accessor, metadata: Mapping[str, str], length: int
    ) -> None:
        """May `user` start (or finish) an upload of `length` bytes described by `metadata`?
        Raise PermissionDenied or ValidationError; return None when it may. Runs outside any
        transaction, so that the audit record of a refusal is kept (decisions.md §2)."""

    def complete(self, *, upload: Upload, file: File, user: User, accessor: Accessor) -> uuid.UUID:
        """Turn the complete bytes into a record and return its UUID. Runs inside the upload's
        transaction: a ValidationError marks the upload failed and rolls back what was made."""


_handlers: dict[str, PurposeHandler] = {}


def register(name: str, handler: PurposeHandler) -> None:
    _handlers[name] = handler


def handler_for(name: str) -> PurposeHandler:
    if not name:
        raise ValidationError(
            _("Say what the upload is for (the metadata key “purpose”)."), code=BAD_METADATA
        )
    try:
        return _handlers[name]
    except KeyError:
        raise ValidationError(
            _("Unknown upload purpose: %(purpose)s.") % {"purpose": name}, code=BAD_METADATA
        ) from None


def purposes() -> list[str]:
    return sorted(_handlers)


# --- consult-attachment ---------------------------------------------------------------------


class ConsultAttachment:
    """A file added to a consultation, as a DocumentReference posted over FHIR would be.
    Metadata: `consultation` (its UUID), `filename`, and optionally `filetype` (MIME type)."""

    def authorise(
        self, *, user: User, accessor: Accessor, metadata: Mapping[str, str], length: int
    ) -> None:
        if metadata.get("attachment"):
            _declared(metadata, accessor, length)
            return
        consultation = _consultation(metadata)
        _require(accessor, consultation)
        name = _filename(metadata)
        _check_kind(name, metadata.get("filetype", ""))
        if length > max_bytes():
            # The same words as a file that is too large on the pages.
            raise ValidationError(
                _("%(name)s is larger than %(limit)s MB.")
                % {"name": name, "limit": settings.FARCARE_ATTACHMENT_MAX_MB},
                code=TOO_LARGE,
            )
        if length == 0:
            raise ValidationError(_("%(name)s is empty.") % {"name": name})

    def complete(self, *, upload: Upload, file: File, user: User, accessor: Accessor) -> uuid.UUID:
        if upload.metadata.get("attachment"):
            return _complete_part(upload, file, accessor)
        consultation = _consultation(upload.metadata, lock=True)
        decision = _require(accessor, consultation)
        name = _filename(upload.metadata)
        uploaded = UploadedFile(
            file=file,
            name=name,
            content_type=upload.metadata.get("filetype", ""),
            size=upload.length,
        )
        # Checks the content (not only the name) and stores it through Django storage.
        stored = attachment_store(consultation=consultation, upload=uploaded, user=user)
        audit_record(
            accessor=accessor,
            action=AuditAction.CREATE,
            patient_uuid=consultation.patient.uuid,
            record=stored,
            purpose=decision.purpose,
            details={"upload": str(upload.uuid), "size": stored.size},
        )
        return stored.uuid


def _declared(metadata: Mapping[str, str], accessor: Accessor, length: int) -> Attachment:
    """A file a station declared with its request (farcare.sync): its preview or its original,
    named by `attachment` and `part`. It may arrive after the case closed: it was sent while
    the case was open, and the consultant may have asked for the original."""
    try:
        key = uuid.UUID(metadata.get("attachment", ""))
    except ValueError:
        raise ValidationError(
            _("Name the file (the metadata key “attachment”)."), code=BAD_METADATA
        ) from None
    attachment = (
        Attachment.objects.select_related("consultation__patient")
        .filter(uuid=key, consultation__uuid=metadata.get("consultation", ""))
        .first()
    )
    if attachment is None:
        raise ValidationError(_("There is no such file in this consultation."))
    _require(accessor, attachment.consultation)
    part = metadata.get("part", "")
    if part not in ("preview", "original"):
        raise ValidationError(
            _("Unknown part of a file: %(part)s") % {"part": part}, code=BAD_METADATA
        )
    if part == "original" and length != attachment.size:
        raise ValidationError(
            _("%(name)s arrived different from the file that was sent.")
            % {"name": attachment.original_name}
        )
    if length > max_bytes():
        raise ValidationError(
            _("%(name)s is larger than %(limit)s MB.")
            % {"name": attachment.original_name, "limit": settings.FARCARE_ATTACHMENT_MAX_MB},
            code=TOO_LARGE,
        )
    return attachment


def _complete_part(upload: Upload, file: File, accessor: Accessor) -> uuid.UUID:
    attachment = _declared(upload.metadata, accessor, upload.length)
    part = upload.metadata["part"]
    received = attachment_receive_part(
        attachment=attachment,
        part=part,
        upload=UploadedFile(
            file=file,
            name=attachment.original_name,
            content_type=upload.metadata.get("filetype", ""),
            size=upload.length,
        ),
        content_type=upload.metadata.get("filetype", ""),
    )
    audit_record(
        accessor=accessor,
        action=AuditAction.CREATE,
        patient_uuid=attachment.consultation.patient.uuid,
        record=received,
        details={"upload": str(upload.uuid), "part": part, "size": upload.length},
    )
    return received.uuid


def _consultation(metadata: Mapping[str, str], *, lock: bool = False) -> Consultation:
    try:
        key = uuid.UUID(metadata.get("consultation", ""))
    except ValueError:
        raise ValidationError(
            _("Name the consultation the file is for (the metadata key “consultation”)."),
            code=BAD_METADATA,
        ) from None
    found = Consultation.objects.select_related("patient", "requesting_facility", "routed_facility")
    if lock:  # the case cannot close while its file is being filed
        found = found.select_for_update(of=("self",))
    consultation = found.filter(uuid=key).first()
    if consultation is None:
        raise ValidationError(_("There is no such consultation."))
    if consultation.status not in OPEN_STATUSES:
        raise ValidationError(
            _("Files are added to an open consultation only; this one is not open.")
        )
    return consultation


def _require(accessor: Accessor, consultation: Consultation) -> Decision:
    """The rule of a FHIR DocumentReference create (farcare/fhir/resources/documents.py,
    `_authorise_upload`), through the one access policy: either side of the case may add a file
    (as in its thread); anyone else needs the right to change the patient's record. Both must
    be able to see the patient, which keeps consultants abroad (who see a pseudonymised case)
    from filing documents into the record. A refusal is audited by `require`."""
    sides = consult_sides(accessor.user, consultation)
    action = Action.VIEW if sides & {Side.REQUESTER, Side.CONSULTANT} else Action.UPDATE
    return require(accessor=accessor, patient=consultation.patient, action=action)


def _filename(metadata: Mapping[str, str]) -> str:
    # Only the last part of a path: a name, never a place to write to.
    name = PurePath(metadata.get("filename", "").replace("\\", "/")).name.strip()
    if not name:
        raise ValidationError(_("Name the file (the metadata key “filename”)."), code=BAD_METADATA)
    return name[:200]


def _check_kind(name: str, filetype: str) -> None:
    """The extension must be one the pages accept, and a declared type must be the extension's
    (as for a FHIR DocumentReference); the content itself is checked once it has arrived."""
    extension = PurePath(name).suffix.lower()
    declared = filetype.split(";")[0].strip().lower()
    if extension not in ALLOWED or declared not in {
        "",
        "application/octet-stream",
        ALLOWED[extension][0],
    }:
        raise ValidationError(
            _("%(name)s: this kind of file is not accepted. Send %(kinds)s.")
            % {"name": name, "kinds": ", ".join(sorted({e.lstrip(".") for e in ALLOWED}))},
            code=UNSUPPORTED_TYPE,
        )


register("consult-attachment", ConsultAttachment())
