"""The in-memory grid index of this process, reloaded when the grids change.

Locate answers from it while it is known to be current: loaded, and the
layer watcher listening (so a change would have been heard). Otherwise
locate falls back to the SQL query. A reload builds a new index beside the
old one and swaps it in, so requests never see a half-built index; changes
that arrive during a reload trigger one more.
"""

from __future__ import annotations

import asyncio
import logging

from psycopg_pool import AsyncConnectionPool

from geo.locator import GridIndex
from layers.territory import current_grids
from layers.watch import LayerWatcher

log = logging.getLogger(__name__)

# the index holds names of every level, so a change to any of them reloads it
WATCHED = {"*", "grids", "communities", "streets", "districts"}


class GridCache:
    """Holds the current :class:`GridIndex` and keeps it fresh."""

    def __init__(self, pool: AsyncConnectionPool, watcher: LayerWatcher) -> None:
        self._pool = pool
        self._watcher = watcher
        self._index: GridIndex | None = None
        self._dirty = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def current(self) -> GridIndex | None:
        """The index if it can be trusted right now, else None (use SQL)."""
        if self._dirty.is_set() or self._watcher.version("grids") is None:
            return None
        return self._index

    async def start(self) -> None:
        """Load once, then reload in the background on each change notice."""
        await self._reload()
        self._watcher.subscribe(self._changed)
        self._task = asyncio.create_task(self._reloader(), name="grid-cache")

    async def stop(self) -> None:
        """Stop reloading."""
        if self._task is not None:
            self._task.cancel()

    def mark_stale(self) -> None:
        """Answer from SQL until the next reload: this process just changed the grids.

        The change notice arrives a moment after the commit; a client that
        publishes and then locates on the same worker must see its change.
        """
        self._dirty.set()

    async def _changed(self, table: str, version: int) -> None:
        if table in WATCHED:
            self._dirty.set()

    async def _reloader(self) -> None:
        while True:
            await self._dirty.wait()
            try:
                await self._reload()
            except Exception:  # keep serving from SQL; try again on the next notice
                log.exception("grid index reload failed")

    async def _reload(self) -> None:
        self._dirty.clear()
        async with self._pool.connection() as conn:
            rows = await current_grids(conn)
        index = await asyncio.to_thread(GridIndex, rows)
        # a notice that arrived while building leaves the flag set: the
        # new index may already be stale, so the loop goes round again
        self._index = index
        log.info("grid index loaded: %d grids", len(index))
