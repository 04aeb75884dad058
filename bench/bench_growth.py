"""Growth: what every map-wall path, locate and intake cost at 1x, 10x and 10x + 1,000,000 past cases.

Builds, in a throwaway durable cluster of its own, the demo city at 1x
(``DemoSpec()``: 2,200 grids, 10,000 cases) and at 10x (22,000 grids,
100,000 cases), measures both, then imports 1,000,000 past cases (about 4 %
still open, as ``bench_import`` makes them) into the 10x city and measures
again. For each size it prints p50, p99 and bytes of every path a district
wall polls (``/live/340111/...`` over the district's view, the page
``/maps/district/340111``), of z12 cases tiles rendered uncached (server
side), and of locate and intake over HTTP, plus the largest worker's
memory; the 1x figures are the same-run baseline:

    .venv/bin/python -m bench.bench_growth [PAST_CASES]

Targets at 10x + 1M (issue 12): wall paths p99 < 50 ms and < 300 KB, the
page < 100 ms, z12 tiles p99 < 20 ms, locate and intake within 20 % of 1x,
worker memory < 400 MB.
"""

from __future__ import annotations

import asyncio
import math
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import psycopg
import shapely

from api.auth import issue_token
from api.store import demo_district
from bench import bench_import
from bench.bench_intake import intake_bodies
from bench.bench_locate import inside_points
from bench.common import lua_cycle_paths, lua_post_json, served_process, worker_rss_mb, wrk
from geo.crs import WGS84
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.db import open_pool
from layers.demo.build import DemoSpec, build_demo
from layers.io.read import Options
from layers.io.service import WriteOptions, import_layer
from layers.io.spec import LAYERS
from layers.secrets import token_secret
from layers.tiles import render_tile, tile_address

DISTRICT = "340111"
SECONDS = 5
TEN_X = DemoSpec(grids=22_000, buildings=200_000, cameras=5000, waterlogging_points=1000,
                 stall_zones=500, incidents=100_000)


@dataclass
class Figure:
    """One path at one size."""

    p50_ms: float
    p99_ms: float
    bytes: int | None = None
    extra: str = ""


def _bbox(conn: psycopg.Connection) -> str:
    """The district wall's view: the district's bounds plus the wall's 20 % margin."""
    w, s, e, n = conn.execute("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM districts "
                              "WHERE code = %s", (DISTRICT,)).fetchone()  # type: ignore[misc]
    dx, dy = (e - w) * 0.2, (n - s) * 0.2
    return f"{w - dx:.5f},{s - dy:.5f},{e + dx:.5f},{n + dy:.5f}"


def _z12_tiles(conn: psycopg.Connection) -> list[tuple[int, int]]:
    w, s, e, n = conn.execute("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) FROM districts "
                              "WHERE code = %s", (DISTRICT,)).fetchone()  # type: ignore[misc]

    def tile(lon: float, lat: float) -> tuple[int, int]:
        k = 1 << 12
        return int((lon + 180) / 360 * k), int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)

    (x0, y0), (x1, y1) = tile(w, n), tile(e, s)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def uncached_tiles(url: str, tiles: list[tuple[int, int]], rounds: int = 30) -> Figure:
    """z12 cases tiles rendered from the database each time (no cache), on one connection."""

    async def measure() -> tuple[list[float], int]:
        pool = await open_pool(url, 1, 1)
        timings, largest = [], 0
        try:
            async with pool.connection() as conn:
                for _ in range(rounds):
                    for x, y in tiles:
                        started = time.perf_counter()
                        body = await render_tile(conn, tile_address("incidents", 12, x, y), DISTRICT)
                        timings.append(time.perf_counter() - started)
                        largest = max(largest, len(body))
        finally:
            await pool.close()
        return timings, largest

    timings, largest = asyncio.run(measure())
    ordered = sorted(timings)
    return Figure(statistics.median(ordered) * 1000, ordered[int(len(ordered) * 0.99)] * 1000, largest,
                  f"{len(tiles)} tiles x {rounds}")


