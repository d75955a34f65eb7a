"""The order in which the outbox crosses the link, as pure functions (no database): what the
consultant can act on soonest per byte of a slow link goes first.

The key of an item is `(rank, phase, cost)`, then the time it was queued:

- **rank**: the urgency of the request the item belongs to (emergency 0, urgent 1, planned 2, a
  patient or consent not yet needed by a request 3). A patient's records take the rank of the
  most urgent request that needs them (`sync.outbox._raise_rank`).
- **phase**: records (JSON, a few hundred bytes, they let the hub open the case) first; then the
  *early* files: every preview, a file with no preview of its own, and a clinical file that is
  not a picture (an ECG waveform, a document) when it is no larger than
  `FARCARE_STATION_SMALL_FILE_KB`; then the other originals.
- **cost**: bytes per unit of clinical value, `ceil(size / weight)`, the weight by what the file
  is: an ECG or other waveform 4 (a 12-lead ECG of 124 KB decides a chest pain; a photo of the
  same size adds little), a document (PDF, text, an XML or CSV export) 2, a picture or anything
  else 1. So within a phase a small and valuable file goes before a large one: an ECG original
  before the photos' originals, a 300 KB photo before a 2 MB one. Records cost 0, so they keep
  the order they were made in (a patient before the request that names them, an edit after the
  registration it edits).

A file in flight pauses between chunks when an item with a smaller key is waiting (a more urgent
request, an earlier phase, or a file with more value per byte queued meanwhile), so the key
is the one truth about what goes next."""

from __future__ import annotations

import math
from enum import IntEnum, StrEnum

WAVEFORM_SOP_PREFIX = "1.2.840.10008.5.1.4.1.1.9."  # DICOM Waveform Storage SOP classes
WAVEFORM_MODALITIES = frozenset({"ECG", "HD", "EPS", "RESP"})
DOCUMENT_TYPES = frozenset(
    {"application/pdf", "text/plain", "text/csv", "application/xml", "text/xml"}
)


class FileKind(StrEnum):
    WAVEFORM = "waveform"
    DOCUMENT = "document"
    IMAGE = "image"
    OTHER = "other"


# Clinical value per byte, relative to a picture's. See the module's docstring for why.
WEIGHTS: dict[FileKind, int] = {
    FileKind.WAVEFORM: 4,
    FileKind.DOCUMENT: 2,
    FileKind.IMAGE: 1,
    FileKind.OTHER: 1,
}


class Part(IntEnum):
    """Mirrors `sync.models.Phase` (record 0, preview 1, original 2) without importing models."""

    RECORD = 0
    EARLY = 1
    ORIGINAL = 2


def file_kind(content_type: str, *, modality: str = "", sop_class: str = "") -> FileKind:
    """What a file is, from its checked content type and, for DICOM, its modality and SOP
    class (a DICOM file may be an ECG waveform or an X-ray)."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind == "application/dicom":
        if modality.upper() in WAVEFORM_MODALITIES or sop_class.startswith(WAVEFORM_SOP_PREFIX):
            return FileKind.WAVEFORM
        return FileKind.IMAGE
    if kind in DOCUMENT_TYPES:
        return FileKind.DOCUMENT
    if kind.startswith("image/"):
        return FileKind.IMAGE
    return FileKind.OTHER


def cost(size: int, kind: FileKind) -> int:
    """Bytes per unit of clinical value: smaller goes first within a rank and phase."""
    return math.ceil(max(size, 0) / WEIGHTS[kind])


def original_phase(*, kind: FileKind, size: int, has_preview: bool, small_limit: int) -> Part:
    """Whether an original crosses with the previews (EARLY) or after them (ORIGINAL)."""
    if size > small_limit:
        return Part.ORIGINAL
    if not has_preview or kind in (FileKind.WAVEFORM, FileKind.DOCUMENT):
        return Part.EARLY
    return Part.ORIGINAL


def queue_key(rank: int, phase: int, cost: int) -> tuple[int, int, int]:
    """The order of the outbox (`sync.outbox.pending` sorts by the same fields, then by the
    time queued): the smaller key crosses first."""
    return (rank, phase, cost)
