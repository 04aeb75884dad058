"""Proposals, publish and suggestions over HTTP, on a fresh demo database per test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient

from api.auth import issue_token
from geo.planning.coverage import check_coverage
from geo.planning.metric import MetricFrame
from tests.planning_cases import (
    COMMUNITY,
    GRID_A,
    GRID_B,
    collection,
    feature,
    grid_code,
    insert_community,
    rect,
)

SPLIT_A = [[450_100.0, 3_429_990.0], [450_100.0, 3_430_210.0]]


def auth(client: TestClient, role: str = "planner", area: str = COMMUNITY) -> dict[str, str]:
    return {"Authorization": "Bearer " + issue_token(client.app.state.token_secret, role, area)}  # type: ignore[attr-defined]


@pytest.fixture
def hand_made(client_rw: TestClient, demo_rw: str) -> Iterator[tuple[TestClient, str, dict[str, int]]]:
    yield client_rw, demo_rw, insert_community(demo_rw)


def propose(client: TestClient, body: Any, crs: str = "EPSG:4548", area: str = COMMUNITY) -> Any:
    return client.post(f"/planning/communities/{COMMUNITY}/proposals", params={"crs": crs}, json=body,
                       headers=auth(client, area=area))


def split_a(client: TestClient) -> dict[str, Any]:
    answer = propose(client, {"operations": [{"op": "split", "grid": grid_code(1), "line": SPLIT_A}]})
    assert answer.status_code == 201, answer.text
    return answer.json()


def test_a_proposal_is_stored_with_its_report(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, _, _ = hand_made
    answer = propose(client, collection(feature(rect(0, 0, 200, 200), grid_code(1)),
                                        feature(rect(210, 0, 400, 200), grid_code(2))))
    assert answer.status_code == 201
    body = answer.json()
    assert answer.headers["ETag"] == f'"{COMMUNITY}-v1"' == body["etag"]
    assert body["report"]["ok"] is False
    gaps = [f["properties"]["area_m2"] for f in body["report"]["coverage"]["gaps"]["features"]]
    assert gaps == pytest.approx([2000.0], abs=0.5)
    rows = {r["grid"]: r for r in body["report"]["workload"]["grids"]}
    assert rows[grid_code(1)]["residents"] == 60 and rows[grid_code(2)]["residents"] == 40
    assert rows[grid_code(1)]["cases_90d"] == 2
    again = client.get(f"/planning/proposals/{body['id']}", headers=auth(client))
    assert again.status_code == 200 and again.json()["report"] == body["report"]


def test_publish_a_split(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, url, cases = hand_made
    proposal = split_a(client)
    assert proposal["report"]["ok"] is True
    assert [c["id"] for c in proposal["report"]["impact"]["open_cases"]] == [cases["open_a"]]
    published = client.post(f"/planning/proposals/{proposal['id']}/publish", headers=auth(client))
    assert published.status_code == 200, published.text
    result = published.json()
    assert result["retired"] == [grid_code(1)] and result["kept"] == [grid_code(2)]
    assert sorted(result["created"]) == [grid_code(3), grid_code(4)]
    assert result["rekeyed_open_cases"] == 1 and result["grids_version"] == 2
    with psycopg.connect(url) as conn:
        left = conn.execute("SELECT code FROM grids WHERE valid_to IS NULL AND community_code = %s "
                            "AND ST_Covers(geom, (SELECT geom FROM incidents WHERE id = %s))",
                            (COMMUNITY, cases["open_a"])).fetchone()[0]
        open_a = conn.execute("SELECT grid_code, grid_id FROM incidents WHERE id = %s", (cases["open_a"],)).fetchone()
        assert open_a[0] == left
        event = conn.execute("SELECT action, details FROM incident_events WHERE incident_id = %s",
                             (cases["open_a"],)).fetchall()
        assert [(a, d["from_grid"], d["to_grid"]) for a, d in event] == [("regrid", grid_code(1), left)]
        closed = conn.execute("SELECT i.grid_code, g.valid_to IS NOT NULL FROM incidents AS i "
                              "JOIN grids AS g ON g.id = i.grid_id WHERE i.id = %s", (cases["closed_a"],)).fetchone()
        assert closed == (grid_code(1), True)  # keeps the version it was filed in
        untouched = conn.execute("SELECT grid_code FROM incidents WHERE id = %s", (cases["open_b"],)).fetchone()
        assert untouched == (grid_code(2),)
        b_versions = conn.execute("SELECT count(*) FROM grids WHERE code = %s", (grid_code(2),)).fetchone()
        assert b_versions == (1,)  # not touched by the cut, so not re-versioned
        assert conn.execute("SELECT status FROM planning_proposals WHERE id = %s",
                            (proposal["id"],)).fetchone() == ("published",)


def test_a_stale_proposal_is_refused(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, _, _ = hand_made
    first, second = split_a(client), split_a(client)
    wrong = client.post(f"/planning/proposals/{first['id']}/publish",
                        headers={**auth(client), "If-Match": '"nope"'})
    assert wrong.status_code == 412
    assert client.post(f"/planning/proposals/{first['id']}/publish",
                       headers={**auth(client), "If-Match": first["etag"]}).status_code == 200
    stale = client.post(f"/planning/proposals/{second['id']}/publish", headers=auth(client))
    assert stale.status_code == 412 and stale.json()["current_version"] == 2
    assert client.post(f"/planning/proposals/{first['id']}/publish", headers=auth(client)).status_code == 412


def test_a_proposal_with_problems_cannot_be_published(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, _, _ = hand_made
    body = propose(client, collection(feature(rect(0, 0, 200, 200), grid_code(1)),
                                      feature(rect(190, 0, 400, 200), grid_code(2)))).json()
    refused = client.post(f"/planning/proposals/{body['id']}/publish", headers=auth(client))
    assert refused.status_code == 409


@pytest.mark.parametrize("same_proposal", [False, True])
def test_two_concurrent_publishes_one_wins(hand_made: tuple[TestClient, str, dict[str, int]],
                                           same_proposal: bool) -> None:
    client, url, _ = hand_made
    first = split_a(client)
    second = first if same_proposal else split_a(client)
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def publish(proposal_id: int) -> None:
        barrier.wait()
        statuses.append(client.post(f"/planning/proposals/{proposal_id}/publish", headers=auth(client)).status_code)

    threads = [threading.Thread(target=publish, args=(p["id"],)) for p in (first, second)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(statuses) == [200, 412]
    with psycopg.connect(url) as conn:
        assert conn.execute("SELECT grids_version FROM communities WHERE code = %s", (COMMUNITY,)).fetchone() == (2,)
        assert conn.execute("SELECT count(*) FROM grids WHERE community_code = %s AND valid_to IS NULL",
                            (COMMUNITY,)).fetchone() == (3,)


def test_who_may_plan(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, _, _ = hand_made
    url = f"/planning/communities/{COMMUNITY}/proposals"
    body = collection(feature(GRID_A, grid_code(1)), feature(GRID_B, grid_code(2)))
    assert client.post(url, json=body, params={"crs": "EPSG:4548"}).status_code == 401
    assert client.post(url, json=body, params={"crs": "EPSG:4548"},
                       headers=auth(client, role="operator")).status_code == 403
    assert client.post(url, json=body, params={"crs": "EPSG:4548"},
                       headers=auth(client, area="340111002")).status_code == 403
    ok = client.post(url, json=body, params={"crs": "EPSG:4548"}, headers=auth(client, area="340111001"))
    assert ok.status_code == 201 and ok.json()["report"]["ok"] is True
    other = auth(client, area="340111002001")
    assert client.get(f"/planning/proposals/{ok.json()['id']}", headers=other).status_code == 403
    assert client.post(f"/planning/proposals/{ok.json()['id']}/publish", headers=other).status_code == 403
    assert client.post(f"/planning/proposals/{ok.json()['id']}/publish",
                       headers=auth(client, role="admin", area="340111")).status_code == 200


def test_bad_input_is_never_a_500(hand_made: tuple[TestClient, str, dict[str, int]]) -> None:
    client, _, _ = hand_made
    headers = {**auth(client, area="340111"), "Content-Type": "application/json"}
    url = f"/planning/communities/{COMMUNITY}/proposals"
    cases = [
        (url, "{not json", {}),
        (url, '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
              '{"type": "Polygon", "coordinates": [[[NaN, 1], [2, 2], [3, 3], [NaN, 1]]]}}]}', {}),
        (url, '{"type": "FeatureCollection", "features": [{"type": "Feature", "properties": {}, "geometry": '
              '{"type": "Polygon", "coordinates": [[[1e400, 1], [2, 2], [3, 3], [1e400, 1]]]}}]}', {}),
        (url, '{"operations": [{"op": "split", "grid": "x", "line": "no"}]}', {}),
        (url, '{"operations": "split"}', {}),
        (url, "[]", {}),
        (url, "null", {}),
        (url, '{"type": "FeatureCollection", "features": []}', {"crs": "EPSG:999999"}),
        (url, '{"type": "FeatureCollection", "features": []}', {"crs": "mars"}),
        (url, '{"type": "FeatureCollection", "features": []}', {"sliver_m2": "nan"}),
        ("/planning/communities/12345/proposals", "{}", {}),
        ("/planning/communities/340111001001/suggestions", '{"grids": 3, "residents_per_grid": 100}', {}),
        ("/planning/communities/340111001001/suggestions", '{"grids": 0}', {}),
        ("/planning/communities/340111001001/suggestions", '{"grids": "many"}', {}),
        ("/planning/proposals/0/publish", "{}", {}),
    ]
    for path, text, params in cases:
        answer = client.post(path, content=text, params=params, headers=headers)
        assert answer.status_code == 422, (path, text, params, answer.status_code, answer.text)
    unknown = client.post("/planning/communities/340111999999/proposals", json={"type": "FeatureCollection"},
                          headers=headers)
    assert unknown.status_code == 404
    assert client.post("/planning/proposals/999999/publish", headers=headers).status_code == 404
    assert client.get("/grids/12/history").status_code == 422
    huge = client.post(url, content=b"[" + b"0," * 600_000 + b"0]", headers=headers)
    assert huge.status_code == 413


def _community_of_demo(url: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT community_code FROM grids WHERE valid_to IS NULL "
                           "GROUP BY community_code ORDER BY count(*) DESC, community_code LIMIT 1").fetchone()
    return str(row[0])


def _current_tiling(url: str, community: str) -> tuple[bool, int]:
    with psycopg.connect(url) as conn:
        area = shapely.from_wkb(conn.execute("SELECT ST_AsBinary(geom) FROM communities WHERE code = %s",
                                             (community,)).fetchone()[0])
        grids = [shapely.from_wkb(r[0]) for r in conn.execute(
            "SELECT ST_AsBinary(geom) FROM grids WHERE community_code = %s AND valid_to IS NULL", (community,))]
    keys = [str(i) for i in range(len(grids))]
    return check_coverage(keys, np.array(grids, dtype=object), area, MetricFrame.around(area)).tiles, len(grids)


def test_suggest_then_publish_still_tiles(client_rw: TestClient, demo_rw: str) -> None:
    community = _community_of_demo(demo_rw)
    headers = auth(client_rw, area=community)
    assert _current_tiling(demo_rw, community)[0] is True
    answer = client_rw.post(f"/planning/communities/{community}/suggestions", json={"grids": 6}, headers=headers)
    assert answer.status_code == 201, answer.text
    body = answer.json()
    assert body["report"]["ok"] is True, body["report"]["coverage"]
    assert len(body["features"]["features"]) == 6
    by_residents = client_rw.post(f"/planning/communities/{community}/suggestions",
                                  json={"residents_per_grid": 2000}, headers=headers)
    assert by_residents.status_code == 201
    published = client_rw.post(f"/planning/proposals/{body['id']}/publish", headers=headers)
    assert published.status_code == 200, published.text
    assert _current_tiling(demo_rw, community) == (True, 6)


def test_split_a_demo_grid_then_publish_still_tiles(client_rw: TestClient, demo_rw: str) -> None:
    community = _community_of_demo(demo_rw)
    headers = auth(client_rw, area=community)
    grids = client_rw.get(f"/communities/{community}/grids").json()["features"]
    target = shapely.geometry.shape(grids[0]["geometry"])
    _, miny, _, maxy = target.bounds
    cx = target.representative_point().x
    line = [[cx, miny - 0.001], [cx + 0.0001, maxy + 0.001]]
    answer = client_rw.post(f"/planning/communities/{community}/proposals", headers=headers,
                            json={"operations": [{"op": "split", "grid": grids[0]["properties"]["code"],
                                                  "line": line}]})
    assert answer.status_code == 201, answer.text
    assert answer.json()["report"]["ok"] is True, answer.json()["report"]["coverage"]
    published = client_rw.post(f"/planning/proposals/{answer.json()['id']}/publish", headers=headers)
    assert published.status_code == 200
    tiles, count = _current_tiling(demo_rw, community)
    assert tiles and count >= len(grids) + 1
