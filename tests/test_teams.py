"""Nearest teams by true ground distance, checked against brute force with pyproj.Geod; positions."""

from __future__ import annotations

import asyncio

import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pyproj import Geod, Transformer
from shapely.geometry import Point

from layers import teams
from layers.demo.build import District
from layers.teams import TEAM_AREA_MARGIN_M
from tests.conftest import auth

GEOD = Geod(ellps="WGS84")


def _brute_force(conn: psycopg.Connection, lon: float, lat: float, team_type: str) -> list[tuple[int, float]]:
    rows = conn.execute("SELECT id, ST_X(position), ST_Y(position) FROM teams WHERE type = %s AND status = 'free'",
                        (team_type,)).fetchall()
    ids = np.array([r[0] for r in rows])
    lons = np.array([r[1] for r in rows])
    lats = np.array([r[2] for r in rows])
    _, _, dist = GEOD.inv(np.full(len(rows), lon), np.full(len(rows), lat), lons, lats)
    order = np.lexsort((ids, dist))
    return [(int(ids[i]), float(dist[i])) for i in order]


def test_nearest_matches_geodesic_brute_force(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    rng = np.random.default_rng(3)
    for lon, lat in rng.uniform((117.2, 31.65), (117.45, 31.88), size=(60, 2)):
        for team_type in ("city_management", "police_station", "water_affairs"):
            body = client_ro.get("/teams/nearest", params={"lon": lon, "lat": lat, "type": team_type, "k": 5}).json()
            truth = _brute_force(sync_ro, lon, lat, team_type)[:5]
            assert [t["id"] for t in body["teams"]] == [i for i, _ in truth]
            for team, (_, metres) in zip(body["teams"], truth, strict=True):
                assert abs(team["distance_m"] - metres) < 0.5


def test_nearest_in_gcj02_equals_wgs84(client_ro: TestClient) -> None:
    from geo.chinacrs import wgs84_to_gcj02

    lon, lat = 117.31, 31.79
    glon, glat = wgs84_to_gcj02(lon, lat)
    a = client_ro.get("/teams/nearest", params={"lon": lon, "lat": lat, "type": "traffic_police"}).json()
    b = client_ro.get("/teams/nearest",
                      params={"lon": glon, "lat": glat, "crs": "gcj02", "type": "traffic_police"}).json()
    assert [t["id"] for t in a["teams"]] == [t["id"] for t in b["teams"]]


@pytest.mark.parametrize("params", [
    {"lon": 117.3, "lat": 31.8, "type": "wizards"}, {"lon": 117.3, "lat": 31.8, "type": "city_management", "k": 0},
    {"lon": 117.3, "lat": 31.8, "type": "city_management", "k": 51},
    {"lon": "nan", "lat": 31.8, "type": "police_station"},
    {"lon": 117.3, "lat": 31.8}, {"lon": 117.3, "lat": -91, "type": "police_station"},
])
def test_bad_nearest_queries_are_422(client_ro: TestClient, params: dict) -> None:
    assert client_ro.get("/teams/nearest", params=params).status_code == 422


def _positions(conn: psycopg.Connection, ids: range | list[int]) -> dict[int, tuple[float, float]]:
    rows = conn.execute("SELECT id, ST_X(position), ST_Y(position) FROM teams WHERE id = ANY(%s)",
                        (list(ids),)).fetchall()
    return {r[0]: (r[1], r[2]) for r in rows}


def test_move_one_team_and_a_batch(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    with psycopg.connect(demo_rw) as conn:
        before = _positions(conn, range(1, 102))
    # each team a few metres from where it is: well inside its own street
    lon1, lat1 = before[1][0] + 1e-4, before[1][1]
    response = client_rw.put("/teams/1/position", json={"lon": lon1, "lat": lat1}, headers=headers)
    assert response.status_code == 200
    batch = {"positions": [{"id": i, "lon": before[i][0] + 2e-4, "lat": before[i][1]} for i in range(2, 102)]}
    response = client_rw.put("/teams/positions", json=batch, headers=headers)
    assert response.json() == {"updated": 100}
    with psycopg.connect(demo_rw) as conn:
        after = _positions(conn, range(1, 102))
    assert after[1] == pytest.approx((lon1, lat1))
    assert after[50] == pytest.approx((before[50][0] + 2e-4, before[50][1]))


def _east_of_street(conn: psycopg.Connection, team_id: int, metric_epsg: int, metres: float) -> tuple[float, float]:
    """A point ``metres`` due east of the team's street's easternmost point (so exactly that far from it)."""
    wkb = conn.execute("""SELECT ST_AsBinary(s.geom) FROM teams t JOIN streets s ON s.code = t.area_code
                          WHERE t.id = %s""", (team_id,)).fetchone()[0]
    to_metric = Transformer.from_crs(4326, metric_epsg, always_xy=True)
    street = shapely.transform(shapely.from_wkb(bytes(wkb)),
                               lambda xy: np.column_stack(to_metric.transform(xy[:, 0], xy[:, 1])))
    x = street.bounds[2]
    y = next(c[1] for g in street.geoms for c in g.exterior.coords if c[0] == x)
    point = Point(x + metres, y)
    assert street.distance(point) == pytest.approx(metres, abs=0.01)  # the truth the service must agree with
    return Transformer.from_crs(metric_epsg, 4326, always_xy=True).transform(point.x, point.y)


def test_positions_stay_within_the_margin_of_the_teams_area(client_rw: TestClient, demo_rw: str,
                                                            district: District) -> None:
    headers = auth(client_rw, "dispatcher")
    with psycopg.connect(demo_rw) as conn:
        inside = _east_of_street(conn, 7, district.metric_epsg, TEAM_AREA_MARGIN_M - 200)
        outside = _east_of_street(conn, 7, district.metric_epsg, TEAM_AREA_MARGIN_M + 200)
        before = _positions(conn, [7, 8])
    near = client_rw.put("/teams/7/position", json={"lon": inside[0], "lat": inside[1]}, headers=headers)
    assert near.status_code == 200
    far = client_rw.put("/teams/7/position", json={"lon": outside[0], "lat": outside[1]}, headers=headers)
    assert far.status_code == 422 and far.json()["team_ids"] == [7] and "outside its own area" in far.json()["detail"]
    # the example: a dispatcher moving a team to Patagonia; in a batch, nothing moves
    batch = {"positions": [{"id": 8, "lon": before[8][0], "lat": before[8][1] + 1e-4},
                           {"id": 7, "lon": -70, "lat": -45}]}
    response = client_rw.put("/teams/positions", json=batch, headers=headers)
    assert response.status_code == 422 and response.json()["team_ids"] == [7]
    with psycopg.connect(demo_rw) as conn:
        after = _positions(conn, [7, 8])
    assert after[7] == pytest.approx(inside) and after[8] == pytest.approx(before[8])


def test_batch_with_an_unknown_team_moves_nothing(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    with psycopg.connect(demo_rw) as conn:
        lon, lat = _positions(conn, [1])[1]
    batch = {"positions": [{"id": 1, "lon": lon + 1e-4, "lat": lat}, {"id": 99999, "lon": 117.3, "lat": 31.8}]}
    response = client_rw.put("/teams/positions", json=batch, headers=headers)
    assert response.status_code == 404 and 99999 in response.json()["team_ids"]
    with psycopg.connect(demo_rw) as conn:
        assert _positions(conn, [1])[1] == (lon, lat)


def test_positions_need_a_dispatcher_of_the_area(client_rw: TestClient) -> None:
    body = {"lon": 117.3, "lat": 31.8}
    assert client_rw.put("/teams/1/position", json=body).status_code == 401
    assert client_rw.put("/teams/1/position", json=body, headers=auth(client_rw, "planner")).status_code == 403
    # a street area not holding team 1 sees it as unknown, and moves nothing
    other = auth(client_rw, "dispatcher", "340111099")
    assert client_rw.put("/teams/1/position", json=body, headers=other).status_code == 404


@pytest.mark.parametrize("body", [
    {"lon": "nan", "lat": 31.8}, {"lon": 117.3}, {"lon": 117.3, "lat": 31.8, "crs": "nope"},
    {"lon": 117.3, "lat": 31.8, "extra": 1}, {"positions": []},
])
def test_bad_position_bodies_are_422(client_rw: TestClient, body: dict) -> None:
    headers = auth(client_rw, "dispatcher")
    path = "/teams/positions" if "positions" in body else "/teams/1/position"
    assert client_rw.put(path, json=body, headers=headers).status_code == 422


def test_concurrent_batches_over_the_same_teams_never_deadlock(demo_rw: str) -> None:
    """Four consoles sending overlapping batches at once: every batch lands (no deadlock, no 503)."""
    with psycopg.connect(demo_rw) as conn:
        start = _positions(conn, range(1, 301))
    batches = [[teams.Position(i, lon + 1e-5 * (k + 1), lat) for i, (lon, lat) in sorted(start.items())]
               for k in range(4)]

    async def console(batch: list[teams.Position]) -> int:
        async with await psycopg.AsyncConnection.connect(demo_rw, autocommit=True, row_factory=dict_row) as conn:
            return sum([await teams.update_positions(conn, batch, "340111") for _ in range(20)])

    async def all_consoles() -> list[int]:
        return await asyncio.gather(*(console(batch) for batch in batches))

    assert asyncio.run(all_consoles()) == [20 * 300] * 4
