"""Who sees what: cases in full only for a token whose area covers them; building tiles and live
feeds only within the token's area (buildings by the area's outline, checked against PostGIS)."""

from __future__ import annotations

from datetime import timedelta

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient
from shapely import wkb
from shapely.geometry import box, shape

from tests.conftest import auth
from tests.test_tiles import lonlat_to_tile

PUBLIC = {"category_code", "status", "grid_code"}
SNAP = 0.001


def _cases(client: TestClient, headers: dict[str, str] | None = None, query: str = "limit=10000") -> list[dict]:
    body = client.get(f"/collections/incidents/items?{query}", headers=headers or {}).json()
    return body["features"]


@pytest.fixture(scope="module")
def truth(sync_ro: psycopg.Connection) -> dict[int, tuple[float, float, str]]:
    """Every case's stored point and the code of its smallest area, straight from PostGIS."""
    rows = sync_ro.execute(
        "SELECT id, ST_X(geom), ST_Y(geom), coalesce(community_code, street_code, district_code) FROM incidents"
    ).fetchall()
    return {r[0]: (r[1], r[2], r[3]) for r in rows}


def _on_lattice(value: float) -> bool:
    return abs(value / SNAP - round(value / SNAP)) < 1e-6


def test_anonymous_readers_get_the_public_view(client_ro: TestClient,
                                               truth: dict[int, tuple[float, float, str]]) -> None:
    features = _cases(client_ro)
    assert len(features) == len(truth)
    for f in features:
        assert set(f["properties"]) == PUBLIC
        lon, lat = f["geometry"]["coordinates"]
        assert _on_lattice(lon) and _on_lattice(lat)
        true_lon, true_lat, _ = truth[f["id"]]
        assert abs(lon - true_lon) <= SNAP / 2 + 1e-9 and abs(lat - true_lat) <= SNAP / 2 + 1e-9
    moved = sum(f["geometry"]["coordinates"] != list(truth[f["id"]][:2]) for f in features)
    assert moved > 0.99 * len(features)
    text = client_ro.get("/collections/incidents/items?limit=50").text
    assert "description" not in text and "raw_x" not in text and "address" not in text


def test_a_covering_token_sees_everything(client_ro: TestClient, truth: dict[int, tuple[float, float, str]]) -> None:
    features = _cases(client_ro, auth(client_ro, "operator", "340111"))
    assert len(features) == len(truth)
    for f in features:
        assert {"description", "address", "raw_x", "raw_y", "raw_crs", "reported_at"} <= set(f["properties"])
        assert f["geometry"]["coordinates"] == pytest.approx(truth[f["id"]][:2], abs=1e-7)


def test_another_areas_token_sees_only_its_own_cases_in_full(
        client_ro: TestClient, truth: dict[int, tuple[float, float, str]], sync_ro: psycopg.Connection) -> None:
    row = sync_ro.execute("SELECT street_code FROM incidents WHERE street_code IS NOT NULL "
                          "GROUP BY 1 ORDER BY count(*) DESC LIMIT 1").fetchone()
    assert row is not None
    street = row[0]
    features = _cases(client_ro, auth(client_ro, "dispatcher", street))
    full = {f["id"] for f in features if "description" in f["properties"]}
    reduced = {f["id"] for f in features if set(f["properties"]) == PUBLIC}
    assert full | reduced == set(truth) and not full & reduced
    assert full == {i for i, (_, _, code) in truth.items() if code.startswith(street)}
    assert reduced  # other streets' cases exist and stay reduced


def test_single_case_follows_the_same_rule(client_ro: TestClient, truth: dict[int, tuple[float, float, str]]) -> None:
    case_id = min(truth)
    code = truth[case_id][2]
    anonymous = client_ro.get(f"/collections/incidents/items/{case_id}").json()
    assert set(anonymous["properties"]) == PUBLIC
    other = "340111999" if not code.startswith("340111999") else "340111998"
    assert set(client_ro.get(f"/collections/incidents/items/{case_id}",
                             headers=auth(client_ro, "operator", other)).json()["properties"]) == PUBLIC
    covering = client_ro.get(f"/collections/incidents/items/{case_id}", headers=auth(client_ro, "operator", code))
    assert "description" in covering.json()["properties"]
    assert covering.json()["geometry"]["coordinates"] == pytest.approx(truth[case_id][:2], abs=1e-7)


def test_small_boxes_cannot_find_the_true_point(client_ro: TestClient,
                                                truth: dict[int, tuple[float, float, str]]) -> None:
    # a box of a few metres around the stored point, away from the lattice point shown
    hidden = 0
    for case_id, (lon, lat, _) in sorted(truth.items())[:40]:
        snapped = (round(lon / SNAP) * SNAP, round(lat / SNAP) * SNAP)
        tiny = box(lon - 0.00002, lat - 0.00002, lon + 0.00002, lat + 0.00002)
        if tiny.contains(shape({"type": "Point", "coordinates": snapped})):
            continue
        query = "bbox={},{},{},{}".format(*tiny.bounds)
        assert case_id not in {f["id"] for f in _cases(client_ro, query=query)}
        assert case_id in {f["id"] for f in _cases(client_ro, auth(client_ro, "operator", "340111"), query)}
        hidden += 1
    assert hidden > 30


