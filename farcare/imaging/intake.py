"""Images added on a page at a facility that makes them: each file checked to be DICOM by its
content (the "DICOM" mark of a DICOM Part 10 file and a readable header), not by its name, and
the order the study belongs to: the one chosen, else the open order whose placer number the
files carry as their AccessionNumber (a modality given the order's number by its worklist).

Nothing is held in memory whole: Django writes a large upload to a temporary file, the header is
read with the pixel data left in the file (dicom_stream.py), and the storage or the PACS copies
the file in chunks. The page has limits of its own (FARCARE_IMAGING_MAX_FILE_MB per file,
FARCARE_IMAGING_MAX_UPLOAD_MB per upload), counted while the upload arrives (`CappedUploads`):
a file over the limit is not even written to disk, and the upload is refused whole."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.core.files.uploadhandler import FileUploadHandler, SkipFile, StopUpload
from django.utils.translation import gettext as _

from farcare.diagnostics.models import DiagnosticOrder

from .dicom_stream import read_dicom_head
from .errors import ImagingError

__all__ = [
    "DICOM_MARK",
    "CappedUploads",
    "is_dicom_part10",
    "max_file_bytes",
    "max_upload_bytes",
    "order_named_by",
    "read_uploads",
    "too_large",
]

DICOM_MARK = (128, b"DICM")
MB = 1024 * 1024


def max_file_bytes() -> int:
    """FARCARE_IMAGING_MAX_FILE_MB (default 200) in bytes."""
    return _megabytes("FARCARE_IMAGING_MAX_FILE_MB", 200) * MB


def max_upload_bytes() -> int:
    """FARCARE_IMAGING_MAX_UPLOAD_MB (default 1000) in bytes: all the files of one upload."""
    return _megabytes("FARCARE_IMAGING_MAX_UPLOAD_MB", 1000) * MB


def _megabytes(name: str, default: int) -> int:
    value = getattr(settings, name, default)
    return value if isinstance(value, int) and value > 0 else default


def file_too_large(names: Sequence[str]) -> ValidationError:
    return ValidationError(
        _(
            "%(names)s: larger than %(limit)s MB, the most one file may be here. Send a study "
            "this large from the machine to the image archive (PACS)."
        )
        % {"names": ", ".join(names), "limit": max_file_bytes() // MB}
    )


def upload_too_large() -> ValidationError:
    return ValidationError(
        _(
            "The files together are larger than %(limit)s MB, the most one upload may be. Add "
            "the study in parts (adding the same study again adds the new images), or send it "
            "from the machine to the image archive (PACS)."
        )
        % {"limit": max_upload_bytes() // MB}
    )


class CappedUploads(FileUploadHandler):
    """The first upload handler of the page: counts each file's bytes and the upload's as they
    arrive. A file over the per-file limit is skipped (its bytes are read and dropped, never
    written); past the upload's limit the rest of the request is read and dropped. The view
    asks `refusal()` and keeps nothing of such an upload."""

    def __init__(self, request: Any = None) -> None:
        super().__init__(request)
        self.per_file = max_file_bytes()
        self.per_upload = max_upload_bytes()
        self.total = 0
        self.current = 0
        self.oversized: list[str] = []
        self.overflowed = False

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.current = 0

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.current += len(raw_data)
        self.total += len(raw_data)
        if self.total > self.per_upload:
            self.overflowed = True
            raise StopUpload(connection_reset=False)
        if self.current > self.per_file:
            self.oversized.append(str(self.file_name or "?"))
            self.total -= self.current  # a skipped file's bytes are not kept
            raise SkipFile()
        return raw_data

    def file_complete(self, file_size: int) -> None:
        return None  # the next handler (memory or temporary file) makes the file

    def refusal(self) -> ValidationError | None:
        if self.overflowed:
            return upload_too_large()
        if self.oversized:
            return file_too_large(self.oversized)
        return None


def too_large(uploads: Sequence[UploadedFile]) -> ValidationError | None:
    """The same limits checked on files already received (a form used without the handler)."""
    sizes = [upload.size or 0 for upload in uploads]
    if sum(sizes) > max_upload_bytes():
        return upload_too_large()
    oversized = [
        u.name or "?" for u, size in zip(uploads, sizes, strict=True) if size > max_file_bytes()
    ]
    return file_too_large(oversized) if oversized else None


def is_dicom_part10(head: bytes) -> bool:
    offset, mark = DICOM_MARK
    return head[offset : offset + len(mark)] == mark


def read_uploads(uploads: Iterable[UploadedFile]) -> list[UploadedFile]:
    """The uploads, each at its start, once each is seen to be DICOM by its first 132 bytes; a
    ValidationError naming every file that is not DICOM (nothing else is read here)."""
    files: list[UploadedFile] = []
    refused: list[str] = []
    for upload in uploads:
        upload.seek(0)
        head = upload.read(132)
        upload.seek(0)
        if not is_dicom_part10(head):
            refused.append(upload.name or "?")
            continue
        files.append(upload)
    if refused:
        raise ValidationError(
            _(
                "%(names)s: not a DICOM file. Add the images as DICOM files (.dcm) as the "
                "X-ray or CT machine exports them; photos and PDF documents go with a "
                "consultation request."
            )
            % {"names": ", ".join(refused)}
        )
    return files


def order_named_by(
    files: Sequence[UploadedFile], orders: Iterable[DiagnosticOrder]
) -> DiagnosticOrder | None:
    """The open order whose placer number a file carries as its AccessionNumber (the header
    only is read)."""
    by_number = {order.placer_number: order for order in orders}
    for upload in files:
        try:
            accession = str(read_dicom_head(upload).get("AccessionNumber", "") or "").strip()
        except ImagingError:
            continue
        if accession in by_number:
            return by_number[accession]
    return None
