"""Nearest teams by true ground distance, checked against brute force with pyproj.Geod; positions."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

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


def test_move_one_team_and_a_batch(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    response = client_rw.put("/teams/1/position", json={"lon": 117.3, "lat": 31.8}, headers=headers)
    assert response.status_code == 200
    batch = {"positions": [{"id": i, "lon": 117.3 + i * 1e-4, "lat": 31.8} for i in range(2, 102)]}
    response = client_rw.put("/teams/positions", json=batch, headers=headers)
    assert response.json() == {"updated": 100}
    with psycopg.connect(demo_rw) as conn:
        rows = dict(conn.execute("SELECT id, ST_X(position) FROM teams WHERE id BETWEEN 1 AND 101").fetchall())
    assert rows[1] == pytest.approx(117.3) and rows[50] == pytest.approx(117.3 + 50e-4)


def test_batch_with_an_unknown_team_moves_nothing(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    batch = {"positions": [{"id": 1, "lon": 117.0, "lat": 31.0}, {"id": 99999, "lon": 117.3, "lat": 31.8}]}
    response = client_rw.put("/teams/positions", json=batch, headers=headers)
    assert response.status_code == 404 and 99999 in response.json()["team_ids"]
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT ST_X(position) FROM teams WHERE id = 1").fetchone() != (117.0,)


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
