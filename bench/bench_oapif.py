"""Benchmark OGC API - Features as GDAL reads it, and building tiles limited by an area's outline.

Runs its own PostGIS (embedded cluster in a temporary folder, durable as a
user runs it), builds the demo city, serves wangge with uvicorn on loopback
and prints, per layer, GDAL's OAPIF driver counting and reading every
feature beside the same rows fetched as GeoJSON straight from PostGIS:

    .venv/bin/python -m bench.bench_oapif
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import math
import statistics
import time

import psycopg
import pyogrio

from bench.common import served, throwaway_demo
from layers import tiles as tile_sql
from layers.cluster import free_port
from layers.db import open_pool
from layers.registry import LAYERS
from layers.rows import one_row
from layers.tiles import BUFFER, EXTENT, SIMPLIFY_EXTENT_UNITS, TILE_SOURCES, render_tile, tile_address


def _baseline_s(url: str, layer: str) -> float:
    spec = LAYERS[layer]
    where = "WHERE valid_to IS NULL" if spec.current_only else ""
    started = time.perf_counter()
    with psycopg.connect(url) as conn:
        rows = conn.execute(f"SELECT ST_AsGeoJSON(t.*)::text FROM {spec.table} t {where}").fetchall()
        [json.loads(r[0]) for r in rows]
    return time.perf_counter() - started


def gdal_reads(url: str, base: str) -> None:
    source = f"OAPIF:{base}/"
    print(f"{'layer':<22}{'features':>9}{'count s':>9}{'read s':>9}{'features/s':>12}{'PostGIS s':>11}{'ratio':>7}")
    for layer in LAYERS:
        started = time.perf_counter()
        count = pyogrio.read_info(source, layer=layer, force_feature_count=True)["features"]
        counted = time.perf_counter() - started
        started = time.perf_counter()
        frame = pyogrio.read_dataframe(source, layer=layer)
        read = time.perf_counter() - started
        assert len(frame) == count
        baseline = _baseline_s(url, layer)
        print(f"{layer:<22}{count:>9}{counted:>9.2f}{read:>9.2f}{count / read:>12.0f}{baseline:>11.2f}"
              f"{read / baseline:>7.1f}")


async def building_tiles(url: str) -> None:
    """Uncached z15 building tiles: the district's (outline test over the district) vs a community's."""
    pool = await open_pool(url, 1, 1)
    async with pool.connection() as conn:
        cur = await conn.execute("SELECT code FROM communities ORDER BY code LIMIT 1")
        community = (await cur.fetchone())["code"]  # type: ignore[index]
        cur = await conn.execute(
            "SELECT ST_X(ST_Centroid(geom)) lon, ST_Y(ST_Centroid(geom)) lat FROM communities WHERE code = %s",
            (community,))
        centre = await cur.fetchone()
        lon, lat = centre["lon"], centre["lat"]  # type: ignore[index]
        k = 1 << 15
        x0 = int((lon + 180) / 360 * k)
        y0 = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * k)
        tiles = [tile_address("buildings", 15, x0 + dx, y0 + dy) for dx in (-1, 0, 1) for dy in (-1, 0, 1)]
        # baseline: the same tile query with every building counted in (no outline test), as before #9
        unlimited = tile_sql._tile_query(dataclasses.replace(TILE_SOURCES["buildings"], area_code="%(area)s"))
        width_m = 40075016.685578488 / (1 << 15)

        async def unlimited_tile(conn: psycopg.AsyncConnection, tile: tile_sql.TileAddress, area: str) -> None:
            await one_row(conn, unlimited, {"z": 15, "x": tile.x, "y": tile.y, "area": area, "margin": BUFFER / EXTENT,
                                            "tolerance": width_m / EXTENT * SIMPLIFY_EXTENT_UNITS})

        for name, render, area in (("no area limit (baseline)", unlimited_tile, "340111"),
                                   ("district outline", render_tile, "340111"),
                                   ("community outline", render_tile, community)):
            samples = []
            for _ in range(5):
                for tile in tiles:
                    started = time.perf_counter()
                    await render(conn, tile, area)
                    samples.append(time.perf_counter() - started)
            print(f"z15 building tile render, {name:<26}: p50 {statistics.median(samples) * 1000:6.2f} ms "
                  f"({len(samples)} renders of {len(tiles)} tiles)")
    await pool.close()


def main() -> None:
    with throwaway_demo(durable=True) as url, served(url, port=free_port(), workers=1) as base:
        gdal_reads(url, base)
        asyncio.run(building_tiles(url))


if __name__ == "__main__":
    main()
