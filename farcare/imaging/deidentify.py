"""De-identification of DICOM files by the Basic Application Level Confidentiality Profile of
DICOM PS3.15 Annex E (E.1 and Table E.1-1), before a file leaves the country or goes to teaching.

The table is data, `data/basic_profile.csv` (its header says where it comes from). Neither
candidate library implements this profile: dicognito replaces values with realistic fakes,
shifts dates and keeps private attributes; deid applies its own recipe ("REMOVE endswith:ID"…),
not Table E.1-1. See docs/decisions.md."""

from __future__ import annotations

import copy
import csv
import functools
import hashlib
import hmac
import io
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from typing import Any

from django.utils.translation import gettext as _
from pydicom.dataelem import DataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence as DicomSequence
from pydicom.tag import BaseTag
from pydicom.uid import UID, ExplicitVRLittleEndian

from .errors import BurnedInAnnotation, DeidentificationError

__all__ = [
    "BASIC_PROFILE_CODE",
    "DEIDENTIFICATION_METHOD",
    "BurnedInAnnotation",
    "DeidentificationError",
    "deidentify",
    "new_uid",
]

# DICOM PS3.16 CID 7050: the code for this profile in De-identification Method Code Sequence.
BASIC_PROFILE_CODE = ("113100", "DCM", "Basic Application Confidentiality Profile")
DEIDENTIFICATION_METHOD = "DICOM PS3.15 Basic Application Confidentiality Profile; FarCare"
MIN_SALT_BYTES = 16

# Dummy values (action D) by VR: valid, obviously not real, the same in every file.
_DUMMY: dict[str, Any] = {
    "AE": "ANONYMOUS",
    "AS": "000D",
    "CS": "ANONYMOUS",
    "DA": "19000101",
    "DT": "19000101000000",
    "TM": "000000",
    "LO": "ANONYMOUS",
    "LT": "ANONYMOUS",
    "PN": "ANONYMOUS",
    "SH": "ANONYMOUS",
    "ST": "ANONYMOUS",
    "UC": "ANONYMOUS",
    "UT": "ANONYMOUS",
    "UR": "urn:uuid:00000000-0000-0000-0000-000000000000",
    "DS": "0",
    "IS": "0",
}
_NUMERIC_VRS = {"FL", "FD", "SL", "SS", "UL", "US", "SV", "UV", "AT"}


@dataclass(frozen=True)
class _Profile:
    exact: dict[int, str]
    patterns: tuple[tuple[int, int, str], ...]  # (mask, value, action) for 50xxxxxx, 60xx3000…
    private: str


@functools.cache
def _basic_profile() -> _Profile:
    text = resources.files("farcare.imaging").joinpath("data/basic_profile.csv").read_text("utf-8")
    rows = csv.DictReader(line for line in io.StringIO(text) if not line.startswith("#"))
    exact: dict[int, str] = {}
    patterns: list[tuple[int, int, str]] = []
    private = "X"
    for row in rows:
        tag, action = row["tag"].strip(), row["action"].strip()
        if tag == "private":
            private = action
        elif "x" in tag.lower():
            mask = int("".join("0" if c in "xX" else "F" for c in tag), 16)
            value = int("".join("0" if c in "xX" else c for c in tag), 16)
            patterns.append((mask, value, action))
        else:
            exact[int(tag, 16)] = action
    return _Profile(exact=exact, patterns=tuple(patterns), private=private)


def new_uid(uid: str, salt: bytes) -> str:
    """The replacement of `uid`: the same for the same salt, so that the files of one study keep
    one Study Instance UID, and unguessable without the salt. An HMAC-SHA-256 of the UID, shaped
    as a version 8 (custom) UUID and written in the 2.25 form of PS3.5 B.2."""
    digest = hmac.new(salt, uid.strip().encode("ascii", "replace"), hashlib.sha256).digest()
    value = int.from_bytes(digest[:16], "big")
    value = (value & ~(0xF << 76)) | (0x8 << 76)  # version 8
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return f"2.25.{value}"


