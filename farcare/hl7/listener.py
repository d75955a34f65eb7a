"""The ORU listener as it runs: the MLLP server (`mllp.serve`) with FarCare's handler
(`receive.handle`) and the settings, in the foreground (`farcare hl7 listen`) or in a thread
of its own (tests, the benchmark)."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from django.conf import settings

from . import mllp
from .ack import reject_raw
from .receive import handle


def config() -> mllp.ListenerConfig:
    return mllp.ListenerConfig(
        max_bytes=int(getattr(settings, "FARCARE_HL7_MAX_BYTES", mllp.DEFAULT_MAX_BYTES)),
        frame_timeout=float(
            getattr(settings, "FARCARE_HL7_FRAME_TIMEOUT", mllp.DEFAULT_FRAME_TIMEOUT)
        ),
        idle_timeout=float(
            getattr(settings, "FARCARE_HL7_IDLE_TIMEOUT", mllp.DEFAULT_IDLE_TIMEOUT)
        ),
        workers=int(getattr(settings, "FARCARE_HL7_WORKERS", 8)),
    )


def make_listener(listener_config: mllp.ListenerConfig | None = None) -> mllp.Listener:
    return mllp.Listener(handler=handle, rejecter=reject_raw, config=listener_config or config())


@dataclass
class RunningListener:
    host: str
    port: int
    listener: mllp.Listener


@contextmanager
def listening(
    host: str = "127.0.0.1", port: int = 0, listener_config: mllp.ListenerConfig | None = None
) -> Iterator[RunningListener]:
    """The listener in a background thread with its own event loop, until the block ends."""
    listener = make_listener(listener_config)
    loop = asyncio.new_event_loop()
    stop = asyncio.Event()
    bound: list[int] = []
    ready = threading.Event()
    failure: list[BaseException] = []

    def started(server: asyncio.Server) -> None:
        bound.append(server.sockets[0].getsockname()[1])
        ready.set()

    def run() -> None:
        asyncio.set_event_loop(loop)
        try:
            loop.run_until_complete(mllp.serve(listener, host, port, started=started, stop=stop))
        except BaseException as error:
            failure.append(error)
            ready.set()
        finally:
            loop.close()

    thread = threading.Thread(target=run, name="hl7-listener", daemon=True)
    thread.start()
    ready.wait(10)
    if failure or not bound:
        raise RuntimeError(f"the HL7 listener did not start: {failure}")
    try:
        yield RunningListener(host, bound[0], listener)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(30)
