"""A lecture handout made on the spot (an ECG strip on its grid, as a scanned page would carry
it) for the demo and for trying the light versions: no binary kept in the repository."""

from __future__ import annotations

import io
import math

from PIL import Image, ImageDraw


def ecg_handout_pdf(width: int = 2400, height: int = 1600) -> bytes:
    image = Image.new("RGB", (width, height), (255, 250, 250))
    draw = ImageDraw.Draw(image)
    for x in range(0, width, 20):
        draw.line([(x, 0), (x, height)], fill=(250, 200, 200) if x % 100 else (240, 150, 150))
    for row_y in range(0, height, 20):
        colour = (250, 200, 200) if row_y % 100 else (240, 150, 150)
        draw.line([(0, row_y), (width, row_y)], fill=colour)
    for row in range(4):
        base = 250 + row * 380
        points: list[tuple[float, float]] = []
        for x in range(width):
            beat = (x % 400) / 400
            # P wave, QRS spike, ST elevation, T wave: an inferior STEMI to recognise.
            y: float = 12 * math.sin(beat * math.pi * 10) if beat < 0.1 else 0
            y += -150 if 0.2 < beat < 0.22 else (60 if 0.22 <= beat < 0.24 else 0)
            y += -35 if 0.24 <= beat < 0.4 else 0
            y += -45 * math.sin((beat - 0.4) * math.pi / 0.2) if 0.4 <= beat < 0.6 else 0
            points.append((x, base + y))
        draw.line(points, fill=(20, 20, 20), width=4)
    out = io.BytesIO()
    image.save(out, "PDF", resolution=200, quality=92)
    return out.getvalue()
