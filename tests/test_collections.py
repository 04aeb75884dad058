"""OGC API - Features layer reads: listing, bbox, limit, paging, RFC 7946, bad input."""

from __future__ import annotations

import math

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from shapely.geometry import box, shape

from layers.registry import LAYERS

BBOX = (117.26, 31.76, 117.30, 31.80)


def test_collections_lists_every_layer(client_ro: TestClient) -> None:
    body = client_ro.get("/collections").json()
    ids = {c["id"] for c in body["collections"]}
    assert ids == {"districts", "streets", "communities", "grids", "buildings", "cameras",
                   "waterlogging_points", "sensors", "stall_zones", "teams", "incidents"}
    for c in body["collections"]:
        assert any(link["rel"] == "items" for link in c["links"])


def test_collection_extent_is_inside_china(client_ro: TestClient) -> None:
    w, s, e, n = client_ro.get("/collections/grids").json()["extent"]["spatial"]["bbox"][0]
    assert 117 < w < e < 118 and 31 < s < n < 32


def test_items_meet_the_bbox_and_match_postgis_count(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    # page through with next links, as a client would
    url = "/collections/grids/items?bbox={},{},{},{}&limit=37".format(*BBOX)
    seen: list[dict] = []
    while url:
        page = client_ro.get(url)
        assert page.status_code == 200
        assert page.headers["content-type"].startswith("application/geo+json")
        body = page.json()
        assert body["numberReturned"] == len(body["features"]) <= 37
        seen.extend(body["features"])
        nxt = [link["href"] for link in body["links"] if link["rel"] == "next"]
        url = nxt[0] if nxt else ""
    area = box(*BBOX)
    assert all(shape(f["geometry"]).intersects(area) for f in seen)
    assert len({f["id"] for f in seen}) == len(seen)
    row = sync_ro.execute(
        "SELECT count(*) FROM grids WHERE valid_to IS NULL AND ST_Intersects(geom, ST_MakeEnvelope(%s,%s,%s,%s,4326))",
        BBOX).fetchone()
    assert row is not None and len(seen) == row[0] > 37


def test_polygons_are_rfc7946_counter_clockwise(client_ro: TestClient) -> None:
    body = client_ro.get("/collections/communities/items?limit=20").json()
    assert body["features"]
    for f in body["features"]:
        for polygon in shape(f["geometry"]).geoms:
            assert polygon.exterior.is_ccw
            assert all(not ring.is_ccw for ring in polygon.interiors)


@pytest.mark.parametrize("layer", sorted(LAYERS))
def test_every_layer_reads_as_geojson(client_ro: TestClient, layer: str) -> None:
    body = client_ro.get(f"/collections/{layer}/items?limit=3").json()
    assert body["type"] == "FeatureCollection"
    assert 1 <= len(body["features"]) <= 3
    for f in body["features"]:
        assert shapely.is_valid(shape(f["geometry"]))
        assert "geom" not in f["properties"] and "address_key" not in f["properties"]
        lon, lat = shape(f["geometry"]).representative_point().coords[0]
        assert math.isfinite(lon) and 116 < lon < 119 and 31 < lat < 33


@pytest.mark.parametrize("query", [
    "bbox=1,2,3", "bbox=a,b,c,d", "bbox=nan,31,117,32", "bbox=117,31,inf,32", "bbox=118,31,117,32",
    "bbox=117,95,118,96", "bbox=-181,31,117,32", "limit=0", "limit=x", "offset=-1",
    "bbox=" + ",".join(["1"] * 400), "f=xml", "color=red", "bbox=a%00b",
])
def test_bad_parameters_are_400(client_ro: TestClient, query: str) -> None:
    # OGC API - Features wants 400 here, where the rest of wangge says 422
    response = client_ro.get(f"/collections/grids/items?{query}")
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] and body["code"]
    assert "Traceback" not in response.text and "SELECT" not in response.text


def test_unknown_collection_is_404(client_ro: TestClient) -> None:
    response = client_ro.get("/collections/secrets/items")
    assert response.status_code == 404
    assert "secrets" in response.json()["detail"]
