"""CORS on the read routes for the configured origins only; preflights; the tile cache-hit path too."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.tilereply import tile_cache
from tests.conftest import auth, make_client

ALLOWED = "https://map.example.org"
REFUSED = "https://evil.example.com"
TILE = "/tiles/grids/14/13530/6669.pbf"
READS = ["/", "/conformance", "/collections", "/collections/grids/items?limit=2", "/tiles/grids.json",
         "/locate?lon=117.30&lat=31.80", "/catalogue", "/geocode?q=宁国路"]


@pytest.fixture(scope="module")
def cors_client(demo_ro: str) -> Iterator[TestClient]:
    with make_client(demo_ro, cors_origins=f"{ALLOWED}, https://other.example.org/") as client:
        yield client


@pytest.mark.parametrize("path", READS)
def test_allowed_origin_gets_the_headers(cors_client: TestClient, path: str) -> None:
    response = cors_client.get(path, headers={"Origin": ALLOWED})
    assert response.status_code in (200, 404)  # geocode may find no exact address; CORS applies either way
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "Origin" in response.headers["vary"]
    assert "ETag" in response.headers["access-control-expose-headers"]


@pytest.mark.parametrize("path", READS)
def test_refused_origin_gets_no_headers(cors_client: TestClient, path: str) -> None:
    response = cors_client.get(path, headers={"Origin": REFUSED})
    assert "access-control-allow-origin" not in response.headers


def test_no_origins_by_default(client_ro: TestClient) -> None:
    response = client_ro.get("/collections", headers={"Origin": ALLOWED})
    assert response.status_code == 200 and "access-control-allow-origin" not in response.headers
    preflight = client_ro.options(TILE, headers={"Origin": ALLOWED, "Access-Control-Request-Method": "GET"})
    assert preflight.status_code == 403 and preflight.json()["code"] == "cors_refused"


def test_preflight_for_a_tile_with_a_token(cors_client: TestClient) -> None:
    response = cors_client.options(TILE, headers={
        "Origin": ALLOWED, "Access-Control-Request-Method": "GET",
        "Access-Control-Request-Headers": "authorization, if-none-match"})
    assert response.status_code == 204
    assert response.headers["access-control-allow-origin"] == ALLOWED
    assert "GET" in response.headers["access-control-allow-methods"]
    assert "authorization" in response.headers["access-control-allow-headers"].lower()
    assert int(response.headers["access-control-max-age"]) > 0


@pytest.mark.parametrize(("origin", "method", "headers"), [
    (REFUSED, "GET", ""),
    (ALLOWED, "POST", ""),
    (ALLOWED, "GET", "x-secret"),
])
def test_refused_preflights_are_json_403(cors_client: TestClient, origin: str, method: str, headers: str) -> None:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = headers
    response = cors_client.options("/collections/grids/items", headers=asked)
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == "cors_refused" and body["detail"]
    assert "access-control-allow-origin" not in response.headers


def test_writes_stay_same_origin(cors_client: TestClient) -> None:
    response = cors_client.post("/incidents", json={}, headers={"Origin": ALLOWED})
    assert "access-control-allow-origin" not in response.headers
    preflight = cors_client.options("/incidents", headers={"Origin": ALLOWED, "Access-Control-Request-Method": "POST"})
    assert "access-control-allow-origin" not in preflight.headers


def test_tile_cache_hits_carry_the_headers(cors_client: TestClient) -> None:
    headers = {**auth(cors_client, "operator"), "Origin": ALLOWED}
    first = cors_client.get(TILE, headers=headers)  # rendered by the route
    hits = tile_cache(cors_client.app).hits
    again = cors_client.get(TILE, headers=headers)  # answered by the cache-hit path, before the route
    assert tile_cache(cors_client.app).hits == hits
    assert first.status_code == again.status_code == 200
    for response in (first, again):
        assert response.headers["access-control-allow-origin"] == ALLOWED
        assert "Origin" in response.headers["vary"]


def test_live_feeds_answer_cross_origin(cors_client: TestClient) -> None:
    response = cors_client.get("/live/340111/teams?bbox=117,31.5,117.6,32",
                               headers={**auth(cors_client, "operator"), "Origin": ALLOWED})
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == ALLOWED
