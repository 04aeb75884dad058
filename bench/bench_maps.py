"""Benchmark the map wall: shell size, page loads from the kept shell vs rendered in full,
time to drawn in Chromium, z14 tiles cached vs not.

Runs its own PostGIS (embedded cluster in a temporary folder), builds the
demo city (2,200 grids, 10,000 cases), serves wangge with uvicorn on
loopback and prints each figure with a same-run baseline and ratio:

    .venv/bin/python bench/bench_maps.py
"""

from __future__ import annotations

import asyncio
import math
import shutil
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from playwright.sync_api import sync_playwright

from api.app import create_app
from api.auth import issue_token
from api.mapviews import wall_pages
from api.settings import Settings
from api.store import demo_district
from api.tilereply import tile_cache
from bench.common import lua_cycle_paths, wrk
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.db import open_pool
from layers.demo.build import DemoSpec, build_demo
from layers.tiles import TileCache, cached_tile, layer_version, tile_address
from tests.chromium import launch

DRAWN = (
    "document.querySelectorAll('svg.leaflet-tile path').length > 50 && "
    "document.querySelectorAll('.marker-cluster').length > 0"
)


def p50(samples: list[float]) -> float:
    return statistics.median(samples) * 1000


def z14_tiles(conn: psycopg.Connection) -> list[tuple[int, int]]:
    w, s, e, n = conn.execute(
        "SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
        "FROM (SELECT ST_Extent(geom) e FROM districts) d"
    ).fetchone()  # type: ignore[misc]

    def tile(lon: float, lat: float) -> tuple[int, int]:
        k = 1 << 14
        return (
            int((lon + 180) / 360 * k),
            int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k),
        )

    (x0, y0), (x1, y1) = tile(w, n), tile(e, s)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


def inline_geojson_bytes(conn: psycopg.Connection) -> int:
    """What inlining every current grid and open case as GeoJSON into the page would weigh."""
    row = conn.execute("""
        SELECT (SELECT sum(length(ST_AsGeoJSON(geom, 6))) FROM grids WHERE valid_to IS NULL)
             + (SELECT sum(length(ST_AsGeoJSON(geom, 6)) + 200) FROM incidents
                WHERE status NOT IN ('closed', 'rejected', 'duplicate'))""").fetchone()
    return int(row[0]) if row else 0


def server_side_tiles(url: str, tiles: list[tuple[int, int]]) -> None:
    """The same tiles through ``cached_tile`` on one connection: the server's own work, no HTTP."""

    async def measure() -> tuple[list[float], list[float]]:
        cache = TileCache()
        uncached, cached = [], []
        pool = await open_pool(url, 1, 1)
        async with pool.connection() as conn:
            # what the layer watcher would know: the version, without asking per tile
            version = await layer_version(conn, "grids")
        try:
            for _ in range(3):
                cache.clear()
                for timings in (uncached, cached):
                    for x, y in tiles:
                        started = time.perf_counter()
                        await cached_tile(pool, cache, tile_address("grids", 14, x, y), "340111", version)
                        timings.append(time.perf_counter() - started)
        finally:
            await pool.close()
        return uncached, cached

    uncached, cached = asyncio.run(measure())
    print(
        f"z14 grid tiles, server side (cached_tile, no HTTP): uncached p50 {p50(uncached):.2f} ms, "
        f"cached p50 {p50(cached):.3f} ms (no database); cached "
        f"{p50(uncached) / p50(cached):.1f}x faster"
    )


def page_loads(app: FastAPI, conn: psycopg.Connection, base: str, token: str) -> None:
    """Each level's wall page rendered in full per load (as before the cache) vs filled from its kept shell."""
    street = conn.execute("SELECT min(code) FROM streets").fetchone()[0]  # type: ignore[index]
    community = conn.execute("SELECT min(code) FROM communities WHERE street_code = %s",
                             (street,)).fetchone()[0]  # type: ignore[index]
    pages = wall_pages(app.state)
    kept = pages.max_entries
    for path in ("/maps/district/340111", f"/maps/street/{street.strip()}", f"/maps/community/{community.strip()}"):
        url = f"{base}{path}?token={token}"
        loads = {}
        for mode, entries in (("full", 0), ("kept", kept)):
            pages.max_entries = entries
            wrk(url, 1, 1, threads=1)  # warm-up (and, kept, the shell rendered)
            loads[mode] = wrk(url, 1, 5, threads=1)
        full, shell = loads["full"], loads["kept"]
        print(
            f"page {path} (wrk, 1 connection): rendered in full p50 {full.p50_ms:.1f} ms p99 {full.p99_ms:.1f} ms; "
            f"from the kept shell p50 {shell.p50_ms:.1f} ms p99 {shell.p99_ms:.1f} ms (budget < 100 ms); "
            f"{full.p50_ms / shell.p50_ms:.1f}x faster at p50, {full.p99_ms / shell.p99_ms:.1f}x at p99"
        )
    url = f"{base}/maps/district/340111/panel?token={token}"
    polls = {}
    for mode, entries in (("read", 0), ("kept", kept)):
        pages.max_entries = entries  # 0: the area is read on every poll, as before
        wrk(url, 1, 1, threads=1)
        polls[mode] = wrk(url, 1, 5, threads=1)
    read, area = polls["read"], polls["kept"]
    print(
        f"district panel poll: area read per poll p50 {read.p50_ms:.1f} ms p99 {read.p99_ms:.1f} ms; "
        f"area kept p50 {area.p50_ms:.1f} ms p99 {area.p99_ms:.1f} ms; {read.p50_ms / area.p50_ms:.2f}x at p50"
    )
    pages.max_entries = kept


