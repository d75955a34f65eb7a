"""Small real files for the tests: a PDF of one big photograph-like image, and a short video
with a tone, made here rather than kept in the repository."""

from __future__ import annotations

import io

import av
import numpy as np
from PIL import Image


def pdf_with_big_image() -> bytes:
    # Noise does not compress: the image is what makes this PDF large, as a scanned slide does.
    image = Image.effect_noise((2400, 1800), 60).convert("RGB")
    out = io.BytesIO()
    image.save(out, "PDF", resolution=150)
    return out.getvalue()


def short_video(seconds: int = 2) -> bytes:
    """An MP4 with a moving picture and a 440 Hz tone."""
    out = io.BytesIO()
    rate = 44_100
    with av.open(out, "w", format="mp4") as container:
        video = container.add_stream("mpeg4", rate=25)
        video.width, video.height, video.pix_fmt = 320, 240, "yuv420p"
        audio = container.add_stream("aac", rate=rate)
        audio.layout = "mono"
        generator = np.random.default_rng(15)
        for _ in range(25 * seconds):
            pixels = generator.integers(0, 255, (240, 320, 3), dtype=np.uint8)
            for packet in video.encode(av.VideoFrame.from_ndarray(pixels, format="rgb24")):
                container.mux(packet)
        tone = (np.sin(2 * np.pi * 440 * np.arange(rate * seconds) / rate) * 10_000).astype(
            np.int16
        )
        for start in range(0, tone.size, 1024):
            frame = av.AudioFrame.from_ndarray(
                tone[start : start + 1024].reshape(1, -1), format="s16", layout="mono"
            )
            frame.sample_rate = rate
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in video.encode(None):
            container.mux(packet)
        for packet in audio.encode(None):
            container.mux(packet)
    return out.getvalue()