def _required_types(ds: Dataset) -> dict[str, int]:
    """Type 1 or 2 attributes, among those with a combined action (X/Z, X/D, Z/D, X/Z/D…), in the
    IOD of `ds` (PS3.3); any other is removed or emptied, the strictest choice. Covers the IODs
    FarCare meets: images (General Image: Content Date/Time are 2C, so emptied), waveforms
    (Waveform Identification C.10.8: Content Date/Time and Acquisition DateTime Type 1;
    Acquisition Context C.7.6.14 Type 2), enhanced multi-frame images (Multi-frame Functional
    Groups C.7.6.16 and Enhanced General Equipment C.7.5.2: Type 1), SR documents (C.17.2) and
    encapsulated documents (C.24.2)."""
    required = {"PatientID": 2}
    if "WaveformSequence" in ds:
        required |= {
            "ContentDate": 1,
            "ContentTime": 1,
            "AcquisitionDateTime": 1,
            "AcquisitionContextSequence": 2,
        }
    if "SharedFunctionalGroupsSequence" in ds or "PerFrameFunctionalGroupsSequence" in ds:
        required |= {"ContentDate": 1, "ContentTime": 1, "DeviceSerialNumber": 1}
    if "ValueType" in ds and "ContentSequence" in ds:
        required |= {"ContentDate": 1, "ContentTime": 1}
    if "EncapsulatedDocument" in ds:
        required |= {"AcquisitionDateTime": 2}
    return required


def _choose(action: str, required: int | None) -> str:
    """One action out of a combined one: X unless the IOD requires the attribute, Z if it is
    Type 2, else D (or U)."""
    options = [option.rstrip("*") for option in action.split("/")]
    if len(options) == 1:
        return options[0]
    if required is None and "X" in options:
        return "X"
    if required in (None, 2) and "Z" in options:
        return "Z"
    for keeps_value in ("D", "U"):
        if keeps_value in options:
            return keeps_value
    return options[-1]


class _Deidentifier:
    def __init__(self, salt: bytes, required: dict[str, int]) -> None:
        self.salt = salt
        self.required = required
        self.profile = _basic_profile()

    def action(self, tag: BaseTag, keyword: str, top: bool) -> str | None:
        if tag.is_private:
            return self.profile.private
        action = self.profile.exact.get(int(tag))
        if action is None:
            for mask, value, pattern_action in self.profile.patterns:
                if int(tag) & mask == value:
                    action = pattern_action
                    break
        if action is None:
            return None  # not in the table: kept, as the profile says
        # The IOD's requirements apply to the top level; inside sequences, the strictest choice.
        return _choose(action, self.required.get(keyword) if top else None)

    def uid(self, value: Any) -> Any:
        if isinstance(value, MultiValue | list):
            return [new_uid(str(v), self.salt) for v in value if str(v).strip()]
        return new_uid(str(value), self.salt) if value and str(value).strip() else value

    def dataset(self, source: Dataset, *, top: bool) -> Dataset:
        out = Dataset()
        overlays_removed: set[int] = set()
        for element in source:
            tag = element.tag
            if tag.element == 0x0000:
                continue  # group lengths are retired and would be wrong after removals
            action = self.action(tag, element.keyword, top)
            if action == "X":
                if tag.group & 0xFF00 == 0x6000 and tag.element == 0x3000:
                    overlays_removed.add(tag.group)
                continue
            out.add(self.element(element, action))
        # An Overlay Plane without its Overlay Data (Type 1) is invalid: the whole group goes.
        for tag in [t for t in out.keys() if t.group in overlays_removed]:  # noqa: SIM118
            del out[tag]
        return out

    def element(self, element: DataElement, action: str | None) -> DataElement:
        vr = element.VR
        if vr == "SQ":
            if action == "Z":
                return DataElement(element.tag, "SQ", DicomSequence([]))
            # D, U* and kept sequences keep their items, each cleaned by the same table.
            items = [self.dataset(item, top=False) for item in element.value or []]
            return DataElement(element.tag, "SQ", DicomSequence(items))
        if action == "Z":
            return DataElement(element.tag, vr, element.empty_value)
        if action == "U" or (action == "D" and vr == "UI"):
            return DataElement(element.tag, vr, self.uid(element.value))
        if action in ("D", "C"):  # C (clean) is not in the basic profile; a dummy is stricter
            return DataElement(element.tag, vr, _dummy(vr))
        # Kept (K, or not in the table). Bytes are immutable: share rather than copy the pixels.
        if isinstance(element.value, bytes):
            return DataElement(
                element.tag, vr, element.value, is_undefined_length=element.is_undefined_length
            )
        return copy.deepcopy(element)