def test_a_bad_token_is_401_not_the_public_view(client_ro: TestClient) -> None:
    response = client_ro.get("/collections/incidents/items", headers={"Authorization": "Bearer nope.nope"})
    assert response.status_code == 401


@pytest.fixture(scope="module")
def edge_tile(sync_ro: psycopg.Connection) -> tuple[str, int, int]:
    """A community and a z15 tile holding buildings both inside and outside it."""
    rows = sync_ro.execute("""
        SELECT c.code, ST_X(ST_Centroid(b.geom)), ST_Y(ST_Centroid(b.geom))
        FROM communities c JOIN buildings b ON ST_Intersects(b.geom, c.geom)
        WHERE ST_DWithin(b.geom, ST_Boundary(c.geom), 0.001)  -- candidates only: near an edge
        ORDER BY c.code, b.id LIMIT 100""").fetchall()
    for code, lon, lat in rows:
        x, y = lonlat_to_tile(lon, lat, 15)
        inside, outside = sync_ro.execute("""
            SELECT count(*) FILTER (WHERE ST_Intersects(b.geom, c.geom)),
                   count(*) FILTER (WHERE NOT ST_Intersects(b.geom, c.geom))
            FROM buildings b, communities c
            WHERE c.code = %s AND b.geom && ST_Transform(ST_TileEnvelope(15, %s, %s), 4326)""",
            (code, x, y)).fetchone()
        if inside and outside:
            return code, x, y
    raise AssertionError("no tile with buildings on both sides of a community boundary")


def test_building_tiles_hold_only_the_areas_buildings(client_ro: TestClient, sync_ro: psycopg.Connection,
                                                      edge_tile: tuple[str, int, int]) -> None:
    community, x, y = edge_tile
    response = client_ro.get(f"/tiles/buildings/15/{x}/{y}.pbf", headers=auth(client_ro, "operator", community))
    assert response.status_code == 200
    shown = {f["id"] for f in mapbox_vector_tile.decode(response.content)["buildings"]["features"]}
    outline = wkb.loads(bytes(sync_ro.execute("SELECT ST_AsBinary(geom) FROM communities WHERE code = %s",
                                              (community,)).fetchone()[0]))  # type: ignore[index]
    in_tile = sync_ro.execute("""
        SELECT id, ST_AsBinary(geom) FROM buildings
        WHERE geom && ST_Transform(ST_TileEnvelope(15, %s, %s, margin => 64.0 / 4096), 4326)""",
        (x, y)).fetchall()
    # independent truth: shapely against the community's outline
    expected = {i for i, g in in_tile if wkb.loads(bytes(g)).intersects(outline)}
    assert shown and shown <= expected
    assert len(shown) >= 0.9 * len(expected)  # a few may be clipped away at the tile's edge
    assert len(expected) < len(in_tile)
    district = client_ro.get(f"/tiles/buildings/15/{x}/{y}.pbf", headers=auth(client_ro, "operator", "340111"))
    assert len(mapbox_vector_tile.decode(district.content)["buildings"]["features"]) > len(shown)


def test_live_feeds_stay_inside_the_tokens_area(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    row = sync_ro.execute("SELECT code, ST_AsBinary(geom) FROM streets ORDER BY code LIMIT 1").fetchone()
    assert row is not None
    street, outline = row[0], wkb.loads(bytes(row[1]))
    headers = auth(client_ro, "operator", street)
    everywhere = "bbox=116,31,119,33"
    for layer in ("cameras", "waterlogging", "stall_zones"):
        features = client_ro.get(f"/live/{street}/{layer}?{everywhere}", headers=headers).json()["features"]
        assert all(shape(f["geometry"]).intersects(outline) for f in features), layer
    cases = client_ro.get(f"/live/{street}/cases?{everywhere}", headers=headers).json()["features"]
    assert cases and all(f["properties"]["grid_code"].startswith(street) for f in cases)
    other = sync_ro.execute("SELECT code FROM streets WHERE code <> %s LIMIT 1", (street,)).fetchone()[0]  # type: ignore[index]
    assert client_ro.get(f"/live/{other}/cases?{everywhere}", headers=headers).status_code == 403


def test_narrow_time_windows_cannot_find_the_report_time(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    rows = sync_ro.execute("SELECT id, reported_at FROM incidents WHERE extract(minute FROM reported_at) BETWEEN 5 "
                           "AND 55 ORDER BY id LIMIT 5").fetchall()
    assert rows
    for case_id, reported in rows:
        window = {"datetime": f"{(reported - timedelta(seconds=1)).isoformat()}/"
                              f"{(reported + timedelta(seconds=1)).isoformat()}", "limit": 10000}
        anonymous = client_ro.get("/collections/incidents/items", params=window).json()["features"]
        assert case_id not in {f["id"] for f in anonymous}
        covering = client_ro.get("/collections/incidents/items", params=window,
                                 headers=auth(client_ro, "operator", "340111")).json()["features"]
        assert case_id in {f["id"] for f in covering}
