"""Tiles for a GCJ-02 basemap: the same features, shifted vertex by vertex, in GCJ-02's tile grid."""

from __future__ import annotations

import math

import mapbox_vector_tile
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely import wkb

from geo.chinacrs import gcj02_to_wgs84, wgs84_to_gcj02
from geo.shifted_tiles import EXTENT, HALF_WORLD_M, tile_bounds_mercator, wgs84_box_for_gcj_tile
from tests.conftest import auth


def _tile_of(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 1 << z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def _to_lonlat(tile: tuple[int, int, int], px: float, py: float) -> tuple[float, float]:
    # tile pixel (y up, as mapbox_vector_tile decodes) back to lon/lat
    minx, miny, maxx, maxy = tile_bounds_mercator(*tile)
    mx = minx + px / EXTENT * (maxx - minx)
    my = miny + py / EXTENT * (maxy - miny)
    return mx / HALF_WORLD_M * 180, math.degrees(2 * math.atan(math.exp(my / HALF_WORLD_M * math.pi)) - math.pi / 2)


@pytest.fixture(scope="module")
def a_grid(sync_ro: psycopg.Connection) -> tuple[str, shapely.Geometry]:
    row = sync_ro.execute(
        "SELECT code, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL ORDER BY id LIMIT 1 OFFSET 700")
    code, geom = row.fetchone()
    return code, wkb.loads(bytes(geom))


def test_box_holds_every_feature_of_the_tile() -> None:
    for z, (lon, lat) in [(14, (117.3, 31.8)), (10, (117.3, 31.8)), (16, (116.4, 39.9))]:
        x, y = _tile_of(*wgs84_to_gcj02(lon, lat), z)
        w, s, e, n = wgs84_box_for_gcj_tile(z, x, y, 64 / 4096)
        minx, miny, maxx, maxy = tile_bounds_mercator(z, x, y)
        for mx in (minx, maxx):
            for my in (miny, maxy):
                glon = mx / HALF_WORLD_M * 180
                glat = math.degrees(2 * math.atan(math.exp(my / HALF_WORLD_M * math.pi)) - math.pi / 2)
                wlon, wlat = gcj02_to_wgs84(glon, glat)
                assert w < wlon < e and s < wlat < n


def test_gcj02_tile_holds_the_grid_shifted(client_ro: TestClient, a_grid: tuple) -> None:
    code, grid = a_grid
    centre = grid.representative_point()
    glon, glat = wgs84_to_gcj02(centre.x, centre.y)
    z = 15
    x, y = _tile_of(glon, glat, z)
    response = client_ro.get(f"/tiles/grids/{z}/{x}/{y}.pbf", params={"display": "gcj02"},
                             headers=auth(client_ro, "operator"))
    assert response.status_code == 200
    layer = mapbox_vector_tile.decode(response.content)["grids"]
    feature = next(f for f in layer["features"] if f["properties"]["code"] == code)
    rings = feature["geometry"]["coordinates"]
    polygons = rings if feature["geometry"]["type"] == "MultiPolygon" else [rings]
    drawn = shapely.MultiPolygon([shapely.Polygon([_to_lonlat((z, x, y), *p) for p in poly[0]])
                                  for poly in polygons])
    # the drawn outline, taken back from GCJ-02, is the stored grid to well under a metre
    # (within the tile; the rest is clipped away)
    back = shapely.transform(drawn, lambda xy: [gcj02_to_wgs84(a, b) for a, b in xy])
    inside = back.buffer(0).intersection(grid)
    assert inside.area / back.buffer(0).area > 0.999
    # and it is not where the WGS84 tile puts it: hundreds of metres off
    assert shapely.Point(glon, glat).distance(centre) > 0.003


def test_plain_and_gcj02_tiles_are_cached_apart(client_ro: TestClient) -> None:
    headers = auth(client_ro, "operator")
    x, y = _tile_of(117.3, 31.8, 14)
    plain = client_ro.get(f"/tiles/grids/14/{x}/{y}.pbf", headers=headers)
    shifted = client_ro.get(f"/tiles/grids/14/{x}/{y}.pbf", params={"display": "gcj02"}, headers=headers)
    assert plain.status_code == shifted.status_code == 200
    assert plain.headers["etag"] != shifted.headers["etag"]
    assert client_ro.get(f"/tiles/grids/14/{x}/{y}.pbf", params={"display": "mars"},
                         headers=headers).status_code == 422
