"""Attachments of a consultation: checked by content, not by the name the browser sent, stored
through Django storage under a random name."""

from __future__ import annotations

import hashlib
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from farcare.accounts.models import User

from .models import Attachment, Consultation, Message

# extension → (content type, a check of the first bytes)
ALLOWED: dict[str, tuple[str, bytes | None, int]] = {
    ".jpg": ("image/jpeg", b"\xff\xd8\xff", 0),
    ".jpeg": ("image/jpeg", b"\xff\xd8\xff", 0),
    ".png": ("image/png", b"\x89PNG\r\n\x1a\n", 0),
    ".webp": ("image/webp", b"WEBP", 8),
    ".pdf": ("application/pdf", b"%PDF-", 0),
    ".dcm": ("application/dicom", b"DICM", 128),
    ".txt": ("text/plain", None, 0),
    ".csv": ("text/csv", None, 0),
    ".xml": ("application/xml", None, 0),  # e.g. an HL7 aECG export of a 12-lead ECG
}


def max_bytes() -> int:
    return int(settings.FARCARE_ATTACHMENT_MAX_MB) * 1024 * 1024


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """The file's content type and extension, or a ValidationError the user can act on."""
    name = upload.name or ""
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED:
        raise ValidationError(
            _("%(name)s: this kind of file is not accepted. Send %(kinds)s.")
            % {"name": name, "kinds": ", ".join(sorted({e.lstrip(".") for e in ALLOWED}))}
        )
    if (upload.size or 0) > max_bytes():
        raise ValidationError(
            _("%(name)s is larger than %(limit)s MB.")
            % {"name": name, "limit": settings.FARCARE_ATTACHMENT_MAX_MB}
        )
    content_type, magic, offset = ALLOWED[extension]
    if magic is not None:
        upload.seek(0)
        head = upload.read(offset + len(magic))
        upload.seek(0)
        if head[offset : offset + len(magic)] != magic:
            raise ValidationError(
                _("%(name)s is not the kind of file its name says.") % {"name": name}
            )
    return content_type, extension


def attachment_store(
    *,
    consultation: Consultation,
    upload: UploadedFile,
    user: User,
    message: Message | None = None,
) -> Attachment:
    """Store one checked upload. The caller has authorised the user and holds the transaction."""
    content_type, _extension = check_upload(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    attachment = Attachment(
        consultation=consultation,
        message=message,
        original_name=(upload.name or "file")[:200],
        content_type=content_type,
        size=upload.size or 0,
        sha256=digest.hexdigest(),
        uploaded_by=user,
    )
    attachment.file.save("upload", upload, save=False)
    attachment.save()
    return attachment
