"""The SQL that keeps the walls' case counters: the statements the triggers and the rebuild run.

Migrations build their database functions from here (0008 made them, 0010
remade them with a window on the day counters); a change to these
statements therefore needs a new migration that remakes the functions.

Each counter table has its own statement over a set of case rows with a
``sign`` column (+1 added, -1 removed): in a trigger the rows are the
statement's transition tables (a few rows), in a rebuild they are the whole
cases table, read once per counter with only the rows that counter needs
(a rebuild of a million cases reads all of them for the per-status counts,
only the recent ones for the day counters, only the open ones for the
cells). Every upsert goes in key order, so concurrent writers lock rows in
the same order and never deadlock.

Day counters are kept for the last ``days_kept`` China days only: the walls
read the last 30 (closures and closures in time), and days before the
window never come back into it, so counting them would only cost (three
years of history are 1.3 million area-day rows, most of a bulk import's
time). ``None`` keeps every day (migration 0008's behaviour).
"""

from __future__ import annotations

ENDED = "('closed', 'rejected', 'duplicate')"
DAY_ZONE = "Asia/Shanghai"
"""Days of ``wall_case_days`` are China days."""
CELL_DEG = 0.002
"""The counters' cell (about 200 m)."""
DAYS_KEPT = 35
"""China days kept in ``wall_case_days``: the walls' 30-day window and a margin (today counts as one)."""

COLUMNS = "district_code, street_code, community_code, grid_code, status, reported_at, closed_at, deadline, geom"


def _areas(rows: str) -> str:
    """The four area codes of each row of ``rows`` (district, street, community, grid) as ``a.code``."""
    return f"""LATERAL unnest(ARRAY[{rows}.district_code::text, {rows}.street_code::text,
                               {rows}.community_code::text, {rows}.grid_code::text]) AS a(code)"""


def first_day_kept(days_kept: int) -> str:
    """The SQL expression of the earliest China day the day counters keep."""
    return f"((now() AT TIME ZONE '{DAY_ZONE}')::date - {days_kept - 1})"


def counts_statement(rows: str) -> str:
    """Add the contributions of ``rows`` to the cases per area and status.

    Grouped by grid first and rolled up to the four levels after: the
    rebuild's million cases become a few thousand groups before they are
    quadrupled (seven times faster than unnesting every case).
    """
    return f"""
        WITH r AS ({rows}),
        g AS (
            SELECT district_code, street_code, community_code, grid_code, status, sum(sign)::integer AS n
            FROM r GROUP BY 1, 2, 3, 4, 5),
        counts AS (
            SELECT a.code AS area_code, g.status, sum(g.n)::integer AS n
            FROM g, {_areas("g")}
            WHERE a.code IS NOT NULL GROUP BY 1, 2)
        INSERT INTO wall_case_counts AS w (area_code, status, slot, cases)
        SELECT area_code, status, pg_backend_pid() % 8, n FROM counts WHERE n <> 0
        ORDER BY area_code, status
        ON CONFLICT (area_code, status, slot) DO UPDATE SET cases = w.cases + EXCLUDED.cases"""


def days_statement(rows: str, days_kept: int | None) -> str:
    """Add the contributions of ``rows`` to the per-area China days kept."""
    kept = f"AND d.day >= {first_day_kept(days_kept)}" if days_kept is not None else ""
    return f"""
        WITH r AS ({rows}),
        days AS (
            SELECT a.code AS area_code, d.day, sum(d.reported)::integer AS reported,
                   sum(d.closed)::integer AS closed, sum(d.on_time)::integer AS on_time
            FROM r, {_areas("r")},
                 LATERAL (SELECT (r.reported_at AT TIME ZONE '{DAY_ZONE}')::date, r.sign, 0, 0
                          UNION ALL
                          SELECT (r.closed_at AT TIME ZONE '{DAY_ZONE}')::date, 0, r.sign,
                                 CASE WHEN r.closed_at <= r.deadline THEN r.sign ELSE 0 END
                          WHERE r.status = 'closed' AND r.closed_at IS NOT NULL)
                         AS d(day, reported, closed, on_time)
            WHERE a.code IS NOT NULL {kept} GROUP BY 1, 2)
        INSERT INTO wall_case_days AS w (area_code, day, slot, reported, closed, closed_on_time)
        SELECT area_code, day, pg_backend_pid() % 8, reported, closed, on_time FROM days
        WHERE reported <> 0 OR closed <> 0 OR on_time <> 0
        ORDER BY area_code, day
        ON CONFLICT (area_code, day, slot) DO UPDATE
        SET reported = w.reported + EXCLUDED.reported, closed = w.closed + EXCLUDED.closed,
            closed_on_time = w.closed_on_time + EXCLUDED.closed_on_time"""


