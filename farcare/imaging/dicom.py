"""Reading DICOM files, describing them to a consultant, and drawing them as a picture: images
through the modality and VOI transforms to 8-bit grey, ECG waveforms on millimetre paper."""

from __future__ import annotations

import io
import math
from typing import BinaryIO, TypedDict, cast

import numpy as np
import numpy.typing as npt
from django.utils.translation import gettext as _
from PIL import Image, ImageDraw, ImageFont
from pydicom import dcmread
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.errors import InvalidDicomError
from pydicom.pixels import apply_color_lut, apply_modality_lut, apply_voi_lut, pixel_array
from pydicom.uid import UID

from .errors import InvalidDicom, NothingToRender

__all__ = [
    "ECG_MM_PER_MV",
    "ECG_MM_PER_S",
    "ECG_PX_PER_MM",
    "LINE_ART",
    "DicomSummary",
    "dicom_summary",
    "read_dicom",
    "render_dicom",
]

# Set in the `info` of a rendered drawing (an ECG), which a lossless coder stores best.
LINE_ART = "farcare_line_art"

# Exceptions pydicom and numpy raise on damaged input, besides InvalidDicomError.
_READ_ERRORS = (EOFError, OSError, ValueError, KeyError, TypeError, AttributeError, IndexError)


def read_dicom(data: bytes | BinaryIO) -> Dataset:
    """Parse a DICOM Part 10 file. The 128-byte preamble and "DICM" are required (force=False),
    so a text or PDF file is never mistaken for headerless DICOM. Raises InvalidDicom with a
    message for the user."""
    source: BinaryIO = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        ds = dcmread(source, force=False)
    except InvalidDicomError as exc:
        raise InvalidDicom(_("This file is not a DICOM file.")) from exc
    except _READ_ERRORS as exc:
        raise InvalidDicom(_("The DICOM file is damaged and cannot be read.")) from exc
    if _truncated(ds):
        raise InvalidDicom(_("The DICOM file is damaged and cannot be read."))
    return ds


def _truncated(ds: Dataset) -> bool:
    """pydicom reads a file cut short without complaint, up to where it ends: a file cut in
    transfer shows as a missing transfer syntax, an empty data set, or an element whose value is
    shorter than its declared length (a cut inside a sequence of undefined length is only found
    when the pixels or samples are decoded)."""
    meta = getattr(ds, "file_meta", None)
    if meta is None or "TransferSyntaxUID" not in meta or len(ds) == 0:
        return True
    for tag in ds.keys():  # noqa: SIM118 (iterating a Dataset would decode every element)
        raw = ds.get_item(tag)
        if (
            isinstance(raw, RawDataElement)
            and raw.length != 0xFFFFFFFF
            and isinstance(raw.value, bytes)
            and len(raw.value) < raw.length
        ):
            return True
    return False


class DicomSummary(TypedDict):
    """What a consultant sees beside the file name. Text is "" and numbers None when absent."""

    sop_class_uid: str
    sop_class_name: str
    modality: str
    study_description: str
    series_description: str
    body_part: str
    rows: int | None
    columns: int | None
    number_of_frames: int | None
    waveform_channels: int | None
    sampling_frequency: float | None
    duration_seconds: float | None


def _text(ds: Dataset, keyword: str) -> str:
    value = ds.get(keyword)
    return "" if value is None else str(value).strip()


def _int(ds: Dataset, keyword: str) -> int | None:
    value = ds.get(keyword)
    try:
        return None if value in (None, "") else int(value)
    except (TypeError, ValueError):
        return None


def dicom_summary(ds: Dataset) -> DicomSummary:
    """Modality, descriptions, body part, size and, for a waveform, channels and sampling
    frequency of the first multiplex group."""
    meta = getattr(ds, "file_meta", None)
    sop_class = _text(ds, "SOPClassUID") or (
        _text(meta, "MediaStorageSOPClassUID") if meta is not None else ""
    )
    channels: int | None = None
    frequency: float | None = None
    duration: float | None = None
    waveforms = ds.get("WaveformSequence")
    if waveforms:
        group = waveforms[0]
        channels = _int(group, "NumberOfWaveformChannels")
        try:
            frequency = float(group.SamplingFrequency)
            duration = int(group.NumberOfWaveformSamples) / frequency
        except (AttributeError, TypeError, ValueError, ZeroDivisionError):
            frequency = frequency if frequency else None
    has_pixels = "PixelData" in ds
    return DicomSummary(
        sop_class_uid=sop_class,
        sop_class_name=UID(sop_class).name if sop_class else "",
        modality=_text(ds, "Modality"),
        study_description=_text(ds, "StudyDescription"),
        series_description=_text(ds, "SeriesDescription"),
        body_part=_text(ds, "BodyPartExamined"),
        rows=_int(ds, "Rows") if has_pixels else None,
        columns=_int(ds, "Columns") if has_pixels else None,
        number_of_frames=(_int(ds, "NumberOfFrames") or 1) if has_pixels else None,
        waveform_channels=channels,
        sampling_frequency=frequency,
        duration_seconds=duration,
    )


