"""Light versions of materials for posts on weak links: a PDF (or slides as PDF) with its
images made smaller, a recording as speech-quality audio only. A light version that is not
smaller than the original is not kept: the post then fetches the original."""

from __future__ import annotations

import io
import logging
from fractions import Fraction
from typing import IO

import av
from PIL import Image
from pypdf import PdfReader, PdfWriter

logger = logging.getLogger(__name__)

# Long side of an embedded image in the light PDF: enough to read a slide or an ECG strip on a
# laptop screen; JPEG at a quality where text on images stays legible.
IMAGE_LONG_SIDE = 1200
IMAGE_QUALITY = 55
# Opus at 24 kbit/s mono is clear speech: a 90-minute lecture in about 16 MB.
OPUS_BITRATE = 24_000
OPUS_RATE = 48_000


class NoLightVersion(Exception):
    """The material cannot be made lighter (or the result would not be smaller)."""


def light_pdf(source: IO[bytes]) -> bytes:
    """The PDF with every embedded image scaled down and re-encoded as JPEG."""
    try:
        writer = PdfWriter(clone_from=PdfReader(source))
    except Exception as error:  # a PDF pypdf cannot read is kept as it is
        raise NoLightVersion(str(error)) from error
    changed = 0
    for page in writer.pages:
        try:
            images = list(page.images)
        except Exception:
            logger.info("light pdf: images of a page could not be read", exc_info=True)
            continue
        for image in images:
            try:
                smaller = _smaller_image(image.image)
                if smaller is None:
                    continue
                image.replace(smaller, quality=IMAGE_QUALITY)
                changed += 1
            except Exception:
                # An image of an unusual kind stays as it was; the others are still reduced.
                logger.info("light pdf: an image was left as it was", exc_info=True)
    if not changed:
        raise NoLightVersion("no image to reduce")
    writer.compress_identical_objects(remove_duplicates=True, remove_unreferenced=True)
    for page in writer.pages:
        page.compress_content_streams()
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _smaller_image(image: Image.Image | None) -> Image.Image | None:
    if image is None:
        return None
    reduced = image.convert("L" if image.mode in ("1", "L", "LA") else "RGB")
    if max(reduced.size) > IMAGE_LONG_SIDE:
        reduced.thumbnail((IMAGE_LONG_SIDE, IMAGE_LONG_SIDE))
    return reduced


def light_recording(source: IO[bytes]) -> bytes:
    """The recording's first audio track as mono Opus in Ogg, ~24 kbit/s; video dropped."""
    out = io.BytesIO()
    try:
        with av.open(source, "r") as container:
            if not container.streams.audio:
                raise NoLightVersion("no audio track")
            audio_in = container.streams.audio[0]
            with av.open(out, "w", format="ogg") as result:
                audio_out = result.add_stream("libopus", rate=OPUS_RATE)
                audio_out.bit_rate = OPUS_BITRATE
                audio_out.layout = "mono"
                audio_out.time_base = Fraction(1, OPUS_RATE)
                resampler = av.AudioResampler(format="s16", layout="mono", rate=OPUS_RATE)
                for frame in container.decode(audio_in):
                    frame.pts = None
                    for piece in resampler.resample(frame):
                        for packet in audio_out.encode(piece):
                            result.mux(packet)
                for piece in resampler.resample(None):
                    for packet in audio_out.encode(piece):
                        result.mux(packet)
                for packet in audio_out.encode(None):
                    result.mux(packet)
    except NoLightVersion:
        raise
    except Exception as error:  # av.FFmpegError and friends: not a recording we can read
        raise NoLightVersion(str(error)) from error
    return out.getvalue()
