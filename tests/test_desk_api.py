"""The desk's look-ups: duplicates and nearest teams for a point and a category, and the area's queue."""

from __future__ import annotations

import psycopg
from fastapi.testclient import TestClient
from pyproj import Geod

from tests.conftest import auth

GEOD = Geod(ellps="WGS84")
POINT = {"lon": 117.30, "lat": 31.80}


def _file(client: TestClient, **location: float) -> dict:
    body = {"category": "01.03", "channel": "hotline", "location": location or POINT}
    response = client.post("/incidents", json=body, headers=auth(client, "dispatcher"))
    assert response.status_code == 201
    return response.json()


def test_nearby_lists_duplicates_and_teams_by_ground_distance(client_rw: TestClient, demo_rw: str) -> None:
    case = _file(client_rw)
    lon, lat, _ = GEOD.fwd(POINT["lon"], POINT["lat"], 45, 15)
    answer = client_rw.get("/desk/nearby", params={"lon": lon, "lat": lat, "category": "01.03", "k": 4},
                           headers=auth(client_rw, "dispatcher"))
    assert answer.status_code == 200
    found = answer.json()
    assert [d["id"] for d in found["duplicates"]] == [case["id"]]
    assert abs(found["duplicates"][0]["distance_m"] - 15) < 0.1
    teams = found["teams"]
    assert len(teams) == 4 and all(t["type"] == found["category"]["team_type"] for t in teams)
    distances = [t["distance_m"] for t in teams]
    assert distances == sorted(distances)
    for team in teams:
        assert abs(team["distance_m"] - GEOD.inv(lon, lat, team["lon"], team["lat"])[2]) < 0.1
    # the teams are the nearest free ones of that type: none closer is left out
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("""SELECT count(*) FROM teams WHERE type = %s AND status = 'free'
                              AND ST_Distance(position::geography, ST_MakePoint(%s, %s)::geography) < %s""",
                           (teams[0]["type"], lon, lat, distances[-1] - 0.5)).fetchone()
    assert row is not None and row[0] <= 3
    # a token of another street sees no duplicate there; a planner may not use the desk
    other = client_rw.get("/desk/nearby", params={"lon": lon, "lat": lat, "category": "01.03"},
                          headers=auth(client_rw, "dispatcher", "340111999"))
    assert other.status_code == 200 and other.json()["duplicates"] == []
    assert client_rw.get("/desk/nearby", params={"lon": lon, "lat": lat, "category": "01.03"},
                         headers=auth(client_rw, "planner")).status_code == 403
    bad = client_rw.get("/desk/nearby", params={"lon": lon, "lat": lat, "category": "99.99"},
                        headers=auth(client_rw, "dispatcher"))
    assert bad.status_code == 422 and bad.json()["code"] == "invalid_input"


def test_queue_holds_new_overdue_and_returned_cases(client_rw: TestClient, demo_rw: str) -> None:
    new = _file(client_rw)
    returned = _file(client_rw, lon=117.31, lat=31.79)
    headers = auth(client_rw, "operator")
    for action in ("dispatch", "handle", "feedback"):
        assert client_rw.post(f"/incidents/{returned['id']}/{action}", headers=auth(client_rw, "dispatcher")
                              ).status_code == 200
    assert client_rw.post(f"/incidents/{returned['id']}/return", json={"reason": "未清理"},
                          headers=headers).status_code == 200
    queue = client_rw.get("/desk/queue", params={"limit": 200}, headers=headers).json()
    assert queue["new"][0]["id"] == new["id"]  # newest first
    assert returned["id"] in [c["id"] for c in queue["returned"]]
    assert all(c["status"] == "accepted" for c in queue["new"])
    with psycopg.connect(demo_rw) as conn:
        most_overdue = conn.execute("""SELECT id FROM incidents WHERE deadline < now()
                                       AND status NOT IN ('closed', 'rejected', 'duplicate')
                                       ORDER BY deadline, id LIMIT 1""").fetchone()
    assert most_overdue is not None and queue["overdue"][0]["id"] == most_overdue[0]
    # another area's queue is not this token's
    assert client_rw.get("/desk/queue", params={"area": "340112"}, headers=headers).status_code == 403
