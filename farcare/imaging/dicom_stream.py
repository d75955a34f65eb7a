"""DICOM files read from where they lie (an upload's temporary file, a stored file) without
holding them in memory: the data set is parsed with its large values (the pixel data, a
waveform) left in the file, deferred, so a 200 MB CT series costs a few kilobytes per file to
check and describe; the bytes are later copied to the storage or the PACS in chunks."""

from __future__ import annotations

import os
from typing import Protocol

from django.utils.translation import gettext as _
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError

from .errors import InvalidDicom

__all__ = ["DEFER_BYTES", "DicomFile", "file_size", "read_dicom_head"]

# Values larger than this stay in the file (pydicom's defer_size): the pixel data, overlays,
# waveforms; everything FarCare reads from the header is far smaller.
DEFER_BYTES = 64 * 1024

# Exceptions pydicom raises on damaged input, besides InvalidDicomError (as dicom.read_dicom).
_READ_ERRORS = (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError)


class DicomFile(Protocol):
    """An open file of DICOM bytes: an upload, a stored file, a BytesIO."""

    def read(self, size: int = -1, /) -> bytes: ...

    def seek(self, offset: int, whence: int = 0, /) -> int: ...

    def tell(self) -> int: ...


def file_size(handle: DicomFile) -> int:
    """The size of the file in bytes; the position is kept."""
    where = handle.tell()
    end = handle.seek(0, os.SEEK_END)
    handle.seek(where)
    return int(end)


def read_dicom_head(handle: DicomFile) -> Dataset:
    """The data set of a DICOM Part 10 file ("DICM" required, as read_dicom), its large values
    deferred: `"PixelData" in ds` holds, but the pixels are not read. A file cut short (a value
    declared longer than what is left of the file) is damaged. Raises InvalidDicom with a
    message for the user; the file is left at its start."""
    size = file_size(handle)
    handle.seek(0)
    try:
        ds = dcmread(handle, force=False, defer_size=DEFER_BYTES)
    except InvalidDicomError as exc:
        raise InvalidDicom(_("This file is not a DICOM file.")) from exc
    except _READ_ERRORS as exc:
        raise InvalidDicom(_("The DICOM file is damaged and cannot be read.")) from exc
    finally:
        handle.seek(0)
    if _cut_short(ds, size):
        raise InvalidDicom(_("The DICOM file is damaged and cannot be read."))
    return ds


def _cut_short(ds: Dataset, size: int) -> bool:
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta or len(ds) == 0:
        return True
    # The stored elements as they are: get_item() and iteration would read a deferred value.
    for raw in list(ds._dict.values()):
        if not isinstance(raw, RawDataElement) or raw.length == 0xFFFFFFFF:
            continue
        if raw.value is None and raw.value_tell + raw.length > size:  # deferred, beyond the end
            return True
        if isinstance(raw.value, bytes) and len(raw.value) < raw.length:
            return True
    return False
