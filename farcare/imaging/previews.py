"""Small previews of attached photos and DICOM files, for consultants behind 64 kbit/s links: a
4000×3000 phone photo (about 2 MB, over four minutes on such a link) becomes a WebP of about
1600×1200 that a consultant opens in seconds, upright and without the metadata a phone writes
(GPS position, time, device).

Settings: FARCARE_PREVIEW_MAX_PX (longer side, default 1600), FARCARE_PREVIEW_FORMAT ("webp" or
"avif") and FARCARE_PREVIEW_QUALITY (1–100, default 60)."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils.translation import gettext as _
from PIL import Image, ImageCms, ImageOps

from .dicom import LINE_ART, read_dicom, render_dicom
from .errors import InvalidImage

__all__ = ["DICOM_TYPES", "PHOTO_TYPES", "Preview", "make_preview", "preview_settings"]

PHOTO_TYPES = frozenset({"image/jpeg", "image/pjpeg", "image/png", "image/webp"})
DICOM_TYPES = frozenset({"application/dicom"})
# Photos are opened only as these formats: a file labelled as a photo is never handed to one of
# Pillow's rarer decoders.
_PHOTO_FORMATS = ("JPEG", "PNG", "WEBP")

# Encoder effort, measured on the 1600×1200 preview of the 4000×3000 sample photo on a 2-core
# machine: WebP method 4 gives 60 KB in 0.27 s for the whole preview, and methods 5 and 6 are no
# smaller and slower; AVIF speed 6 (libavif's default) gives 69 KB in 0.40 s, speed 4 saves 14 %
# for 3.4 s. ECG drawings are saved losslessly in WebP: 14 KB, against 174 KB lossy (the 1 mm
# grid is the worst case for a lossy coder); AVIF has no lossless mode here (33 KB lossy).
_FORMATS = {
    "webp": ("WEBP", "image/webp", {"method": 4}),
    "avif": ("AVIF", "image/avif", {"speed": 6}),
}
_SRGB = ImageCms.createProfile("sRGB")


@dataclass(frozen=True)
class Preview:
    """An encoded preview and the size of what it shows. `content` may be larger than the
    source (a small PNG, an already tiny JPEG): the caller decides whether to keep it."""

    content: bytes
    content_type: str
    width: int
    height: int
    source_width: int
    source_height: int


def preview_settings() -> tuple[str, int, int]:
    """(format, quality, max_px) from the settings, checked; ImproperlyConfigured if wrong."""
    name = str(getattr(settings, "FARCARE_PREVIEW_FORMAT", "webp")).strip().lower()
    if name not in _FORMATS:
        raise ImproperlyConfigured(
            f"FARCARE_PREVIEW_FORMAT must be one of {', '.join(sorted(_FORMATS))}, not {name!r}"
        )
    quality = getattr(settings, "FARCARE_PREVIEW_QUALITY", 60)
    if not isinstance(quality, int) or not 1 <= quality <= 100:
        raise ImproperlyConfigured(f"FARCARE_PREVIEW_QUALITY must be 1–100, not {quality!r}")
    max_px = getattr(settings, "FARCARE_PREVIEW_MAX_PX", 1600)
    if not isinstance(max_px, int) or not 64 <= max_px <= 16384:
        raise ImproperlyConfigured(f"FARCARE_PREVIEW_MAX_PX must be 64–16384, not {max_px!r}")
    return name, quality, max_px


def make_preview(data: bytes | BinaryIO, content_type: str) -> Preview | None:
    """A preview of a JPEG, PNG or WebP photo or of a DICOM file (image or ECG), or None for
    anything else (PDF, text, XML…). Photos are turned upright by their EXIF orientation, lose
    all metadata, and are scaled so that the longer side is at most FARCARE_PREVIEW_MAX_PX.
    The preview is returned even when it is not smaller than the source (compare the sizes to
    decide which to send). Raises InvalidImage or InvalidDicom (ValueErrors with a message for
    the user) when the file is damaged or too large to decode safely, NothingToRender for a DICOM
    file without pixels or waveform, ImproperlyConfigured when a setting is wrong."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind not in PHOTO_TYPES and kind not in DICOM_TYPES:
        return None
    name, quality, max_px = preview_settings()
    image = render_dicom(read_dicom(data)) if kind in DICOM_TYPES else _open_photo(data, max_px)
    source_size = image.info.get("farcare_source_size", image.size)
    line_art = bool(image.info.get(LINE_ART))
    image = _fit(image, max_px)
    pil_format, mime, options = _FORMATS[name]
    if line_art and pil_format == "WEBP":
        options = {**options, "lossless": True}
    out = io.BytesIO()
    image.save(out, pil_format, quality=quality, **options)
    return Preview(
        content=out.getvalue(),
        content_type=mime,
        width=image.width,
        height=image.height,
        source_width=source_size[0],
        source_height=source_size[1],
    )


