"""Metadata out of a photo's original, without re-encoding it: the compressed pixels are copied
byte for byte, so nothing clinical is lost to a second lossy pass and a 2 MB photo costs no CPU.

Photos that go abroad (farcare.consults) lose EXIF (GPS position, device, time), XMP, IPTC and
Photoshop blocks, comments, embedded thumbnails and preview images, and anything after the end
of the image. Kept: what decoding and colour need — JPEG tables and scans, a JFIF header without
its thumbnail, the ICC profile, Adobe's colour-transform flag; PNG and WebP critical chunks and
colour chunks. A JPEG's orientation is kept as the only EXIF entry, so that a photo taken with
the phone held upright still shows upright (it names nobody).

The rules are allow-lists: a block we do not know is dropped, never passed on.
"""

from __future__ import annotations

import io
import struct

from django.utils.translation import gettext as _
from PIL import Image

from .errors import InvalidImage

STRIPPABLE = frozenset({"image/jpeg", "image/png", "image/webp"})

SOI, EOI = b"\xff\xd8", b"\xff\xd9"
APP0, APP2, APP14, COM, SOS = 0xE0, 0xE2, 0xEE, 0xFE, 0xDA
ORIENTATION = 0x0112

# PNG chunks needed to draw the image as intended (incl. APNG frames); text, EXIF and time go.
PNG_KEEP = frozenset(
    {
        b"IHDR",
        b"PLTE",
        b"IDAT",
        b"IEND",
        b"tRNS",
        b"cHRM",
        b"gAMA",
        b"iCCP",
        b"sBIT",
        b"sRGB",
        b"bKGD",
        b"pHYs",
        b"acTL",
        b"fcTL",
        b"fdAT",
    }
)
WEBP_KEEP = frozenset({b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP"})
VP8X_EXIF, VP8X_XMP = 0x08, 0x04


def _damaged() -> InvalidImage:
    return InvalidImage(_("The image is damaged and cannot be cleaned of its metadata."))


def strip_metadata(data: bytes, content_type: str) -> bytes:
    """The image without its metadata; InvalidImage when it cannot be parsed (then it must not
    be sent on as it is)."""
    if content_type == "image/jpeg":
        return _jpeg(data)
    if content_type == "image/png":
        return _png(data)
    if content_type == "image/webp":
        return _webp(data)
    raise InvalidImage(_("This kind of file cannot be cleaned of its metadata."))


# --- JPEG ----------------------------------------------------------------------------------


def _orientation(data: bytes) -> int:
    try:
        value = Image.open(io.BytesIO(data)).getexif().get(ORIENTATION, 1)
    except Exception:  # unreadable EXIF: the photo shows as stored
        return 1
    return value if isinstance(value, int) and 1 <= value <= 8 else 1


def _exif_orientation_only(orientation: int) -> bytes:
    tiff = (
        b"MM\x00\x2a\x00\x00\x00\x08"
        + struct.pack(">H", 1)
        + struct.pack(">HHIHH", ORIENTATION, 3, 1, orientation, 0)
        + b"\x00\x00\x00\x00"
    )
    return _segment(0xE1, b"Exif\x00\x00" + tiff)


def _segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _keep_jpeg_segment(marker: int, payload: bytes) -> bytes | None:
    """The segment as it may travel, or None to drop it."""
    if marker == APP0:
        # JFIF without its thumbnail (which would show the picture's content again).
        if payload.startswith(b"JFIF\x00") and len(payload) >= 14:
            return _segment(APP0, payload[:12] + b"\x00\x00")
        return None
    if marker == APP2 and payload.startswith(b"ICC_PROFILE\x00"):
        return _segment(marker, payload)
    if marker == APP14 and payload.startswith(b"Adobe"):
        return _segment(marker, payload)
    if 0xE0 <= marker <= 0xEF or marker == COM:
        return None
    return _segment(marker, payload)


def _scan_end(data: bytes, pos: int) -> int:
    """Where the entropy-coded data starting at `pos` ends: at the next marker that is neither
    a stuffed 0xFF00 nor a restart marker."""
    while True:
        pos = data.find(b"\xff", pos)
        if pos < 0 or pos + 1 >= len(data):
            raise _damaged()
        following = data[pos + 1]
        if following == 0x00 or 0xD0 <= following <= 0xD7 or following == 0xFF:
            pos += 1
            continue
        return pos


def _jpeg(data: bytes) -> bytes:
    if not data.startswith(SOI):
        raise _damaged()
    head: list[bytes] = []
    body: list[bytes] = []
    pos = 2
    while True:
        if pos + 2 > len(data) or data[pos] != 0xFF:
            raise _damaged()
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte before a marker
            pos += 1
            continue
        if marker == 0xD9:
            break  # anything after the end of the image (trailers, appended images) is dropped
        if 0xD0 <= marker <= 0xD7 or marker == 0x01:
            body.append(data[pos : pos + 2])
            pos += 2
            continue
        if pos + 4 > len(data):
            raise _damaged()
        (length,) = struct.unpack(">H", data[pos + 2 : pos + 4])
        end = pos + 2 + length
        if length < 2 or end > len(data):
            raise _damaged()
        kept = _keep_jpeg_segment(marker, data[pos + 4 : end])
        pos = end
        if kept is not None:
            (head if marker == APP0 and not body else body).append(kept)
        if marker == SOS:
            scan_end = _scan_end(data, pos)
            body.append(data[pos:scan_end])
            pos = scan_end
    orientation = _orientation(data)
    exif = [_exif_orientation_only(orientation)] if orientation != 1 else []
    return b"".join([SOI, *head, *exif, *body, EOI])


# --- PNG -----------------------------------------------------------------------------------

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _png(data: bytes) -> bytes:
    if not data.startswith(PNG_SIGNATURE):
        raise _damaged()
    out = [PNG_SIGNATURE]
    pos = len(PNG_SIGNATURE)
    while True:
        if pos + 12 > len(data):
            raise _damaged()
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind = data[pos + 4 : pos + 8]
        end = pos + 12 + length
        if end > len(data):
            raise _damaged()
        if kind in PNG_KEEP:
            out.append(data[pos:end])
        pos = end
        if kind == b"IEND":
            return b"".join(out)


# --- WebP ----------------------------------------------------------------------------------


def _webp(data: bytes) -> bytes:
    if len(data) < 12 or data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise _damaged()
    (riff_size,) = struct.unpack("<I", data[4:8])
    limit = min(len(data), 8 + riff_size)
    chunks: list[bytes] = []
    pos = 12
    while pos < limit:
        if pos + 8 > limit:
            raise _damaged()
        kind = data[pos : pos + 4]
        (size,) = struct.unpack("<I", data[pos + 4 : pos + 8])
        end = pos + 8 + size + (size & 1)
        if pos + 8 + size > limit:
            raise _damaged()
        if kind in WEBP_KEEP:
            chunk = bytearray(data[pos:end])
            if kind == b"VP8X" and size >= 1:
                chunk[8] &= ~(VP8X_EXIF | VP8X_XMP) & 0xFF
            chunks.append(bytes(chunk))
        pos = end
    body = b"WEBP" + b"".join(chunks)
    return b"RIFF" + struct.pack("<I", len(body)) + body
