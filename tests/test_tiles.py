"""Vector tiles: decoded features and extents, 204/304/422, ETags and cache invalidation."""

from __future__ import annotations

import math

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.errors import InvalidInput, NotFound
from layers.tiles import EXTENT, CachedTile, TileCache, tile_address
from tests.conftest import auth as operator_headers
from tests.conftest import eventually

DISTRICT = "340111"


def lonlat_to_tile(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def auth(client: TestClient, area: str = DISTRICT) -> dict[str, str]:
    return operator_headers(client, "operator", area)


@pytest.fixture(scope="module")
def grid_point(sync_ro: psycopg.Connection) -> tuple[float, float, str]:
    """A point inside one current grid, and the grid's code."""
    row = sync_ro.execute(
        "SELECT ST_X(p), ST_Y(p), code FROM (SELECT ST_PointOnSurface(geom) p, code "
        "FROM grids WHERE valid_to IS NULL ORDER BY code LIMIT 1) g"
    ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def test_tile_address_validates_ranges() -> None:
    assert tile_address("grids", 14, 13_000, 6_000).z == 14
    with pytest.raises(InvalidInput):
        tile_address("grids", 2, 4, 0)
    with pytest.raises(InvalidInput):
        tile_address("grids", 23, 0, 0)
    with pytest.raises(InvalidInput):
        tile_address("grids", 3, -1, 0)
    with pytest.raises(NotFound):
        tile_address("secrets", 3, 0, 0)


def test_tile_cache_serves_only_its_version_and_evicts_by_bytes() -> None:
    cache = TileCache(max_bytes=10)
    cache.put(("a",), CachedTile(1, b"12345", '"a"'))
    assert cache.get(("a",), 1) is not None
    assert cache.get(("a",), 2) is None  # the layer changed: a miss
    cache.put(("b",), CachedTile(1, b"123456", '"b"'))
    assert len(cache) == 1 and cache.get(("a",), 1) is None


def test_grid_tile_decodes_to_the_grid_inside_its_extent(
    client_ro: TestClient, grid_point: tuple[float, float, str]
) -> None:
    lon, lat, code = grid_point
    x, y = lonlat_to_tile(lon, lat, 14)
    r = client_ro.get(f"/tiles/grids/14/{x}/{y}.pbf", headers=auth(client_ro))
    assert r.status_code == 200
    assert r.headers["content-type"] == "application/vnd.mapbox-vector-tile"
    assert r.headers["etag"] and "private" in r.headers["cache-control"]
    tile = mapbox_vector_tile.decode(r.content)
    layer = tile["grids"]
    assert layer["extent"] == EXTENT
    codes = {f["properties"]["code"] for f in layer["features"]}
    assert code in codes
    for feature in layer["features"]:
        assert feature["geometry"]["type"] in ("Polygon", "MultiPolygon")
        assert feature["properties"]["code"].startswith(DISTRICT)
        # clipped to the tile plus its 64-unit buffer
        flat = str(feature["geometry"]["coordinates"]).replace("[", "").replace("]", "").split(",")
        values = [float(v) for v in flat if v.strip()]
        assert all(-64 <= v <= EXTENT + 64 for v in values)


def test_tile_is_limited_to_the_callers_area(
    client_ro: TestClient, grid_point: tuple[float, float, str]
) -> None:
    lon, lat, code = grid_point
    x, y = lonlat_to_tile(lon, lat, 14)
    r = client_ro.get(f"/tiles/grids/14/{x}/{y}.pbf", headers=auth(client_ro, code[:12]))
    codes = {
        f["properties"]["code"] for f in mapbox_vector_tile.decode(r.content)["grids"]["features"]
    }
    assert codes and all(c.startswith(code[:12]) for c in codes)


def test_empty_tiles_are_204(client_ro: TestClient) -> None:
    assert client_ro.get("/tiles/grids/14/0/0.pbf", headers=auth(client_ro)).status_code == 204
    # buildings are not drawn below zoom 15
    assert (
        client_ro.get("/tiles/buildings/10/853/415.pbf", headers=auth(client_ro)).status_code == 204
    )


@pytest.mark.parametrize(
    "path",
    [
        "/tiles/grids/23/0/0.pbf",
        "/tiles/grids/3/8/0.pbf",
        "/tiles/grids/3/0/-1.pbf",
        "/tiles/grids/x/0/0.pbf",
        "/tiles/grids/99999999999999999999/0/0.pbf",
    ],
)
def test_out_of_range_tiles_are_422(client_ro: TestClient, path: str) -> None:
    r = client_ro.get(path, headers=auth(client_ro))
    assert r.status_code == 422, r.text


def test_unknown_layer_is_404_and_no_token_is_401(client_ro: TestClient) -> None:
    assert client_ro.get("/tiles/people/3/0/0.pbf", headers=auth(client_ro)).status_code == 404
    assert client_ro.get("/tiles/grids/3/0/0.pbf").status_code == 401


def test_etag_answers_304(client_ro: TestClient, grid_point: tuple[float, float, str]) -> None:
    x, y = lonlat_to_tile(grid_point[0], grid_point[1], 13)
    first = client_ro.get(f"/tiles/grids/13/{x}/{y}.pbf", headers=auth(client_ro))
    again = client_ro.get(
        f"/tiles/grids/13/{x}/{y}.pbf",
        headers={**auth(client_ro), "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304 and again.content == b""


def test_a_change_to_the_layer_invalidates_the_cached_tile(
    client_rw: TestClient, demo_rw: str
) -> None:
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        row = conn.execute(
            "SELECT ST_X(p), ST_Y(p), id FROM (SELECT ST_PointOnSurface(geom) p, id "
            "FROM grids WHERE valid_to IS NULL ORDER BY id LIMIT 1) g"
        ).fetchone()
        assert row is not None
        lon, lat, grid_id = row
        x, y = lonlat_to_tile(lon, lat, 15)
        url = f"/tiles/grids/15/{x}/{y}.pbf"
        before = client_rw.get(url, headers=auth(client_rw))
        assert client_rw.get(url, headers=auth(client_rw)).headers["etag"] == before.headers["etag"]
        conn.execute("UPDATE grids SET name = 'renamed grid' WHERE id = %s", (grid_id,))
    # the change notice reaches the app a moment after the commit
    after = eventually(lambda: client_rw.get(url, headers=auth(client_rw)),
                       lambda r: r.headers["etag"] != before.headers["etag"])
    assert after.headers["etag"] != before.headers["etag"]
    names = {
        f["properties"]["name"]
        for f in mapbox_vector_tile.decode(after.content)["grids"]["features"]
    }
    assert "renamed grid" in names


def test_case_tiles_hold_open_cases_only(
    client_ro: TestClient, sync_ro: psycopg.Connection
) -> None:
    row = sync_ro.execute(
        "SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE status = 'accepted' ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    x, y = lonlat_to_tile(row[0], row[1], 15)  # below 15: clusters (tests/test_case_tiles.py)
    r = client_ro.get(f"/tiles/incidents/15/{x}/{y}.pbf", headers=auth(client_ro))
    features = mapbox_vector_tile.decode(r.content)["incidents"]["features"]
    assert features and all(f["geometry"]["type"] == "Point" for f in features)
    assert {f["properties"]["status"] for f in features} <= {
        "accepted",
        "dispatched",
        "handling",
        "feedback",
        "verified",
    }


def test_building_tiles_at_high_zoom(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    row = sync_ro.execute(
        "SELECT ST_X(ST_Centroid(geom)), ST_Y(ST_Centroid(geom)) FROM buildings ORDER BY id LIMIT 1"
    ).fetchone()
    assert row is not None
    x, y = lonlat_to_tile(row[0], row[1], 16)
    r = client_ro.get(f"/tiles/buildings/16/{x}/{y}.pbf", headers=auth(client_ro))
    assert r.status_code == 200
    assert mapbox_vector_tile.decode(r.content)["buildings"]["features"]
