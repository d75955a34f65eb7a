"""What a material may be: checked by its first bytes, not by the name the browser sent, and
held to a size a satellite post can still hope to fetch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from .models import MaterialKind


def max_mb() -> int:
    # Lectures and their recordings are larger than a consultation's photos: a limit of their own.
    return int(settings.FARCARE_TRAINING_MATERIAL_MAX_MB)


@dataclass(frozen=True)
class Format:
    content_type: str
    kinds: frozenset[str]
    signatures: tuple[tuple[int, bytes], ...]  # (offset, bytes); any one of them matches

    def matches(self, head: bytes) -> bool:
        return any(head[offset : offset + len(magic)] == magic for offset, magic in self.signatures)


PDF_KINDS = frozenset({MaterialKind.PDF, MaterialKind.SLIDES, MaterialKind.OTHER})
RECORDING = frozenset({MaterialKind.RECORDING})
ISO_MEDIA = ((4, b"ftyp"),)
ZIP = ((0, b"PK\x03\x04"),)

FORMATS: dict[str, Format] = {
    ".pdf": Format("application/pdf", PDF_KINDS, ((0, b"%PDF-"),)),
    ".pptx": Format(
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        frozenset({MaterialKind.SLIDES}),
        ZIP,
    ),
    ".odp": Format(
        "application/vnd.oasis.opendocument.presentation", frozenset({MaterialKind.SLIDES}), ZIP
    ),
    ".mp4": Format("video/mp4", RECORDING, ISO_MEDIA),
    ".m4a": Format("audio/mp4", RECORDING, ISO_MEDIA),
    ".mov": Format("video/quicktime", RECORDING, (*ISO_MEDIA, (4, b"moov"), (4, b"mdat"))),
    ".webm": Format("video/webm", RECORDING, ((0, b"\x1a\x45\xdf\xa3"),)),
    ".mkv": Format("video/x-matroska", RECORDING, ((0, b"\x1a\x45\xdf\xa3"),)),
    ".mp3": Format("audio/mpeg", RECORDING, ((0, b"ID3"), (0, b"\xff\xfb"), (0, b"\xff\xf3"))),
    ".ogg": Format("audio/ogg", RECORDING, ((0, b"OggS"),)),
    ".opus": Format("audio/ogg", RECORDING, ((0, b"OggS"),)),
    ".wav": Format("audio/wav", RECORDING, ((8, b"WAVE"),)),
}
HEAD_BYTES = 16


def accepted_names() -> str:
    return ", ".join(extension.lstrip(".") for extension in FORMATS)


def check_material(upload: UploadedFile, kind: str) -> str:
    """The content type of an acceptable material, or a ValidationError saying what to send."""
    name = PurePath(upload.name or "").name or _("the file")
    if kind not in MaterialKind.values:
        raise ValidationError({"kind": _("Choose what kind of material this is.")})
    extension = PurePath(name).suffix.lower()
    form = FORMATS.get(extension)
    if form is None:
        raise ValidationError(
            {
                "file": _("%(name)s: this kind of file is not accepted. Send %(kinds)s.")
                % {"name": name, "kinds": accepted_names()}
            }
        )
    if kind not in form.kinds:
        raise ValidationError(
            {"file": _("%(name)s is not a file of the kind chosen.") % {"name": name}}
        )
    if (upload.size or 0) > max_mb() * 1024 * 1024:
        raise ValidationError(
            {"file": _("%(name)s is larger than %(limit)s MB.") % {"name": name, "limit": max_mb()}}
        )
    if not upload.size:
        raise ValidationError({"file": _("%(name)s is empty.") % {"name": name}})
    upload.seek(0)
    head = upload.read(HEAD_BYTES)
    upload.seek(0)
    if not form.matches(head):
        raise ValidationError(
            {"file": _("%(name)s is not the kind of file its name says.") % {"name": name}}
        )
    return form.content_type
