"""Attachments of a consultation: checked by content, not by the name the browser sent, stored
through Django storage under a random name."""

from __future__ import annotations

import hashlib
import io
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import UploadedFile
from django.http import HttpResponse
from django.utils import timezone
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


def _not_accepted(name: str) -> ValidationError:
    return ValidationError(
        _("%(name)s: this kind of file is not accepted. Send %(kinds)s.")
        % {"name": name, "kinds": ", ".join(sorted({e.lstrip(".") for e in ALLOWED}))}
    )


def _too_large(name: str) -> ValidationError:
    return ValidationError(
        _("%(name)s is larger than %(limit)s MB.")
        % {"name": name, "limit": settings.FARCARE_ATTACHMENT_MAX_MB}
    )


def check_upload(upload: UploadedFile) -> tuple[str, str]:
    """The file's content type and extension, or a ValidationError the user can act on."""
    name = upload.name or ""
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED:
        raise _not_accepted(name)
    if (upload.size or 0) > max_bytes():
        raise _too_large(name)
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
    attachment.original_received_at = timezone.now()
    attachment.file.save("upload", upload, save=False)
    _add_preview(attachment, upload)
    attachment.save()
    _to_imaging(attachment)
    return attachment


def _to_imaging(attachment: Attachment) -> None:
    """A DICOM image goes on the hub's reading worklist once this is committed (robust: a
    failure there never undoes the attachment)."""
    from farcare.imaging.from_attachments import file_when_committed

    file_when_committed(attachment)


def _add_preview(attachment: Attachment, upload: UploadedFile) -> None:
    """A thumbnail for the case page of a photo (or a DICOM image) sent from a page, as a
    station makes one before its original crosses the link: a list of file names tells a
    consultant less than the pictures do."""
    # Imported here: Pillow and NumPy load when a file is stored, not with every page.
    from farcare.imaging.previews import make_preview

    upload.seek(0)
    try:
        preview = make_preview(upload.read(), attachment.content_type)
    except (ValueError, OSError):  # damaged or unreadable: the original is still there
        preview = None
    finally:
        upload.seek(0)
    if preview is None:
        return
    attachment.preview.save("preview", ContentFile(preview.content), save=False)
    attachment.preview_content_type = preview.content_type


def attachment_declare(
    *,
    consultation: Consultation,
    user: User,
    uuid: str,
    name: str,
    content_type: str,
    size: int,
    sha256: str,
    message: Message | None = None,
) -> Attachment:
    """List a file that a station is still sending: its preview and original fill in as they
    arrive (farcare.uploads). Declaring the same file twice changes nothing."""
    extension = PurePath(name).suffix.lower()
    if extension not in ALLOWED or ALLOWED[extension][0] != content_type:
        raise _not_accepted(name)
    if int(size) > max_bytes():
        raise _too_large(name)
    attachment, _created = Attachment.objects.get_or_create(
        uuid=uuid,
        defaults={
            "consultation": consultation,
            "message": message,
            "original_name": name[:200],
            "content_type": content_type,
            "size": int(size),
            "sha256": sha256,
            "uploaded_by": user,
        },
    )
    if attachment.consultation_id != consultation.pk:
        raise ValidationError(_("This file belongs to another request."))
    return attachment


PREVIEW_TYPES = {"image/webp": b"WEBP", "image/avif": b"ftypavif"}


def attachment_receive_part(
    *, attachment: Attachment, part: str, upload: UploadedFile, content_type: str
) -> Attachment:
    """A declared file's preview or original has arrived (by tus from a station). The original
    must be the very file declared (same SHA-256); a preview must be an image we make."""
    if part == "preview":
        magic = PREVIEW_TYPES.get(content_type)
        upload.seek(0)
        if magic is None or magic not in upload.read(16):
            raise ValidationError(
                _("%(name)s: the preview is not an image.") % {"name": attachment.original_name}
            )
        upload.seek(0)
        attachment.preview.save("preview", upload, save=False)
        attachment.preview_content_type = content_type
        attachment.save(update_fields=["preview", "preview_content_type"])
        return attachment
    if part != "original":
        raise ValidationError(_("Unknown part of a file: %(part)s") % {"part": part})
    upload.name = attachment.original_name
    check_upload(upload)
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    if digest.hexdigest() != attachment.sha256:
        raise ValidationError(
            _("%(name)s arrived different from the file that was sent.")
            % {"name": attachment.original_name}
        )
    if not attachment.file:
        attachment.file.save("upload", upload, save=False)
        attachment.original_received_at = timezone.now()
        attachment.save(update_fields=["file", "original_received_at"])
        _to_imaging(attachment)
    return attachment


def attachment_viewed(attachment: Attachment) -> None:
    """Someone on the consultant's side opened it: the requester's station shows it as read."""
    if attachment.viewed_at is None:
        now = timezone.now()
        Attachment.objects.filter(pk=attachment.pk, viewed_at__isnull=True).update(viewed_at=now)
        Consultation.objects.filter(pk=attachment.consultation_id).update(updated_at=now)
        attachment.viewed_at = now


def attachment_request_original(attachment: Attachment) -> None:
    """The consultant wants the full file behind a preview: the station sends it next sync."""
    if attachment.file or attachment.original_requested_at is not None:
        return
    now = timezone.now()
    Attachment.objects.filter(pk=attachment.pk).update(original_requested_at=now)
    Consultation.objects.filter(pk=attachment.consultation_id).update(updated_at=now)
    attachment.original_requested_at = now


def dicom_pixels_shareable(attachment: Attachment) -> bool:
    """May a DICOM file's pixels (its preview) go abroad? Only once the original is here to
    show that nothing identifying is burned into them. Anything that is not DICOM may."""
    if attachment.content_type != "application/dicom":
        return True
    if not attachment.file:
        return False
    from farcare.imaging.dicom import read_dicom

    with attachment.file.open("rb") as source:
        dataset = read_dicom(source.read())
    return str(dataset.get("BurnedInAnnotation", "NO")).upper() != "YES"


def dicom_for_abroad(attachment: Attachment, *, case_code: str) -> HttpResponse:
    """The DICOM file de-identified per the basic application level confidentiality profile,
    the case code as the patient's pseudonym; withheld when identifiers are burned into the
    pixels, which no attribute rule can remove."""
    from farcare.imaging.deidentify import BurnedInAnnotation, deidentify
    from farcare.imaging.dicom import read_dicom

    with attachment.file.open("rb") as source:
        dataset = read_dicom(source.read())
    salt = hashlib.sha256(f"{settings.SECRET_KEY}:dicom".encode()).digest()
    try:
        cleaned = deidentify(dataset, salt=salt, pseudonym=f"CASE-{case_code.upper()}")
    except BurnedInAnnotation:
        return HttpResponse(
            _("This image has identifiers burned into its pixels; it is not sent abroad."),
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    buffer = io.BytesIO()
    cleaned.save_as(buffer, enforce_file_format=True)
    response = HttpResponse(buffer.getvalue(), content_type="application/dicom")
    response["Content-Disposition"] = f'attachment; filename="case-{case_code}.dcm"'
    return response
