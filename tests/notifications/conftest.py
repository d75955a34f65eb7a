"""A real SMTP server (aiosmtpd) and a real HTTP SMS gateway, both on 127.0.0.1, so e-mail and
SMS go over actual sockets through the production code paths."""

from __future__ import annotations

import email
import email.policy
import json
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class RecordingHandler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(message)  # type: ignore[arg-type]
        return "250 Message accepted for delivery"


class SmtpServer:
    """Not listening until start(): a test can begin with the server down."""

    def __init__(self) -> None:
        self.port = free_port()
        self.handler = RecordingHandler()
        self.controller: Controller | None = None

    @property
    def messages(self) -> list[EmailMessage]:
        return self.handler.messages

    def start(self) -> None:
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port)
        self.controller.start()

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None


@pytest.fixture
def smtp_down(settings) -> Iterator[SmtpServer]:
    server = SmtpServer()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = server.port
    settings.EMAIL_USE_TLS = False
    settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    settings.DEFAULT_FROM_EMAIL = "FarCare <noreply@farcare.test>"
    yield server
    server.stop()


@pytest.fixture
def smtp(smtp_down: SmtpServer) -> SmtpServer:
    smtp_down.start()
    return smtp_down


@dataclass
class Gateway:
    url: str = ""
    fail_next: int = 0  # answer this many requests with 503 before accepting
    requests: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class GatewayHandler(BaseHTTPRequestHandler):
    server: ThreadingHTTPServer

    def do_POST(self) -> None:
        gateway: Gateway = self.server.gateway  # type: ignore[attr-defined]
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with gateway.lock:
            gateway.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(body)}
            )
            failing = gateway.fail_next > 0
            if failing:
                gateway.fail_next -= 1
        status, answer = (503, b"busy, try later") if failing else (200, b'{"accepted": true}')
        self.send_response(status)
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output clean
        pass


@pytest.fixture
def gateway(settings) -> Iterator[Gateway]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), GatewayHandler)
    state = Gateway(url=f"http://127.0.0.1:{server.server_address[1]}/sms")
    server.gateway = state  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    settings.FARCARE_SMS_GATEWAY_URL = state.url
    settings.FARCARE_SMS_GATEWAY_TOKEN = "gateway-secret"
    settings.FARCARE_SMS_TIMEOUT_SECONDS = 5
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)
