"""The cache-hit fast path answers exactly as the tile route does, and only for what it is sure of."""

from __future__ import annotations

import gzip

import mapbox_vector_tile
from fastapi.testclient import TestClient

from api.tilereply import tile_cache
from tests.conftest import auth

# a z14 tile over the middle of Baohe
TILE = "/tiles/grids/14/13530/6669.pbf"


def _hits(client: TestClient) -> int:
    return tile_cache(client.app).hits


def test_a_hit_is_the_same_reply_as_the_route_gave(client_rw: TestClient) -> None:
    headers = auth(client_rw, "operator")
    first = client_rw.get(TILE, headers=headers)  # rendered by the route
    hits = _hits(client_rw)
    again = client_rw.get(TILE, headers=headers)  # answered before the route
    assert first.status_code == again.status_code == 200
    assert _hits(client_rw) == hits  # the route never saw the second request
    assert again.content == first.content and again.headers["etag"] == first.headers["etag"]
    for name in ("content-type", "cache-control", "vary"):
        assert again.headers[name] == first.headers[name]
    assert mapbox_vector_tile.decode(again.content)["grids"]["features"]


def test_hits_honour_etags_and_gzip(client_rw: TestClient) -> None:
    headers = auth(client_rw, "operator")
    first = client_rw.get(TILE, headers=headers)
    not_modified = client_rw.get(TILE, headers={**headers, "If-None-Match": first.headers["etag"]})
    assert not_modified.status_code == 304 and not_modified.content == b""
    raw = client_rw.get(TILE, headers={**headers, "Accept-Encoding": "gzip"})
    assert raw.headers["content-encoding"] == "gzip"
    assert raw.content == first.content  # httpx undid the gzip: the same tile
    assert len(gzip.compress(first.content)) < len(first.content)


def test_the_fast_path_never_skips_the_token_or_the_area(client_rw: TestClient) -> None:
    district = auth(client_rw, "operator")
    client_rw.get(TILE, headers=district)
    client_rw.get(TILE, headers=district)  # cached for the district
    assert client_rw.get(TILE).status_code == 401
    assert client_rw.get(TILE, headers={"Authorization": "Bearer forged.token"}).status_code == 401
    # a street's token has its own cache entry, filtered to its area
    codes = {f["properties"]["code"] for f in mapbox_vector_tile.decode(
        client_rw.get(TILE, headers=district).content)["grids"]["features"]}
    street = sorted(codes)[0][:9]
    mine = client_rw.get(TILE, headers=auth(client_rw, "operator", street))
    street_codes = {f["properties"]["code"] for f in mapbox_vector_tile.decode(mine.content)["grids"]["features"]}
    assert street_codes and all(code.startswith(street) for code in street_codes)
    assert street_codes < codes or len(codes) == len(street_codes)


def test_head_on_a_cached_tile_is_the_hit_without_a_body(client_rw: TestClient) -> None:
    headers = auth(client_rw, "operator")
    first = client_rw.get(TILE, headers=headers)
    head = client_rw.head(TILE, headers=headers)
    assert head.status_code == 200 and head.content == b""
    assert head.headers["etag"] == first.headers["etag"]
    assert head.headers["content-length"] == first.headers["content-length"]