def main() -> None:
    folder = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    folder.chmod(0o755)
    cluster = EmbeddedCluster(folder / "pg", free_port())
    cluster.start()
    try:
        url = cluster.create_database("bench")
        migrate.upgrade(url)
        build_demo(url, demo_district(), DemoSpec())
        app = create_app(Settings(database_url=url))  # type: ignore[call-arg]
        port = free_port()
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        base = f"http://127.0.0.1:{port}"
        token = issue_token(app.state.token_secret, "operator", "340111")
        try:
            run(app, url, base, token)
        finally:
            server.should_exit = True
            thread.join()
    finally:
        cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


def run(app: FastAPI, url: str, base: str, token: str) -> None:
    headers = {"Authorization": f"Bearer {token}"}
    with psycopg.connect(url) as conn, httpx.Client(base_url=base, headers=headers) as client:
        grids = conn.execute("SELECT count(*) FROM grids WHERE valid_to IS NULL").fetchone()
        cases = conn.execute("SELECT count(*) FROM incidents").fetchone()
        print(f"demo city: {grids[0] if grids else 0} grids, {cases[0] if cases else 0} cases")
        shell = len(client.get("/maps/district/340111").content)
        inline = inline_geojson_bytes(conn)
        print(
            f"page shell: {shell / 1024:.0f} KB (budget < 300 KB); "
            f"inline GeoJSON of grids + open cases: "
            f"{inline / 1024:.0f} KB; ratio {inline / shell:.0f}x smaller"
        )

        page_loads(app, conn, base, token)
        tiles = z14_tiles(conn)
    # wrk (a C client in its own process) for every HTTP figure, one
    # connection at a time, so the latencies are the server's and not a
    # Python client's sharing this process
    paths = [f"/tiles/grids/14/{x}/{y}.pbf?token={token}" for x, y in tiles]
    # as a browser asks for them: compressed if the server can
    browser = {"Accept-Encoding": "gzip, deflate, br"}
    health = wrk(f"{base}/health", 1, 5, threads=1)
    cache = tile_cache(app)
    budget = cache.max_bytes
    cache.max_bytes = 0  # every tile evicted as soon as it is stored: each request renders
    uncached = wrk(base, 1, 5, lua_cycle_paths(paths, browser), threads=1)
    cache.max_bytes = budget
    wrk(base, 1, 2, lua_cycle_paths(paths, browser), threads=1)  # fill the cache
    cached = wrk(base, 1, 5, lua_cycle_paths(paths, browser), threads=1)
    print(
        f"z14 grid tiles ({len(tiles)} tiles in turn, HTTP keep-alive, wrk, 1 connection): "
        f"uncached p50 {uncached.p50_ms:.2f} ms (budget < 10 ms), cached p50 {cached.p50_ms:.2f} ms; "
        f"cached {uncached.p50_ms / cached.p50_ms:.1f}x faster (budget >= 5x); "
        f"baseline /health p50 {health.p50_ms:.2f} ms"
    )

    server_side_tiles(url, tiles)

    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        page.goto(f"{base}/static/wangge/wall.css")  # warm the browser process
        times, bare = [], []
        for _ in range(5):
            tile_cache(app).clear()
            page.context.clear_cookies()
            started = time.perf_counter()
            page.goto(f"{base}/maps/district/340111?token={token}")
            page.wait_for_function(DRAWN, polling=20)
            times.append(time.perf_counter() - started)
            started = time.perf_counter()
            page.goto(f"{base}/static/wangge/wall.css")
            bare.append(time.perf_counter() - started)
        browser.close()
    print(
        f"district view fully drawn (grid tiles + case clusters), tile cache cold, median of 5: "
        f"{p50(times):.0f} ms (budget < 3000 ms); "
        f"baseline: a static file navigation {p50(bare):.0f} ms, "
        f"ratio {p50(times) / p50(bare):.0f}x"
    )


if __name__ == "__main__":
    main()
