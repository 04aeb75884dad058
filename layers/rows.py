"""Typed row access for hand-written queries: every row a ``dict`` keyed by column name.

The pool already returns dict rows; asking for them per cursor states it in
the types too, so the readers need no casts.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg.rows import dict_row

Query = str | sql.Composed
Params = Mapping[str, Any] | Sequence[Any] | None


async def all_rows(
    conn: AsyncConnection,
    query: Query,
    params: Params = None,
    prepare: bool | None = None,
) -> list[dict[str, Any]]:
    """Run ``query`` with bound ``params`` and return every row."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params, prepare=prepare)
        return await cur.fetchall()


async def one_row(
    conn: AsyncConnection,
    query: Query,
    params: Params = None,
    prepare: bool | None = None,
) -> dict[str, Any] | None:
    """Run ``query`` with bound ``params`` and return its first row, None when there is none."""
    async with conn.cursor(row_factory=dict_row) as cur:
        await cur.execute(query, params, prepare=prepare)
        return await cur.fetchone()
