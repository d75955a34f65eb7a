"""The PACS port: where a study's DICOM instances are kept and how they come back.

`Pacs` is what the rest of FarCare asks: store (STOW-RS), search (QIDO-RS: studies, series,
instances), retrieve an instance (WADO-RS) and draw a frame of it for the viewer. Two
implementations:

- `EmbeddedPacs`: FarCare's own storage (`ImagingInstance.file` through Django's storage), the
  default when no PACS is configured;
- `DicomWebPacs`: a real PACS (Orthanc with its DICOMweb plugin, or any DICOMweb server) at
  `FARCARE_DICOMWEB_URL`, through dicomweb-client, with a time-out
  (`FARCARE_DICOMWEB_TIMEOUT`, seconds, default 10).

Frames are drawn here from the instance (pydicom + Pillow, `frames.render_frame`) for both, not
by the PACS's own /rendered: the same preset gives the same picture whichever archive keeps the
file, and the weak link is between the reader and FarCare, not between FarCare and its PACS.
A PACS that does not answer, answers with an error or lacks an instance raises an ImagingError
with a message for the user (`PacsUnavailable`, `NotInPacs`); never anything else."""

from __future__ import annotations

import hashlib
import io
import threading
import uuid
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

import requests
from django.conf import settings
from django.core.files.base import ContentFile, File
from django.core.files.storage import default_storage
from django.utils.translation import gettext as _
from pydicom.dataset import Dataset

from .dicom import read_dicom
from .dicom_stream import DicomFile, file_size
from .errors import ImagingError
from .frames import RenderedFrame, render_frame
from .windows import Preset

__all__ = [
    "DicomWebPacs",
    "EmbeddedPacs",
    "InstanceFound",
    "InstanceRef",
    "NotInPacs",
    "Pacs",
    "PacsUnavailable",
    "SeriesFound",
    "StudyFound",
    "configured_pacs",
    "pacs_for_storage",
]


class PacsUnavailable(ImagingError):
    """The PACS did not answer in time, or answered with an error."""


class NotInPacs(ImagingError):
    """The PACS has no such study, series or instance."""


@dataclass(frozen=True)
class InstanceRef:
    study_uid: str
    series_uid: str
    sop_uid: str


@dataclass(frozen=True)
class StudyFound:
    study_uid: str
    patient_id: str
    modalities: tuple[str, ...]
    description: str
    date: str
    instances: int | None


@dataclass(frozen=True)
class SeriesFound:
    series_uid: str
    modality: str
    number: int | None
    description: str
    instances: int | None


@dataclass(frozen=True)
class InstanceFound:
    series_uid: str
    sop_uid: str
    number: int | None


class Pacs(Protocol):
    storage: str  # imaging.models.Storage

    def store(self, files: Sequence[tuple[InstanceRef, bytes | DicomFile]]) -> dict[str, str]:
        """Keep the instances (bytes, or open files copied in chunks); the location of each by
        SOP Instance UID ("" in a PACS)."""
        ...

    def search_studies(self, *, study_uid: str = "", patient_id: str = "") -> list[StudyFound]: ...

    def search_series(self, study_uid: str) -> list[SeriesFound]: ...

    def search_instances(self, study_uid: str, series_uid: str = "") -> list[InstanceFound]: ...

    def retrieve(self, ref: InstanceRef) -> Dataset: ...

    def rendered(
        self, ref: InstanceRef, *, index: int, preset: Preset, px: int, fmt: str
    ) -> RenderedFrame: ...


def _unavailable() -> PacsUnavailable:
    return PacsUnavailable(_("The image archive (PACS) does not answer. Try again in a minute."))


def _missing() -> NotInPacs:
    return NotInPacs(_("This image is not in the image archive."))


# --- FarCare's own storage ---------------------------------------------------------------------


