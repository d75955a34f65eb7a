"""Images added on a page at a facility that makes them: each file checked to be DICOM by its
content (the "DICM" mark of a DICOM Part 10 file), not by its name, and the order the study
belongs to: the one chosen, else the open order whose placer number the files carry as their
AccessionNumber (a modality given the order's number by its worklist)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import UploadedFile
from django.utils.translation import gettext as _

from farcare.diagnostics.models import DiagnosticOrder

from .dicom import read_dicom
from .errors import ImagingError

__all__ = ["DICOM_MARK", "is_dicom_part10", "order_named_by", "read_uploads"]

DICOM_MARK = (128, b"DICM")


def is_dicom_part10(head: bytes) -> bool:
    offset, mark = DICOM_MARK
    return head[offset : offset + len(mark)] == mark


def read_uploads(uploads: Iterable[UploadedFile]) -> list[bytes]:
    """The files' bytes; a ValidationError naming every file that is not DICOM."""
    contents: list[bytes] = []
    refused: list[str] = []
    for upload in uploads:
        upload.seek(0)
        content = upload.read()
        if not is_dicom_part10(content[:132]):
            refused.append(upload.name or "?")
            continue
        contents.append(content)
    if refused:
        raise ValidationError(
            _(
                "%(names)s: not a DICOM file. Add the images as DICOM files (.dcm) as the "
                "X-ray or CT machine exports them; photos and PDF documents go with a "
                "consultation request."
            )
            % {"names": ", ".join(refused)}
        )
    return contents


def order_named_by(
    files: Sequence[bytes], orders: Iterable[DiagnosticOrder]
) -> DiagnosticOrder | None:
    """The open order whose placer number a file carries as its AccessionNumber."""
    by_number = {order.placer_number: order for order in orders}
    for content in files:
        try:
            accession = str(read_dicom(content).get("AccessionNumber", "") or "").strip()
        except ImagingError:
            continue
        if accession in by_number:
            return by_number[accession]
    return None
