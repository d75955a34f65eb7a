"""Debian's Chromium as the browser tests and benchmarks launch it: never a downloaded browser,
nothing fetched in the background, nothing but loopback (the tests also block other hosts)."""

from __future__ import annotations

from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
# A camera and a microphone made up by Chromium (a moving test pattern and a beep), granted
# without a prompt: the live-call tests and benchmarks need media but the machine has none.
# Harmless to pages that never ask for media, so every browser the tests start has them.
CHROMIUM_MEDIA_ARGS = [
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]