def _dummy(vr: str) -> Any:
    if vr in _DUMMY:
        return _DUMMY[vr]
    if vr in _NUMERIC_VRS:
        return 0
    return b"\x00\x00"  # OB, OW, UN and the other binary VRs


def _check_pseudonym(pseudonym: str) -> str:
    value = pseudonym.strip()
    if not value or len(value) > 64 or "\\" in value or any(ord(c) < 32 for c in value):
        raise DeidentificationError(
            _("The pseudonym must be 1 to 64 characters, without backslashes.")
        )
    return value


def deidentify(ds: Dataset, *, salt: bytes, pseudonym: str) -> Dataset:
    """A de-identified copy of `ds` (which is not changed) by the Basic Application Level
    Confidentiality Profile: every attribute of Table E.1-1 removed (X), emptied (Z), given a
    dummy value (D) or a new UID (U), also inside sequences; every private attribute removed;
    combined actions resolved to the strictest that keeps the object valid for its IOD. UIDs are
    replaced by `new_uid(uid, salt)`, so the files of one study keep one Study Instance UID for
    the same salt (use one secret salt per deployment, at least 16 bytes). Patient's Name and
    Patient ID become `pseudonym`; dates of the study, birth and acquisition are emptied or
    removed. Patient Identity Removed is YES, De-identification Method names the profile and
    De-identification Method Code Sequence carries (113100, DCM). Pixel data are unchanged.

    Burned-in annotation is out of scope of the profile's attribute actions: text written into
    the pixels (a name on an ultrasound screen, a scanned form) survives them. A file with
    Burned In Annotation YES therefore raises BurnedInAnnotation, and the caller must withhold
    its pixels. A file that lacks the attribute is not checked: the modality decides whether
    such text is likely (ultrasound, secondary capture), which is the caller's to judge."""
    if len(salt) < MIN_SALT_BYTES:
        raise ValueError(f"the salt must be at least {MIN_SALT_BYTES} bytes")
    name = _check_pseudonym(pseudonym)
    if str(ds.get("BurnedInAnnotation", "")).strip().upper() == "YES":
        raise BurnedInAnnotation(
            _(
                "The image has text burned into its pixels, which may identify the patient; "
                "it cannot be de-identified automatically."
            )
        )

    worker = _Deidentifier(salt, _required_types(ds))
    out = worker.dataset(ds, top=True)

    out.PatientName = name
    out.PatientID = name
    if not name.isascii() and "ISO_IR 192" not in _values(out.get("SpecificCharacterSet")):
        out.SpecificCharacterSet = "ISO_IR 192"  # UTF-8, so any pseudonym can be written
    out.PatientIdentityRemoved = "YES"
    out.LongitudinalTemporalInformationModified = "REMOVED"
    methods = [m for m in _values(out.get("DeidentificationMethod")) if m]
    if DEIDENTIFICATION_METHOD not in methods:
        methods.append(DEIDENTIFICATION_METHOD)
    out.DeidentificationMethod = methods if len(methods) > 1 else methods[0]
    codes = list(out.get("DeidentificationMethodCodeSequence") or [])
    if not any(item.get("CodeValue") == BASIC_PROFILE_CODE[0] for item in codes):
        code = Dataset()
        code.CodeValue, code.CodingSchemeDesignator, code.CodeMeaning = BASIC_PROFILE_CODE
        codes.append(code)
    out.DeidentificationMethodCodeSequence = DicomSequence(codes)

    # A new file meta group: the old one names the sending station (Source Application Entity
    # Title) and the old SOP Instance UID.
    old_meta = getattr(ds, "file_meta", None)
    meta = FileMetaDataset()
    sop_class = out.get("SOPClassUID") or (
        old_meta.get("MediaStorageSOPClassUID") if old_meta is not None else None
    )
    if sop_class:
        meta.MediaStorageSOPClassUID = UID(str(sop_class))
    if "SOPInstanceUID" in out:
        meta.MediaStorageSOPInstanceUID = out.SOPInstanceUID
    syntax = old_meta.get("TransferSyntaxUID") if old_meta is not None else None
    meta.TransferSyntaxUID = UID(str(syntax)) if syntax else ExplicitVRLittleEndian
    out.file_meta = meta
    # Zeros: a preamble may hold a TIFF header or anything else the sender put there.
    out.preamble = b"\x00" * 128
    return out


def _values(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if isinstance(value, Iterable):
        return [str(v) for v in value]
    return [str(value)]