def _open_photo(data: bytes | BinaryIO, max_px: int) -> Image.Image:
    source = io.BytesIO(data) if isinstance(data, bytes | bytearray) else data
    try:
        with warnings.catch_warnings():
            # Over MAX_IMAGE_PIXELS Pillow only warns; treat that as the bomb it may be.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(source, formats=_PHOTO_FORMATS)
            stored_size = image.size
            if image.format == "JPEG":
                # The JPEG decoder can scale by 1/2, 1/4 or 1/8 while decoding: 4000×3000 decodes
                # as 2000×1500 for a 1600 px preview, four times fewer pixels to decode.
                scale = min(1.0, max_px / max(image.size))
                image.draft(None, (round(image.width * scale), round(image.height * scale)))
            image.load()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage(_("The image is too large to process.")) from exc
    except (OSError, SyntaxError, ValueError, EOFError, IndexError, KeyError) as exc:
        raise InvalidImage(
            _("The image is damaged or is not a JPEG, PNG or WebP picture.")
        ) from exc
    icc = image.info.get("icc_profile")
    try:
        upright = ImageOps.exif_transpose(image)
    except (ValueError, OSError, SyntaxError, KeyError, TypeError, IndexError):
        upright = image  # unreadable EXIF: show the pixels as stored rather than nothing
    # The source's size as a viewer shows it, turned by its orientation too.
    turned = upright.size != image.size
    source_size = (stored_size[1], stored_size[0]) if turned else stored_size
    if icc:
        upright = _to_srgb(upright, icc)
    clean = _normalise_mode(upright)
    # A new image with the pixels alone: no EXIF (GPS, time, device), XMP, ICC or comments
    # can reach the encoder, whatever Pillow would copy from `info`.
    stripped = Image.new(clean.mode, clean.size)
    stripped.paste(clean)
    stripped.info["farcare_source_size"] = source_size
    return stripped


def _normalise_mode(image: Image.Image) -> Image.Image:
    """RGB, RGBA or L, which both encoders take; 16-bit grey PNGs keep their contrast."""
    if image.mode in ("RGB", "RGBA", "L"):
        return image
    if image.mode.startswith("I;16") or image.mode == "I":
        values = np.asarray(image, dtype=np.int64)
        return Image.fromarray((np.clip(values, 0, 65535) >> 8).astype(np.uint8), "L")
    if image.mode in ("LA", "PA", "La") or "transparency" in image.info:
        return image.convert("RGBA")
    if image.mode == "1":
        return image.convert("L")
    return image.convert("RGB")


def _to_srgb(image: Image.Image, icc: bytes) -> Image.Image:
    """Convert from the photo's colour profile (Display P3 on many phones, a CMYK profile in
    print scans) to sRGB, because the profile itself is dropped with the rest of the metadata;
    with a broken or mismatched profile, keep the values as they are."""
    if image.mode not in ("RGB", "RGBA", "CMYK"):
        return image
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        alpha = image.getchannel("A") if image.mode == "RGBA" else None
        pixels = image.convert("RGB") if alpha is not None else image
        converted = ImageCms.profileToProfile(pixels, source, _SRGB, outputMode="RGB")
    except (ImageCms.PyCMSError, OSError, ValueError, TypeError):
        return image
    if converted is None:
        return image
    if alpha is not None:
        converted.putalpha(alpha)
    return converted


def _fit(image: Image.Image, max_px: int) -> Image.Image:
    if max(image.size) <= max_px:
        return image
    scale = max_px / max(image.size)
    size = (max(1, round(image.width * scale)), max(1, round(image.height * scale)))
    # reducing_gap: a fast integer reduction first, then Lanczos over the last factor of ≤ 3.
    return image.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)
