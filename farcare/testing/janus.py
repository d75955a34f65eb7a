"""Debian's Janus (the SFU of consilium calls) as a real process on loopback, for tests.

    with running_janus(tmp_path) as janus:
        janus.http_url   # http://127.0.0.1:<port>/janus  (FARCARE_JANUS_URL)
        janus.ws_url     # ws://127.0.0.1:<port>          (FARCARE_JANUS_WS_URL)
        janus.api_secret, janus.token_secret

A configuration of its own in a temporary folder (never /etc/janus): only the video room plugin
and the HTTP and WebSocket transports (a folder of links to exactly those three libraries), both
bound to 127.0.0.1 on free ports; ICE on the loopback interface only, so the browsers of a test
reach it without any network; the API secret the server uses, and HMAC-signed tokens for the
browsers, as in production. It logs to `janus.log` in the folder.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

JANUS = Path("/usr/bin/janus")
LIBRARIES = Path("/usr/lib/x86_64-linux-gnu/janus")
START_TIMEOUT = 20.0
STOP_TIMEOUT = 10.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_janus() -> None:
    """Skip without Janus, unless the run says calls are required (FARCARE_REQUIRE_CALLS=1)."""
    if JANUS.exists() and (LIBRARIES / "plugins" / "libjanus_videoroom.so").exists():
        return
    problem = f"{JANUS} or its video room plugin is missing (apt-get install janus)"
    if os.environ.get("FARCARE_REQUIRE_CALLS") == "1":
        pytest.fail(f"consilium calls required (FARCARE_REQUIRE_CALLS=1), but {problem}")
    pytest.skip(f"consilium calls need Janus: {problem}")


@dataclass(frozen=True)
class JanusServer:
    http_url: str
    ws_url: str
    api_secret: str
    token_secret: str
    log: Path


def _configuration(folder: Path, http_port: int, ws_port: int, api_secret: str, token: str) -> None:
    configs = folder / "etc"
    for kind, names in {
        "plugins": ["libjanus_videoroom.so"],
        "transports": ["libjanus_http.so", "libjanus_websockets.so"],
    }.items():
        links = folder / kind
        links.mkdir(parents=True, exist_ok=True)
        for name in names:
            (links / name).symlink_to(LIBRARIES / kind / name)
    (folder / "events").mkdir(exist_ok=True)
    (folder / "loggers").mkdir(exist_ok=True)
    configs.mkdir(parents=True, exist_ok=True)
    (configs / "janus.jcfg").write_text(
        f"""general: {{
    configs_folder = "{configs}"
    plugins_folder = "{folder / "plugins"}"
    transports_folder = "{folder / "transports"}"
    events_folder = "{folder / "events"}"
    loggers_folder = "{folder / "loggers"}"
    debug_level = 4
    api_secret = "{api_secret}"
    token_auth = true
    token_auth_secret = "{token}"
    admin_secret = "{secrets.token_urlsafe(16)}"
    session_timeout = 60
}}
media: {{
    rtp_port_range = "20000-40000"
}}
nat: {{
    ice_enforce_list = "lo"
    ignore_mdns = false
}}
plugins: {{
}}
transports: {{
}}
events: {{
    broadcast = false
}}
"""
    )
    (configs / "janus.transport.http.jcfg").write_text(
        f"""general: {{
    json = "compact"
    base_path = "/janus"
    http = true
    port = {http_port}
    ip = "127.0.0.1"
    https = false
}}
admin: {{
    admin_http = false
}}
"""
    )
    (configs / "janus.transport.websockets.jcfg").write_text(
        f"""general: {{
    json = "compact"
    ws = true
    ws_port = {ws_port}
    ws_ip = "127.0.0.1"
    wss = false
}}
admin: {{
    admin_ws = false
}}
"""
    )
    # No rooms of its own: every room is created by the server, per call, with its own pin.
    (configs / "janus.plugin.videoroom.jcfg").write_text("general: {\n}\n")


def _answers(http_url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{http_url}/info", timeout=1) as response:  # noqa: S310 - loopback
            return bool(json.loads(response.read()).get("janus") == "server_info")
    except (urllib.error.URLError, OSError, ValueError):
        return False


@contextlib.contextmanager
def running_janus(folder: Path) -> Iterator[JanusServer]:
    require_janus()
    folder = Path(folder).resolve()
    folder.mkdir(parents=True, exist_ok=True)
    http_port, ws_port = free_port(), free_port()
    api_secret, token_secret = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
    _configuration(folder, http_port, ws_port, api_secret, token_secret)
    log = folder / "janus.log"
    server = JanusServer(
        http_url=f"http://127.0.0.1:{http_port}/janus",
        ws_url=f"ws://127.0.0.1:{ws_port}",
        api_secret=api_secret,
        token_secret=token_secret,
        log=log,
    )
    with log.open("ab") as output:
        process = subprocess.Popen(
            [str(JANUS), "-F", str(folder / "etc"), "-C", str(folder / "etc" / "janus.jcfg")],
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _answers(server.http_url):
            if process.poll() is not None:
                raise RuntimeError(f"Janus stopped while starting; see {log}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"Janus did not answer within {START_TIMEOUT:.0f} s; see {log}")
            time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@contextlib.contextmanager
def janus_for_farcare(folder: Path) -> Iterator[JanusServer]:
    """A Janus of its own, with FarCare's settings pointing at it while it runs (the settings
    object is the process's, so a server in a thread of the tests sees them too)."""
    from django.test import override_settings

    with (
        running_janus(folder) as server,
        override_settings(
            FARCARE_JANUS_URL=server.http_url,
            FARCARE_JANUS_WS_URL=server.ws_url,
            FARCARE_JANUS_API_SECRET=server.api_secret,
            FARCARE_JANUS_TOKEN_SECRET=server.token_secret,
        ),
    ):
        yield server
