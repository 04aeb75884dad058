"""The searches a case answer makes, checked by brute force over every row: cameras and duplicates.

Both queries were narrowed so they stay cheap as a city grows (issue 12):
cameras are found through their own reach box (and an index on it, when
the database has one) instead of a box of the largest possible range;
the duplicates' time window is written into the query text so the planner
keeps one plan. The truth here is computed in Python over every camera and
every case of the table, with geodesics from pyproj (not PostGIS), and with
points and cases placed just inside and just outside each limit: a camera's
range along its heading, the listing radius, a category's radius and window.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, timedelta

import numpy as np
import psycopg
import pytest
from psycopg.rows import dict_row
from pyproj import Geod

from layers import loop
from layers.catalogue import category
from layers.incidents import duplicates
from layers.sensing import cameras
from layers.territory import box_degrees

GEOD = Geod(ellps="WGS84")
HOME = (117.3050, 31.8200)
# how close to a limit a value may be before the two computations could disagree on it
EDGE_M = 0.001
EDGE_DEG = 1e-6


@pytest.fixture(scope="module")
def dense(pg_cluster: object, demo_template: str) -> Iterator[str]:
    """A demo copy with 400 more cameras around HOME: ranges up to the 2 km limit, every kind of sector."""
    from tests.conftest import _clone

    name, url = _clone(pg_cluster, demo_template)  # type: ignore[arg-type]
    rng = np.random.default_rng(12)
    n = 400
    lons, lats, _ = GEOD.fwd(np.full(n, HOME[0]), np.full(n, HOME[1]), rng.uniform(0, 360, n),
                             2500 * np.sqrt(rng.uniform(0, 1, n)))
    reach = np.where(rng.uniform(size=n) < 0.1, 2000.0, rng.uniform(5, 2000, n))
    fov = np.where(rng.uniform(size=n) < 0.1, 360.0, rng.uniform(1, 180, n))
    with psycopg.connect(url, autocommit=True) as conn:
        for i in range(n):
            conn.execute("""
                INSERT INTO cameras (code, name, kind, heading_deg, fov_deg, range_m, geom)
                VALUES (%s, %s, 'fixed', %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                         (f"DENSE-{i}", f"dense {i}", float(rng.uniform(0, 360)), float(fov[i]), float(reach[i]),
                          float(lons[i]), float(lats[i])))
        conn.execute("ANALYZE cameras")
    yield url
    pg_cluster.drop_database(name)  # type: ignore[attr-defined]


def _all_cameras(url: str) -> dict[str, np.ndarray]:
    """Every camera of the table, column by column."""
    with psycopg.connect(url) as conn:
        rows = np.array(conn.execute("SELECT id, ST_X(geom), ST_Y(geom), heading_deg, fov_deg, range_m "
                                     "FROM cameras ORDER BY id").fetchall(), dtype=float)
    return {name: rows[:, j] for j, name in enumerate(("id", "lon", "lat", "heading", "fov", "range"))}


def _truth(cams: dict[str, np.ndarray], lon: float, lat: float, within: cameras.Around) -> list[int] | None:
    """The ids ``around`` must list, by brute force over every camera; None when a camera sits on a limit."""
    n = len(cams["id"])
    az, _, dist = GEOD.inv(cams["lon"], cams["lat"], np.full(n, lon), np.full(n, lat))
    off = np.abs((np.asarray(az) % 360 - cams["heading"] + 180) % 360 - 180)
    dist = np.asarray(dist)
    sees = (dist <= cams["range"]) & ((dist < cameras.SEEN_AT_CAMERA_M) | (cams["fov"] >= 360)
                                      | (off <= cams["fov"] / 2))
    on_edge = (np.abs(dist - cams["range"]) < EDGE_M) | (np.abs(dist - within.r) < EDGE_M) | (
        (np.abs(off - cams["fov"] / 2) < EDGE_DEG) & (dist <= cams["range"] + EDGE_M) & (cams["fov"] < 360))
    if on_edge.any():
        return None
    listed = np.flatnonzero(sees | (dist <= within.r))
    ranked = sorted(listed, key=lambda i: (not sees[i], dist[i], cams["id"][i]))
    return [int(cams["id"][i]) for i in ranked[:within.k]]


