"""A coturn TURN server of the tests' own on loopback (Debian's /usr/bin/turnserver): a free
port, a temporary folder, the REST-API shared secret (`use-auth-secret`) the server signs the
browsers' short-lived credentials with. Never the system service; stopped with the test."""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

TURNSERVER = Path("/usr/bin/turnserver")
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
REALM = "farcare"


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def require_turnserver() -> None:
    """Skip without coturn, unless the run says calls are required (FARCARE_REQUIRE_CALLS=1)."""
    if TURNSERVER.exists():
        return
    problem = f"{TURNSERVER} is missing (apt-get install coturn)"
    if os.environ.get("FARCARE_REQUIRE_CALLS") == "1":
        pytest.fail(f"calls required (FARCARE_REQUIRE_CALLS=1), but {problem}")
    pytest.skip(f"calls need coturn: {problem}")


@dataclass(frozen=True)
class TurnServer:
    url: str
    secret: str
    log: Path


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _relay_ports() -> tuple[int, int]:
    # A range of its own per server, so two tests' servers (-n 2) never share relay ports.
    low = 30000 + secrets.randbelow(300) * 100
    return low, low + 99


@contextmanager
def running_turnserver(folder: Path) -> Iterator[TurnServer]:
    require_turnserver()
    port = free_port()
    secret = secrets.token_urlsafe(24)
    low, high = _relay_ports()
    log = folder / "turnserver.log"
    arguments = [
        str(TURNSERVER),
        "-n",  # no configuration file: everything is on this line
        f"--listening-port={port}",
        "--listening-ip=127.0.0.1",
        "--relay-ip=127.0.0.1",
        f"--min-port={low}",
        f"--max-port={high}",
        "--use-auth-secret",
        f"--static-auth-secret={secret}",
        f"--realm={REALM}",
        "--fingerprint",
        "--allow-loopback-peers",
        "--no-multicast-peers",
        "--no-cli",
        "--no-tls",
        "--no-dtls",
        f"--userdb={folder / 'turndb'}",
        f"--pidfile={folder / 'turnserver.pid'}",
        f"--log-file={log}",
        "--simple-log",
        "--no-stdout-log",
        "--verbose",
    ]
    process = subprocess.Popen(arguments, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while not _listening(port):
            if process.poll() is not None or time.monotonic() > deadline:
                text = log.read_text(errors="replace") if log.exists() else ""
                pytest.fail(f"turnserver did not start on port {port}:\n{text[-3000:]}")
            time.sleep(0.05)
        yield TurnServer(url=f"turn:127.0.0.1:{port}?transport=udp", secret=secret, log=log)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
