"""Benchmark the evaluation of a district month holding 100,000 cases and their logs.

Runs its own PostGIS (embedded cluster in a temporary folder, durable as a
user runs it), builds the demo city, copies its cases with their whole event
logs into one past month until that month holds ``--cases`` cases (default
100,000, about 550,000 events), and times :func:`layers.time.evaluation.evaluate`
for the district and one street beside two same-run baselines over the same
rows: a plain ``count(*)`` of the month's cases, and a ``count(*)`` of their
events (the join every figure needs):

    .venv/bin/python -m bench.bench_evaluation [--cases 100000] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from datetime import UTC, date, datetime

import psycopg
from psycopg import sql

from bench.common import throwaway_demo
from layers.db import open_pool
from layers.time.evaluation import DISPATCH_LIMIT, WORK_MEM, Period, evaluate
from layers.time.evaluation_sql import BOUNDARY_ACTIONS, evaluation_query

MONTH = Period(date(2025, 6, 1), date(2025, 6, 30))

# each demo case copied (round robin) into the month, its events shifted by the same amount
_COPY = """
CREATE TEMP TABLE copies AS
SELECT n, src.id AS source_id,
       %(start)s::timestamptz + (n::float8 / %(count)s) * interval '29 days' AS new_reported,
       nextval('incidents_id_seq') AS new_id
FROM generate_series(0, %(count)s - 1) AS n
JOIN (SELECT id, row_number() OVER (ORDER BY id) - 1 AS k FROM incidents) AS src
  ON src.k = n %% (SELECT count(*) FROM incidents);
INSERT INTO incidents (id, district_code, category_code, channel, description, address, raw_x, raw_y, raw_crs,
                       geom, grid_id, grid_code, community_code, street_code, level, status, team_id,
                       reported_at, deadline, closed_at, updated_at)
SELECT c.new_id, i.district_code, i.category_code, i.channel, i.description, i.address, i.raw_x, i.raw_y,
       i.raw_crs, i.geom, i.grid_id, i.grid_code, i.community_code, i.street_code, i.level, i.status,
       -- a team holds one active case: the copies of active cases go without one
       CASE WHEN i.status IN ('dispatched', 'handling') THEN NULL ELSE i.team_id END,
       c.new_reported, i.deadline + (c.new_reported - i.reported_at),
       i.closed_at + (c.new_reported - i.reported_at), c.new_reported
FROM copies AS c JOIN incidents AS i ON i.id = c.source_id;
INSERT INTO incident_events (incident_id, district_code, at, actor, role, action, from_status, to_status,
                             reason, details)
SELECT c.new_id, e.district_code, e.at + (c.new_reported - i.reported_at), e.actor, e.role, e.action,
       e.from_status, e.to_status, e.reason, e.details
FROM copies AS c JOIN incidents AS i ON i.id = c.source_id JOIN incident_events AS e ON e.incident_id = i.id
ORDER BY c.new_id, e.id;
"""

_COUNT_CASES = """SELECT count(*) FROM incidents WHERE district_code = %(district)s
                  AND reported_at >= %(start)s AND reported_at < %(end)s"""
_COUNT_EVENTS = """SELECT count(*) FROM incident_events WHERE incident_id IN (
                   SELECT id FROM incidents WHERE district_code = %(district)s
                   AND reported_at >= %(start)s AND reported_at < %(end)s)"""


def fill_month(url: str, count: int) -> None:
    """Copy the demo's cases and logs into :data:`MONTH` until it holds ``count`` cases."""
    started = time.perf_counter()
    with psycopg.connect(url, autocommit=True) as conn:
        with conn.transaction():
            # incident_events is append-only by trigger; inserting is what it allows
            for statement in _COPY.split(";")[:-1]:
                conn.execute(statement, {"start": MONTH.start, "count": count})
        conn.execute("ANALYZE incidents")
        conn.execute("ANALYZE incident_events")
        events = conn.execute(_COUNT_EVENTS, {"district": "340111", "start": MONTH.start, "end": MONTH.end})
        print(f"filled {MONTH.first:%Y-%m} with {count} cases and {events.fetchone()[0]} events "  # type: ignore[index]
              f"in {time.perf_counter() - started:.1f} s")


def _time_sql(url: str, query: str, runs: int) -> float:
    params = {"district": "340111", "start": MONTH.start, "end": MONTH.end}
    with psycopg.connect(url) as conn:
        conn.execute(query, params).fetchall()  # warm the cache
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            conn.execute(query, params).fetchall()
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def _time_evaluation(url: str, area: str, runs: int) -> tuple[float, int]:
    pool = await open_pool(url, 1, 1)
    try:
        async with pool.connection() as conn:
            result = await evaluate(conn, area, MONTH)  # warm
            times = []
            for _ in range(runs):
                started = time.perf_counter()
                result = await evaluate(conn, area, MONTH)
                times.append(time.perf_counter() - started)
    finally:
        await pool.close()
    return statistics.median(times), int(result.total["cases"])


def explain(url: str) -> None:
    """Print EXPLAIN ANALYZE of the district month's aggregate."""
    params = {"district": "340111", "area": "340111", "start": MONTH.start, "end": MONTH.end,
              "as_of": datetime.now(UTC), "dispatch_limit": DISPATCH_LIMIT, "boundary": list(BOUNDARY_ACTIONS)}
    with psycopg.connect(url) as conn:
        conn.execute(f"SET work_mem = '{WORK_MEM}'")
        plan = conn.execute(sql.SQL("EXPLAIN (ANALYZE, BUFFERS) ") + evaluation_query("district_code", "street_code"),
                            params).fetchall()
    print("\n".join(row[0] for row in plan))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--explain", action="store_true", help="print the district query's plan too")
    args = parser.parse_args()
    with throwaway_demo(durable=True) as url:
        fill_month(url, args.cases)
        count_cases = _time_sql(url, _COUNT_CASES, args.runs)
        count_events = _time_sql(url, _COUNT_EVENTS, args.runs)
        print(f"{'what':<40}{'cases':>9}{'p50 ms':>10}{'vs count(cases)':>17}{'vs count(events)':>18}")
        print(f"{'baseline: count(*) of the month cases':<40}{'':>9}{count_cases * 1000:>10.1f}{1:>17.1f}")
        print(f"{'baseline: count(*) of their events':<40}{'':>9}{count_events * 1000:>10.1f}"
              f"{count_events / count_cases:>17.1f}{1:>18.1f}")
        if args.explain:
            explain(url)
        for label, area in (("evaluate: district 340111", "340111"), ("evaluate: street 340111001", "340111001")):
            took, cases = asyncio.run(_time_evaluation(url, area, args.runs))
            print(f"{label:<40}{cases:>9}{took * 1000:>10.1f}{took / count_cases:>17.1f}"
                  f"{took / count_events:>18.1f}")


if __name__ == "__main__":
    main()
