"""A weak link on loopback: a TCP proxy that limits bandwidth, adds latency and cuts its
connections at chosen moments, so that station–hub transfers can be tested and measured as
they behave over a 64 kbit/s satellite link with a 600 ms round trip (domain.md §1).

    with WeakLink("127.0.0.1", hub_port, rate_bps=64_000, rtt_ms=600) as link:
        url = f"http://127.0.0.1:{link.port}/"
        link.cut_after(50_000)   # drop every connection once 50 kB have crossed
        ...

It listens and connects on loopback only.
"""

from __future__ import annotations

import contextlib
import queue
import socket
import threading
import time
from dataclasses import dataclass, field
from types import TracebackType

CHUNK = 4096


@dataclass
class Counters:
    up: int = 0  # client → target
    down: int = 0  # target → client
    connections: int = 0
    cuts: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return self.up + self.down


class WeakLink:
    def __init__(
        self,
        target_host: str,
        target_port: int,
        *,
        rate_bps: int = 64_000,
        rtt_ms: int = 600,
        listen_host: str = "127.0.0.1",
    ) -> None:
        if not target_host.startswith("127.") and target_host not in ("localhost", "::1"):
            raise ValueError("the weak link connects to loopback addresses only")
        self.target = (target_host, target_port)
        self.rate_bps = rate_bps
        self.one_way = rtt_ms / 2000
        self.counters = Counters()
        self._server = socket.create_server((listen_host, 0))
        self.port: int = self._server.getsockname()[1]
        self._sockets: set[socket.socket] = set()
        self._cut_at: int | None = None
        self._down = False
        self._stopping = threading.Event()
        self._accepting = threading.Thread(target=self._accept, daemon=True)

    # --- control ------------------------------------------------------------------------

    def __enter__(self) -> WeakLink:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self._accepting.start()

    def stop(self) -> None:
        self._stopping.set()
        self._server.close()
        self.cut()

    def cut(self) -> None:
        """Drop every open connection now, as a storm drops the satellite link."""
        with self.counters.lock:
            victims = list(self._sockets)
            self._sockets.clear()
            if victims:
                self.counters.cuts += 1
        for sock in victims:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def go_down(self) -> None:
        """An outage: open connections drop and new ones are refused until `come_up`."""
        self._down = True
        self.cut()

    def come_up(self) -> None:
        self._down = False

    def cut_after(self, total_bytes: int) -> None:
        """Cut once `total_bytes` more have crossed the link (both directions counted)."""
        self._cut_at = self.counters.total + total_bytes

    # --- the proxy -----------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._stopping.is_set():
            try:
                client, _address = self._server.accept()
            except OSError:
                return
            if self._down:
                client.close()
                continue
            try:
                upstream = socket.create_connection(self.target, timeout=10)
            except OSError:
                client.close()
                continue
            # The timeout was for connecting only: a long upload may wait minutes for an answer.
            upstream.settimeout(None)
            with self.counters.lock:
                self.counters.connections += 1
                self._sockets.update((client, upstream))
            for source, sink, direction in ((client, upstream, "up"), (upstream, client, "down")):
                self._pipe(source, sink, direction)

    def _pipe(self, source: socket.socket, sink: socket.socket, direction: str) -> None:
        """Read as fast as the socket gives, deliver each chunk one-way-delay later, no faster
        than the link's rate: latency and bandwidth as a satellite hop adds them."""
        pending: queue.Queue[tuple[float, bytes] | None] = queue.Queue()

        def read() -> None:
            while True:
                try:
                    chunk = source.recv(CHUNK)
                except OSError:
                    chunk = b""
                pending.put((time.monotonic() + self.one_way, chunk) if chunk else None)
                if not chunk:
                    return

        def deliver() -> None:
            free_at = time.monotonic()
            while True:
                item = pending.get()
                if item is None:
                    break
                due, chunk = item
                start = max(due, free_at)
                free_at = start + len(chunk) * 8 / self.rate_bps
                time.sleep(max(0.0, free_at - time.monotonic()))
                # Counted as it goes onto the wire, so a reader that has the bytes sees them
                # counted.
                with self.counters.lock:
                    setattr(
                        self.counters, direction, getattr(self.counters, direction) + len(chunk)
                    )
                    over = self._cut_at is not None and self.counters.total >= self._cut_at
                try:
                    sink.sendall(chunk)
                except OSError:
                    break
                if over:
                    self._cut_at = None
                    self.cut()
                    break
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)

        threading.Thread(target=read, daemon=True).start()
        threading.Thread(target=deliver, daemon=True).start()
