"""SensorThings v1.1: a gateway's unmodified posts become readings; Things and Datastreams read back."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth


def _sensor_id(url: str, code: str = "RADAR-00003") -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT id FROM sensors WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return int(row[0])


def _readings(url: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT sensor_id, time, value FROM sensor_readings ORDER BY time").fetchall()


def test_observations_posted_as_a_sensorthings_client_does(client_rw: TestClient, demo_rw: str) -> None:
    sid = _sensor_id(demo_rw)
    headers = auth(client_rw, "operator")
    t1 = (datetime.now(UTC) - timedelta(minutes=2)).replace(microsecond=0)
    t2 = t1 + timedelta(seconds=30)
    # exactly what FROST's examples and the OGC test suite post
    first = client_rw.post("/sta/v1.1/Observations", headers=headers, json={
        "phenomenonTime": t1.strftime("%Y-%m-%dT%H:%M:%S.000Z"), "resultTime": t1.strftime("%Y-%m-%dT%H:%M:%S.000Z"),
        "result": 12.5, "Datastream": {"@iot.id": sid}})
    assert first.status_code == 201, first.text
    assert first.headers["location"] == first.json()["@iot.selfLink"]
    assert first.headers["location"].startswith("http://testserver/sta/v1.1/Observations('")
    second = client_rw.post(f"/sta/v1.1/Datastreams({sid})/Observations", headers=headers, json={
        "phenomenonTime": f"{t2.isoformat()}/{(t2 + timedelta(seconds=10)).isoformat()}", "result": 14})
    assert second.status_code == 201, second.text
    assert _readings(demo_rw) == [(sid, t1, 12.5), (sid, t2, 14.0)]
    # read back: the Observation, its Datastream's list (newest first), the Thing
    got = client_rw.get(first.headers["location"].replace("http://testserver", ""), headers=headers).json()
    assert got["result"] == 12.5 and got["phenomenonTime"] == t1.isoformat().replace("+00:00", "Z")
    listed = client_rw.get(f"/sta/v1.1/Datastreams({sid})/Observations?$count=true", headers=headers).json()
    assert listed["@iot.count"] == 2 and [o["result"] for o in listed["value"]] == [14.0, 12.5]
    stream = client_rw.get(f"/sta/v1.1/Datastreams({sid})", headers=headers).json()
    assert stream["@iot.id"] == sid and stream["unitOfMeasurement"]["symbol"] == "cm"
    assert stream["Observations@iot.navigationLink"].endswith(f"/Datastreams({sid})/Observations")
    thing = client_rw.get(f"/sta/v1.1/Things({sid})", headers=headers).json()
    assert thing["name"] == "RADAR-00003"


def test_things_and_datastreams_are_the_sensors_of_the_area(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    headers = auth(client_ro, "dispatcher")
    things = client_ro.get("/sta/v1.1/Things?$top=30&$count=true", headers=headers).json()
    assert things["@iot.count"] == 100 and len(things["value"]) == 30 and "$skip=30" in things["@iot.nextLink"]
    ids = [t["@iot.id"] for t in things["value"]]
    assert ids == [r[0] for r in sync_ro.execute("SELECT id FROM sensors ORDER BY id LIMIT 30")]
    streams = client_ro.get("/sta/v1.1/Datastreams?$top=1000", headers=headers).json()
    assert len(streams["value"]) == 100
    community = sync_ro.execute("SELECT community_code FROM sensors ORDER BY id LIMIT 1").fetchone()[0]
    narrow = client_ro.get("/sta/v1.1/Things", headers=auth(client_ro, "dispatcher", community)).json()
    assert narrow["value"] and all(t["properties"]["community_code"] == community for t in narrow["value"])
    root = client_ro.get("/sta/v1.1").json()
    assert {v["name"] for v in root["value"]} == {"Things", "Datastreams", "Observations"}


AT = "2026-12-01T00:00:00Z"


@pytest.mark.parametrize("path, body", [
    ("/sta/v1.1/Observations", {"phenomenonTime": AT, "result": 1}),        # no Datastream
    ("/sta/v1.1/Observations", {"phenomenonTime": AT, "result": 1, "Datastream": {"@iot.id": True}}),
    ("/sta/v1.1/Observations", {"phenomenonTime": AT, "result": 1, "Datastream": {"@iot.id": 999999}}),
    ("/sta/v1.1/Datastreams(1)/Observations", {"phenomenonTime": "never", "result": 1}),
    ("/sta/v1.1/Datastreams(1)/Observations", {"phenomenonTime": "2026-12-01T00:00:00Z", "result": "high"}),
    ("/sta/v1.1/Datastreams(1)/Observations", {"phenomenonTime": "2126-12-01T00:00:00Z", "result": 1}),
    ("/sta/v1.1/Datastreams(1)/Observations", [1, 2]),
    ("/sta/v1.1/Datastreams(0)/Observations", {"phenomenonTime": "2026-12-01T00:00:00Z", "result": 1}),
])
def test_bad_observations_are_4xx_json_and_store_nothing(client_rw: TestClient, demo_rw: str, path: str,
                                                         body: object) -> None:
    response = client_rw.post(path, json=body, headers=auth(client_rw, "operator"))
    assert 400 <= response.status_code < 500 and {"detail", "code"} <= set(response.json())
    assert _readings(demo_rw) == []


def test_reading_and_writing_need_tokens(client_rw: TestClient, demo_rw: str) -> None:
    sid = _sensor_id(demo_rw)
    body = {"phenomenonTime": datetime.now(UTC).isoformat(), "result": 1, "Datastream": {"@iot.id": sid}}
    assert client_rw.post("/sta/v1.1/Observations", json=body).status_code == 401
    assert client_rw.post("/sta/v1.1/Observations", json=body, headers=auth(client_rw, "planner")).status_code == 403
    assert client_rw.get("/sta/v1.1/Things").status_code == 401
    elsewhere = auth(client_rw, "dispatcher", "340111999")
    assert client_rw.get(f"/sta/v1.1/Things({sid})", headers=elsewhere).status_code == 404
    assert client_rw.get("/sta/v1.1/Observations('1-x')", headers=auth(client_rw, "dispatcher")).status_code == 404
    assert _readings(demo_rw) == []
