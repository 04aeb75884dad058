"""Camera events as cases: type mapping, confidence threshold, placement, one case per scene, bad input."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from fastapi.testclient import TestClient
from pyproj import Geod

from geo.chinacrs import gcj02_to_wgs84, wgs84_to_gcj02
from tests.conftest import auth

GEOD = Geod(ellps="WGS84")
CAMERA = "CAM00501"  # one of the two cameras looking at the first waterlogging point
T0 = datetime(2026, 12, 1, 8, 0, tzinfo=UTC)


def _camera(url: str, code: str = CAMERA) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_X(geom), ST_Y(geom), heading_deg, range_m FROM cameras WHERE code = %s",
                           (code,)).fetchone()
    assert row is not None
    return {"lon": row[0], "lat": row[1], "heading": row[2], "range": row[3]}


def _counts(url: str) -> tuple[int, int, int]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT (SELECT count(*) FROM incidents), (SELECT count(*) FROM camera_events), "
                           "(SELECT count(*) FROM camera_event_types)").fetchone()
    assert row is not None
    return row[0], row[1], row[2]


def _event(**changes: Any) -> dict[str, Any]:
    return {"camera": CAMERA, "type": "street_stall", "confidence": 0.91, "time": T0.isoformat(),
            "snapshot_url": "http://video.baohe.local/snapshot/a.jpg", **changes}


def _distance(a: tuple[float, float], b: tuple[float, float]) -> float:
    return float(GEOD.inv(a[0], a[1], b[0], b[1])[2])


def test_a_stall_seen_twice_is_one_case(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    before = _counts(demo_rw)
    first = client_rw.post("/camera-events", json=_event(), headers=headers)
    assert first.status_code == 201, first.text
    body = first.json()
    assert (body["outcome"], body["replayed"], body["category"]) == ("created", False, "01.03")
    case = body["incident"]
    assert (case["channel"], case["category_code"], case["status"]) == ("camera", "01.03", "accepted")
    assert first.headers["Location"] == f"/incidents/{case['id']}"
    # placed at the middle of the view: half the range along the heading, on the ellipsoid
    cam = _camera(demo_rw)
    lon, lat, _ = GEOD.fwd(cam["lon"], cam["lat"], cam["heading"], cam["range"] / 2)
    assert body["location"]["placed_at"] == "view_centre"
    assert _distance((case["lon"], case["lat"]), (lon, lat)) < 0.05
    assert CAMERA in [c["code"] for c in case["cameras"] if c["sees"]]

    # the platform sends the same event again: nothing changes
    again = client_rw.post("/camera-events", json=_event(), headers=headers)
    assert again.status_code == 200 and again.json()["replayed"] is True
    assert (again.json()["event"], again.json()["incident"]["id"]) == (body["event"], case["id"])
    assert _counts(demo_rw) == (before[0] + 1, before[1] + 1, before[2])

    # seen again a minute later, from the other camera on the spot: the same case, one more snapshot
    later = _event(camera="CAM00502", time=(T0 + timedelta(minutes=1)).isoformat(),
                   snapshot_url="http://video.baohe.local/snapshot/b.jpg")
    update = client_rw.post("/camera-events", json=later, headers=headers)
    assert update.status_code == 200, update.text
    assert (update.json()["outcome"], update.json()["incident"]["id"]) == ("updated", case["id"])
    assert _counts(demo_rw) == (before[0] + 1, before[1] + 2, before[2])
    with psycopg.connect(demo_rw) as conn:
        media = conn.execute("SELECT media_url FROM incidents WHERE id = %s", (case["id"],)).fetchone()
        logged = conn.execute("SELECT details FROM incident_events WHERE incident_id = %s AND action = "
                              "'camera_event'", (case["id"],)).fetchall()
    assert media == ("http://video.baohe.local/snapshot/a.jpg\nhttp://video.baohe.local/snapshot/b.jpg",)
    assert [d[0]["camera"] for d in logged] == ["CAM00502"]
    read = client_rw.get(f"/incidents/{case['id']}", headers=headers).json()
    assert {"CAM00501", "CAM00502"} <= {c["code"] for c in read["cameras"]}


def test_a_closed_case_is_not_reopened(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    first = client_rw.post("/camera-events", json=_event(), headers=headers).json()
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        conn.execute("UPDATE incidents SET status = 'closed', closed_at = now() WHERE id = %s",
                     (first["incident"]["id"],))
    back = client_rw.post("/camera-events", json=_event(time=(T0 + timedelta(hours=1)).isoformat()),
                          headers=headers)
    assert back.status_code == 201 and back.json()["incident"]["id"] != first["incident"]["id"]


def test_events_under_the_threshold_are_kept_and_ignored(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "operator")
    before = _counts(demo_rw)
    low = client_rw.post("/camera-events", json=_event(confidence=0.59), headers=headers)
    assert low.status_code == 200
    assert (low.json()["outcome"], low.json()["incident"], low.json()["threshold"]) == ("ignored", None, 0.6)
    # a fight needs 0.8 (its own threshold), whatever the service's
    fight = client_rw.post("/camera-events", json=_event(type="fight", confidence=0.75), headers=headers)
    assert (fight.json()["outcome"], fight.json()["threshold"]) == ("ignored", pytest.approx(0.8))
    assert _counts(demo_rw) == (before[0], before[1] + 2, before[2])
    # the same camera, type and time as the first: that event, again (16:00 China time is 08:00 UTC)
    same = client_rw.post("/camera-events", json=_event(confidence=0.99, time="2026-12-01T16:00:00"),
                          headers=headers)
    assert (same.json()["replayed"], same.json()["event"], same.json()["outcome"]) == (True, low.json()["event"],
                                                                                        "ignored")
    exact = client_rw.post("/camera-events", json=_event(type="fight", confidence=0.8,
                                                         time=(T0 + timedelta(minutes=2)).isoformat()), headers=headers)
    assert exact.json()["outcome"] == "created"  # the threshold itself is enough
    at_threshold = client_rw.post("/camera-events", json=_event(confidence=0.6, time="2026-12-01T16:00:30"),
                                  headers=headers)
    assert at_threshold.status_code == 201 and at_threshold.json()["outcome"] == "created"
    with psycopg.connect(demo_rw) as conn:
        at = conn.execute("SELECT at FROM camera_events WHERE id = %s", (at_threshold.json()["event"],)).fetchone()
    assert at == (datetime(2026, 12, 1, 8, 0, 30, tzinfo=UTC),)  # no offset: China time


def test_target_in_gcj02_places_the_case(client_rw: TestClient, demo_rw: str) -> None:
    cam = _camera(demo_rw)
    lon, lat, _ = GEOD.fwd(cam["lon"], cam["lat"], cam["heading"], 20.0)
    glon, glat = wgs84_to_gcj02(lon, lat)
    answer = client_rw.post("/camera-events", json=_event(target={"lon": glon, "lat": glat, "crs": "gcj02"}),
                            headers=auth(client_rw, "dispatcher"))
    assert answer.status_code == 201, answer.text
    case = answer.json()["incident"]
    assert answer.json()["location"]["placed_at"] == "target"
    assert _distance((case["lon"], case["lat"]), gcj02_to_wgs84(glon, glat)) < 0.01
    assert (case["raw_x"], case["raw_y"], case["raw_crs"]) == (glon, glat, "gcj02")


def test_simultaneous_detections_make_one_case(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "dispatcher")
    before = _counts(demo_rw)
    answers: list[dict[str, Any]] = []

    def send(i: int) -> None:
        answers.append(client_rw.post("/camera-events", json=_event(time=(T0 + timedelta(seconds=i)).isoformat()),
                                      headers=headers).json())

    threads = [threading.Thread(target=send, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(a["outcome"] for a in answers) == ["created"] + ["updated"] * 5
    assert len({a["incident"]["id"] for a in answers}) == 1
    assert _counts(demo_rw)[:2] == (before[0] + 1, before[1] + 6)


def test_event_types_are_importable_by_admins(client_rw: TestClient, demo_rw: str) -> None:
    listed = client_rw.get("/camera-events/types", headers=auth(client_rw, "operator")).json()
    assert {"street_stall": "01.03", "road_water": "10.04"}.items() <= {
        t["type"]: t["category_code"] for t in listed["types"]}.items()
    assert listed["min_confidence"] == 0.6
    new = {"types": [{"type": "lane.occupied", "category_code": "01.03", "name": "占道", "min_confidence": 0.5}]}
    assert client_rw.put("/camera-events/types", json=new, headers=auth(client_rw, "dispatcher")).status_code == 403
    stored = client_rw.put("/camera-events/types", json=new, headers=auth(client_rw, "admin"))
    assert stored.status_code == 200, stored.text
    event = client_rw.post("/camera-events", json=_event(type="lane.occupied", confidence=0.55),
                           headers=auth(client_rw, "dispatcher"))
    assert event.status_code == 201 and event.json()["category"] == "01.03"
    only = client_rw.put("/camera-events/types", json={**new, "replace": True}, headers=auth(client_rw, "admin"))
    assert [t["type"] for t in only.json()["types"]] == ["lane.occupied"]


@pytest.mark.parametrize("body", [
    {"types": [{"type": "a", "category_code": "99.99"}, {"type": "b", "category_code": "01.03"}]},
    {"types": [{"type": "a b", "category_code": "01.03"}]}, {"types": []}, {},
    {"types": [{"type": "a", "category_code": "01.03", "min_confidence": 2}]},
    {"types": [{"type": "a", "category_code": "01.03"}, {"type": "a", "category_code": "01.04"}]},
    {"types": [{"type": "a", "category_code": "01.03", "extra": True}]},
    {"types": [{"type": "a\x00", "category_code": "01.03"}]},
])
def test_bad_event_types_change_nothing(client_rw: TestClient, demo_rw: str, body: dict) -> None:
    before = _counts(demo_rw)
    answer = client_rw.put("/camera-events/types", json=body, headers=auth(client_rw, "admin"))
    assert answer.status_code == 422 and set(answer.json()) >= {"detail", "code"}, answer.text
    assert _counts(demo_rw) == before


BAD_EVENTS = [
    _event(camera="NOPE"), _event(type="unicorn"), _event(confidence=1.5), _event(confidence=-0.1),
    _event(confidence="high"), _event(confidence=float("nan")),
    _event(time=(datetime.now(UTC) + timedelta(minutes=10)).isoformat()), _event(time="yesterday"),
    {k: v for k, v in _event().items() if k != "time"}, {k: v for k, v in _event().items() if k != "camera"},
    _event(snapshot_url="javascript:alert(1)"), _event(snapshot_url="http://a/\x00b"), _event(type="stall\x07"),
    _event(extra=1), _event(target={"lon": 117.3, "lat": 31.8, "crs": "EPSG:999999"}),
    _event(target={"lon": 116.0, "lat": 30.0}), _event(target={"lon": 117.3}), _event(target={"lon": 400, "lat": 0}),
    _event(camera=""), _event(camera="x" * 65),
]


@pytest.mark.parametrize("body", BAD_EVENTS)
def test_bad_events_change_nothing(client_rw: TestClient, demo_rw: str, body: dict) -> None:
    before = _counts(demo_rw)
    answer = client_rw.post("/camera-events", content=_json(body), headers={
        **auth(client_rw, "dispatcher"), "Content-Type": "application/json"})
    assert 400 <= answer.status_code < 500 and answer.status_code != 404, answer.text
    assert set(answer.json()) >= {"detail", "code"}
    assert _counts(demo_rw) == before


def _json(body: dict) -> bytes:
    import json

    return json.dumps(body, allow_nan=True).encode()


def test_events_need_an_operator_or_dispatcher(client_rw: TestClient, demo_rw: str) -> None:
    before = _counts(demo_rw)
    for role in ("planner", "grid_worker"):
        answer = client_rw.post("/camera-events", json=_event(), headers=auth(client_rw, role))
        assert answer.status_code == 403 and answer.json()["code"] == "forbidden"
    assert client_rw.post("/camera-events", json=_event()).status_code == 401
    assert _counts(demo_rw) == before
