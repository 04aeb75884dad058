"""The heartbeat sweep: now and then, mark offline the cameras that stopped sending heartbeats.

Every worker process runs it; that is safe because the sweep is one
idempotent UPDATE (a camera already offline no longer matches).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from psycopg_pool import AsyncConnectionPool

from layers.db import translated_errors
from layers.errors import WanggeError
from layers.sensing.cameras import sweep_silent

log = logging.getLogger(__name__)


async def _sweep_forever(pool: AsyncConnectionPool, every_s: float, after_s: float) -> None:
    while True:
        try:
            async with translated_errors(), pool.connection() as conn:
                silent = await sweep_silent(conn, after_s)
            if silent:
                log.info("%d cameras silent for %g s marked offline", len(silent), after_s)
        except WanggeError as exc:  # the database was away: look again next round
            log.warning("camera sweep skipped: %s", exc.public)
        await asyncio.sleep(every_s)


def start(pool: AsyncConnectionPool, every_s: float, after_s: float) -> asyncio.Task[None] | None:
    """Start the sweep (None when either setting is 0: heartbeats never expire)."""
    if every_s <= 0 or after_s <= 0:
        return None
    return asyncio.create_task(_sweep_forever(pool, every_s, after_s), name="camera-sweep")


async def stop(task: asyncio.Task[None] | None) -> None:
    """Stop the sweep."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
