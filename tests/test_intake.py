"""Intake: a case from any channel lands on the right grid with catalogue, deadline, duplicates, team."""

from __future__ import annotations

from datetime import datetime

import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from api.auth import issue_token
from geo.chinacrs import wgs84_to_bd09
from layers.time.calendar import add_working_minutes
from layers.time.holidays import official_calendar
from tests.conftest import auth

GEOD = Geod(ellps="WGS84")
POINT = {"lon": 117.30, "lat": 31.80}


def _post(client: TestClient, body: dict, role: str = "operator", area: str = "340111", **headers: str):
    return client.post("/incidents", json=body, headers={**auth(client, role, area), **headers})


def _case(category: str = "01.03", **extra: object) -> dict:
    return {"category": category, "channel": "hotline", "description": "占道经营", "location": POINT, **extra}


def test_intake_answers_place_catalogue_deadline_and_team(client_rw: TestClient, demo_rw: str) -> None:
    response = _post(client_rw, _case())
    assert response.status_code == 201
    body = response.json()
    assert response.headers["location"] == f"/incidents/{body['id']}"
    located = client_rw.get("/locate", params=POINT).json()
    assert body["grid"]["code"] == located["grid"]["code"]
    assert body["community"] == located["community"] and body["street"] == located["street"]
    assert body["catalogue"]["team_type"] == "city_management"
    reported = datetime.fromisoformat(body["reported_at"])
    # the time limit in working hours of the official calendar (tests/test_time_calendar.py pins the arithmetic)
    due = add_working_minutes(official_calendar(), reported, body["catalogue"]["time_limit_hours"] * 60)
    assert datetime.fromisoformat(body["deadline"]) == due
    team = body["suggested_team"]
    assert team["type"] == "city_management" and team["status"] == "free"
    # true ground distance, checked with pyproj
    assert abs(GEOD.inv(POINT["lon"], POINT["lat"], team["lon"], team["lat"])[2] - team["distance_m"]) < 0.5
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT raw_x, raw_y, raw_crs, status FROM incidents WHERE id = %s",
                           (body["id"],)).fetchone()
        events = conn.execute("SELECT action, to_status FROM incident_events WHERE incident_id = %s",
                              (body["id"],)).fetchall()
    assert row == (117.30, 31.80, "wgs84", "accepted")
    assert events == [("accept", "accepted")]


def test_raw_coordinates_are_kept_and_normalized_once(client_rw: TestClient, demo_rw: str) -> None:
    bx, by = wgs84_to_bd09(POINT["lon"], POINT["lat"])
    body = _post(client_rw, _case(location={"lon": bx, "lat": by, "crs": "bd09"})).json()
    assert abs(body["lon"] - POINT["lon"]) < 1e-6 and abs(body["lat"] - POINT["lat"]) < 1e-6
    assert (body["raw_x"], body["raw_y"], body["raw_crs"]) == (bx, by, "bd09")


def test_second_report_nearby_lists_the_first_as_duplicate(client_rw: TestClient) -> None:
    first = _post(client_rw, _case()).json()
    near = {"lon": POINT["lon"] + 0.0003, "lat": POINT["lat"]}  # about 28 m east
    second = _post(client_rw, _case(location=near)).json()
    duplicates = {d["id"]: d for d in second["duplicates"]}
    assert first["id"] in duplicates
    expected = GEOD.inv(POINT["lon"], POINT["lat"], near["lon"], near["lat"])[2]
    assert abs(duplicates[first["id"]]["distance_m"] - expected) < 0.2
    # another category at the same spot is not a duplicate
    other = _post(client_rw, _case("10.02", location=near)).json()
    assert first["id"] not in {d["id"] for d in other["duplicates"]}


def test_category_without_owner_falls_back_to_community(client_rw: TestClient) -> None:
    body = _post(client_rw, _case("06.01")).json()
    assert body["suggested_team"] is None
    assert body["fallback"]["to"] == "community"
    assert body["fallback"]["community"]["code"] == body["community"]["code"]