class EmbeddedPacs:
    """Instances as files in Django's storage, found through the ImagingInstance rows."""

    storage = "embedded"

    def store(self, files: Sequence[tuple[InstanceRef, bytes | DicomFile]]) -> dict[str, str]:
        where: dict[str, str] = {}
        for ref, content in files:
            # UIDs are up to 64 characters each: hashed, the name fits the FileField's 100.
            study = hashlib.sha256(ref.study_uid.encode()).hexdigest()[:20]
            sop = hashlib.sha256(ref.sop_uid.encode()).hexdigest()[:32]
            name = f"imaging/{study}/{sop}.dcm"
            if default_storage.exists(name):
                default_storage.delete(name)
            # An open file is copied in chunks (File.chunks); wrapped, so that the storage never
            # moves an upload's temporary file away from under the caller.
            kept = ContentFile(content) if isinstance(content, bytes) else File(cast(Any, content))
            where[ref.sop_uid] = default_storage.save(name, kept)
        return where

    def search_studies(self, *, study_uid: str = "", patient_id: str = "") -> list[StudyFound]:
        from .models import ImagingStudy

        studies = ImagingStudy.objects.filter(storage=self.storage)
        if study_uid:
            studies = studies.filter(study_uid=study_uid)
        if patient_id:
            studies = studies.filter(patient__uuid=patient_id)
        return [
            StudyFound(
                study_uid=s.study_uid,
                patient_id=str(s.patient.uuid),
                modalities=(s.modality,),
                description=s.description,
                date=s.started_at.strftime("%Y%m%d") if s.started_at else "",
                instances=s.instance_count,
            )
            for s in studies.select_related("patient")
        ]

    def search_series(self, study_uid: str) -> list[SeriesFound]:
        series: dict[str, SeriesFound] = {}
        counts: dict[str, int] = {}
        for row in self._instances(study_uid):
            counts[row.series_uid] = counts.get(row.series_uid, 0) + 1
            series.setdefault(
                row.series_uid,
                SeriesFound(
                    row.series_uid, row.modality, row.series_number, row.series_description, None
                ),
            )
        return [
            SeriesFound(s.series_uid, s.modality, s.number, s.description, counts[s.series_uid])
            for s in series.values()
        ]

    def search_instances(self, study_uid: str, series_uid: str = "") -> list[InstanceFound]:
        rows = self._instances(study_uid)
        if series_uid:
            rows = rows.filter(series_uid=series_uid)
        return [InstanceFound(r.series_uid, r.sop_uid, r.instance_number) for r in rows]

    def _instances(self, study_uid: str) -> Any:
        from .models import ImagingInstance

        return ImagingInstance.objects.filter(study__study_uid=study_uid).exclude(file="")

    def retrieve(self, ref: InstanceRef) -> Dataset:
        row = self._instances(ref.study_uid).filter(sop_uid=ref.sop_uid).first()
        if row is None:
            raise _missing()
        try:
            with row.file.open("rb") as handle:
                return read_dicom(handle.read())
        except OSError as exc:
            raise _missing() from exc

    def rendered(
        self, ref: InstanceRef, *, index: int, preset: Preset, px: int, fmt: str
    ) -> RenderedFrame:
        return render_frame(self.retrieve(ref), index=index, preset=preset, px=px, fmt=fmt)


# --- a PACS over DICOMweb ----------------------------------------------------------------------


class _Recent:
    """The last few retrieved instances, so that switching presets or going back a slice does
    not fetch the same file from the PACS again. Bounded by count; per process."""

    def __init__(self, size: int = 48) -> None:
        self.size = size
        self._items: OrderedDict[tuple[str, str], bytes] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> bytes | None:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: tuple[str, str], value: bytes) -> None:
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)


_recent = _Recent()


def _first(item: dict[str, Any], tag: str) -> Any:
    values = item.get(tag, {}).get("Value") or [None]
    return values[0]


def _text(item: dict[str, Any], tag: str) -> str:
    value = _first(item, tag)
    if isinstance(value, dict):  # a person name
        return str(value.get("Alphabetic", ""))
    return "" if value is None else str(value)


def _number(item: dict[str, Any], tag: str) -> int | None:
    try:
        value = _first(item, tag)
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


class _StowBody:
    """A multipart/related body of DICOM files, read in blocks as requests sends it."""

    BLOCK = 64 * 1024

    def __init__(self, files: Sequence[bytes | DicomFile]) -> None:
        self.boundary = uuid.uuid4().hex
        self.content_type = f'multipart/related; type="application/dicom"; boundary={self.boundary}'
        head = f"--{self.boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode()
        self._parts: list[bytes | DicomFile] = []
        for index, content in enumerate(files):
            self._parts.append((b"\r\n" if index else b"") + head)
            self._parts.append(io.BytesIO(content) if isinstance(content, bytes) else content)
        self._parts.append(f"\r\n--{self.boundary}--\r\n".encode())
        self._length = sum(
            len(part) if isinstance(part, bytes) else file_size(part) for part in self._parts
        )
        self._index = 0
        self._started = False

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        while block := self.read(self.BLOCK):
            yield block

    def read(self, size: int = -1) -> bytes:
        wanted = self._length if size is None or size < 0 else size
        out = bytearray()
        while len(out) < wanted and self._index < len(self._parts):
            part = self._parts[self._index]
            if isinstance(part, bytes):
                out += part
                self._index += 1
                continue
            if not self._started:
                part.seek(0)
                self._started = True
            block = part.read(wanted - len(out))
            if block:
                out += block
            else:
                self._index += 1
                self._started = False
        return bytes(out)


