"""The hot path's connections to PostgreSQL: psycopg's async pool, one per worker process,
opened in that worker's event loop on first use, with Django's own connection parameters (the
same database, user, options and type adapters; UTC timestamps)."""

from __future__ import annotations

import asyncio
from typing import Any

from django.conf import settings
from django.db import connections
from psycopg_pool import AsyncConnectionPool


def connection_params(alias: str = "default") -> dict[str, Any]:
    """Django's parameters for `alias`, for an async connection: without its sync cursor class
    (the async default binds on the server, so a statement run again is prepared once per
    connection after FARCARE_FHIR_HOT_PREPARE_THRESHOLD runs), autocommit."""
    params = connections[alias].get_connection_params()
    params.pop("cursor_factory", None)
    params["prepare_threshold"] = settings.FARCARE_FHIR_HOT_PREPARE_THRESHOLD
    params["autocommit"] = True
    # Told apart from Django's in pg_stat_activity.
    params["application_name"] = f"{params.get('application_name') or 'farcare'}-fhir-hot"
    return params


class HotPool:
    """The worker's pool, made when the first hot request needs it (a gunicorn worker is forked
    before its loop runs; nothing opened before the fork crosses it)."""

    def __init__(self) -> None:
        self._pool: AsyncConnectionPool | None = None
        self._opening = asyncio.Lock()

    async def pool(self, params: dict[str, Any]) -> AsyncConnectionPool:
        if self._pool is not None:
            return self._pool
        async with self._opening:
            if self._pool is None:
                pool = AsyncConnectionPool(
                    kwargs=params,
                    min_size=1,
                    max_size=settings.FARCARE_FHIR_HOT_POOL_MAX,
                    timeout=settings.FARCARE_FHIR_HOT_POOL_TIMEOUT,
                    open=False,
                    name="farcare-fhir-hot",
                )
                await pool.open()
                self._pool = pool
        return self._pool

    async def close(self) -> None:
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
