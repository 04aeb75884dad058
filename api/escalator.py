"""The overdue timer: every few minutes, raise overdue open cases one level.

小事不出社区、中事不出街道: a case still open past its deadline rises from the
community to the street, then to the district, each rise logged as done by
``wangge`` (the service itself). Every worker process runs the timer; that
is safe because escalation locks the cases it raises (passing over those
another worker holds) and moves their deadline in the same transaction, so
a case another worker has just raised no longer matches. The new deadline
is counted on the district's working-time calendar (``layers.time``).

The same round drops the walls' day counters that aged out of the days
kept (``layers.walls.aggregates.prune_days``): housekeeping that needs a
timer and nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from psycopg_pool import AsyncConnectionPool

from layers.actors import Actor
from layers.db import translated_errors
from layers.errors import WanggeError
from layers.incidents import escalate_overdue
from layers.walls.aggregates import prune_days

log = logging.getLogger(__name__)

# the service acting for itself, in every area
SYSTEM = Actor("wangge", "admin", "")


async def escalate_forever(pool: AsyncConnectionPool, every_s: float) -> None:
    """Escalate overdue cases now and then every ``every_s`` seconds, until cancelled."""
    while True:
        try:
            async with translated_errors(), pool.connection() as conn:
                raised = await escalate_overdue(conn, SYSTEM)
                await prune_days(conn)
            if raised:
                log.info("escalated %d overdue cases", len(raised))
        except WanggeError as exc:  # the database was away: try again next round
            log.warning("escalation skipped: %s", exc.public)
        await asyncio.sleep(every_s)


def start(pool: AsyncConnectionPool, every_s: float) -> asyncio.Task[None] | None:
    """Start the timer (None when ``every_s`` is 0: escalation only by hand)."""
    if every_s <= 0:
        return None
    return asyncio.create_task(escalate_forever(pool, every_s), name="escalator")


async def stop(task: asyncio.Task[None] | None) -> None:
    """Stop the timer."""
    if task is not None:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
