"""Per-area case counters kept by the database (migrations 0008 and 0010), and their rebuild.

Statement triggers on ``incidents`` keep three tables current in the
writer's own transaction: cases per area and status (``wall_case_counts``),
per area and China day (``wall_case_days``: reported, closed, closed in
time; the last ``DAYS_KEPT`` days, the walls read 30) and open cases per
community and 0.002° cell (``wall_case_cells``).
Every reader here costs what the screen shows (tens of areas, hundreds of
cells), never the number of cases ever filed.

A bulk load that skips triggers (``session_replication_role = replica``,
:func:`layers.io.bulk.checked_references`) counts what it stored with
:func:`count_stored` before it commits; :func:`rebuild_aggregates` counts
everything again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import psycopg
from psycopg import AsyncConnection

from layers.rows import all_rows
from layers.walls.counter_sql import CELL_DEG, DAY_ZONE, DAYS_KEPT, prune_statement, stored_statements

__all__ = [
    "CELL_DEG",
    "DAYS_KEPT",
    "DAY_ZONE",
    "Cluster",
    "case_clusters",
    "count_stored",
    "open_near",
    "prefix_range",
    "prune_days",
    "rebuild_aggregates",
]


def rebuild_aggregates(conn: psycopg.Connection) -> None:
    """Recompute every counter from the cases (inside the caller's transaction)."""
    _room_to_group(conn)
    conn.execute("SELECT wangge_rebuild_wall_aggregates()")


def _room_to_group(conn: psycopg.Connection) -> None:
    # after a bulk load the planner has no statistics of the new rows: with the default work_mem it
    # grouped a million cases by sorting them on disk (4 s instead of 1 s); with room it hashes
    conn.execute("SET LOCAL work_mem = '256MB'")


def count_stored(conn: psycopg.Connection, first_id: int, last_id: int) -> None:
    """Add to the counters the cases this transaction stored with ids ``first_id`` to ``last_id``.

    For a load that skipped the triggers and added a small share of the
    table (otherwise one :func:`rebuild_aggregates` reads less). Cases other
    sessions filed within that range are not this transaction's (``xmin``),
    and their own triggers counted them.
    """
    _room_to_group(conn)
    where = f"id BETWEEN {int(first_id)} AND {int(last_id)} AND xmin = pg_current_xact_id()::xid"
    for statement in stored_statements(where, DAYS_KEPT):
        conn.execute(statement)


async def prune_days(conn: AsyncConnection) -> int:
    """Delete day counters older than the days kept (the triggers never write them; these just aged out)."""
    cur = await conn.execute(prune_statement(DAYS_KEPT))
    return cur.rowcount


@dataclass(frozen=True)
class Cluster:
    """Open cases of one cluster cell: how many, and their mean position."""

    key: str
    lon: float
    lat: float
    count: int


_CELLS = """
    SELECT floor(cx::float8 / %(k)s)::integer AS gx, floor(cy::float8 / %(k)s)::integer AS gy,
           sum(cases)::integer AS cases, sum(sum_lon) AS sx, sum(sum_lat) AS sy
    FROM wall_case_cells
    WHERE area_code >= %(lo)s AND area_code < %(hi)s
      AND cx BETWEEN %(x0)s AND %(x1)s AND cy BETWEEN %(y0)s AND %(y1)s
    GROUP BY 1, 2 HAVING sum(cases) > 0
    ORDER BY 1, 2"""


def prefix_range(area: str) -> tuple[str, str]:
    """The range of codes an area prefixes, for an index range scan (":" sorts right after "9")."""
    return area, area + ":"


async def case_clusters(
    conn: AsyncConnection, area: str, box: tuple[float, float, float, float], cell_deg: float
) -> list[Cluster]:
    """Open cases of ``area`` whose counter cell meets ``box``, merged into cells of about ``cell_deg``.

    Positions are the mean of the cases' own points; a cluster cell is a
    whole number of counter cells, so counts never split a case.
    """
    k = max(1, round(cell_deg / CELL_DEG))
    w, s, e, n = box
    lo, hi = prefix_range(area)
    rows = await all_rows(conn, _CELLS, {
        "k": k, "lo": lo, "hi": hi,
        "x0": math.floor(w / CELL_DEG), "x1": math.floor(e / CELL_DEG),
        "y0": math.floor(s / CELL_DEG), "y1": math.floor(n / CELL_DEG)})
    return [Cluster(f"c{r['gx']}_{r['gy']}_{k}", r["sx"] / r["cases"], r["sy"] / r["cases"], r["cases"])
            for r in rows]


_OPEN_IN_VIEW = """
    SELECT coalesce(sum(cases), 0)::integer AS cases FROM wall_case_cells
    WHERE area_code >= %(lo)s AND area_code < %(hi)s
      AND cx BETWEEN %(x0)s AND %(x1)s AND cy BETWEEN %(y0)s AND %(y1)s"""


async def open_near(conn: AsyncConnection, area: str, box: tuple[float, float, float, float]) -> int:
    """Open cases of ``area`` in the counter cells meeting ``box`` (an upper bound of those inside it)."""
    w, s, e, n = box
    lo, hi = prefix_range(area)
    rows = await all_rows(conn, _OPEN_IN_VIEW, {
        "lo": lo, "hi": hi, "x0": math.floor(w / CELL_DEG), "x1": math.floor(e / CELL_DEG),
        "y0": math.floor(s / CELL_DEG), "y1": math.floor(n / CELL_DEG)})
    return int(rows[0]["cases"]) if rows else 0
