"""TileJSON 3.0 per tile layer, and MVT feature ids."""

from __future__ import annotations

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.tiles import CLUSTER_FIELDS, TILE_SOURCES
from tests.conftest import auth
from tests.test_tiles import lonlat_to_tile


@pytest.fixture(scope="module")
def middle(sync_ro: psycopg.Connection) -> tuple[float, float]:
    row = sync_ro.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) p FROM districts) d").fetchone()
    assert row is not None
    return row[0], row[1]


@pytest.mark.parametrize("layer", sorted(TILE_SOURCES))
def test_tilejson_describes_the_layer(client_ro: TestClient, sync_ro: psycopg.Connection, layer: str,
                                      middle: tuple[float, float]) -> None:
    response = client_ro.get(f"/tiles/{layer}.json")
    assert response.status_code == 200
    doc = response.json()
    assert doc["tilejson"] == "3.0.0" and doc["scheme"] == "xyz"
    assert doc["tiles"] == [f"http://testserver/tiles/{layer}/{{z}}/{{x}}/{{y}}.pbf"]
    assert doc["minzoom"] == TILE_SOURCES[layer].min_zoom and doc["maxzoom"] == 22
    extent = sync_ro.execute(f"SELECT ST_XMin(e), ST_YMin(e), ST_XMax(e), ST_YMax(e) "
                             f"FROM (SELECT ST_Extent(geom) e FROM {layer}) x").fetchone()
    assert doc["bounds"] == pytest.approx(list(extent or ()))
    (vector_layer,) = doc["vector_layers"]
    assert vector_layer["id"] == layer
    # the fields are what a real tile carries, fetched through the template
    z = max(15, doc["minzoom"])
    x, y = lonlat_to_tile(*middle, z)
    url = doc["tiles"][0].replace("http://testserver", "").format(z=z, x=x, y=y)
    tile = client_ro.get(url, headers=auth(client_ro, "operator"))
    # cases tiles may carry clusters (count, cluster) instead of cases
    columns = set(TILE_SOURCES[layer].columns) | (set(CLUSTER_FIELDS) if layer == "incidents" else set())
    if tile.status_code == 204:  # no open case under the middle: the fields still name the source's columns
        assert set(vector_layer["fields"]) == columns
        return
    features = mapbox_vector_tile.decode(tile.content)[layer]["features"]
    carried = set().union(*(f["properties"] for f in features))
    assert carried <= set(vector_layer["fields"])
    assert set(vector_layer["fields"]) <= columns


def test_tilejson_for_a_gcj02_basemap_keeps_the_display(client_ro: TestClient) -> None:
    doc = client_ro.get("/tiles/grids.json?display=gcj02").json()
    assert doc["tiles"][0].endswith("/tiles/grids/{z}/{x}/{y}.pbf?display=gcj02")


def test_unknown_tile_layer_has_no_tilejson(client_ro: TestClient) -> None:
    response = client_ro.get("/tiles/secrets.json")
    assert response.status_code == 404 and response.json()["code"] == "not_found"


@pytest.mark.parametrize("display", ["wgs84", "gcj02"])
def test_tile_features_carry_their_row_id(client_ro: TestClient, sync_ro: psycopg.Connection,
                                          middle: tuple[float, float], display: str) -> None:
    x, y = lonlat_to_tile(*middle, 15)
    tile = client_ro.get(f"/tiles/buildings/15/{x}/{y}.pbf?display={display}", headers=auth(client_ro, "operator"))
    features = mapbox_vector_tile.decode(tile.content)["buildings"]["features"]
    assert features
    ids = [f["id"] for f in features]
    assert all(f["id"] == f["properties"]["id"] for f in features)
    addresses = dict(sync_ro.execute("SELECT id, address FROM buildings WHERE id = ANY(%s)", (ids,)).fetchall())
    assert all(addresses[f["id"]] == f["properties"]["address"] for f in features)
