"""The referral graph's generation for the hot path (the key of every compiled read and scope).

The process keeps it for a second (network.selectors); when that has lapsed, the hot path reads
it again itself, in a thread (Django's cache client is synchronous), once for all the requests
that find it lapsed at the same moment — rather than sending them to Django's path: at hundreds
of requests a second per worker, every lapse sent a burst of them to the one thread Django
runs views on."""

from __future__ import annotations

import asyncio

from farcare.network.selectors import graph_generation, remembered_graph_generation


class Generation:
    def __init__(self) -> None:
        self._reading: asyncio.Future[str | None] | None = None

    async def current(self) -> str | None:
        remembered = remembered_graph_generation()
        if remembered is not None:
            return remembered
        reading = self._reading
        if reading is None or reading.done() or reading.get_loop() is not _loop():
            reading = self._reading = asyncio.ensure_future(asyncio.to_thread(graph_generation))
        return await asyncio.shield(reading)


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_running_loop()


GENERATION = Generation()