def _edge_points(cams: dict[str, np.ndarray], rng: np.random.Generator, count: int) -> list[tuple[float, float]]:
    """Points half a metre inside and outside the far end of cameras' sectors, and of the listing radius."""
    near = np.flatnonzero(np.hypot(cams["lon"] - HOME[0], cams["lat"] - HOME[1]) < 0.03)
    points = []
    for i in rng.choice(near, count, replace=False):
        for distance in (cams["range"][i] - 0.5, cams["range"][i] + 0.5, 299.5, 300.5):
            lon, lat, _ = GEOD.fwd(cams["lon"][i], cams["lat"][i], cams["heading"][i], distance)
            points.append((float(lon), float(lat)))
    return points


async def _around_all(url: str, points: list[tuple[float, float]], within: cameras.Around) -> list[list[int]]:
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        conn.row_factory = dict_row  # type: ignore[assignment]
        return [[c["id"] for c in await cameras.around(conn, lon, lat, within)] for lon, lat in points]


def _compare(url: str, points: list[tuple[float, float]], within: cameras.Around) -> int:
    cams = _all_cameras(url)
    found = asyncio.run(_around_all(url, points, within))
    compared = 0
    for (lon, lat), got in zip(points, found, strict=True):
        expected = _truth(cams, lon, lat, within)
        if expected is not None:
            compared += 1
            assert got == expected, (lon, lat)
    return compared


def _index_definition(conn: psycopg.Connection) -> str | None:
    row = conn.execute("SELECT pg_get_indexdef(to_regclass('cameras_reach_gist'))").fetchone()
    return None if row is None else row[0]


def _plan_indexes(url: str) -> str:
    lon, lat = HOME
    params = {"lon": lon, "lat": lat, "r": 300.0, "k": 5, "same_place": cameras.SEEN_AT_CAMERA_M,
              "box_deg": box_degrees(lat, cameras.MAX_RANGE_M), "box_r": box_degrees(lat, 300.0)}
    with psycopg.connect(url) as conn:
        return "\n".join(row[0] for row in conn.execute("EXPLAIN " + cameras._AROUND, params))


def test_cameras_around_equal_a_brute_force_over_every_camera(dense: str) -> None:
    rng = np.random.default_rng(3)
    az, dist = rng.uniform(0, 360, 300), 2600 * np.sqrt(rng.uniform(0, 1, 300))
    lons, lats, _ = GEOD.fwd(np.full(300, HOME[0]), np.full(300, HOME[1]), az, dist)
    points = [(float(x), float(y)) for x, y in zip(lons, lats, strict=True)]
    points += _edge_points(_all_cameras(dense), rng, 60)
    with psycopg.connect(dense, autocommit=True) as conn:
        migrated = _index_definition(conn)
        conn.execute("DROP INDEX IF EXISTS cameras_reach_gist")
    # without the reach index (the point index serves both boxes) and with it
    for indexed in (False, True):
        if indexed:
            with psycopg.connect(dense, autocommit=True) as conn:
                conn.execute(cameras.REACH_INDEX)
                conn.execute("ANALYZE cameras")
                # the migration (0010) must make this very index, or the query cannot use it
                assert migrated is not None and migrated == _index_definition(conn)
            assert "cameras_reach_gist" in _plan_indexes(dense)  # the query's expression is the index's
        for within in (cameras.LINKED, cameras.Around(r=300.0, k=40), cameras.Around(r=2500.0, k=20)):
            assert _compare(dense, points, within) > 0.95 * len(points)


def test_a_camera_sees_half_a_metre_inside_its_range_and_not_half_a_metre_beyond(dense: str) -> None:
    """The limit the reach box must hold: the far end of a sector, along the camera's heading."""
    cams = _all_cameras(dense)
    chosen = [i for i in range(len(cams["id"])) if cams["fov"][i] < 360 and cams["range"][i] > 1000
              and np.hypot(cams["lon"][i] - HOME[0], cams["lat"][i] - HOME[1]) < 0.02][:15]
    assert len(chosen) >= 10
    for i in chosen:
        ends = [GEOD.fwd(cams["lon"][i], cams["lat"][i], cams["heading"][i], cams["range"][i] + step)[:2]
                for step in (-0.5, 0.5)]
        inside, beyond = asyncio.run(_around_all(dense, [(float(x), float(y)) for x, y in ends],
                                                 cameras.Around(r=1.0, k=1000)))
        assert int(cams["id"][i]) in inside
        assert int(cams["id"][i]) not in beyond


