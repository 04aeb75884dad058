"""Cases tiles: clusters below zoom 15 or when crowded, counting every open case once; points above."""

from __future__ import annotations

import math

import mapbox_vector_tile
import psycopg
import pytest
from fastapi.testclient import TestClient

from layers.tiles import CLUSTERS_ACROSS, TILE_POINTS_MAX, tile_lonlat_box
from tests.conftest import auth
from tests.test_tiles import lonlat_to_tile

OPEN = "status NOT IN ('closed', 'rejected', 'duplicate')"


def _tile(client: TestClient, z: int, x: int, y: int, area: str = "340111") -> list[dict]:
    r = client.get(f"/tiles/incidents/{z}/{x}/{y}.pbf", headers=auth(client, "operator", area))
    assert r.status_code in (200, 204)
    return mapbox_vector_tile.decode(r.content)["incidents"]["features"] if r.status_code == 200 else []


def _tiles_over(conn: psycopg.Connection, z: int) -> list[tuple[int, int]]:
    w, s, e, n = conn.execute("SELECT ST_XMin(geom), ST_YMin(geom), ST_XMax(geom), ST_YMax(geom) "
                              "FROM districts WHERE code = '340111'").fetchone()  # type: ignore[misc]
    (x0, y0), (x1, y1) = lonlat_to_tile(w, n, z), lonlat_to_tile(e, s, z)
    return [(x, y) for x in range(x0, x1 + 1) for y in range(y0, y1 + 1)]


@pytest.mark.parametrize("z", [11, 12, 13])
def test_low_zoom_tiles_count_every_open_case_once(client_ro: TestClient, sync_ro: psycopg.Connection, z: int) -> None:
    total = sync_ro.execute(f"SELECT count(*) FROM incidents WHERE {OPEN}").fetchone()[0]  # type: ignore[index]
    counted = 0
    for x, y in _tiles_over(sync_ro, z):
        features = _tile(client_ro, z, x, y)
        assert len(features) <= (CLUSTERS_ACROSS + 2) ** 2
        for f in features:
            assert f["properties"]["cluster"] is True and f["properties"]["count"] >= 1
            assert "status" not in f["properties"]
        counted += sum(f["properties"]["count"] for f in features)
        # each cluster's point lies in its own tile (extent 4096, no buffer)
        assert all(0 <= c <= 4096 for f in features for c in f["geometry"]["coordinates"])
    assert counted == total


def test_a_street_token_sees_its_street_clustered(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    street = "340111003"
    total = sync_ro.execute(f"SELECT count(*) FROM incidents WHERE {OPEN} AND street_code = %s",
                            (street,)).fetchone()[0]  # type: ignore[index]
    counted = sum(f["properties"]["count"] for x, y in _tiles_over(sync_ro, 12)
                  for f in _tile(client_ro, 12, x, y, street))
    assert counted == total > 0


def test_crowded_high_zoom_tiles_cluster(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        # pile 1,500 open cases into one spot
        lon, lat = conn.execute(f"SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE {OPEN} LIMIT 1").fetchone()  # type: ignore[misc]
        conn.execute("UPDATE incidents SET status = 'accepted', closed_at = NULL, "
                     "geom = ST_SetSRID(ST_MakePoint(%s + (id %% 30) * 1e-5, %s + (id / 30 %% 30) * 1e-5), 4326) "
                     "WHERE id IN (SELECT id FROM incidents WHERE status = 'closed' ORDER BY id LIMIT 1500)",
                     (lon, lat))
        here = conn.execute(f"SELECT count(*) FROM incidents WHERE {OPEN} AND geom && "
                            "ST_MakeEnvelope(%s, %s, %s, %s, 4326)", tile_lonlat_box(
                                16, *lonlat_to_tile(lon, lat, 16))).fetchone()[0]  # type: ignore[index]
    assert here > TILE_POINTS_MAX
    x, y = lonlat_to_tile(lon, lat, 16)
    features = _tile(client_rw, 16, x, y)
    assert features and all(f["properties"].get("cluster") for f in features)
    assert len(features) <= (CLUSTERS_ACROSS + 2) ** 2
    # a quiet tile at the same zoom still holds cases
    with psycopg.connect(demo_rw) as conn:
        far = conn.execute(f"SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE {OPEN} AND "
                           "ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography) > 3000 "
                           "LIMIT 1", (lon, lat)).fetchone()
    assert far is not None and math.isfinite(far[0])
    quiet = _tile(client_rw, 16, *lonlat_to_tile(far[0], far[1], 16))
    assert quiet and all("status" in f["properties"] for f in quiet)