class DicomWebPacs:
    """A DICOMweb server (QIDO-RS, WADO-RS, STOW-RS) at `url`."""

    storage = "pacs"

    def __init__(self, url: str, *, timeout: float = 10.0) -> None:
        from dicomweb_client.api import DICOMwebClient

        self.url = url.rstrip("/")
        self.timeout = timeout
        self._client = DICOMwebClient(self.url, timeout=timeout)

    def _call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        try:
            return getattr(self._client, method)(*args, **kwargs)
        except requests.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status == 404:
                raise _missing() from exc
            raise _unavailable() from exc
        except (requests.RequestException, OSError, ValueError) as exc:
            raise _unavailable() from exc

    def store(self, files: Sequence[tuple[InstanceRef, bytes | DicomFile]]) -> dict[str, str]:
        """STOW-RS of the files as they are, one multipart/related request streamed from the
        files (the body is never assembled in memory; its length is known, so no chunked
        transfer encoding is needed)."""
        if not files:
            return {}
        body = _StowBody([content for _ref, content in files])
        try:
            response = requests.post(
                f"{self.url}/studies",
                data=body,
                headers={"Content-Type": body.content_type, "Accept": "application/dicom+json"},
                timeout=self.timeout,
            )
            response.raise_for_status()
            answer = response.json() if response.content else {}
        except (requests.RequestException, OSError, ValueError) as exc:
            raise _unavailable() from exc
        failed = (answer.get("00081198") or {}).get("Value") if isinstance(answer, dict) else None
        if failed:
            raise PacsUnavailable(
                _("The image archive (PACS) refused %(n)s of the images.") % {"n": len(failed)}
            )
        return {ref.sop_uid: "" for ref, _content in files}

    def search_studies(self, *, study_uid: str = "", patient_id: str = "") -> list[StudyFound]:
        filters = {}
        if study_uid:
            filters["StudyInstanceUID"] = study_uid
        if patient_id:
            filters["PatientID"] = patient_id
        found = self._call(
            "search_for_studies",
            search_filters=filters,
            fields=["ModalitiesInStudy", "NumberOfStudyRelatedInstances", "StudyDescription"],
        )
        return [
            StudyFound(
                study_uid=_text(item, "0020000D"),
                patient_id=_text(item, "00100020"),
                modalities=tuple(str(v) for v in (item.get("00080061", {}).get("Value") or [])),
                description=_text(item, "00081030"),
                date=_text(item, "00080020"),
                instances=_number(item, "00201208"),
            )
            for item in found or []
        ]

    def search_series(self, study_uid: str) -> list[SeriesFound]:
        found = self._call(
            "search_for_series",
            study_instance_uid=study_uid,
            fields=["SeriesDescription", "NumberOfSeriesRelatedInstances"],
        )
        return [
            SeriesFound(
                series_uid=_text(item, "0020000E"),
                modality=_text(item, "00080060"),
                number=_number(item, "00200011"),
                description=_text(item, "0008103E"),
                instances=_number(item, "00201209"),
            )
            for item in found or []
        ]

    def search_instances(self, study_uid: str, series_uid: str = "") -> list[InstanceFound]:
        found = self._call(
            "search_for_instances",
            study_instance_uid=study_uid,
            series_instance_uid=series_uid or None,
            fields=["InstanceNumber"],
        )
        return sorted(
            (
                InstanceFound(
                    series_uid=_text(item, "0020000E"),
                    sop_uid=_text(item, "00080018"),
                    number=_number(item, "00200013"),
                )
                for item in found or []
            ),
            key=lambda i: (i.series_uid, i.number if i.number is not None else 0),
        )

    def qido(self, level: str, **kwargs: Any) -> list[dict[str, Any]]:
        """A QIDO-RS search at `level` ("studies", "series", "instances") as DICOM JSON,
        with dicomweb-client's arguments (search_filters, fields, study_instance_uid ...)."""
        found = self._call(f"search_for_{level}", **kwargs)
        return list(found or [])

    def retrieve(self, ref: InstanceRef) -> Dataset:
        key = (self.url, ref.sop_uid)
        content = _recent.get(key)
        if content is None:
            ds = self._call("retrieve_instance", ref.study_uid, ref.series_uid, ref.sop_uid)
            out = io.BytesIO()
            try:
                ds.save_as(out, enforce_file_format=True)
            except (ValueError, AttributeError, OSError) as exc:
                raise _unavailable() from exc
            content = out.getvalue()
            _recent.put(key, content)
        return read_dicom(content)

    def rendered(
        self, ref: InstanceRef, *, index: int, preset: Preset, px: int, fmt: str
    ) -> RenderedFrame:
        return render_frame(self.retrieve(ref), index=index, preset=preset, px=px, fmt=fmt)


def _dicomweb_url() -> str:
    return str(getattr(settings, "FARCARE_DICOMWEB_URL", "") or "").strip()


def _timeout() -> float:
    value = getattr(settings, "FARCARE_DICOMWEB_TIMEOUT", 10)
    return float(value) if isinstance(value, int | float) and value > 0 else 10.0


def configured_pacs() -> Pacs:
    """Where new studies go: the DICOMweb PACS when FARCARE_DICOMWEB_URL is set, else FarCare's
    own storage."""
    url = _dicomweb_url()
    return DicomWebPacs(url, timeout=_timeout()) if url else EmbeddedPacs()


def pacs_for_storage(storage: str) -> Pacs:
    """Where a stored study is: its own storage, or the configured PACS (PacsUnavailable when
    the setting was removed since)."""
    if storage == EmbeddedPacs.storage:
        return EmbeddedPacs()
    url = _dicomweb_url()
    if not url:
        raise PacsUnavailable(_("The image archive (PACS) of this study is not configured."))
    return DicomWebPacs(url, timeout=_timeout())