def measure(url: str, label: str) -> dict[str, Figure]:
    """Every figure of one size, against a freshly started server."""
    secret = token_secret(url)
    token = issue_token(secret, "operator", DISTRICT)
    with psycopg.connect(url, autocommit=True) as conn:
        bbox, tiles = _bbox(conn), _z12_tiles(conn)
        cases, open_ = conn.execute("SELECT count(*), count(*) FILTER (WHERE status NOT IN "
                                    "('closed', 'rejected', 'duplicate')) FROM incidents").fetchone()  # type: ignore[misc]
        grids = conn.execute("SELECT count(*) FROM grids WHERE valid_to IS NULL").fetchone()[0]  # type: ignore[index]
        conn.execute("VACUUM ANALYZE")  # as autovacuum would have, after a build or a load
    print(f"\n-- {label}: {grids:,} grids, {cases:,} cases, {open_:,} open", flush=True)
    wall = {f"/live/{DISTRICT}/{layer}": f"/live/{DISTRICT}/{layer}?bbox={bbox}&token={token}"
            for layer in ("cases", "teams", "waterlogging", "cameras", "stall_zones")}
    wall[f"/live/{DISTRICT}/heat"] = f"/live/{DISTRICT}/heat?token={token}"
    wall[f"/maps/district/{DISTRICT}"] = f"/maps/district/{DISTRICT}?token={token}"
    wall[f"/maps/district/{DISTRICT}/panel"] = f"/maps/district/{DISTRICT}/panel?token={token}"
    figures: dict[str, Figure] = {}
    port = free_port()
    with served_process(url, port) as (base, proc):
        with httpx.Client(base_url=base) as client:
            for name, path in wall.items():
                body = client.get(path)
                if body.status_code == 404 and name.endswith("/panel"):
                    continue  # a version of the wall that polls no panel
                assert body.status_code == 200, (name, body.status_code, body.text[:200])
                mode = body.json().get("mode", "") if name.endswith("/cases") else ""
                wrk(base + path, 1, 1, threads=1)  # warm-up
                load = wrk(base + path, 1, SECONDS, threads=1)
                figures[name] = Figure(load.p50_ms, load.p99_ms, len(body.content), mode)
                print(f"{name:<30} p50 {load.p50_ms:7.2f} ms  p99 {load.p99_ms:7.2f} ms  "
                      f"{len(body.content) / 1024:7.1f} KB {mode}", flush=True)
        points = [f"/locate?lon={lon:.6f}&lat={lat:.6f}" for lon, lat in inside_points(url)]
        wrk(base, 8, 2, lua_cycle_paths(points))
        locate = wrk(base, 8, SECONDS, lua_cycle_paths(points))
        figures["locate (8 clients)"] = Figure(locate.p50_ms, locate.p99_ms, extra=f"{locate.rps:.0f} req/s")
        intake = wrk(f"{base}/incidents", 8, SECONDS, lua_post_json("/incidents", intake_bodies(url, 2000), {
            "Authorization": f"Bearer {issue_token(secret, 'operator', DISTRICT)}"}))
        figures["intake (8 clients)"] = Figure(intake.p50_ms, intake.p99_ms,
                                               extra=f"{intake.rps:.0f} cases/s, non-2xx {intake.errors}")
        for name in ("locate (8 clients)", "intake (8 clients)"):
            f = figures[name]
            print(f"{name:<30} p50 {f.p50_ms:7.2f} ms  p99 {f.p99_ms:7.2f} ms  {f.extra}", flush=True)
        rss, peak = worker_rss_mb(proc)
        figures["worker memory"] = Figure(rss, peak, extra="MB now / peak")
        print(f"{'worker memory (largest)':<30} {rss:.0f} MB now, {peak:.0f} MB peak", flush=True)
    figures["z12 cases tile, uncached"] = uncached_tiles(url, tiles)
    f = figures["z12 cases tile, uncached"]
    print(f"{'z12 cases tile, uncached':<30} p50 {f.p50_ms:7.2f} ms  p99 {f.p99_ms:7.2f} ms  "
          f"{(f.bytes or 0) / 1024:7.1f} KB largest ({f.extra}, server side)", flush=True)
    return figures


def import_past_cases(url: str, count: int) -> float:
    """Load ``count`` past cases (about 4 % open) as ``wangge import incidents`` does; return seconds."""
    district = demo_district()
    outline = shapely.union_all(list(shapely.get_parts(district.geom)))
    bench_import.CASES = count
    with tempfile.TemporaryDirectory() as tmp:
        path = bench_import._cases_file(Path(tmp), outline, np.random.default_rng(12))
        started = time.perf_counter()
        result = import_layer(url, path, LAYERS["incidents"], Options(crs=WGS84), WriteOptions())
        took = time.perf_counter() - started
    assert result.ok and result.counts and result.counts.inserted == count, result.report()
    return took


def summary(sizes: dict[str, dict[str, Figure]]) -> None:
    """One table: each path's p99 (and bytes) at every size, and the last size against 1x."""
    labels = list(sizes)
    base, last = sizes[labels[0]], sizes[labels[-1]]
    print("\npath".ljust(32) + "".join(f"{label + ' p50/p99 ms':>28}" for label in labels) + "   last/1x p99")
    for name in base:
        cells = []
        for label in labels:
            f = sizes[label][name]
            size = f" {f.bytes / 1024:.0f} KB" if f.bytes is not None else ""
            cells.append(f"{f.p50_ms:.1f}/{f.p99_ms:.1f}{size}".rjust(28))
        ratio = last[name].p99_ms / base[name].p99_ms if base[name].p99_ms else float("nan")
        print(name.ljust(31) + "".join(cells) + f"   {ratio:.2f}")


def main() -> None:
    past = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    folder = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    folder.chmod(0o755)
    cluster = EmbeddedCluster(folder / "pg", free_port(), durable=True)
    cluster.start()
    sizes: dict[str, dict[str, Figure]] = {}
    try:
        with open("/proc/loadavg") as load:
            print(f"load average at start: {load.read().split()[0]}")
        district = demo_district()
        one = cluster.create_database("growth1")
        migrate.upgrade(one)
        build_demo(one, district, DemoSpec())
        sizes["1x"] = measure(one, "1x")
        cluster.drop_database("growth1")
        ten = cluster.create_database("growth10")
        migrate.upgrade(ten)
        started = time.perf_counter()
        build_demo(ten, district, TEN_X)
        print(f"\n10x city built in {time.perf_counter() - started:.0f} s")
        sizes["10x"] = measure(ten, "10x")
        took = import_past_cases(ten, past)
        print(f"\n{past:,} past cases imported in {took:.0f} s (aggregates rebuilt at the end)")
        sizes[f"10x+{past // 1000}k"] = measure(ten, f"10x + {past:,} past cases")
        summary(sizes)
        with open("/proc/loadavg") as load:
            print(f"load average at the end: {load.read().split()[0]}")
    finally:
        cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
