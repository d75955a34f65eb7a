"""One frame of a DICOM image drawn for the viewer: the modality transform (to Hounsfield units
for CT), a window preset or the file's own window, scaled to the viewport and encoded small
(WebP, or JPEG for a browser without WebP). The same drawing whichever PACS keeps the file, so a
preset looks alike from the embedded storage and from Orthanc."""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.utils.translation import gettext as _
from PIL import Image
from pydicom.dataset import Dataset
from pydicom.pixels import apply_modality_lut, apply_voi_lut, pixel_array

from .dicom import _READ_ERRORS, _to_uint8, _voi_output_range
from .errors import InvalidDicom, NothingToRender
from .windows import Preset

__all__ = ["FORMATS", "RENDER_VERSION", "RenderedFrame", "frame_count", "render_frame"]

# Changed whenever the drawing changes, so that cached frames (ETag) are drawn again.
RENDER_VERSION = "1"
FORMATS = {"webp": ("WEBP", "image/webp"), "jpeg": ("JPEG", "image/jpeg")}
# Viewport sizes offered; anything else is rounded to one of them (a cache key must not be free).
SIZES = (256, 384, 512, 768, 1024)


@dataclass(frozen=True)
class RenderedFrame:
    content: bytes
    content_type: str
    width: int
    height: int


def frame_count(ds: Dataset) -> int:
    try:
        return max(int(ds.get("NumberOfFrames") or 1), 1)
    except (TypeError, ValueError):
        return 1


def viewport(px: int) -> int:
    """The allowed size nearest `px`, at least the smallest."""
    return min(SIZES, key=lambda size: abs(size - px))


def _quality() -> int:
    quality = getattr(settings, "FARCARE_IMAGING_FRAME_QUALITY", 70)
    return quality if isinstance(quality, int) and 1 <= quality <= 100 else 70


def render_frame(
    ds: Dataset, *, index: int = 0, preset: Preset, px: int = 512, fmt: str = "webp"
) -> RenderedFrame:
    """Frame `index` (0 for a single-frame image) in grey under `preset`, its longer side at
    most `px` (rounded to `SIZES`), encoded as `fmt`. InvalidDicom or NothingToRender (with a
    message for the user) when it cannot be drawn."""
    if "PixelData" not in ds:
        raise NothingToRender(_("This DICOM file holds no image to show."))
    frames = frame_count(ds)
    if not 0 <= index < frames:
        raise NothingToRender(_("This image has no frame %(n)s.") % {"n": index + 1})
    rows, columns = int(ds.get("Rows") or 0), int(ds.get("Columns") or 0)
    limit = Image.MAX_IMAGE_PIXELS
    if rows <= 0 or columns <= 0 or (limit is not None and rows * columns > limit):
        raise InvalidDicom(_("The DICOM image cannot be decoded."))
    photometric = str(ds.get("PhotometricInterpretation", "")).upper()
    try:
        pixels = pixel_array(ds, index=index if frames > 1 else None)
        if pixels.ndim == 3 and pixels.shape[-1] == 3:
            top = float(2 ** int(ds.get("BitsStored", 8)) - 1)
            image = Image.fromarray(_to_uint8(pixels.astype(np.float64), 0.0, top), "RGB")
        elif pixels.ndim == 2:
            image = Image.fromarray(_grey(ds, pixels, preset, photometric), "L")
        else:
            raise ValueError(f"unexpected pixel array shape {pixels.shape}")
    except (*_READ_ERRORS, NotImplementedError, RuntimeError) as exc:
        raise InvalidDicom(_("The DICOM image cannot be decoded.")) from exc
    size = viewport(px)
    image.thumbnail((size, size), Image.Resampling.LANCZOS)
    pillow_format, content_type = FORMATS.get(fmt, FORMATS["webp"])
    out = io.BytesIO()
    options: dict[str, object] = {"quality": _quality()}
    if pillow_format == "WEBP":
        options["method"] = 4
    else:
        options["optimize"] = True
    image.save(out, pillow_format, **options)
    return RenderedFrame(out.getvalue(), content_type, image.width, image.height)


def _grey(ds: Dataset, pixels: np.ndarray, preset: Preset, photometric: str) -> np.ndarray:
    values = apply_modality_lut(pixels, ds)
    if preset.centre is not None and preset.width is not None:
        low = preset.centre - preset.width / 2
        grey = _to_uint8(values.astype(np.float64), low, low + preset.width)
    else:
        windowed = apply_voi_lut(values, ds, index=0).astype(np.float64)
        output_range = _voi_output_range(ds) or (float(windowed.min()), float(windowed.max()))
        grey = _to_uint8(windowed, *output_range)
    if photometric == "MONOCHROME1":
        grey = 255 - grey
    return grey
