"""Originals of photos lose their metadata before they go abroad, without re-encoding: the same
compressed pixels, no EXIF (GPS, device, time), XMP, IPTC, comments or embedded thumbnails."""

from __future__ import annotations

import io
import struct

from PIL import Image

from farcare.imaging.metadata import strip_metadata
from farcare.imaging.samples import photo_jpeg

NAME = "Тынетегин Семён".encode()


def segment(marker: int, payload: bytes) -> bytes:
    return bytes([0xFF, marker]) + struct.pack(">H", len(payload) + 2) + payload


def with_extras(jpeg: bytes) -> bytes:
    """The photo with a comment, XMP and Photoshop/IPTC naming the patient, and a trailer."""
    extras = (
        segment(0xFE, b"Patient " + NAME)
        + segment(0xE1, b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>" + NAME + b"</x:xmpmeta>")
        + segment(0xED, b"Photoshop 3.0\0" + NAME)
    )
    return jpeg[:2] + extras + jpeg[2:] + b"trailing " + NAME


def scan_data(jpeg: bytes) -> bytes:
    start = jpeg.index(b"\xff\xda")
    return jpeg[start:]


def test_a_jpeg_loses_its_metadata_and_keeps_its_pixels_byte_for_byte():
    original = with_extras(photo_jpeg(400, 300, seed=3, orientation=6))
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(0x8825)  # GPS is there
    cleaned = strip_metadata(original, "image/jpeg")
    assert NAME not in cleaned
    assert b"Synthetic phone" not in cleaned and b"FarCare" not in cleaned
    image = Image.open(io.BytesIO(cleaned))
    exif = image.getexif()
    assert not exif.get_ifd(0x8825)  # no GPS
    assert dict(exif) == {0x0112: 6}  # only the orientation, so that it still shows upright
    assert "comment" not in image.info
    # Not re-encoded: the entropy-coded scan is the same bytes, the decoded pixels identical.
    trimmed = original[: original.rindex(b"\xff\xd9") + 2]
    assert scan_data(cleaned) == scan_data(trimmed)
    assert image.tobytes() == Image.open(io.BytesIO(original)).tobytes()


def test_a_photo_without_rotation_keeps_no_exif_at_all():
    cleaned = strip_metadata(photo_jpeg(200, 150, seed=1), "image/jpeg")
    assert b"Exif\0\0" not in cleaned
    assert not Image.open(io.BytesIO(cleaned)).getexif()


def test_png_and_webp_lose_text_and_exif_chunks():
    image = Image.new("RGB", (40, 30), (200, 120, 100))
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Author", "Тынетегин Семён")
    info.add_itxt("Comment", "Тынетегин Семён")
    exif = Image.Exif()
    exif[0x010F] = "FarCare"
    out = io.BytesIO()
    image.save(out, "PNG", pnginfo=info, exif=exif)
    cleaned = strip_metadata(out.getvalue(), "image/png")
    assert NAME not in cleaned and b"FarCare" not in cleaned
    reopened = Image.open(io.BytesIO(cleaned))
    assert reopened.tobytes() == image.tobytes()
    assert not reopened.text  # type: ignore[attr-defined]

    out = io.BytesIO()
    image.save(out, "WEBP", lossless=True, exif=exif, xmp=b"<x>" + NAME + b"</x>")
    cleaned = strip_metadata(out.getvalue(), "image/webp")
    assert NAME not in cleaned and b"FarCare" not in cleaned
    reopened = Image.open(io.BytesIO(cleaned))
    assert reopened.tobytes() == image.tobytes()
    assert "exif" not in reopened.info and "xmp" not in reopened.info


def test_a_damaged_image_is_not_passed_on():
    import pytest

    from farcare.imaging.errors import ImagingError

    with pytest.raises(ImagingError):
        strip_metadata(b"\xff\xd8\xff\xe1\x00", "image/jpeg")
