"""Sensors are a layer like the others: collections, file import, admin writes with the import's checks."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import psycopg
from fastapi.testclient import TestClient

from layers.io.read import Options
from layers.io.service import WriteOptions, import_layer
from layers.io.spec import layer_spec
from tests.conftest import auth


def test_sensors_are_a_collection(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    items = client_ro.get("/collections/sensors/items?limit=1000").json()
    assert items["numberMatched"] == 100 and len(items["features"]) == 100
    first = min(items["features"], key=lambda f: f["id"])
    code, lon, lat = sync_ro.execute("SELECT code, ST_X(geom), ST_Y(geom) FROM sensors ORDER BY id LIMIT 1").fetchone()
    assert first["properties"]["code"] == code
    x, y = first["geometry"]["coordinates"]
    assert abs(x - lon) < 1e-6 and abs(y - lat) < 1e-6


def _point(db: psycopg.Connection) -> tuple[str, float, float]:
    code, lon, lat = db.execute("SELECT code, ST_X(geom), ST_Y(geom) FROM waterlogging_points "
                                "ORDER BY code LIMIT 1").fetchone()
    return code, lon, lat


def test_admin_writes_a_sensor_that_then_takes_readings(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as db:
        point, lon, lat = _point(db)
    body = {"type": "FeatureCollection", "features": [{"type": "Feature", "geometry": {
        "type": "Point", "coordinates": [lon + 0.0002, lat]}, "properties": {
        "code": "LEVEL-NEW-1", "name": "新水位计", "watches": point, "alarm_level": 55, "min_duration_s": 0}}]}
    created = client_rw.post("/admin/layers/sensors", json=body, headers=auth(client_rw, "admin"))
    assert created.status_code == 201, created.text
    headers = auth(client_rw, "dispatcher")
    sensor = client_rw.get("/sensors/LEVEL-NEW-1", headers=headers).json()
    with psycopg.connect(demo_rw) as db:
        warn = db.execute("SELECT warn_level_cm FROM waterlogging_points WHERE code = %s", (point,)).fetchone()[0]
    # its own alarm level, the point's warn level, defaults for the times; placed in its community
    assert sensor["thresholds"]["alarm"] == 55 and sensor["thresholds"]["warn"] == warn
    assert sensor["thresholds"]["offline_after_s"] == 900 and sensor["community_code"]
    out = client_rw.post("/sensors/readings", headers=auth(client_rw, "operator"), json=[
        {"sensor": "LEVEL-NEW-1", "time": datetime.now(UTC).isoformat(), "value": 60}]).json()
    assert out["stored"] == 1 and [a["action"] for a in out["alarms"]] == ["open"]


def test_bad_sensors_are_refused_and_nothing_written(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as db:
        _, lon, lat = _point(db)
        before = db.execute("SELECT count(*) FROM sensors").fetchone()[0]
    for props in ({"code": "X1", "name": "x", "watches": "NO-SUCH-POINT"},
                  {"code": "X2", "name": "x", "warn_level": 50, "alarm_level": 40},
                  {"code": "X3", "name": "x", "alarm_level": 40, "clear_level": 45},
                  {"code": "X4", "name": "x", "kind": "thermometer"},
                  {"code": "X5", "name": "x", "offline_after_s": 0}):
        body = {"type": "FeatureCollection", "features": [{"type": "Feature", "properties": props,
                                                           "geometry": {"type": "Point", "coordinates": [lon, lat]}}]}
        refused = client_rw.post("/admin/layers/sensors", json=body, headers=auth(client_rw, "admin"))
        assert refused.status_code == 422 and refused.json()["code"] == "data_refused", (props, refused.text)
    with psycopg.connect(demo_rw) as db:
        assert db.execute("SELECT count(*) FROM sensors").fetchone()[0] == before


def test_sensors_import_from_a_file(demo_rw: str, tmp_path: Path) -> None:
    with psycopg.connect(demo_rw) as db:
        point, lon, lat = _point(db)
    path = tmp_path / "sensors.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [
        {"type": "Feature", "geometry": {"type": "Point", "coordinates": [lon + 0.001 * i, lat]},
         "properties": {"code": f"FILE-{i}", "name": f"雨量计{i}", "kind": "numeric", "unit": "mm",
                        "alarm_level": 50, "clear_level": 20, "watches": point if i == 0 else None}}
        for i in range(3)]}), encoding="utf-8")
    result = import_layer(demo_rw, path, layer_spec("sensors"), Options(), WriteOptions())
    assert result.ok and result.counts.inserted == 3
    again = import_layer(demo_rw, path, layer_spec("sensors"), Options(), WriteOptions())
    assert again.ok and again.counts.unchanged == 3
    with psycopg.connect(demo_rw) as db:
        rows = db.execute("SELECT code, kind, unit, watches, alarm_level, clear_level, warn_level FROM sensors "
                          "WHERE code LIKE 'FILE-%' ORDER BY code").fetchall()
    assert rows == [("FILE-0", "numeric", "mm", point, 50.0, 20.0, None),
                    ("FILE-1", "numeric", "mm", None, 50.0, 20.0, None),
                    ("FILE-2", "numeric", "mm", None, 50.0, 20.0, None)]
