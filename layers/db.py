"""The database pool the service runs on, and driver errors turned into domain errors.

The API's lifespan opens one async pool (:func:`open_pool`) and keeps it on
``app.state``; everything below takes a connection from it. Hot spatial SQL
is hand-written in named units (``layers/sql``) with bound parameters.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

import psycopg
from psycopg.rows import dict_row
from psycopg_pool import AsyncConnectionPool

from layers.errors import Conflict, InvalidInput, StoreError

log = logging.getLogger(__name__)

POOL_WAIT_S = 10.0  # longest wait for a pooled connection before the request is answered 503


async def open_pool(url: str, min_size: int, max_size: int) -> AsyncConnectionPool:
    """Open a pool of autocommit connections returning dict rows, and wait until it is ready."""

    async def configure(conn: psycopg.AsyncConnection) -> None:
        await conn.set_autocommit(True)
        conn.row_factory = dict_row  # type: ignore[assignment]

    # check: a connection is tried (one empty round trip) before a request gets
    # it, so after the database restarts no request is handed a dead one;
    # timeout: while the database is away a request waits this long, then 503
    pool: AsyncConnectionPool = AsyncConnectionPool(
        url, min_size=min_size, max_size=max_size, open=False, configure=configure,
        check=AsyncConnectionPool.check_connection, timeout=POOL_WAIT_S,
        kwargs={"application_name": "wangge"},
    )
    await pool.open(wait=True, timeout=30)
    return pool


@contextlib.asynccontextmanager
async def translated_errors() -> AsyncIterator[None]:
    """Turn driver errors into domain errors; the driver's text is logged, never shown.

    Enter it before taking a pooled connection, so that a wait that times out
    while the database is away (``PoolTimeout``, an ``OperationalError``)
    is translated too.
    """
    try:
        yield
    except psycopg.errors.UniqueViolation as exc:
        log.info("unique violation: %s", exc)
        raise Conflict("this conflicts with a record that already exists") from exc
    except (psycopg.errors.CheckViolation, psycopg.errors.ForeignKeyViolation,
            psycopg.errors.InvalidParameterValue, psycopg.errors.DataException) as exc:
        log.info("rejected by the database: %s", exc)
        raise InvalidInput("the data was refused by a store rule") from exc
    except psycopg.errors.LockNotAvailable as exc:
        raise Conflict("the record is being changed by someone else; try again") from exc
    except psycopg.OperationalError as exc:
        log.error("database unavailable: %s", exc)
        raise StoreError("the database is unavailable") from exc