def cells_statement(rows: str) -> str:
    """Add the contributions of ``rows`` to the open cases per community and cell."""
    return f"""
        WITH r AS ({rows}),
        cells AS (
            SELECT coalesce(r.community_code::text, r.street_code::text, r.district_code::text) AS area_code,
                   floor(ST_X(r.geom) / {CELL_DEG})::integer AS cx, floor(ST_Y(r.geom) / {CELL_DEG})::integer AS cy,
                   sum(r.sign)::integer AS n, sum(r.sign * ST_X(r.geom)) AS sx, sum(r.sign * ST_Y(r.geom)) AS sy
            FROM r WHERE r.status NOT IN {ENDED} GROUP BY 1, 2, 3)
        INSERT INTO wall_case_cells AS w (area_code, cx, cy, cases, sum_lon, sum_lat)
        SELECT area_code, cx, cy, n, sx, sy FROM cells WHERE n <> 0 ORDER BY area_code, cx, cy
        ON CONFLICT (area_code, cx, cy) DO UPDATE
        SET cases = w.cases + EXCLUDED.cases, sum_lon = w.sum_lon + EXCLUDED.sum_lon,
            sum_lat = w.sum_lat + EXCLUDED.sum_lat"""


def apply_statements(rows: str, days_kept: int | None) -> str:
    """The three statements adding the contributions of ``rows``, as PL/pgSQL (static: planned once per session)."""
    return ";\n".join((counts_statement(rows), days_statement(rows, days_kept), cells_statement(rows))) + ";"


_NEW = f"SELECT 1 AS sign, {COLUMNS} FROM wall_new_rows"
_OLD = f"SELECT -1 AS sign, {COLUMNS} FROM wall_old_rows"


def trigger_function(days_kept: int | None) -> str:
    """``wangge_wall_aggregates()``: the statement trigger's function (transition tables, hence one body per event)."""
    return f"""
    CREATE OR REPLACE FUNCTION wangge_wall_aggregates() RETURNS trigger LANGUAGE plpgsql AS $f$
    BEGIN
        IF TG_OP = 'INSERT' THEN
            {apply_statements(_NEW, days_kept)}
        ELSIF TG_OP = 'UPDATE' THEN
            {apply_statements(_OLD + " UNION ALL " + _NEW, days_kept)}
        ELSIF TG_OP = 'DELETE' THEN
            {apply_statements(_OLD, days_kept)}
        ELSE
            TRUNCATE wall_case_counts, wall_case_days, wall_case_cells;
        END IF;
        RETURN NULL;
    END $f$"""


def stored_statements(where: str, days_kept: int | None, source: str = "incidents") -> tuple[str, str, str]:
    """The three statements adding the cases of ``source`` that satisfy ``where`` (an SQL condition on it).

    Each reads only the rows its counter needs: all of them for the
    per-status counts, the recent for the days, the open for the cells.
    The first day kept is computed once per statement (a sub-select), not
    once per row. ``source`` is any table with the cases' ``COLUMNS``.
    """
    case = f"SELECT 1 AS sign, {COLUMNS} FROM {source} WHERE {where}"
    # a case counts on a kept day only when it was reported or closed on or after the first one
    recent = (f"{case} AND greatest(reported_at, closed_at) >= "
              f"(SELECT {first_day_kept(days_kept)}::timestamp AT TIME ZONE '{DAY_ZONE}')") \
        if days_kept is not None else case
    open_ = f"{case} AND status NOT IN {ENDED}"
    return counts_statement(case), days_statement(recent, days_kept), cells_statement(open_)


def rebuild_function(days_kept: int | None) -> str:
    """``wangge_rebuild_wall_aggregates()``: every counter again from the cases, each from the rows it needs."""
    return f"""
    CREATE OR REPLACE FUNCTION wangge_rebuild_wall_aggregates() RETURNS void LANGUAGE plpgsql AS $f$
    BEGIN
        TRUNCATE wall_case_counts, wall_case_days, wall_case_cells;
        {";".join(stored_statements("true", days_kept))};
    END $f$"""


def prune_statement(days_kept: int) -> str:
    """Delete the day counters that fell out of the window (they are never read again)."""
    return f"DELETE FROM wall_case_days WHERE day < {first_day_kept(days_kept)}"
