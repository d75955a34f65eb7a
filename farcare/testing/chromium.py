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
