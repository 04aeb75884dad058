"""Readings over HTTP: one path, bad items by index, dedup, partitions, retention, alarms → one case."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth


def _sensor(url: str, code: str = "RADAR-00001") -> dict:
    with psycopg.connect(url) as conn:
        row = conn.execute("""
            SELECT s.id, s.code, w.code, w.warn_level_cm, w.alarm_level_cm FROM sensors AS s
            JOIN waterlogging_points AS w ON w.code = s.watches WHERE s.code = %s""", (code,)).fetchone()
    assert row is not None
    return {"id": row[0], "code": row[1], "point": row[2], "warn": row[3], "alarm": row[4]}


def _count(url: str, query: str, *params: object) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute(query, params).fetchone()
    return int(row[0]) if row else 0


def test_demo_has_a_sensor_at_each_waterlogging_point(sync_ro: psycopg.Connection) -> None:
    points = sync_ro.execute("SELECT count(*) FROM waterlogging_points").fetchone()[0]
    watched = sync_ro.execute("""
        SELECT count(*) FROM sensors AS s JOIN waterlogging_points AS w
        ON w.code = s.watches AND ST_Equals(w.geom, s.geom) AND s.code = w.sensor_id""").fetchone()[0]
    assert points == watched == 100
    # the trigger placed each sensor in its district and community
    placed = sync_ro.execute("""
        SELECT count(*) FROM sensors AS s JOIN communities AS c ON c.code = s.community_code
        WHERE ST_Covers(c.geom, s.geom) AND s.district_code = '340111'""").fetchone()[0]
    assert placed == 100


def test_bad_items_are_reported_by_index_and_good_ones_stored(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    now = datetime.now(UTC).replace(microsecond=0)
    items = [
        {"sensor": s["code"], "time": (now - timedelta(minutes=3)).isoformat(), "value": 1.5},   # 0 good
        {"sensor": "NO-SUCH", "time": now.isoformat(), "value": 1.0},                            # 1 unknown
        {"sensor": s["code"], "time": now.isoformat(), "value": "NaN"},                          # 2 not a number
        {"sensor": s["code"], "time": (now + timedelta(minutes=6)).isoformat(), "value": 1.0},   # 3 future
        {"sensor": s["code"], "time": (now - timedelta(minutes=2)).isoformat(), "value": 2.5},   # 4 good
        {"sensor": s["code"], "time": "yesterday", "value": 1.0},                                # 5 bad time
        [1, 2, 3],                                                                               # 6 not an object
        {"sensor": s["code"], "time": (now + timedelta(minutes=4)).isoformat(), "value": 3.0},   # 7 good (slack)
        {"sensor": s["code"], "time": "1999-01-01T00:00:00+00:00", "value": 1.0},                # 8 too old
    ]
    response = client_rw.post("/sensors/readings", json=items, headers=auth(client_rw, "operator"))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["stored"] == 3 and body["rejected"] == 6
    assert {e["index"]: e["code"] for e in body["errors"]} == {
        1: "unknown_sensor", 2: "invalid_item", 3: "future_time", 5: "invalid_item", 6: "invalid_item",
        8: "too_old"}
    stored = _count(demo_rw, "SELECT count(*) FROM sensor_readings WHERE sensor_id = %s", s["id"])
    assert stored == 3
    # the watched point shows the latest level
    level = _count(demo_rw, "SELECT round(current_level_cm * 10) FROM waterlogging_points WHERE code = %s",
                   s["point"])
    assert level == 30


def test_same_sensor_and_time_is_one_reading(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    t = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
    item = {"sensor": s["code"], "time": t, "value": 1.0}
    first = client_rw.post("/sensors/readings", json={"readings": [item, {**item, "value": 9.0}]},
                           headers=auth(client_rw, "operator")).json()
    again = client_rw.post("/sensors/readings", json=[item], headers=auth(client_rw, "operator")).json()
    assert (first["stored"], first["duplicates"]) == (1, 1)
    assert (again["stored"], again["duplicates"]) == (0, 1)
    assert _count(demo_rw, "SELECT count(*) FROM sensor_readings WHERE sensor_id = %s", s["id"]) == 1
    assert _count(demo_rw, "SELECT value FROM sensor_readings WHERE sensor_id = %s", s["id"]) == 1


@pytest.mark.parametrize("body, status", [
    ([], 422), ({"readings": "x"}, 422), ("text", 422), ([{"sensor": "NO", "time": "x", "value": 1}], 422),
    ([{"sensor": "RADAR-00001", "time": "2026-01-01T00:00:00Z", "value": 1}] * 10_001, 422),
])
def test_bad_batches_are_4xx_json_and_change_nothing(client_rw: TestClient, demo_rw: str, body: object,
                                                     status: int) -> None:
    response = client_rw.post("/sensors/readings", json=body, headers=auth(client_rw, "operator"))
    assert response.status_code == status and {"detail", "code"} <= set(response.json())
    assert _count(demo_rw, "SELECT count(*) FROM sensor_readings") == 0


def test_readings_need_a_writing_role_in_the_area(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    item = [{"sensor": s["code"], "time": datetime.now(UTC).isoformat(), "value": 1.0}]
    assert client_rw.post("/sensors/readings", json=item).status_code == 401
    assert client_rw.post("/sensors/readings", json=item, headers=auth(client_rw, "planner")).status_code == 403
    other = client_rw.post("/sensors/readings", json=item, headers=auth(client_rw, "operator", "340111999"))
    assert other.status_code == 422 and other.json()["items"][0]["code"] == "outside_area"
    assert _count(demo_rw, "SELECT count(*) FROM sensor_readings") == 0


def test_months_are_partitions_made_on_demand_and_dropped_after_retention(client_rw: TestClient,
                                                                          demo_rw: str) -> None:
    s = _sensor(demo_rw)
    now = datetime.now(UTC)
    old = now - timedelta(days=62)
    response = client_rw.post("/sensors/readings", json=[
        {"sensor": s["code"], "time": old.isoformat(), "value": 1.0},
        {"sensor": s["code"], "time": now.isoformat(), "value": 2.0}], headers=auth(client_rw, "operator"))
    assert response.json()["stored"] == 2
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        parts = {r[0] for r in conn.execute("""
            SELECT c.relname FROM pg_inherits AS i JOIN pg_class AS c ON c.oid = i.inhrelid
            WHERE i.inhparent = 'sensor_readings'::regclass""")}
        assert {f"sensor_readings_{old:%Y%m}", f"sensor_readings_{now:%Y%m}"} <= parts
        # each reading lies in its own month's partition
        where = conn.execute("SELECT tableoid::regclass::text FROM sensor_readings ORDER BY time").fetchall()
        assert [w[0] for w in where] == [f"sensor_readings_{old:%Y%m}", f"sensor_readings_{now:%Y%m}"]
        dropped = conn.execute("SELECT wangge_drop_reading_partitions(1)").fetchone()[0]
        left = conn.execute("SELECT count(*) FROM sensor_readings").fetchone()[0]
    assert dropped >= 1 and left == 1


def test_series_downsamples(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(hours=1)
    values = [float(i % 7) for i in range(60)]
    items = [{"sensor": s["code"], "time": (start + timedelta(minutes=i)).isoformat(), "value": v}
             for i, v in enumerate(values)]
    assert client_rw.post("/sensors/readings", json=items, headers=auth(client_rw, "operator")).json()["stored"] == 60
    headers = auth(client_rw, "dispatcher")
    raw = client_rw.get(f"/sensors/{s['code']}/readings", params={"from": start.isoformat()}, headers=headers).json()
    assert [r["value"] for r in raw["readings"]] == values
    binned = client_rw.get(f"/sensors/{s['id']}/readings",
                           params={"from": start.isoformat(), "to": (start + timedelta(hours=1)).isoformat(),
                                   "step": 600}, headers=headers).json()["readings"]
    assert len(binned) == 6
    for k, bucket in enumerate(binned):
        chunk = values[k * 10:(k + 1) * 10]
        assert (bucket["min"], bucket["max"], bucket["last"], bucket["count"]) == (
            min(chunk), max(chunk), chunk[-1], 10)
        assert math.isclose(bucket["avg"], sum(chunk) / 10)
    for params in ({"from": "x"}, {"step": 0}, {"from": start.isoformat(), "step": 1, "to": (
            start + timedelta(days=1)).isoformat()}, {"from": start.isoformat(), "to": start.isoformat()}):
        bad = client_rw.get(f"/sensors/{s['code']}/readings", params=params, headers=headers)
        assert bad.status_code == 422 and {"detail", "code"} <= set(bad.json())
    assert client_rw.get("/sensors/NOPE/readings", headers=headers).status_code == 404


def _post(client: TestClient, code: str, start: datetime, values: list[float], every_s: int = 30) -> dict:
    items = [{"sensor": code, "time": (start + timedelta(seconds=i * every_s)).isoformat(), "value": v}
             for i, v in enumerate(values)]
    response = client.post("/sensors/readings", json=items, headers=auth(client, "operator"))
    assert response.status_code == 200, response.text
    return response.json()


def test_an_alarm_opens_one_case_updates_it_clears_and_reopens(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    alarm, warn = s["alarm"], s["warn"]
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(minutes=40)
    cases = "SELECT count(*) FROM incidents WHERE channel = 'sensor'"
    before = _count(demo_rw, cases)
    # above the alarm level for 30 s: not yet (the duration is 60 s)
    _post(client_rw, s["code"], start, [alarm + 1, alarm + 2])
    assert _count(demo_rw, cases) == before
    # a restart halfway through the duration: a new app on the same database continues
    from tests.conftest import make_client
    with make_client(demo_rw) as fresh:
        out = _post(fresh, s["code"], start + timedelta(seconds=60), [alarm + 5, alarm + 3, alarm - 1])
    assert [a["action"] for a in out["alarms"]] == ["open"]
    assert _count(demo_rw, cases) == before + 1
    case_id = out["alarms"][0]["case_id"]
    state = client_rw.get(f"/sensors/{s['code']}", headers=auth(client_rw, "dispatcher")).json()
    assert state["state"]["level"] == "alarm" and state["case"]["id"] == case_id
    assert state["case"]["attributes"]["peak"] == alarm + 5
    assert state["case"]["attributes"]["last_value"] == alarm - 1
    # the case is an ordinary one: category, channel, grid, handled by the loop
    case = client_rw.get(f"/incidents/{case_id}", headers=auth(client_rw, "dispatcher")).json()
    assert case["category_code"] == "10.04" and case["channel"] == "sensor" and case["grid_code"]
    for action in ("dispatch", "handle"):
        moved = client_rw.post(f"/incidents/{case_id}/{action}", headers=auth(client_rw, "dispatcher"))
        assert moved.status_code == 200
    # below clear (the warn level): cleared, the case moves on to feedback (awaiting verification)
    out = _post(client_rw, s["code"], start + timedelta(seconds=150), [warn - 1])
    assert [a["action"] for a in out["alarms"]] == ["clear"]
    case = client_rw.get(f"/incidents/{case_id}", headers=auth(client_rw, "dispatcher")).json()
    assert case["status"] == "feedback"
    actions = [e["action"] for e in case["events"]]
    assert actions[-2:] == ["sensor_clear", "feedback"]
    # rises again within the cool-down: the same case is reopened (returned to the team), no new case
    out = _post(client_rw, s["code"], start + timedelta(seconds=300), [alarm + 1, alarm + 1, alarm + 1])
    assert [a["action"] for a in out["alarms"]] == ["reopen"] and out["alarms"][0]["case_id"] == case_id
    assert _count(demo_rw, cases) == before + 1
    case = client_rw.get(f"/incidents/{case_id}", headers=auth(client_rw, "dispatcher")).json()
    assert case["status"] == "handling" and case["events"][-1]["action"] == "return"


def test_a_sensor_token_writes_readings_and_nothing_else(client_rw: TestClient, demo_rw: str) -> None:
    s = _sensor(demo_rw)
    headers = auth(client_rw, "sensor")
    item = [{"sensor": s["code"], "time": datetime.now(UTC).isoformat(), "value": 1.0}]
    assert client_rw.post("/sensors/readings", json=item, headers=headers).json()["stored"] == 1
    case = {"category": "10.04", "channel": "sensor", "description": "x", "location": {"lon": 117.3, "lat": 31.8}}
    assert client_rw.post("/incidents", json=case, headers=headers).status_code == 403