def render_dicom(ds: Dataset) -> Image.Image:
    """Draw the file as a picture: an image (the middle frame of a multi-frame one) in 8-bit grey
    or RGB, or an ECG waveform on standard paper. Raises NothingToRender when there is neither,
    and InvalidDicom when the pixels or samples cannot be decoded."""
    if "PixelData" in ds:
        return _render_pixels(ds)
    if ds.get("WaveformSequence"):
        return _render_waveform(ds)
    if "Rows" in ds and "Columns" in ds:  # an image whose pixels were cut off
        raise InvalidDicom(_("The DICOM file is damaged and cannot be read."))
    raise NothingToRender(_("This DICOM file holds neither an image nor a waveform to show."))


# --- images ------------------------------------------------------------------------------------

FloatArray = npt.NDArray[np.float64]


def _decode_frame(ds: Dataset) -> npt.NDArray[np.generic]:
    rows, columns = _int(ds, "Rows") or 0, _int(ds, "Columns") or 0
    limit = Image.MAX_IMAGE_PIXELS
    if rows <= 0 or columns <= 0:
        raise InvalidDicom(_("The DICOM image cannot be decoded."))
    if limit is not None and rows * columns > limit:
        raise InvalidDicom(_("The DICOM image is too large to show."))
    frames = _int(ds, "NumberOfFrames") or 1
    try:
        # Decode only the frame we show: a 500-frame study would otherwise fill memory.
        return pixel_array(ds, index=frames // 2 if frames > 1 else None)
    except (*_READ_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise InvalidDicom(_("The DICOM image cannot be decoded.")) from exc


def _voi_output_range(ds: Dataset) -> tuple[float, float] | None:
    """The value range apply_voi_lut maps onto, following pydicom's own choice of VOI LUT
    (preferred) or window; None when the file has neither and the data range is used."""
    voi = ds.get("VOILUTSequence")
    if voi and voi[0].get("LUTDescriptor") is not None and voi[0].get("LUTData") is not None:
        return 0.0, float(2 ** int(voi[0].LUTDescriptor[2]) - 1)
    if ds.get("WindowCenter") is None or ds.get("WindowWidth") is None:
        return None
    modality_lut = ds.get("ModalityLUTSequence")
    bits = int(ds.BitsStored)
    if modality_lut:
        low, high = 0.0, float(2 ** int(modality_lut[0].LUTDescriptor[2]) - 1)
    elif ds.get("PixelRepresentation", 0) == 0:
        low, high = 0.0, float(2**bits - 1)
    else:
        low, high = float(-(2 ** (bits - 1))), float(2 ** (bits - 1) - 1)
    slope, intercept = ds.get("RescaleSlope"), ds.get("RescaleIntercept")
    if slope is not None and intercept is not None:  # as pydicom's apply_windowing does
        low, high = low * float(slope) + float(intercept), high * float(slope) + float(intercept)
    return low, high


def _to_uint8(values: FloatArray, low: float, high: float) -> npt.NDArray[np.uint8]:
    if not math.isfinite(low) or not math.isfinite(high) or high <= low:
        return np.zeros(values.shape, np.uint8)
    scaled = (values - low) * (255.0 / (high - low))
    return cast(npt.NDArray[np.uint8], np.clip(scaled, 0, 255).round().astype(np.uint8))


def _render_pixels(ds: Dataset) -> Image.Image:
    frame = _decode_frame(ds)
    photometric = _text(ds, "PhotometricInterpretation").upper()
    try:
        if photometric == "PALETTE COLOR":
            frame = apply_color_lut(frame, ds)
            top = 255.0 if frame.dtype == np.uint8 else 65535.0  # the LUT's own depth
        else:
            top = float(2 ** int(ds.get("BitsStored", 8)) - 1)
        if frame.ndim == 3 and frame.shape[-1] == 3:
            # RGB (pydicom converts YBR to RGB): only the bit depth changes.
            return Image.fromarray(_to_uint8(frame.astype(np.float64), 0.0, top), "RGB")
        if frame.ndim != 2:
            raise ValueError(f"unexpected pixel array shape {frame.shape}")
        values = apply_voi_lut(apply_modality_lut(frame, ds), ds, index=0).astype(np.float64)
        output_range = _voi_output_range(ds)
    except (*_READ_ERRORS, NotImplementedError) as exc:
        raise InvalidDicom(_("The DICOM image cannot be decoded.")) from exc
    if output_range is None:
        # No window in the file: stretch what is there.
        output_range = (float(values.min()), float(values.max()))
    grey = _to_uint8(values, *output_range)
    if photometric == "MONOCHROME1":
        grey = 255 - grey  # MONOCHROME1: the lowest value is white
    return Image.fromarray(grey, "L")


# --- ECG ----------------------------------------------------------------------------------------

# Standard ECG paper: 25 mm/s, 10 mm/mV, a 1 mm pink grid with 5 mm major lines. Five pixels a
# millimetre makes a 10 s 12-lead page about 1340 × 780 px: it fits a 1600 px preview without
# scaling, which would blur the millimetre grid.
ECG_PX_PER_MM = 5
ECG_MM_PER_S = 25.0
ECG_MM_PER_MV = 10.0
_ROW_MM = 35.0
_TOP_MM = 10.0
_LEFT_MM = 12.0
_RIGHT_MM = 5.0
_BOTTOM_MM = 5.0
_MAX_SECONDS = 10.0
_PAPER = (255, 252, 252)
_MINOR = (250, 205, 212)
_MAJOR = (235, 140, 160)
_TRACE = (0, 0, 0)

# The standard 3×4 layout (each column a consecutive quarter of the record) and the rhythm strip.
_GRID_12 = (("I", "aVR", "V1", "V4"), ("II", "aVL", "V2", "V5"), ("III", "aVF", "V3", "V6"))
_RHYTHM_LEAD = "II"

# Channel source codes of the twelve leads, DICOM PS3.16 CID 3001: MDC (current) and SCP-ECG
# (older files); both number the leads alike.
_LEAD_NUMBERS = {
    1: "I",
    2: "II",
    61: "III",
    62: "aVR",
    63: "aVL",
    64: "aVF",
    3: "V1",
    4: "V2",
    5: "V3",
    6: "V4",
    7: "V5",
    8: "V6",
}
_UNITS_TO_MV = {"uV": 0.001, "mV": 1.0, "V": 1000.0, "nV": 1e-6}


def _lead_label(channel: Dataset, index: int) -> str:
    sources = channel.get("ChannelSourceSequence") or []
    if sources:
        source = sources[0]
        scheme, value = _text(source, "CodingSchemeDesignator"), _text(source, "CodeValue")
        prefix = {"MDC": "2:", "SCPECG": "5.6.3-9-"}.get(scheme)
        if prefix and value.startswith(prefix) and value[len(prefix) :].isdigit():
            lead = _LEAD_NUMBERS.get(int(value[len(prefix) :]))
            if lead:
                return lead
        meaning = _text(source, "CodeMeaning")
        if meaning:
            return meaning.removeprefix("Lead ").strip() or meaning
    return _text(channel, "ChannelLabel") or f"#{index + 1}"


def _to_millivolts(channel: Dataset) -> float:
    units = channel.get("ChannelSensitivityUnitsSequence") or []
    code = _text(units[0], "CodeValue") if units else ""
    return _UNITS_TO_MV.get(code, 0.001)  # µV is what 12-lead files use when the code is odd


def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (ImportError, OSError):  # Pillow without FreeType: the small bitmap font
        return ImageFont.load_default()


def _draw_paper(draw: ImageDraw.ImageDraw, width: int, height: int) -> None:
    px = ECG_PX_PER_MM
    for mm in range(0, max(width, height) // px + 1):
        if mm % 5 == 0:
            continue
        if mm * px < width:
            draw.line((mm * px, 0, mm * px, height), fill=_MINOR)
        if mm * px < height:
            draw.line((0, mm * px, width, mm * px), fill=_MINOR)
    for mm in range(0, max(width, height) // px + 1, 5):
        if mm * px < width:
            draw.line((mm * px, 0, mm * px, height), fill=_MAJOR)
        if mm * px < height:
            draw.line((0, mm * px, width, mm * px), fill=_MAJOR)


def _render_waveform(ds: Dataset) -> Image.Image:
    group = ds.WaveformSequence[0]
    try:
        samples = ds.waveform_array(0)
        frequency = float(group.SamplingFrequency)
        channels = list(group.ChannelDefinitionSequence)
    except (*_READ_ERRORS, RuntimeError) as exc:
        raise InvalidDicom(_("The DICOM waveform cannot be decoded.")) from exc
    if samples.ndim != 2 or samples.shape[0] == 0 or not frequency > 0:
        raise NothingToRender(_("This DICOM file holds neither an image nor a waveform to show."))

    labels = [_lead_label(channel, i) for i, channel in enumerate(channels)]
    millivolts = samples[:, : len(channels)] * np.array([_to_millivolts(c) for c in channels])
    by_label = {label: millivolts[:, i] for i, label in enumerate(labels)}
    seconds = min(samples.shape[0] / frequency, _MAX_SECONDS)

    px = ECG_PX_PER_MM
    twelve = all(lead in by_label for row in _GRID_12 for lead in row)
    rows: list[list[tuple[str, float, float]]]  # per row: (lead, start s, end s)
    if twelve:
        quarter = seconds / 4
        rows = [
            [(lead, k * quarter, (k + 1) * quarter) for k, lead in enumerate(row)]
            for row in _GRID_12
        ]
        rows.append([(_RHYTHM_LEAD, 0.0, seconds)])
    else:
        rows = [[(label, 0.0, seconds)] for label in labels[:16]]

    trace_mm = seconds * ECG_MM_PER_S
    width = round((_LEFT_MM + trace_mm + _RIGHT_MM) * px)
    height = round((_TOP_MM + _ROW_MM * len(rows) + _BOTTOM_MM) * px)
    image = Image.new("RGB", (width, height), _PAPER)
    draw = ImageDraw.Draw(image)
    _draw_paper(draw, width, height)
    label_font = _font(int(3.5 * px))
    draw.text(
        (_LEFT_MM * px, 3 * px),
        f"{ECG_MM_PER_S:g} mm/s   {ECG_MM_PER_MV:g} mm/mV   {frequency:g} Hz",
        fill=_TRACE,
        font=label_font,
    )

    cells: dict[str, tuple[int, int, int, int]] = {}
    for r, row in enumerate(rows):
        top = (_TOP_MM + r * _ROW_MM) * px
        baseline = top + _ROW_MM * 0.6 * px
        # Calibration pulse: 1 mV for 0.2 s, so the reader can check the gain.
        x0, mv = 2 * px, ECG_MM_PER_MV * px
        pulse_w = 0.2 * ECG_MM_PER_S * px
        draw.line(
            [
                (x0, baseline),
                (x0 + px, baseline),
                (x0 + px, baseline - mv),
                (x0 + px + pulse_w, baseline - mv),
                (x0 + px + pulse_w, baseline),
                (x0 + 2 * px + pulse_w, baseline),
            ],
            fill=_TRACE,
            width=2,
        )
        for lead, start, end in row:
            signal = by_label[lead]
            first, last = round(start * frequency), min(round(end * frequency), len(signal))
            segment = signal[first:last]
            if segment.size < 2:
                continue
            left = (_LEFT_MM + start * ECG_MM_PER_S) * px
            xs = left + np.arange(segment.size) / frequency * ECG_MM_PER_S * px
            # Centre each segment on its median so baseline wander does not push it off the row.
            ys = baseline - (segment - float(np.median(segment))) * ECG_MM_PER_MV * px
            ys = np.clip(ys, 0, height - 1)
            draw.line(list(zip(xs.tolist(), ys.tolist(), strict=True)), fill=_TRACE, width=2)
            if start > 0:  # the lead change mark between columns
                draw.line((left, baseline - 3 * px, left, baseline + 3 * px), fill=_TRACE, width=2)
            draw.text((left + px, top + px), lead, fill=_TRACE, font=label_font)
            right = (_LEFT_MM + end * ECG_MM_PER_S) * px
            key = lead if lead not in cells else f"{lead} rhythm"
            cells[key] = (round(left), round(top), round(right), round(top + _ROW_MM * px))
    # Where each lead was drawn, for tests and for a viewer that zooms into one lead.
    image.info["ecg_leads"] = cells
    image.info[LINE_ART] = True
    return image
