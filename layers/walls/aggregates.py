"""Per-area case counters kept by the database (migrations 0008 and 0010), and their rebuild.

Statement triggers on ``incidents`` keep three tables current in the
writer's own transaction: cases per area and status (``wall_case_counts``),
per area and China day (``wall_case_days``: reported, closed, closed in
time; the last ``DAYS_KEPT`` days, the walls read 30) and open cases per
community and 0.002° cell (``wall_case_cells``).
Every reader here costs what the screen shows (tens of areas, hundreds of
cells), never the number of cases ever filed.

A bulk load that skips triggers (``session_replication_role = replica``,
:func:`layers.io.bulk.checked_references`) hands what it stored to
:func:`count_loaded` before it commits; :func:`rebuild_aggregates` counts
everything again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import psycopg
from psycopg import AsyncConnection

from layers.rows import all_rows
from layers.walls.counter_sql import (
    CELL_DEG,
    COLUMNS,
    DAY_ZONE,
    DAYS_KEPT,
    counts_statement,
    prune_statement,
    stored_statements,
)

__all__ = [
    "CELL_DEG",
    "DAYS_KEPT",
    "DAY_ZONE",
    "GROUPED",
    "Cluster",
    "case_clusters",
    "count_loaded",
    "day_counted_since",
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


GROUPED = "district_code, street_code, community_code, grid_code, status"
"""What the per-status counters group cases by."""


def day_counted_since(now: datetime) -> datetime:
    """An instant before which no case is reported or closed on a day the day counters keep.

    Earlier by a day than the first day kept, so a load that picks the
    cases to hand :func:`count_loaded` by it (in its own clock, which may
    have passed midnight since its transaction began) never leaves one out.
    """
    today = now.astimezone(ZoneInfo(DAY_ZONE)).date()
    first = today - timedelta(days=DAYS_KEPT)
    return datetime(first.year, first.month, first.day, tzinfo=ZoneInfo(DAY_ZONE))


def count_loaded(conn: psycopg.Connection, groups: bytes, cases: bytes) -> None:
    """Add to the counters the cases a load stored with the triggers skipped, as the loader sums them up.

    ``groups`` is a binary COPY stream of (``sign``, then ``GROUPED``): how
    many stored cases share an area and status (the loader grouped its
    rows, so a million cases are a few thousand rows here); ``cases`` one
    of ``COLUMNS`` for the stored cases that may count on a kept day or in
    a cell: the open ones and those reported or closed since
    :func:`day_counted_since`. The counters' own statements pick from
    those exactly as from the cases table, so handing more does no harm.
    Reading the million stored cases back cost the database a second;
    these are a few thousand rows.
    """
    _room_to_group(conn)
    for table, columns in (("wall_loaded_groups", f"0 AS sign, {GROUPED}"), ("wall_loaded_cases", COLUMNS)):
        conn.execute(f"CREATE TEMP TABLE {table} AS SELECT {columns} FROM incidents LIMIT 0")
    for table, data in (("wall_loaded_groups", groups), ("wall_loaded_cases", cases)):
        with conn.cursor() as cur, cur.copy(f"COPY {table} FROM STDIN WITH (FORMAT binary)") as copy:
            copy.write(data)
    conn.execute(counts_statement(f"SELECT sign, {GROUPED} FROM wall_loaded_groups"))
    _, days, cells = stored_statements("true", DAYS_KEPT, source="wall_loaded_cases")
    for statement in (days, cells):
        conn.execute(statement)
    conn.execute("DROP TABLE wall_loaded_groups, wall_loaded_cases")


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
