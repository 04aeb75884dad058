"""Cameras: who sees a point, checked against an independent computation; around ordering; heartbeats.

The independent truth for "can this camera see the point" is a local
tangent plane: both places to Earth-centred Cartesian coordinates (pyproj,
EPSG:4979 → 4978), the difference rotated into east-north-up at the camera,
bearing ``atan2(east, north)`` and distance ``hypot(east, north)``. Over a
few hundred metres that differs from the geodesic by far less than the
margins used here (0.02° and 0.05 m), and it shares no code with PostGIS.
Points closer than the margins to a sector's edge are ambiguous and left
out of the comparison; the test asserts that most points were compared.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator

import numpy as np
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg.rows import dict_row
from pyproj import Geod, Transformer

from api.settings import Settings
from geo.chinacrs import wgs84_to_gcj02
from geo.sector import Sector, sector_ring
from layers.sensing import cameras
from tests.conftest import auth, eventually, make_client

GEOD = Geod(ellps="WGS84")
TO_ECEF = Transformer.from_crs(4979, 4978, always_xy=True)
# a spot in Baohe's dense north
HOME = (117.3050, 31.8200)
ANGLE_MARGIN_DEG = 0.02
DISTANCE_MARGIN_M = 0.05

# (code, heading, fov, range): the 0/360 wrap from both sides, a full circle, a narrow one
TEST_CAMERAS = (
    ("TC-N", 0.0, 60.0, 120.0),
    ("TC-WRAP", 350.0, 40.0, 150.0),
    ("TC-359", 359.9, 10.0, 200.0),
    ("TC-E", 90.0, 90.0, 80.0),
    ("TC-SW", 225.0, 30.0, 250.0),
    ("TC-ALL", 123.0, 360.0, 60.0),
    ("TC-NARROW", 181.0, 2.0, 300.0),
)


def enu(lon0: float, lat0: float, lons: np.ndarray, lats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """East and north (m) of points from ``lon0``/``lat0`` in its local tangent plane."""
    x0, y0, z0 = TO_ECEF.transform(lon0, lat0, 0.0)
    x, y, z = TO_ECEF.transform(lons, lats, np.zeros_like(lons))
    dx, dy, dz = np.asarray(x) - x0, np.asarray(y) - y0, np.asarray(z) - z0
    lam, phi = math.radians(lon0), math.radians(lat0)
    east = -math.sin(lam) * dx + math.cos(lam) * dy
    north = -math.sin(phi) * math.cos(lam) * dx - math.sin(phi) * math.sin(lam) * dy + math.cos(phi) * dz
    return east, north


def truth(camera: tuple[float, float, float, float, float], lons: np.ndarray, lats: np.ndarray
          ) -> tuple[np.ndarray, np.ndarray]:
    """(sees, ambiguous) for each point, by the tangent plane."""
    lon0, lat0, heading, fov, reach = camera
    east, north = enu(lon0, lat0, lons, lats)
    distance = np.hypot(east, north)
    bearing = np.degrees(np.arctan2(east, north)) % 360
    off = np.abs((bearing - heading + 180) % 360 - 180)
    in_angle = np.ones_like(off, dtype=bool) if fov >= 360 else off <= fov / 2
    sees = (distance <= reach) & in_angle
    ambiguous = np.abs(distance - reach) < DISTANCE_MARGIN_M
    if fov < 360:
        ambiguous |= (np.abs(off - fov / 2) < ANGLE_MARGIN_DEG) & (distance <= reach + DISTANCE_MARGIN_M)
    return sees, ambiguous


def _place_cameras(url: str, specs: tuple[tuple[str, float, float, float], ...] = TEST_CAMERAS,
                   at: tuple[float, float] = HOME) -> dict[str, tuple[float, float, float, float, float]]:
    """Store the test cameras side by side 1 m apart, near ``at``; return code → (lon, lat, heading, fov, range)."""
    placed = {}
    with psycopg.connect(url, autocommit=True) as conn:
        for i, (code, heading, fov, reach) in enumerate(specs):
            lon, lat, _ = GEOD.fwd(at[0], at[1], 90.0, float(i))
            conn.execute("""
                INSERT INTO cameras (code, name, kind, online, heading_deg, fov_deg, range_m, stream_url, geom)
                VALUES (%s, %s, 'fixed', true, %s, %s, %s, %s, ST_SetSRID(ST_MakePoint(%s, %s), 4326))""",
                         (code, code, heading, fov, reach, f"rtsp://10.0.0.{i}/live", lon, lat))
            placed[code] = (lon, lat, heading, fov, reach)
    return placed


@pytest.fixture(scope="module")
def placed(pg_cluster: object, demo_template: str) -> Iterator[tuple[str, dict]]:
    """A demo copy with the test cameras, shared by the read-only tests of this module."""
    from tests.conftest import _clone

    name, url = _clone(pg_cluster, demo_template)  # type: ignore[arg-type]
    yield url, _place_cameras(url)
    pg_cluster.drop_database(name)  # type: ignore[attr-defined]


async def _seen_by_sql(url: str, points: np.ndarray) -> list[set[str]]:
    # dict rows, as the service's pool gives them
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        conn.row_factory = dict_row  # type: ignore[assignment]
        out = []
        for lon, lat in points:
            found = await cameras.around(conn, float(lon), float(lat), cameras.Around(r=1.0, k=100))
            out.append({c["code"] for c in found if c["sees"] and c["code"].startswith("TC-")})
        return out


def _random_points(rng: np.random.Generator, n: int, reach_m: float = 320.0) -> np.ndarray:
    """Points spread over a disc around HOME: bearings uniform, distances up to ``reach_m``."""
    az = rng.uniform(0, 360, n)
    dist = reach_m * np.sqrt(rng.uniform(0, 1, n))
    lons, lats, _ = GEOD.fwd(np.full(n, HOME[0]), np.full(n, HOME[1]), az, dist)
    return np.column_stack([lons, lats])


def test_who_sees_matches_the_tangent_plane(placed: tuple[str, dict]) -> None:
    url, specs = placed
    points = _random_points(np.random.default_rng(10), 1500)
    seen = asyncio.run(_seen_by_sql(url, points))
    compared = disagreements = positives = 0
    for code, camera in specs.items():
        sees, ambiguous = truth(camera, points[:, 0], points[:, 1])
        for i in np.flatnonzero(~ambiguous):
            compared += 1
            positives += bool(sees[i])
            disagreements += bool(sees[i]) != (code in seen[i])
    assert disagreements == 0
    assert compared > 0.99 * len(points) * len(specs)
    assert positives > 200  # both answers happen often, so the comparison says something


def _just(camera: tuple[float, float, float, float, float], bearing: float, distance: float) -> tuple[float, float]:
    lon, lat, _ = GEOD.fwd(camera[0], camera[1], bearing, distance)
    return float(lon), float(lat)


def test_hand_made_edges_and_the_wrap(placed: tuple[str, dict]) -> None:
    url, specs = placed
    wrap, north, narrow, full = specs["TC-WRAP"], specs["TC-N"], specs["TC-NARROW"], specs["TC-ALL"]
    cases = [  # (camera, bearing, distance, expected)
        ("TC-WRAP", 5.0, 100.0, True), ("TC-WRAP", 9.9, 149.0, True), ("TC-WRAP", 10.2, 100.0, False),
        ("TC-WRAP", 330.2, 100.0, True), ("TC-WRAP", 329.8, 100.0, False), ("TC-WRAP", 0.0, 150.3, False),
        ("TC-WRAP", 170.0, 50.0, False), ("TC-N", 29.9, 119.8, True), ("TC-N", 330.1, 60.0, True),
        ("TC-N", 30.2, 60.0, False), ("TC-N", 0.0, 120.2, False), ("TC-359", 4.8, 190.0, True),
        ("TC-359", 354.95, 190.0, True), ("TC-359", 5.1, 50.0, False), ("TC-NARROW", 181.9, 290.0, True),
        ("TC-NARROW", 182.2, 200.0, False), ("TC-ALL", 300.0, 59.8, True), ("TC-ALL", 300.0, 60.3, False),
    ]
    assert {wrap, north, narrow, full}  # the cameras are placed
    points = np.array([_just(specs[code], b, d) for code, b, d, _ in cases])
    seen = asyncio.run(_seen_by_sql(url, points))
    for (code, bearing, distance, expected), found in zip(cases, seen, strict=True):
        assert (code in found) == expected, (code, bearing, distance)


def test_around_orders_seeing_first_then_nearest(placed: tuple[str, dict]) -> None:
    url, specs = placed
    with make_client(url) as client:
        headers = auth(client, "dispatcher")
        lon, lat = _just(specs["TC-SW"], 225.0, 200.0)  # seen by TC-SW only, 200 m away
        body = client.get("/cameras/around", params={"lon": lon, "lat": lat, "r": 300, "k": 50},
                          headers=headers).json()
    listed = body["cameras"]
    assert listed[0]["code"] == "TC-SW" and listed[0]["sees"] and body["seeing"] >= 1
    flags = [c["sees"] for c in listed]
    assert flags == sorted(flags, reverse=True)  # every seeing camera before every other
    for group in (True, False):
        distances = [c["distance_m"] for c in listed if c["sees"] is group]
        assert distances == sorted(distances)
    others = [c for c in listed if not c["sees"]]
    assert others and all(c["distance_m"] <= 300 for c in others)
    assert {c["code"] for c in others} >= {"TC-N", "TC-E"}  # 200 m off, not looking that way
    for cam in listed:  # distance and bearing as pyproj's geodesic has them
        az, _, dist = GEOD.inv(cam["lon"], cam["lat"], lon, lat)
        assert abs(cam["distance_m"] - dist) < 0.1
        assert abs((cam["bearing_deg"] - az % 360 + 180) % 360 - 180) < 0.1


def test_around_in_gcj02_and_a_projected_crs_is_the_same_point(placed: tuple[str, dict]) -> None:
    url, specs = placed
    lon, lat = _just(specs["TC-N"], 10.0, 50.0)
    glon, glat = wgs84_to_gcj02(lon, lat)
    x, y = Transformer.from_crs(4326, 4548, always_xy=True).transform(lon, lat)
    with make_client(url) as client:
        headers = auth(client, "operator")
        answers = [client.get("/cameras/around", params=p, headers=headers).json() for p in (
            {"lon": lon, "lat": lat}, {"lon": glon, "lat": glat, "crs": "gcj02"},
            {"lon": x, "lat": y, "crs": "EPSG:4548"})]
    codes = [[c["code"] for c in a["cameras"]] for a in answers]
    assert codes[0] == codes[1] == codes[2] and "TC-N" in codes[0]
    assert answers[1]["point"]["crs"] == "gcj02"


def test_sectors_drawn_hold_what_the_camera_sees(placed: tuple[str, dict]) -> None:
    url, specs = placed
    lon, lat = _just(specs["TC-WRAP"], 0.0, 100.0)
    with make_client(url) as client:
        body = client.get("/cameras/around", params={"lon": lon, "lat": lat, "sectors": "true"},
                          headers=auth(client, "dispatcher")).json()
    sector = next(c["sector"] for c in body["cameras"] if c["code"] == "TC-WRAP")
    ring = sector["coordinates"][0]
    assert ring[0] == ring[-1] and sector["type"] == "Polygon"
    cam = specs["TC-WRAP"]
    arc = ring[1:-2]  # apex first and last; the arc between
    for x, y in arc:
        az, _, dist = GEOD.inv(cam[0], cam[1], x, y)
        assert abs(dist - 150.0) < 0.01
        assert abs((az - 350.0 + 180) % 360 - 180) <= 20.0 + 0.01  # 7 decimals: about 1 cm
    # counter-clockwise (RFC 7946): positive shoelace area in local metres
    east, north = enu(cam[0], cam[1], np.array([p[0] for p in ring]), np.array([p[1] for p in ring]))
    assert float(np.sum(east[:-1] * north[1:] - east[1:] * north[:-1])) > 0


def test_full_circle_sector_has_no_apex() -> None:
    ring = sector_ring(Sector(117.3, 31.8, 0.0, 360.0, 50.0), step_deg=10.0)
    assert len(ring) == 37 and ring[0] == ring[-1]
    _, _, dist = GEOD.inv(np.full(37, 117.3), np.full(37, 31.8), [p[0] for p in ring], [p[1] for p in ring])
    assert np.allclose(dist, 50.0, atol=1e-3)


def test_offline_cameras_are_listed_and_marked(client_rw: TestClient, demo_rw: str) -> None:
    specs = _place_cameras(demo_rw, (("TC-OFF", 0.0, 60.0, 100.0),))
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        conn.execute("UPDATE cameras SET online = false WHERE code = 'TC-OFF'")
    lon, lat = _just(specs["TC-OFF"], 0.0, 30.0)
    body = client_rw.get("/cameras/around", params={"lon": lon, "lat": lat}, headers=auth(client_rw, "operator"))
    first = body.json()["cameras"][0]
    assert (first["code"], first["sees"], first["status"], first["online"]) == ("TC-OFF", True, "offline", False)
    assert first["stream_url"] == "rtsp://10.0.0.0/live"


def test_demo_cameras_look_at_their_waterlogging_point(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    points = sync_ro.execute("SELECT name, ST_X(geom), ST_Y(geom) FROM waterlogging_points ORDER BY id").fetchall()
    headers = auth(client_ro, "dispatcher")
    for name, lon, lat in points[:: max(1, len(points) // 20)]:
        body = client_ro.get("/cameras/around", params={"lon": lon, "lat": lat}, headers=headers).json()
        watching = {c["name"] for c in body["cameras"] if c["sees"]}
        assert {f"{name}监控1", f"{name}监控2"} <= watching
        for cam in body["cameras"]:
            if cam["name"].startswith(name):
                assert 25 <= cam["distance_m"] <= 61 and cam["stream_url"]


# -- heartbeats -------------------------------------------------------------------------------


def _state(url: str, code: str) -> tuple[bool, object]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT online, heartbeat_at FROM cameras WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return row[0], row[1]


def test_heartbeat_marks_online_offline_and_reports_unknown(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        conn.execute("UPDATE cameras SET online = false WHERE code IN ('CAM00001', 'CAM00002')")
    body = {"cameras": ["CAM00001", {"code": "CAM00002", "status": "offline"}, {"code": "CAM00003"}, "NOPE"]}
    answer = client_rw.post("/cameras/heartbeat", json=body, headers=auth(client_rw, "operator"))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"updated": 3, "online": 2, "offline": 1, "unknown": ["NOPE"]}
    assert _state(demo_rw, "CAM00001")[0] is True and _state(demo_rw, "CAM00001")[1] is not None
    assert _state(demo_rw, "CAM00002")[0] is False and _state(demo_rw, "CAM00002")[1] is not None
    assert _state(demo_rw, "CAM00004")[1] is None


def test_heartbeat_outside_the_token_area_changes_nothing(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        code, street = conn.execute("""
            SELECT c.code, s.code FROM cameras AS c JOIN streets AS s ON ST_Covers(s.geom, c.geom)
            ORDER BY c.id LIMIT 1""").fetchone()  # type: ignore[misc]
        other = conn.execute("SELECT code FROM streets WHERE code <> %s LIMIT 1", (street,)).fetchone()[0]  # type: ignore[index]
    answer = client_rw.post("/cameras/heartbeat", json={"cameras": [code]}, headers=auth(client_rw, "operator", other))
    assert answer.json()["unknown"] == [code] and answer.json()["updated"] == 0
    assert _state(demo_rw, code)[1] is None
    denied = client_rw.post("/cameras/heartbeat", json={"cameras": [code]}, headers=auth(client_rw, "planner"))
    assert denied.status_code == 403 and denied.json()["code"] == "forbidden"


def test_silent_cameras_go_offline_by_the_sweep(demo_rw: str) -> None:
    settings = {"camera_sweep_every_s": 0.2, "camera_offline_after_s": 1.0}
    with make_client(demo_rw, **settings) as client:
        assert isinstance(client.app.state.settings, Settings)  # type: ignore[attr-defined]
        headers = auth(client, "operator")
        client.post("/cameras/heartbeat", json={"cameras": ["CAM00010", "CAM00011"]}, headers=headers)
        assert _state(demo_rw, "CAM00010")[0] is True
        # CAM00011 keeps beating, CAM00010 falls silent; CAM00012 never beat and keeps its state
        def beat_and_read() -> tuple[bool, bool, bool]:
            client.post("/cameras/heartbeat", json={"cameras": ["CAM00011"]}, headers=headers)
            return _state(demo_rw, "CAM00010")[0], _state(demo_rw, "CAM00011")[0], _state(demo_rw, "CAM00012")[0]
        before = _state(demo_rw, "CAM00012")[0]
        states = eventually(beat_and_read, lambda s: s[0] is False, within_s=15)
    assert states == (False, True, before)
    with make_client(demo_rw) as client:
        around = client.get("/cameras/around", params=dict(zip(("lon", "lat"), _camera_point(demo_rw, "CAM00010"),
                                                                strict=True)), headers=auth(client, "operator"))
    listed = {c["code"]: c["status"] for c in around.json()["cameras"]}
    assert listed["CAM00010"] == "offline"


def _camera_point(url: str, code: str) -> tuple[float, float]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM cameras WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return row[0], row[1]


# -- bad input ---------------------------------------------------------------------------------


@pytest.mark.parametrize("params", [
    {"lon": "abc", "lat": 31.8}, {"lon": 117.3}, {"lon": 117.3, "lat": 31.8, "r": 0},
    {"lon": 117.3, "lat": 31.8, "r": 5001}, {"lon": 117.3, "lat": 31.8, "k": 0},
    {"lon": 117.3, "lat": 31.8, "k": 101}, {"lon": 117.3, "lat": 31.8, "crs": "EPSG:999999"},
    {"lon": 117.3, "lat": 31.8, "crs": "wgs\x0084"}, {"lon": 200, "lat": 31.8}, {"lon": "nan", "lat": 31.8},
    {"lon": 117.3, "lat": 31.8, "sectors": "maybe"}, {"lon": 117.3, "lat": 31.8, "r": "inf"},
])
def test_around_refuses_bad_input(client_ro: TestClient, params: dict) -> None:
    answer = client_ro.get("/cameras/around", params=params, headers=auth(client_ro, "operator"))
    assert 400 <= answer.status_code < 500 and answer.status_code != 404, answer.text
    assert set(answer.json()) >= {"detail", "code"}


def test_around_answers_only_for_a_point_of_the_tokens_area(client_ro: TestClient, demo_ro: str) -> None:
    with psycopg.connect(demo_ro) as conn:
        (lon, lat, street), (olon, olat, other) = conn.execute("""
            SELECT DISTINCT ON (left(g.community_code, 9)) ST_X(ST_PointOnSurface(g.geom)),
                   ST_Y(ST_PointOnSurface(g.geom)), left(g.community_code, 9)
            FROM grids AS g WHERE g.valid_to IS NULL ORDER BY left(g.community_code, 9), g.code LIMIT 2""").fetchall()
    assert street != other
    own = client_ro.get("/cameras/around", params={"lon": lon, "lat": lat, "r": 5000},
                        headers=auth(client_ro, "operator", street))
    assert own.status_code == 200 and own.json()["count"] >= 1
    elsewhere = client_ro.get("/cameras/around", params={"lon": olon, "lat": olat},
                              headers=auth(client_ro, "operator", street))
    assert elsewhere.status_code == 403 and "cameras" not in elsewhere.json()
    nowhere = client_ro.get("/cameras/around", params={"lon": 117.9, "lat": 31.1}, headers=auth(client_ro, "operator"))
    assert nowhere.status_code == 404 and set(nowhere.json()) >= {"detail", "code"}


def test_around_needs_a_token(client_ro: TestClient) -> None:
    answer = client_ro.get("/cameras/around", params={"lon": 117.3, "lat": 31.8})
    assert answer.status_code == 401 and answer.json()["code"] == "unauthenticated"


@pytest.mark.parametrize("body", [
    {}, {"cameras": []}, {"cameras": "CAM00001"}, {"cameras": [""]}, {"cameras": ["CAM\x0001"]},
    {"cameras": [{"code": "CAM00001", "status": "asleep"}]}, {"cameras": [{"code": "CAM00001", "extra": 1}]},
    {"cameras": ["CAM00001"], "status": "online"}, {"cameras": [7]}, {"cameras": ["x" * 65]},
    {"cameras": ["CAM00001"] * 10_001},
])
def test_heartbeat_refuses_bad_input(client_rw: TestClient, demo_rw: str, body: dict) -> None:
    answer = client_rw.post("/cameras/heartbeat", json=body, headers=auth(client_rw, "operator"))
    assert answer.status_code in (413, 422), answer.text
    assert set(answer.json()) >= {"detail", "code"}
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT count(*) FROM cameras WHERE heartbeat_at IS NOT NULL").fetchone() == (0,)


def test_heartbeat_refuses_a_body_that_is_not_json(client_rw: TestClient) -> None:
    answer = client_rw.post("/cameras/heartbeat", content=b"{not json", headers={
        **auth(client_rw, "operator"), "Content-Type": "application/json"})
    assert answer.status_code == 422 and set(answer.json()) >= {"detail", "code"}


def test_an_alarm_answer_lists_the_cameras_watching(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    row = sync_ro.execute("""SELECT s.code, w.name FROM sensors AS s JOIN waterlogging_points AS w ON w.code = s.watches
                             ORDER BY w.code LIMIT 1""").fetchone()
    assert row is not None
    answer = client_ro.get(f"/sensors/{row[0]}", headers=auth(client_ro, "operator"))
    assert answer.status_code == 200, answer.text
    watching = [c["name"] for c in answer.json()["cameras"] if c["sees"]]
    assert {f"{row[1]}监控1", f"{row[1]}监控2"} <= set(watching)
    assert all(c["stream_url"] for c in answer.json()["cameras"])