def _place_cases(url: str, code: str, radius: float, hours: int) -> tuple[float, float]:
    """Cases of ``code`` around a point just inside and outside its radius and window, open and closed."""
    center = (117.2950, 31.8050)
    now = datetime.now().astimezone()
    rows = []
    for k, distance in enumerate((0.0, radius - 0.5, radius + 0.5, radius / 2)):
        lon, lat, _ = GEOD.fwd(center[0], center[1], 37.0 * k, distance)
        for age, status, closed_age in (
                (hours * 60 - 5, "accepted", None), (hours * 60 + 5, "accepted", None),
                (60, "handling", None), (60, "closed", 30), (hours * 60 - 5, "closed", hours * 60 - 10),
                (hours * 60 + 60, "closed", hours * 60 + 5), (30, "rejected", 20), (30, "duplicate", 20)):
            reported = now - timedelta(minutes=age)
            closed = None if closed_age is None else now - timedelta(minutes=closed_age)
            rows.append((lon, lat, status, reported, closed))
    with psycopg.connect(url, autocommit=True) as conn:
        for lon, lat, status, reported, closed in rows:
            conn.execute("""
                INSERT INTO incidents (district_code, category_code, channel, raw_x, raw_y, raw_crs, geom,
                                       status, reported_at, deadline, closed_at)
                VALUES ('340111', %s, 'hotline', %s, %s, 'wgs84', ST_SetSRID(ST_MakePoint(%s, %s), 4326),
                        %s, %s, %s, %s)""", (code, lon, lat, lon, lat, status, reported,
                                             reported + timedelta(days=30), closed))
    return center


def _expected_duplicates(url: str, code: str, radius: float, hours: int, lon: float, lat: float) -> list[int]:
    with psycopg.connect(url) as conn:
        now = conn.execute("SELECT now()").fetchone()[0]  # type: ignore[index]
        rows = conn.execute("SELECT id, ST_X(geom), ST_Y(geom), status, reported_at, closed_at FROM incidents "
                            "WHERE category_code = %s", (code,)).fetchall()
    window = timedelta(hours=hours)
    found = []
    for case_id, x, y, status, reported, closed in rows:
        distance = GEOD.inv(x, y, lon, lat)[2]
        recent = reported > now - window
        live = status in loop.OPEN_STATES or (status == "closed" and closed is not None and closed > now - window)
        if distance <= radius and recent and live:
            found.append((round(distance, 1), case_id))
    return [case_id for _, case_id in sorted(found)[:10]]


@pytest.mark.parametrize("code", ["01.03", "04.03", "03.01", "06.01"])  # windows of 24, 2, 72 and 168 hours
def test_duplicates_equal_a_brute_force_over_every_case(demo_rw: str, code: str) -> None:
    async def cat() -> tuple[float, int]:
        async with await psycopg.AsyncConnection.connect(demo_rw) as conn:
            conn.row_factory = dict_row  # type: ignore[assignment]
            entry = await category(conn, code)
            return entry.duplicate_radius_m, entry.duplicate_window_hours

    radius, hours = asyncio.run(cat())
    center = _place_cases(demo_rw, code, radius, hours)
    rng = np.random.default_rng(5)
    # the centre, then points around it: the placed cases fall in and out of their radius
    lons, lats, _ = GEOD.fwd(np.full(12, center[0]), np.full(12, center[1]), rng.uniform(0, 360, 12),
                             rng.uniform(0, 2 * radius, 12))
    points = [center, *zip(lons.tolist(), lats.tolist(), strict=True)]

    async def search() -> list[list[int]]:
        async with await psycopg.AsyncConnection.connect(demo_rw, autocommit=True) as conn:
            conn.row_factory = dict_row  # type: ignore[assignment]
            entry = await category(conn, code)
            # twice over: the later calls run the prepared statement's kept plan
            return [[d["id"] for d in await duplicates(conn, entry, lon, lat)] for lon, lat in points * 2]

    found = asyncio.run(search())
    expected = [_expected_duplicates(demo_rw, code, radius, hours, lon, lat) for lon, lat in points]
    assert found == expected * 2
    # at the centre: three spots within the radius with four live cases each, ten listed at most
    assert len(expected[0]) == 10
