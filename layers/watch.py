"""Layer versions kept in memory, pushed by the database (LISTEN/NOTIFY).

Every change to a layer advances its ``layer_version_<table>`` sequence and
announces ``<table> <version>`` on the ``wangge_layers`` channel at commit
(migration 0002). A :class:`LayerWatcher` listens on one dedicated
connection, so caches (the locate index, tiles, 304s) can ask "has this
layer changed?" without a database round trip per request.

While the listening connection is down the watcher says it does not know
(``version`` returns None) and callers must ask the database; on reconnect
it re-reads every version, so no change is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Iterable

import psycopg
from psycopg import sql

log = logging.getLogger(__name__)

CHANNEL = "wangge_layers"
TABLES = ("districts", "streets", "communities", "grids", "cameras", "waterlogging_points",
          "stall_zones", "buildings", "teams", "incidents", "catalogue")
Listener = Callable[[str, int], Awaitable[None]]
# how the listening connection shows in pg_stat_activity
APPLICATION_NAME = "wangge-watch"


async def read_versions(conn: psycopg.AsyncConnection, tables: Iterable[str] = TABLES) -> dict[str, int]:
    """The layers' current versions, from their sequences, in one round trip."""
    parts = [sql.SQL("SELECT {} AS layer, last_value FROM {}").format(
        sql.Literal(t), sql.Identifier(f"layer_version_{t}")) for t in tables]
    cur = await conn.execute(sql.SQL(" UNION ALL ").join(parts))
    return {str(layer): int(value) for layer, value in await cur.fetchall()}


class LayerWatcher:
    """Keeps ``versions`` current from notifications; calls listeners on each change."""

    def __init__(self, url: str, retry_s: float = 1.0) -> None:
        self._url = url
        self._retry_s = retry_s
        self._versions: dict[str, int] = {}
        self._connected = asyncio.Event()
        self._listeners: list[Listener] = []
        self._task: asyncio.Task[None] | None = None

    def version(self, table: str) -> int | None:
        """The layer's version, or None while the watcher is not listening."""
        return self._versions.get(table) if self._connected.is_set() else None

    def subscribe(self, listener: Listener) -> None:
        """Call ``listener(table, version)`` after each announced change (and after a reconnect)."""
        self._listeners.append(listener)

    async def versions(self, conn: psycopg.AsyncConnection, tables: Iterable[str]) -> dict[str, int]:
        """The tables' versions: from memory while listening, else read from the database."""
        known = {t: self.version(t) for t in tables}
        if all(v is not None for v in known.values()):
            return {t: int(v or 0) for t, v in known.items()}
        return await read_versions(conn, known)

    async def start(self, timeout_s: float = 10.0) -> None:
        """Start listening; wait until the first versions are read (or the timeout passes)."""
        self._task = asyncio.create_task(self._run(), name="layer-watcher")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._connected.wait(), timeout_s)

    async def stop(self) -> None:
        """Stop listening and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _notify_all(self, table: str, version: int) -> None:
        for listener in self._listeners:
            try:
                await listener(table, version)
            except Exception:  # a broken cache must not stop the watcher
                log.exception("layer listener failed for %s", table)

    async def _run(self) -> None:
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                        self._url, autocommit=True, application_name=APPLICATION_NAME) as conn:
                    await conn.execute(sql.SQL("LISTEN {}").format(sql.Identifier(CHANNEL)))
                    self._versions = await read_versions(conn)
                    self._connected.set()
                    await self._notify_all("*", 0)  # anything may have changed while away
                    async for note in conn.notifies():
                        table, _, raw = note.payload.partition(" ")
                        version = int(raw) if raw.isdigit() else 0
                        self._versions[table] = max(version, self._versions.get(table, 0))
                        await self._notify_all(table, version)
            except psycopg.Error as exc:  # lost connection, or a schema not migrated yet
                log.warning("layer watcher stopped listening (%s); retrying", exc)
            finally:
                self._connected.clear()
            await asyncio.sleep(self._retry_s)
