"""Grid history: every version of a grid, a community's grids as of a date, locate with ``at``."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from fastapi.testclient import TestClient

from tests.planning_cases import COMMUNITY, GRID_A, grid_code, insert_community
from tests.test_planning_api import auth, split_a


@pytest.fixture
def published(client_rw: TestClient, demo_rw: str) -> TestClient:
    insert_community(demo_rw)
    proposal = split_a(client_rw)
    assert client_rw.post(f"/planning/proposals/{proposal['id']}/publish", headers=auth(client_rw)).status_code == 200
    return client_rw


def test_history_and_as_of(published: TestClient) -> None:
    client = published
    old = client.get(f"/grids/{grid_code(1)}/history").json()
    assert len(old["features"]) == 1
    props = old["features"][0]["properties"]
    assert props["current"] is False and props["replaced_by"] == [grid_code(3), grid_code(4)]
    new = client.get(f"/grids/{grid_code(3)}/history").json()["features"][0]["properties"]
    assert new["replaced"] == [grid_code(1)] and new["current"] is True
    now = client.get(f"/communities/{COMMUNITY}/grids").json()
    assert [f["properties"]["code"] for f in now["features"]] == [grid_code(2), grid_code(3), grid_code(4)]
    before = client.get(f"/communities/{COMMUNITY}/grids", params={"at": props["valid_to"][:10]})
    assert [f["properties"]["code"] for f in before.json()["features"]] == [grid_code(1), grid_code(2)]
    long_ago = client.get(f"/communities/{COMMUNITY}/grids", params={"at": "2000-01-01"}).json()
    assert long_ago["features"] == []
    lon, lat = GRID_A.centroid.x, GRID_A.centroid.y  # zone metres; locate takes the CRS
    then = client.get("/locate", params={"lon": lon - 50, "lat": lat, "crs": "EPSG:4548",
                                         "at": props["valid_from"]})
    assert then.status_code == 200, then.text
    assert then.json()["grid"]["code"] == grid_code(1)
    today = client.get("/locate", params={"lon": lon - 50, "lat": lat, "crs": "EPSG:4548"})
    assert today.json()["grid"]["code"] in (grid_code(3), grid_code(4))
    assert client.get(f"/grids/{grid_code(99)}/history").status_code == 404
    assert client.get("/locate", params={"lon": 117.3, "lat": 31.8, "at": "yesterday"}).status_code == 422




@pytest.mark.parametrize("at", ["yesterday", "2024-13-01", "2024-01-01T25:00", "x" * 41])
def test_a_bad_date_is_a_422(client_ro: TestClient, at: str) -> None:
    assert client_ro.get(f"/communities/{COMMUNITY}/grids", params={"at": at}).status_code == 422
    assert client_ro.get("/locate", params={"lon": 117.3, "lat": 31.8, "at": at}).status_code == 422


def test_unknown_community_and_grid(client_ro: TestClient) -> None:
    assert client_ro.get("/communities/340111999999/grids").status_code == 404
    assert client_ro.get(f"/grids/{grid_code(1)}/history").status_code == 404


def test_history_of_a_demo_grid_has_one_current_version(client_ro: TestClient) -> None:
    grid: dict[str, Any] = client_ro.get("/collections/grids/items", params={"limit": 1}).json()["features"][0]
    code = grid["properties"]["code"]
    history = client_ro.get(f"/grids/{code}/history").json()
    assert [f["properties"]["current"] for f in history["features"]] == [True]
    assert history["features"][0]["properties"]["replaced"] == []
    ring = history["features"][0]["geometry"]["coordinates"][0][0]
    signed = sum(x1 * y2 - x2 * y1 for (x1, y1), (x2, y2) in itertools.pairwise(ring))
    assert signed > 0  # RFC 7946: exterior rings counter-clockwise
