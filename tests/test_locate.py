"""Locate against independent truth: shapely on the same polygons, shared edges, vertices, outside."""

from __future__ import annotations

import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely import wkb

from geo.chinacrs import wgs84_to_bd09, wgs84_to_gcj02
from geo.crs import from_wgs84, parse_crs


@pytest.fixture(scope="module")
def grids(sync_ro: psycopg.Connection) -> dict[str, shapely.Geometry]:
    rows = sync_ro.execute("SELECT code, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL").fetchall()
    return {code: wkb.loads(bytes(g)) for code, g in rows}


def _locate(client: TestClient, lon: float, lat: float, crs: str = "wgs84") -> dict:
    response = client.get("/locate", params={"lon": lon, "lat": lat, "crs": crs})
    assert response.status_code == 200, response.text
    return response.json()


def test_random_points_match_shapely(client_ro: TestClient, grids: dict) -> None:
    codes = list(grids)
    tree = shapely.STRtree([grids[c] for c in codes])
    district = shapely.union_all(list(grids.values()))
    w, s, e, n = district.bounds
    rng = np.random.default_rng(7)
    checked = 0
    for lon, lat in rng.uniform((w, s), (e, n), size=(1500, 2)):
        hits = [codes[i] for i in tree.query(shapely.Point(lon, lat), predicate="covered_by")]
        response = client_ro.get("/locate", params={"lon": lon, "lat": lat})
        if not hits:
            assert response.status_code == 404
            continue
        assert response.status_code == 200
        assert response.json()["grid"]["code"] == min(hits)
        checked += 1
    assert checked > 500


def _shared_edge(grids: dict) -> tuple[str, str, shapely.LineString]:
    codes = sorted(grids)
    for a in codes:
        for b in codes:
            if a < b and grids[a].touches(grids[b]):
                shared = shapely.line_merge(grids[a].boundary.intersection(grids[b].boundary))
                line = shared if shared.geom_type == "LineString" else shared.geoms[0]
                if line.length > 1e-4:
                    return a, b, line
    raise AssertionError("no two grids share an edge")


def test_point_on_shared_edge_belongs_to_exactly_one_grid(client_ro: TestClient, grids: dict) -> None:
    a, b, line = _shared_edge(grids)
    point = line.interpolate(0.5, normalized=True)
    # the midpoint is on the edge up to floating point: shapely says which grids cover it
    covering = sorted(code for code in (a, b) if grids[code].covers(point))
    answers = [_locate(client_ro, point.x, point.y) for _ in range(3)]
    assert {body["grid"]["code"] for body in answers} == {covering[0]}
    body = answers[0]
    assert body["near_boundary"] is True
    assert body["neighbour"]["code"] == ({a, b} - {covering[0]}).pop()
    assert body["neighbour"]["distance_m"] < 0.01


def test_point_on_a_vertex_goes_to_the_lowest_covering_code(client_ro: TestClient, grids: dict) -> None:
    _, _, line = _shared_edge(grids)
    vertex = shapely.Point(line.coords[0])
    covering = sorted(code for code, g in grids.items() if g.covers(vertex))
    assert len(covering) >= 2
    body = _locate(client_ro, vertex.x, vertex.y)
    assert body["grid"]["code"] == covering[0]
    assert body["neighbour"]["distance_m"] == 0.0


def test_near_boundary_flag_follows_distance(client_ro: TestClient, grids: dict) -> None:
    code = sorted(grids)[10]
    inner = grids[code].buffer(-0.0005)  # ~50 m inside every edge
    lon, lat = inner.representative_point().coords[0]
    far = _locate(client_ro, lon, lat)
    assert far["grid"]["code"] == code and far["near_boundary"] is False and far["neighbour"] is None


def test_outside_the_territory_is_404(client_ro: TestClient) -> None:
    response = client_ro.get("/locate", params={"lon": 116.397, "lat": 39.909})  # Beijing
    assert response.status_code == 404
    assert "outside" in response.json()["detail"]


def test_same_place_in_every_coordinate_system(client_ro: TestClient, grids: dict) -> None:
    code = sorted(grids)[100]
    lon, lat = grids[code].buffer(-0.0005).representative_point().coords[0]
    gk_x, gk_y = from_wgs84(lon, lat, parse_crs("EPSG:4548"))
    for x, y, crs in [(lon, lat, "wgs84"), (lon, lat, "cgcs2000"), (*wgs84_to_gcj02(lon, lat), "gcj02"),
                      (*wgs84_to_bd09(lon, lat), "bd09"), (gk_x, gk_y, "EPSG:4548")]:
        body = _locate(client_ro, x, y, crs)
        assert body["grid"]["code"] == code, crs
        assert abs(body["point"]["lon"] - lon) < 1e-6 and abs(body["point"]["lat"] - lat) < 1e-6


def test_gcj02_input_read_as_wgs84_lands_elsewhere(client_ro: TestClient, grids: dict) -> None:
    # why crs matters: the GCJ offset moves a point by hundreds of metres
    code = sorted(grids)[100]
    lon, lat = grids[code].buffer(-0.0005).representative_point().coords[0]
    glon, glat = wgs84_to_gcj02(lon, lat)
    response = client_ro.get("/locate", params={"lon": glon, "lat": glat})
    assert response.status_code == 404 or response.json()["grid"]["code"] != code


@pytest.mark.parametrize("params", [
    {"lon": "nan", "lat": 31.8}, {"lon": 117.3, "lat": "inf"}, {"lon": 117.3, "lat": 91},
    {"lon": 181, "lat": 31.8}, {"lon": 117.3, "lat": 31.8, "crs": "EPSG:999999"},
    {"lon": 117.3, "lat": 31.8, "crs": "mars"}, {"lon": 2.35, "lat": 48.85, "crs": "gcj02"},
    {"lon": 117.3}, {"lon": "117,3", "lat": 31.8}, {"lon": 1e308, "lat": 31.8, "crs": "EPSG:4548"},
])
def test_bad_points_are_422(client_ro: TestClient, params: dict) -> None:
    response = client_ro.get("/locate", params=params)
    assert response.status_code == 422
    assert response.json()["detail"]
