"""Previews a consultant opens over a 64 kbit/s link: small, upright, without the phone's
metadata, in the configured format; damaged files fail with a clear message."""

from __future__ import annotations

import io

import numpy as np
import pytest
from django.core.exceptions import ImproperlyConfigured
from django.test import override_settings
from PIL import ExifTags, Image, ImageCms

from farcare.imaging import InvalidImage, samples
from farcare.imaging.previews import make_preview


def _open(content: bytes) -> Image.Image:
    image = Image.open(io.BytesIO(content))
    image.load()
    return image


def test_a_phone_photo_becomes_a_small_clean_webp(photo):
    source = _open(photo)
    assert source.size == (4000, 3000)
    assert source.getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the sample does carry a position

    preview = make_preview(photo, "image/jpeg")

    assert preview is not None
    assert preview.content_type == "image/webp"
    assert (preview.width, preview.height) == (1600, 1200)
    assert (preview.source_width, preview.source_height) == (4000, 3000)
    image = _open(preview.content)
    assert image.format == "WEBP"
    assert image.size == (1600, 1200)
    assert abs(image.width / image.height - 4000 / 3000) < 0.01
    # Nothing of the phone's metadata travels: no EXIF (GPS, time, device), XMP or profile.
    assert len(image.getexif()) == 0
    assert not image.getexif().get_ifd(ExifTags.IFD.GPSInfo)
    assert not {"exif", "xmp", "icc_profile"} & set(image.info)
    assert b"Exif" not in preview.content and b"FarCare" not in preview.content
    ratio = len(photo) / len(preview.content)
    print(f"photo {len(photo)} B -> preview {len(preview.content)} B, {ratio:.0f}x smaller")
    assert ratio > 15


def test_a_photo_stored_sideways_comes_out_upright():
    # Orientation 6: the camera stored the picture lying on its side and asks to turn it 90°.
    sideways = samples.photo_jpeg(4000, 3000, orientation=6)

    preview = make_preview(sideways, "image/jpeg")

    assert preview is not None
    assert (preview.width, preview.height) == (1200, 1600)
    assert (preview.source_width, preview.source_height) == (3000, 4000)
    image = _open(preview.content)
    assert image.size == (1200, 1600)
    assert 0x0112 not in image.getexif()  # no orientation left to apply twice
    # The paper ruler, lying along the bottom of the stored picture, now stands at the left.
    grey = np.asarray(image.convert("L"), dtype=np.float64)
    ruler, skin_beside = grey[320:880, 165:205].mean(), grey[320:880, 260:300].mean()
    assert ruler > skin_beside + 30


@override_settings(FARCARE_PREVIEW_FORMAT="avif")
def test_avif_previews_when_configured(photo):
    preview = make_preview(photo, "image/jpeg")

    assert preview is not None
    assert preview.content_type == "image/avif"
    image = _open(preview.content)
    assert image.format == "AVIF"
    assert image.size == (1600, 1200)
    assert len(preview.content) < len(photo) / 15


@override_settings(FARCARE_PREVIEW_MAX_PX=800, FARCARE_PREVIEW_QUALITY=40)
def test_size_and_quality_follow_the_settings(photo):
    preview = make_preview(photo, "image/jpeg")

    assert preview is not None
    assert (preview.width, preview.height) == (800, 600)


@pytest.mark.parametrize(
    "overrides",
    [
        {"FARCARE_PREVIEW_FORMAT": "gif"},
        {"FARCARE_PREVIEW_QUALITY": 0},
        {"FARCARE_PREVIEW_QUALITY": "60"},
        {"FARCARE_PREVIEW_MAX_PX": 10},
    ],
)
def test_a_wrong_setting_is_refused(photo, overrides):
    with override_settings(**overrides), pytest.raises(ImproperlyConfigured):
        make_preview(photo, "image/jpeg")


def test_a_corrupt_jpeg_fails_with_a_clear_message(photo):
    damaged = photo[:2000] + bytes(len(photo) - 2000)
    with pytest.raises(InvalidImage, match="damaged"):
        make_preview(photo[: len(photo) // 2], "image/jpeg")  # cut off in transfer
    with pytest.raises(InvalidImage, match="damaged"):
        make_preview(b"\xff\xd8\xff\xe0 not really a jpeg", "image/jpeg")
    with pytest.raises(InvalidImage, match="damaged"):
        make_preview(b"%PDF-1.7 labelled as a picture", "image/png")
    with pytest.raises(InvalidImage):
        make_preview(damaged, "image/jpeg")


@pytest.mark.parametrize("limit", [1_000_000, 8_000_000])  # Pillow errs past 2×, warns past 1×
def test_an_image_beyond_the_pixel_limit_is_refused(photo, monkeypatch, limit):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", limit)
    with pytest.raises(InvalidImage, match="too large"):
        make_preview(photo, "image/jpeg")


@pytest.mark.parametrize(
    "content_type", ["application/pdf", "text/plain", "application/xml", "video/mp4"]
)
def test_other_files_have_no_preview(content_type):
    assert make_preview(b"%PDF-1.7\n...", content_type) is None


def test_content_type_parameters_and_case_and_file_objects_are_accepted(photo):
    preview = make_preview(io.BytesIO(photo), "Image/JPEG; charset=binary")
    assert preview is not None
    assert preview.width == 1600


def test_a_tiny_png_still_gets_a_preview_even_if_not_smaller():
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "PNG")

    preview = make_preview(out.getvalue(), "image/png")

    # The caller decides whether a preview that saves nothing is worth keeping.
    assert preview is not None
    assert (preview.width, preview.height) == (8, 8)


def test_a_16_bit_grey_png_keeps_its_contrast():
    ramp = np.tile(np.linspace(0, 65535, 256, dtype=np.uint16), (64, 1))
    out = io.BytesIO()
    Image.fromarray(ramp).save(out, "PNG")

    preview = make_preview(out.getvalue(), "image/png")

    assert preview is not None
    grey = np.asarray(_open(preview.content).convert("L"), dtype=np.int16)
    assert grey[:, :8].mean() < 20
    assert grey[:, -8:].mean() > 235


def test_a_png_with_transparency_keeps_it():
    out = io.BytesIO()
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    image.paste((10, 120, 200, 255), (10, 10, 30, 20))
    image.save(out, "PNG")

    preview = make_preview(out.getvalue(), "image/png")

    assert preview is not None
    result = _open(preview.content)
    assert result.mode == "RGBA"
    corner = result.getpixel((0, 0))
    assert isinstance(corner, tuple)
    assert corner[3] == 0


def test_a_colour_profile_is_applied_then_dropped():
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    out = io.BytesIO()
    Image.new("RGB", (300, 200), (180, 120, 90)).save(out, "JPEG", icc_profile=profile)

    preview = make_preview(out.getvalue(), "image/jpeg")

    assert preview is not None
    image = _open(preview.content)
    assert "icc_profile" not in image.info
    r, g, b = image.convert("RGB").getpixel((150, 100))  # type: ignore[misc]
    assert abs(r - 180) < 6 and abs(g - 120) < 6 and abs(b - 90) < 6


def test_a_cmyk_jpeg_gets_an_rgb_preview():
    out = io.BytesIO()
    Image.new("CMYK", (300, 200), (0, 60, 90, 20)).save(out, "JPEG")

    preview = make_preview(out.getvalue(), "image/jpeg")

    assert preview is not None
    assert _open(preview.content).mode == "RGB"
