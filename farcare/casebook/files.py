"""A case's files de-identified: bytes in, bytes out (no ORM).

- photos (JPEG, PNG, WebP): every metadata block removed by `imaging.metadata` (EXIF with its
  author, description, GPS and times; XMP; comments; thumbnails); only a photo the requester
  marked as showing no name or number is taken at all (the house's rule for abroad: no program
  finds a name written in a picture);
- DICOM: `imaging.deidentify` (the basic confidentiality profile, as for consultants abroad),
  the case code as the pseudonym, with a salt of the case's own so its UIDs match nothing else;
  then every text element left is scrubbed like the case's text. The file is withheld unless
  Burned In Annotation is NO: text burned into pixels survives every attribute rule;
- plain text (txt, csv, xml): decoded and scrubbed like the case's text;
- anything else (PDF: a conclusion, a letter) is withheld: its text cannot be scrubbed safely.
Names are neutral: image-1.jpg, dicom-1.dcm, text-1.txt.
"""

from __future__ import annotations

import io
from collections import Counter
from dataclasses import dataclass

from pydicom.dataset import Dataset

from farcare.imaging.deidentify import deidentify
from farcare.imaging.dicom import read_dicom
from farcare.imaging.errors import BurnedInAnnotation, InvalidImage
from farcare.imaging.metadata import STRIPPABLE, strip_metadata

from .scrub import Scrubber

EXTENSIONS = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp"}
TEXT_TYPES = {"text/plain": "txt", "text/csv": "csv", "application/xml": "xml"}
DICOM_TYPE = "application/dicom"
TEXT_VRS = {"LO", "LT", "SH", "ST", "UT", "UC", "PN", "AE", "CS", "DS", "IS", "UR"}


@dataclass(frozen=True)
class CleanFile:
    kind: str  # image, dicom, text
    name: str
    content: bytes
    content_type: str


@dataclass(frozen=True)
class FileIn:
    content: bytes
    content_type: str
    identity_checked: bool  # the requester's word that no name shows in the picture


def clean_file(
    source: FileIn,
    *,
    number: int,
    scrubber: Scrubber,
    salt: bytes,
    pseudonym: str,
    replaced: Counter[str],
) -> CleanFile | None:
    """The file as a case may carry it, or None when it is withheld (counted in `replaced`)."""
    kind = source.content_type
    if kind in STRIPPABLE:
        if not source.identity_checked:
            replaced["file_withheld"] += 1
            return None
        try:
            content = strip_metadata(source.content, kind)
        except InvalidImage:
            replaced["file_withheld"] += 1
            return None
        replaced["metadata"] += 1
        return CleanFile("image", f"image-{number}.{EXTENSIONS[kind]}", content, kind)
    if kind == DICOM_TYPE:
        dicom = _dicom(source.content, scrubber, salt, pseudonym, replaced)
        if dicom is None:
            replaced["file_withheld"] += 1
            return None
        return CleanFile("dicom", f"dicom-{number}.dcm", dicom, kind)
    if kind in TEXT_TYPES:
        text = _decode(source.content)
        cleaned, counts = scrubber.scrub(text)
        replaced.update(counts)
        return CleanFile("text", f"text-{number}.{TEXT_TYPES[kind]}", cleaned.encode("utf-8"), kind)
    replaced["file_withheld"] += 1
    return None


def _decode(content: bytes) -> str:
    for encoding in ("utf-8-sig", "utf-16", "cp1251"):
        try:
            return content.decode(encoding)
        except UnicodeDecodeError:
            continue
    return content.decode("latin-1")


def _dicom(
    content: bytes, scrubber: Scrubber, salt: bytes, pseudonym: str, replaced: Counter[str]
) -> bytes | None:
    try:
        dataset = read_dicom(content)
    except ValueError:
        return None
    if str(dataset.get("BurnedInAnnotation", "")).strip().upper() != "NO":
        return None
    try:
        cleaned = deidentify(dataset, salt=salt, pseudonym=pseudonym)
    except BurnedInAnnotation:
        return None
    replaced["dicom"] += 1
    _scrub_texts(cleaned, scrubber, replaced, keep={"PatientName", "PatientID"})
    buffer = io.BytesIO()
    cleaned.save_as(buffer, enforce_file_format=True)
    return buffer.getvalue()


def _scrub_texts(
    dataset: Dataset, scrubber: Scrubber, replaced: Counter[str], keep: set[str]
) -> None:
    """Whatever text the profile keeps (a description, a protocol name) scrubbed too: a name
    typed into a field the table leaves alone must not survive either."""
    for element in dataset:
        if element.VR == "SQ":
            for item in element.value or []:
                _scrub_texts(item, scrubber, replaced, keep=set())
            continue
        if element.VR not in TEXT_VRS or element.keyword in keep or element.value is None:
            continue
        values = element.value if element.VM > 1 else [element.value]
        cleaned = []
        changed = False
        for value in values:
            # A person name (Иванов^Иван) is scrubbed as its text, components and all.
            result, counts = scrubber.scrub(str(value))
            if counts:
                changed = True
                replaced.update(counts)
            cleaned.append(result)
        if changed:
            element.value = cleaned if element.VM > 1 else cleaned[0]
