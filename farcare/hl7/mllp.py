"""MLLP, the Minimal Lower Layer Protocol that carries HL7 v2 over TCP: each message between a
start block 0x0B and an end block 0x1C 0x0D (HL7 v2.5.1 appendix C).

`frame` and `Deframer` are pure (bytes in, bytes out), so the framing is tested without a
socket. `serve` is the asyncio listener: many connections at once, each message handed to a
synchronous handler in a worker thread (the Django ORM is synchronous), its answer written back
framed. Broken framing (bytes before a start block, a message over the size limit, no end block
within the timeout) is answered with a negative acknowledgement when the sender's control id can
be read, and the connection is closed either way: after broken framing nothing later on the
stream can be trusted to start where a message starts. A failing handler never takes the
listener down."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

START = b"\x0b"
END = b"\x1c\x0d"
FS = b"\x1c"

DEFAULT_MAX_BYTES = 1024 * 1024
DEFAULT_FRAME_TIMEOUT = 30.0  # seconds from the first byte of a message to its end block
DEFAULT_IDLE_TIMEOUT = 600.0  # seconds an open connection may send nothing
# Between frames a sender may put line ends; anything else there is broken framing.
_BETWEEN_FRAMES = b" \t\r\n"


def frame(message: bytes | str) -> bytes:
    """One message framed for the wire (segments separated by carriage returns)."""
    data = message.encode("utf-8") if isinstance(message, str) else message
    return START + data + END


@dataclass(frozen=True)
class BrokenFrame:
    """Bytes that are not a well-framed message, and why. `data` is what was read of it (the
    header, if any, is at its start), so the control id may be read to answer it."""

    reason: str
    data: bytes


Event = bytes | BrokenFrame


@dataclass
class Deframer:
    """A streaming buffer: feed it what the socket gave, get back whole messages (without
    their blocks) and broken frames, in the order they arrived."""

    max_bytes: int = DEFAULT_MAX_BYTES
    _buffer: bytearray = field(default_factory=bytearray)
    _in_frame: bool = False
    _skipping: bool = False  # after an over-long message: drop bytes until its end block

    @property
    def pending(self) -> bool:
        """Whether part of a message (or of something else) waits for more bytes."""
        return self._in_frame or self._skipping or bool(self._buffer.strip(_BETWEEN_FRAMES))

    def partial(self) -> bytes:
        """What waits, e.g. to answer a message whose end block never came."""
        return bytes(self._buffer[:4096])

    def feed(self, data: bytes) -> list[Event]:
        self._buffer += data
        events: list[Event] = []
        while self._buffer:
            if self._skipping:
                end = self._buffer.find(END)
                if end < 0:
                    # Keep the last byte: it may be the 0x1C of an end block split in two reads.
                    del self._buffer[:-1]
                    break
                del self._buffer[: end + len(END)]
                self._skipping = False
                continue
            if not self._in_frame:
                self._outside(events)
                if not self._in_frame:
                    break
                continue
            if not self._inside(events):
                break
        return events

    def _outside(self, events: list[Event]) -> None:
        stripped = len(self._buffer) - len(self._buffer.lstrip(_BETWEEN_FRAMES))
        del self._buffer[:stripped]
        if not self._buffer:
            return
        if self._buffer[:1] == START:
            del self._buffer[:1]
            self._in_frame = True
            return
        start = self._buffer.find(START)
        if start >= 0:
            events.append(BrokenFrame("bytes before the start block", bytes(self._buffer[:start])))
            del self._buffer[:start]
            return
        # No start block yet: wait for a whole line (an unframed header) to answer it with.
        if (
            b"\r" in self._buffer
            or b"\n" in self._buffer
            or FS in self._buffer
            or len(self._buffer) > self.max_bytes
        ):
            events.append(BrokenFrame("bytes before the start block", bytes(self._buffer)))
            self._buffer.clear()

    def _inside(self, events: list[Event]) -> bool:
        """Take one message if its end is here; False when more bytes are needed."""
        end = self._buffer.find(END)
        restart = self._buffer.find(START)
        if restart >= 0 and (end < 0 or restart < end):
            events.append(
                BrokenFrame("a start block inside a message", bytes(self._buffer[:restart]))
            )
            del self._buffer[:restart]
            self._in_frame = False
            return True
        if end < 0:
            if len(self._buffer) > self.max_bytes:
                events.append(
                    BrokenFrame("the message is longer than allowed", bytes(self._buffer[:4096]))
                )
                self._in_frame = False
                self._skipping = True
                del self._buffer[:-1]
                return False
            return False
        payload = bytes(self._buffer[:end])
        del self._buffer[: end + len(END)]
        self._in_frame = False
        if len(payload) > self.max_bytes:
            events.append(BrokenFrame("the message is longer than allowed", payload[:4096]))
        else:
            events.append(payload)
        return True


# --- the listener -----------------------------------------------------------------------------

Handler = Callable[[bytes], bytes]
# Answers broken framing: the NACK to send (unframed), or None when no control id can be read.
Rejecter = Callable[[bytes, str], bytes | None]


@dataclass
class ListenerConfig:
    max_bytes: int = DEFAULT_MAX_BYTES
    frame_timeout: float = DEFAULT_FRAME_TIMEOUT
    idle_timeout: float = DEFAULT_IDLE_TIMEOUT
    workers: int = 8


@dataclass
class Listener:
    """The asyncio side: one task per connection; handlers run in a thread pool."""

    handler: Handler
    rejecter: Rejecter
    config: ListenerConfig = field(default_factory=ListenerConfig)
    connections: int = 0
    messages: int = 0
    _executor: ThreadPoolExecutor | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                max_workers=self.config.workers, thread_name_prefix="hl7"
            )
        return self._executor

    def shutdown(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=True, cancel_futures=True)
            self._executor = None

    async def close_connections(self) -> None:
        """Stop every open connection (a message being handled is answered first)."""
        tasks = [task for task in self._tasks if not task.done()]
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    async def _run_handler(self, payload: bytes) -> bytes | None:
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self.executor(), self.handler, payload)
        except Exception:  # the handler's own failures are answered there; this is the last net
            logger.exception("HL7 handler failed")
            return await loop.run_in_executor(
                self.executor(), self.rejecter, payload, "internal error"
            )

    async def _reject(self, data: bytes, reason: str, writer: asyncio.StreamWriter) -> None:
        try:
            nack = self.rejecter(data, reason)
        except Exception:
            logger.exception("HL7 rejecter failed")
            nack = None
        logger.warning("MLLP: %s (%d bytes)", reason, len(data))
        if nack is not None:
            writer.write(frame(nack))
            await writer.drain()

    async def connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        deframer = Deframer(max_bytes=self.config.max_bytes)
        try:
            while True:
                timeout = (
                    self.config.frame_timeout if deframer.pending else self.config.idle_timeout
                )
                try:
                    data = await asyncio.wait_for(reader.read(65536), timeout)
                except TimeoutError:
                    if deframer.pending:
                        await self._reject(
                            deframer.partial(), "no end block within the timeout", writer
                        )
                    return
                if not data:
                    return
                for event in deframer.feed(data):
                    if isinstance(event, BrokenFrame):
                        await self._reject(event.data, event.reason, writer)
                        return
                    answer = await self._run_handler(event)
                    self.messages += 1
                    if answer is not None:
                        writer.write(frame(answer))
                        await writer.drain()
        except (ConnectionError, OSError) as error:
            logger.info("MLLP connection lost: %s", error)
        except Exception:
            logger.exception("MLLP connection failed")
        finally:
            self.connections -= 1
            if task is not None:
                self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(ConnectionError, OSError):
                await writer.wait_closed()


async def serve(
    listener: Listener,
    host: str,
    port: int,
    *,
    started: Callable[[asyncio.Server], None] | None = None,
    stop: asyncio.Event | None = None,
) -> None:
    """Listen until `stop` is set (or forever). `started` is called with the bound server (its
    sockets tell the port when 0 was asked for)."""
    server = await asyncio.start_server(listener.connection, host, port, limit=65536)
    if started is not None:
        started(server)
    try:
        async with server:
            if stop is None:
                await server.serve_forever()
            else:
                await stop.wait()
    finally:
        server.close()
        await listener.close_connections()
        listener.shutdown()


# --- a client, for orders out and for tests ---------------------------------------------------


def exchange(host: str, port: int, message: bytes | str, *, timeout: float = 10.0) -> bytes:
    """Send one message over a new connection and return the answer (unframed). Raises
    OSError when the peer is unreachable, closes without answering, or answers garbage."""
    import socket

    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.sendall(frame(message))
        deframer = Deframer()
        while True:
            data = sock.recv(65536)
            if not data:
                raise ConnectionError("the peer closed the connection without an answer")
            for event in deframer.feed(data):
                if isinstance(event, BrokenFrame):
                    raise ConnectionError(f"the peer answered with {event.reason}")
                return event
