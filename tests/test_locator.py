"""The in-memory grid index agrees with the SQL locate, and follows changes to the grids."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from geo.locator import GridIndex, metres_per_degree
from layers.db import open_pool
from layers.errors import OutsideTerritory
from layers.territory import current_grids, locate
from tests.conftest import eventually

GEOD = Geod(ellps="WGS84")


def test_metres_per_degree_matches_the_geodesic() -> None:
    for lat in (0.0, 31.8, 60.0):
        kx, ky = metres_per_degree(lat)
        # a small step, so the local scale is the whole story
        assert abs(GEOD.inv(117.0, lat, 117.0 + 1e-4, lat)[2] - kx * 1e-4) < 1e-6
        assert abs(GEOD.inv(117.0, lat, 117.0, lat + 1e-4)[2] - ky * 1e-4) < 1e-6


@pytest.fixture(scope="module")
def sql_and_memory(demo_ro: str):
    async def both(points: np.ndarray, near_m: float) -> list[tuple[object, object]]:
        pool = await open_pool(demo_ro, 1, 1)
        try:
            async with pool.connection() as conn:
                index = GridIndex(await current_grids(conn))
                pairs = []
                for lon, lat in points:
                    try:
                        by_sql = await locate(conn, float(lon), float(lat), near_m)
                    except OutsideTerritory:
                        by_sql = None
                    pairs.append((by_sql, index.locate(float(lon), float(lat), near_m)))
                return pairs
        finally:
            await pool.close()

    return lambda points, near_m=5.0: asyncio.run(both(points, near_m))


def test_memory_and_sql_agree_on_random_points(sql_and_memory) -> None:
    rng = np.random.default_rng(11)
    points = rng.uniform((117.2, 31.62), (117.48, 31.9), size=(1200, 2))
    pairs = sql_and_memory(points)
    assert sum(1 for s, _ in pairs if s is not None) > 300
    for by_sql, by_memory in pairs:
        if by_sql is None:
            assert by_memory is None
            continue
        assert by_memory is not None
        assert (by_memory.grid_code, by_memory.community_code, by_memory.street_code) == (
            by_sql.grid_code, by_sql.community_code, by_sql.street_code)


def test_memory_and_sql_agree_near_boundaries(sql_and_memory, sync_ro: psycopg.Connection) -> None:
    # points on and just beside grid vertices: edges, ties and near-boundary flags
    rows = sync_ro.execute("""
        SELECT ST_X(p.geom), ST_Y(p.geom) FROM (
            SELECT (ST_DumpPoints(geom)).geom FROM grids WHERE valid_to IS NULL ORDER BY id LIMIT 400) AS p
        LIMIT 300""").fetchall()
    base = np.array(rows)
    rng = np.random.default_rng(5)
    jitter = rng.normal(0, 3e-5, size=base.shape)  # a few metres
    pairs = sql_and_memory(np.vstack([base, base + jitter]), 20.0)
    flagged = 0
    for by_sql, by_memory in pairs:
        assert (by_sql is None) == (by_memory is None)
        if by_sql is None:
            continue
        assert by_memory.grid_code == by_sql.grid_code
        assert by_memory.neighbour_code == by_sql.neighbour_code
        if by_sql.distance_m is not None:
            flagged += 1
            assert abs(by_memory.distance_m - by_sql.distance_m) < 0.01
    assert flagged > 100


def test_api_index_follows_a_grid_change(client_rw: TestClient, demo_rw: str) -> None:
    lon, lat = 117.30, 31.80
    before = client_rw.get("/locate", params={"lon": lon, "lat": lat}).json()["grid"]
    with psycopg.connect(demo_rw) as conn:
        conn.execute("UPDATE grids SET name = 'renamed' WHERE code = %s AND valid_to IS NULL", (before["code"],))
    after = eventually(lambda: client_rw.get("/locate", params={"lon": lon, "lat": lat}).json()["grid"],
                       lambda grid: grid["name"] == "renamed")
    assert after == {"code": before["code"], "name": "renamed"}
    assert before["name"] != "renamed"
