"""Intake at the 10x city beside the 1x city, in one run (issue 12: within 20 % of 1x).

Builds, in a throwaway durable cluster of its own, the demo city at 1x
(``DemoSpec()``: 2,200 grids, ~700 cameras, 10,000 cases) and at 10x
(``bench_growth.TEN_X``: 22,000 grids, ~7,000 cameras, 100,000 cases), and
posts new cases to each over HTTP from 8 wrk connections (as
``bench_growth`` does), the two sizes in turn, three times, then prints cases/s,
p50 and p99 of each round and the ratio 10x/1x of the means; the 1x figures
are the same-run baseline. Alongside, server
side on one connection, the mean cost of the answer's two searches that
grow with the city: the cameras around the point and the duplicates. The
load average is printed at start and end: the machine is shared.

    .venv/bin/python -m bench.bench_intake_scale

With ``INTAKE_SCALE_DATABASES="ONE_URL TEN_URL"`` it measures those two
(already built) databases instead of building (for profiling; they keep the
cases it posts). An environment variable, not arguments: ``bench_growth``,
whose 10x spec this reuses, imports ``bench_import``, which reads argv.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import time

import psycopg
from psycopg.rows import dict_row

from api.auth import issue_token
from api.escalator import SYSTEM
from api.store import demo_district
from bench.bench_growth import TEN_X
from bench.bench_intake import intake_bodies
from bench.bench_locate import inside_points
from bench.common import Load, lua_post_json, served, throwaway_demo, wrk
from layers import migrate
from layers.catalogue import category
from layers.cluster import free_port
from layers.db import open_pool
from layers.demo.build import build_demo
from layers.incidents import duplicates, escalate_overdue
from layers.rows import all_rows
from layers.secrets import token_secret
from layers.sensing.cameras import linked_cameras

DISTRICT = "340111"
CLIENTS = 8
SECONDS = 8
ROUNDS = 3


def _load_average() -> str:
    with open("/proc/loadavg") as load:
        return " ".join(load.read().split()[:3])


def searches_ms(url: str, count: int = 300) -> tuple[float, float]:
    """Mean ms of the linked cameras and of the duplicates of a case, server side, one connection."""
    points = inside_points(url, count)

    async def run() -> tuple[float, float]:
        pool = await open_pool(url, 1, 1)
        cams: list[float] = []
        dups: list[float] = []
        try:
            async with pool.connection() as conn:
                codes = [r["code"] for r in await all_rows(
                    conn, "SELECT code FROM catalogue WHERE team_type IS NOT NULL ORDER BY code")]
                cats = [await category(conn, code) for code in codes]
                for i, (lon, lat) in enumerate(points):
                    started = time.perf_counter()
                    await linked_cameras(conn, lon, lat)
                    middle = time.perf_counter()
                    await duplicates(conn, cats[i % len(cats)], lon, lat)
                    cams.append(middle - started)
                    dups.append(time.perf_counter() - middle)
        finally:
            await pool.close()
        # the first calls plan and warm the caches
        return statistics.mean(cams[20:]) * 1000, statistics.mean(dups[20:]) * 1000

    return asyncio.run(run())


def escalate_once(url: str) -> int:
    """The escalator's first round, done before serving: a freshly built demo holds thousands of
    overdue cases (35,000 at 10x) that a starting server raises at once, a one-off the intake
    figures would otherwise carry at 10x only."""

    async def run() -> int:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            conn.row_factory = dict_row  # type: ignore[assignment]  # as the service's pool gives them
            return len(await escalate_overdue(conn, SYSTEM))

    return asyncio.run(run())


def prepare(url: str, label: str) -> None:
    """Escalate, (optionally) index, vacuum; print what the database holds and its two searches."""
    raised = escalate_once(url)
    with psycopg.connect(url, autocommit=True) as conn:
        grids, cams, cases = conn.execute(
            "SELECT (SELECT count(*) FROM grids WHERE valid_to IS NULL), (SELECT count(*) FROM cameras), "
            "(SELECT count(*) FROM incidents)").fetchone()  # type: ignore[misc]
        reach = conn.execute("SELECT to_regclass('cameras_reach_gist') IS NOT NULL").fetchone()[0]  # type: ignore[index]
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have, after a build
    cams_ms, dups_ms = searches_ms(url)
    print(f"{label}: {grids:,} grids, {cams:,} cameras, {cases:,} cases ({raised:,} overdue raised before "
          f"serving); cameras' reach index (migration 0010): {'yes' if reach else 'no'}")
    print(f"  server side, one connection: linked cameras {cams_ms:.3f} ms, duplicates {dups_ms:.3f} ms (mean)",
          flush=True)


def measure(url: str, label: str) -> Load:
    """Intake over HTTP against a freshly started server on ``url``; prints one line."""
    script = lua_post_json("/incidents", intake_bodies(url, 2000), {
        "Authorization": f"Bearer {issue_token(token_secret(url), 'operator', DISTRICT)}"})
    with served(url, free_port()) as base:
        wrk(f"{base}/incidents", CLIENTS, 2, script)  # warm-up: plans, caches, the grid index
        load = wrk(f"{base}/incidents", CLIENTS, SECONDS, script)
    print(load.line(f"{label} POST /incidents"), flush=True)
    return load


def compare(one: str, ten: str) -> None:
    """Both sizes in turn, ``ROUNDS`` times (a shared machine's load drifts), then the ratios of the means."""
    prepare(one, "1x")
    prepare(ten, "10x")
    with psycopg.connect(one, autocommit=True) as conn:
        # the builds' gigabyte of WAL is flushed now, not by a checkpoint in the middle of a round
        conn.execute("CHECKPOINT")
    runs: dict[str, list[Load]] = {"1x": [], "10x": []}
    for _ in range(ROUNDS):
        runs["1x"].append(measure(one, "1x "))
        runs["10x"].append(measure(ten, "10x"))
    rps = {k: statistics.mean(r.rps for r in v) for k, v in runs.items()}
    p99 = {k: statistics.mean(r.p99_ms for r in v) for k, v in runs.items()}
    print(f"intake, mean of {ROUNDS} rounds of {SECONDS} s, {CLIENTS} clients: 1x {rps['1x']:.0f} cases/s "
          f"(p99 {p99['1x']:.1f} ms), 10x {rps['10x']:.0f} cases/s (p99 {p99['10x']:.1f} ms)")
    print(f"intake 10x/1x: throughput {rps['10x'] / rps['1x']:.2f} (target >= 0.8), p99 {p99['10x'] / p99['1x']:.2f}")


def main() -> None:
    print(f"load average at start: {_load_average()}", flush=True)
    given = os.environ.get("INTAKE_SCALE_DATABASES", "").split()
    if len(given) == 2:
        compare(*given)
        print(f"load average at the end: {_load_average()}")
        return
    # the 1x city in a throwaway durable cluster of its own, the 10x one beside it
    with throwaway_demo(durable=True) as one:
        base, _ = one.rsplit("/", 1)
        with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
            conn.execute("CREATE DATABASE intake10")
        ten = f"{base}/intake10"
        migrate.upgrade(ten)
        started = time.perf_counter()
        build_demo(ten, demo_district(), TEN_X)
        print(f"10x city built in {time.perf_counter() - started:.0f} s", flush=True)
        compare(one, ten)
    print(f"load average at the end: {_load_average()}")


if __name__ == "__main__":
    main()