def test_no_team_in_range_falls_back_to_community(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        conn.execute("UPDATE teams SET status = 'off_duty' WHERE type = 'water_affairs'")
    body = _post(client_rw, _case("10.01")).json()
    assert body["suggested_team"] is None and "water_affairs" in body["fallback"]["reason"]


def test_idempotency_key_makes_retries_safe(client_rw: TestClient, demo_rw: str) -> None:
    first = _post(client_rw, _case(), **{"Idempotency-Key": "call-42"})
    again = _post(client_rw, _case(), **{"Idempotency-Key": "call-42"})
    assert first.status_code == 201 and again.status_code == 200
    assert first.json()["id"] == again.json()["id"]
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT count(*) FROM incidents WHERE idempotency_key LIKE '%%:call-42'").fetchone() == (1,)


def _community_points(conn: psycopg.Connection) -> list[tuple[str, dict]]:
    """A point inside one community of each of two different streets."""
    rows = conn.execute("""
        SELECT DISTINCT ON (street_code) code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
        FROM communities ORDER BY street_code, code LIMIT 2""").fetchall()
    return [(code, {"lon": lon, "lat": lat}) for code, lon, lat in rows]


def test_idempotency_keys_belong_to_their_caller(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        (code_a, point_a), (code_b, point_b) = _community_points(conn)
    street_a, street_b = code_a[:9], code_b[:9]
    key = {"Idempotency-Key": "shared-key-1"}
    first = _post(client_rw, _case(location=point_a), "operator", street_a, **key)
    assert first.status_code == 201
    # another street's operator picking the same key neither sees nor is blocked by street A's case
    other = _post(client_rw, _case(location=point_b), "operator", street_b, **key)
    assert other.status_code == 201, other.text
    assert other.json()["id"] != first.json()["id"] and code_a not in other.text
    # the district, a caller of its own, too
    district = _post(client_rw, _case(location=point_a), "operator", "340111", **key)
    assert district.status_code == 201 and district.json()["id"] not in (first.json()["id"], other.json()["id"])
    # and a retry by each caller still answers its first case
    for response, area, point in ((first, street_a, point_a), (other, street_b, point_b)):
        again = _post(client_rw, _case(location=point), "operator", area, **key)
        assert again.status_code == 200 and again.json()["id"] == response.json()["id"]
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT count(*) FROM incidents WHERE idempotency_key LIKE '%%:shared-key-1'"
                            ).fetchone() == (3,)


def test_same_area_but_another_token_holder_has_its_own_keys(client_rw: TestClient) -> None:
    secret = client_rw.app.state.token_secret
    key = {"Idempotency-Key": "call-7"}
    hotline = {"Authorization": "Bearer " + issue_token(secret, "operator", "340111", name="hotline-12345"), **key}
    wechat = {"Authorization": "Bearer " + issue_token(secret, "operator", "340111", name="wechat-platform"), **key}
    first = client_rw.post("/incidents", json=_case(), headers=hotline)
    second = client_rw.post("/incidents", json=_case(), headers=wechat)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]
    assert client_rw.post("/incidents", json=_case(), headers=hotline).json()["id"] == first.json()["id"]


def test_intake_by_address(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        address, lon, lat = conn.execute("""
            SELECT address, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom))
            FROM buildings ORDER BY id LIMIT 1""").fetchone()
    body = _post(client_rw, {"category": "01.01", "channel": "wechat", "address": address}).json()
    assert (body["lon"], body["lat"]) == pytest.approx((lon, lat))
    assert body["address"] == address


def test_unknown_address_is_422_with_suggestions(client_rw: TestClient) -> None:
    response = _post(client_rw, {"category": "01.01", "channel": "wechat", "address": "火星基地一号"})
    assert response.status_code == 422 and response.json()["suggestions"]


def test_intake_needs_a_token_and_the_area(client_rw: TestClient) -> None:
    assert client_rw.post("/incidents", json=_case()).status_code == 401
    assert _post(client_rw, _case(), role="planner").status_code == 403
    # a community token elsewhere in the district may not file here
    located = client_rw.get("/locate", params=POINT).json()
    other = "340111001001" if located["community"]["code"] != "340111001001" else "340111001002"
    assert _post(client_rw, _case(), area=other).status_code == 403
    assert _post(client_rw, _case(), area=located["community"]["code"]).status_code == 201


@pytest.mark.parametrize("body", [
    {"category": "99.99", "channel": "hotline", "location": POINT},
    {"category": "01.03", "channel": "pigeon", "location": POINT},
    {"category": "01.03", "channel": "hotline"},
    {"category": "01.03", "channel": "hotline", "location": POINT, "address": "宁国路1号"},
    {"category": "01.03", "channel": "hotline", "location": {"lon": "NaN", "lat": 31.8}},
    {"category": "01.03", "channel": "hotline", "location": {"lon": 117.3, "lat": 31.8, "crs": "EPSG:0"}},
    {"category": "01.03", "channel": "hotline", "location": {"lon": 116.397, "lat": 39.909}},
    {"category": "01.03", "channel": "hotline", "location": {"lon": 2.35, "lat": 48.85, "crs": "gcj02"}},
    {"category": "01.03", "channel": "hotline", "location": POINT, "description": "x" * 2001},
    {"category": "01.03", "channel": "hotline", "location": POINT, "priority": "high"},
    # control characters: NUL cannot be stored; none belong in one-line fields
    {"category": "01.03", "channel": "hotline", "location": POINT, "description": "占道\x00经营"},
    {"category": "01.03", "channel": "hotline", "location": POINT, "description": "bell\x07"},
    {"category": "01.03", "channel": "hotline", "address": "宁国路\x001号"},
    {"category": "01.03", "channel": "hotline", "address": "宁国路\n1号"},
    {"category": "01.03\x00", "channel": "hotline", "location": POINT},
    {"category": "01.03", "channel": "hotline", "location": {"lon": 117.3, "lat": 31.8, "crs": "wgs84\x00"}},
    [], "not json",
])
def test_bad_intake_is_422_and_stores_nothing(client_rw: TestClient, demo_rw: str, body: object) -> None:
    with psycopg.connect(demo_rw) as conn:
        before = conn.execute("SELECT count(*) FROM incidents").fetchone()
    response = client_rw.post("/incidents", json=body, headers=auth(client_rw, "operator"))
    assert response.status_code == 422, response.text
    assert "Traceback" not in response.text and "psycopg" not in response.text
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT count(*) FROM incidents").fetchone() == before


def test_huge_body_is_413(client_rw: TestClient) -> None:
    body = _case(description="x" * 2_000_000)
    assert client_rw.post("/incidents", json=body, headers=auth(client_rw, "operator")).status_code == 413
