"""Admin writes over the API: upsert, retire, the import's checks, the token's area, bad input.

Every outcome is checked by reading the tables with a plain connection,
and every refusal by comparing whole tables before and after.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
import shapely
from fastapi.testclient import TestClient
from pyproj import Transformer
from shapely.ops import polylabel

from tests.conftest import auth

DISTRICT, STREET, OTHER_STREET = "340111", "340111001", "340111002"
TABLES = ("teams", "cameras", "waterlogging_points", "stall_zones", "buildings", "data_imports")


@pytest.fixture
def db(demo_rw: str) -> Iterator[psycopg.Connection]:
    """A plain connection to the test's own database, for independent checks."""
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        yield conn


def snapshot(conn: psycopg.Connection) -> dict[str, tuple[int, str]]:
    """Row count and a digest of every row of each table an admin write may touch."""
    out = {}
    for table in TABLES:
        row = conn.execute(f"SELECT count(*), coalesce(md5(string_agg(t::text, '|' ORDER BY t.id)), '') "
                           f"FROM {table} t").fetchone()
        assert row is not None
        out[table] = (int(row[0]), str(row[1]))
    return out


def inner_point(conn: psycopg.Connection, area: str) -> tuple[float, float]:
    """A point of a street at least 0.005° (about 500 m) from its edge, so small moves stay inside."""
    row = conn.execute("SELECT ST_AsBinary(geom) FROM streets WHERE code = %s", (area,)).fetchone()
    assert row is not None
    street = shapely.from_wkb(row[0])
    centre = polylabel(street.geoms[0] if street.geom_type == "MultiPolygon" else street, 1e-5)
    assert street.covers(centre.buffer(0.005))
    return centre.x, centre.y


def feature(properties: dict[str, Any], geometry: dict[str, Any] | None) -> dict[str, Any]:
    return {"type": "Feature", "properties": properties, "geometry": geometry}


def point(lon: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lon, lat]}


def square(lon: float, lat: float, half: float = 0.0001) -> dict[str, Any]:
    ring = [[lon - half, lat - half], [lon + half, lat - half], [lon + half, lat + half],
            [lon - half, lat + half], [lon - half, lat - half]]
    return {"type": "Polygon", "coordinates": [ring]}


def collection(*features: dict[str, Any]) -> dict[str, Any]:
    return {"type": "FeatureCollection", "features": list(features)}


def camera_row(conn: psycopg.Connection, code: str) -> tuple | None:
    return conn.execute("SELECT name, kind, online, ST_X(geom), ST_Y(geom) FROM cameras WHERE code = %s",
                        (code,)).fetchone()


def test_create_then_repeat_changes_nothing(client_rw: TestClient, db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    body = collection(feature({"code": "CAM-A1", "name": "东门", "kind": "dome", "online": False}, point(lon, lat)),
                      feature({"code": "CAM-A2", "name": "西门"}, point(lon + 0.001, lat)))
    headers = auth(client_rw, "admin", DISTRICT)
    created = client_rw.post("/admin/layers/cameras", json=body, headers=headers)
    assert created.status_code == 201, created.text
    assert created.json()["counts"]["inserted"] == 2 and created.json()["ok"] is True
    assert camera_row(db, "CAM-A1") == ("东门", "dome", False, lon, lat)
    assert camera_row(db, "CAM-A2") == ("西门", "fixed", True, lon + 0.001, lat)  # the spec's defaults
    before = snapshot(db)
    again = client_rw.post("/admin/layers/cameras", json=body, headers=headers)
    assert again.status_code == 200, again.text
    assert again.json()["counts"] == {"inserted": 0, "updated": 0, "unchanged": 2, "retired": 0,
                                      "rekeyed_cases": 0}
    after = snapshot(db)
    assert {t: v for t, v in after.items() if t != "data_imports"} == \
        {t: v for t, v in before.items() if t != "data_imports"}
    # each write is logged, with the token's subject as actor
    logged = db.execute("SELECT actor, inserted, unchanged FROM data_imports ORDER BY id DESC LIMIT 2").fetchall()
    assert logged == [(f"admin@{DISTRICT}", 0, 2), (f"admin@{DISTRICT}", 2, 0)]


def test_update_attribute_and_move_a_point(client_rw: TestClient, db: psycopg.Connection) -> None:
    code = db.execute("SELECT code FROM cameras ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
    lon, lat = inner_point(db, STREET)
    headers = auth(client_rw, "admin", DISTRICT)
    put = client_rw.put(f"/admin/layers/cameras/{code}", headers=headers,
                        json=feature({"name": "新名字", "kind": "high_point"}, point(lon, lat)))
    assert put.status_code == 200, put.text
    assert put.json()["counts"]["updated"] == 1
    assert camera_row(db, code) == ("新名字", "high_point", True, lon, lat)
    # the same point sent in a Gauss-Krüger zone lands where pyproj (independently) puts it back
    easting, northing = Transformer.from_crs(4326, 4548, always_xy=True).transform(lon + 0.002, lat)
    moved = client_rw.put(f"/admin/layers/cameras/{code}", params={"crs": "EPSG:4548"}, headers=headers,
                          json=feature({"code": code, "name": "新名字", "kind": "high_point"},
                                       point(easting, northing)))
    assert moved.status_code == 200, moved.text
    row = camera_row(db, code)
    assert row is not None and abs(row[3] - (lon + 0.002)) < 1e-8 and abs(row[4] - lat) < 1e-8


def test_new_team_is_dispatchable_then_retired_keeps_its_cases(client_rw: TestClient,
                                                                db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    headers = auth(client_rw, "admin", STREET)
    team = {"code": "T-NEW", "name": "新队", "type": "water_affairs", "area_code": STREET}
    created = client_rw.put("/admin/layers/teams/T-NEW", json=feature(team, point(lon, lat)), headers=headers)
    assert created.status_code == 201, created.text
    again = client_rw.put("/admin/layers/teams/T-NEW", json=feature(team, point(lon, lat)), headers=headers)
    assert again.status_code == 200 and again.json()["counts"]["unchanged"] == 1
    near = {"lon": lon, "lat": lat, "type": "water_affairs", "k": 1}
    assert [t["code"] for t in client_rw.get("/teams/nearest", params=near).json()["teams"]] == ["T-NEW"]
    # give it a closed case, as history
    team_id = db.execute("SELECT id FROM teams WHERE code = 'T-NEW'").fetchone()[0]  # type: ignore[index]
    case_id = db.execute("SELECT id FROM incidents WHERE status = 'closed' ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
    db.execute("UPDATE incidents SET team_id = %s WHERE id = %s", (team_id, case_id))
    retired = client_rw.delete("/admin/layers/teams/T-NEW", headers=headers)
    assert retired.status_code == 200, retired.text
    assert retired.json()["action"] == "retired" and retired.json()["counts"] == {"retired": 1, "unchanged": 0}
    assert db.execute("SELECT actor, retired FROM data_imports ORDER BY id DESC LIMIT 1").fetchone() == \
        (f"admin@{STREET}", 1)
    assert db.execute("SELECT status FROM teams WHERE code = 'T-NEW'").fetchone() == ("retired",)
    assert db.execute("SELECT team_id FROM incidents WHERE id = %s", (case_id,)).fetchone() == (team_id,)
    found = client_rw.get("/teams/nearest", params={**near, "k": 50}).json()["teams"]
    assert found and "T-NEW" not in [t["code"] for t in found]
    # retiring again changes nothing; updating it keeps it retired (status is the service's, not the file's)
    assert client_rw.delete("/admin/layers/teams/T-NEW", headers=headers).json()["counts"]["unchanged"] == 1
    client_rw.put("/admin/layers/teams/T-NEW", json=feature({**team, "name": "改名"}, point(lon, lat)),
                  headers=headers)
    assert db.execute("SELECT name, status FROM teams WHERE code = 'T-NEW'").fetchone() == ("改名", "retired")


def test_a_team_with_an_open_case_is_not_retired(client_rw: TestClient, db: psycopg.Connection) -> None:
    """Not even in feedback: the case can be returned to the team, and the loop would then free it again."""
    for case_status in ("dispatched", "handling", "feedback", "verified"):
        row = db.execute("SELECT t.code, t.status FROM teams t JOIN incidents i ON i.team_id = t.id "
                         "WHERE i.status = %s LIMIT 1", (case_status,)).fetchone()
        assert row is not None, case_status
        answer = client_rw.delete(f"/admin/layers/teams/{row[0]}", headers=auth(client_rw, "admin", DISTRICT))
        assert answer.status_code == 409 and answer.json()["code"] == "conflict", (case_status, answer.text)
        assert db.execute("SELECT status FROM teams WHERE code = %s", (row[0],)).fetchone() == (row[1],)


def test_delete_a_camera(client_rw: TestClient, db: psycopg.Connection) -> None:
    code = db.execute("SELECT code FROM cameras ORDER BY id LIMIT 1").fetchone()[0]  # type: ignore[index]
    headers = auth(client_rw, "admin", DISTRICT)
    gone = client_rw.delete(f"/admin/layers/cameras/{code}", headers=headers)
    assert gone.status_code == 200 and gone.json()["action"] == "deleted"
    assert camera_row(db, code) is None
    assert client_rw.delete(f"/admin/layers/cameras/{code}", headers=headers).status_code == 404


def test_polygons_buildings_and_stall_zones(client_rw: TestClient, db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    headers = auth(client_rw, "admin", STREET)
    building = feature({"code": "B-NEW", "address": "宁国路1号2栋", "households": 12, "floors": 6},
                       square(lon, lat))
    zone = feature({"code": "STALL-NEW", "name": "夜市", "opens": "17:00", "closes": "23:30"},
                   square(lon + 0.001, lat, 0.0003))
    assert client_rw.post("/admin/layers/buildings", json=collection(building), headers=headers).status_code == 201
    assert client_rw.post("/admin/layers/stall_zones", json=collection(zone), headers=headers).status_code == 201
    stored = db.execute("SELECT households, floors, ST_AsBinary(geom) FROM buildings WHERE code = 'B-NEW'").fetchone()
    assert stored is not None and stored[:2] == (12, 6)
    assert shapely.equals(shapely.from_wkb(stored[2]), shapely.geometry.shape(building["geometry"]))
    kept = db.execute("SELECT opens::text, closes::text, ST_GeometryType(geom) FROM stall_zones "
                      "WHERE code = 'STALL-NEW'").fetchone()
    assert kept == ("17:00:00", "23:30:00", "ST_MultiPolygon")
    # polygons sent again (a Polygon stored as a MultiPolygon too) are unchanged, and the rows stay as they are
    before = snapshot(db)
    for layer, body in (("buildings", building), ("stall_zones", zone)):
        again = client_rw.post(f"/admin/layers/{layer}", json=collection(body), headers=headers)
        assert again.status_code == 200 and again.json()["counts"]["unchanged"] == 1, again.text
    assert {t: v for t, v in snapshot(db).items() if t != "data_imports"} == \
        {t: v for t, v in before.items() if t != "data_imports"}


def test_a_polygon_may_overhang_its_area_by_the_snapping_tolerance_only(client_rw: TestClient,
                                                                        db: psycopg.Connection) -> None:
    """A zone cut to the street's edge, then grown by 5 cm (within 0.1 m) passes; grown by 1 m it is 403."""
    row = db.execute("SELECT ST_AsBinary(geom) FROM streets WHERE code = %s", (STREET,)).fetchone()
    assert row is not None
    street = shapely.from_wkb(row[0])
    to_m = Transformer.from_crs(4326, 4548, always_xy=True)
    to_deg = Transformer.from_crs(4548, 4326, always_xy=True)
    street_m = shapely.transform(street, lambda xy: shapely.get_coordinates(shapely.points(
        *to_m.transform(xy[:, 0], xy[:, 1]))))
    edge = street_m.boundary.interpolate(0.3, normalized=True)
    cut = edge.buffer(40).intersection(street_m)
    headers = auth(client_rw, "admin", STREET)
    for grown_m, status in ((0.05, 201), (1.0, 403)):
        zone_m = cut.buffer(grown_m)
        zone = shapely.transform(zone_m, lambda xy: shapely.get_coordinates(shapely.points(
            *to_deg.transform(xy[:, 0], xy[:, 1]))))
        assert not street.covers(zone)  # it does overhang
        code = f"STALL-EDGE-{status}"
        body = collection(feature({"code": code, "name": "边"}, shapely.geometry.mapping(zone)))
        answer = client_rw.post("/admin/layers/stall_zones", json=json.loads(json.dumps(body)), headers=headers)
        assert answer.status_code == status, (grown_m, answer.text)
        stored = db.execute("SELECT count(*) FROM stall_zones WHERE code = %s", (code,)).fetchone()
        assert stored == (1 if status == 201 else 0,)


def test_a_community_admin_writes_in_its_community_only(client_rw: TestClient, db: psycopg.Connection) -> None:
    rows = db.execute("SELECT code, ST_X(ST_PointOnSurface(geom)), ST_Y(ST_PointOnSurface(geom)) FROM communities "
                      "WHERE street_code = %s ORDER BY code LIMIT 2", (STREET,)).fetchall()
    (mine, lon, lat), (_other, other_lon, other_lat) = rows
    headers = {**auth(client_rw, "admin", mine), "Content-Type": "application/geo+json"}
    inside = json.dumps(collection(feature({"code": "C-COMM", "name": "社区"}, point(lon, lat))))
    assert client_rw.post("/admin/layers/cameras", content=inside, headers=headers).status_code == 201
    assert camera_row(db, "C-COMM") == ("社区", "fixed", True, lon, lat)
    outside = json.dumps(collection(feature({"code": "C-NEXT", "name": "邻"}, point(other_lon, other_lat))))
    assert client_rw.post("/admin/layers/cameras", content=outside, headers=headers).status_code == 403
    assert camera_row(db, "C-NEXT") is None


def test_failed_checks_are_422_and_write_nothing(client_rw: TestClient, db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    headers = auth(client_rw, "admin", DISTRICT)
    before = snapshot(db)
    bowtie = {"type": "Polygon", "coordinates": [[[lon, lat], [lon + 0.001, lat + 0.001], [lon + 0.001, lat],
                                                  [lon, lat + 0.001], [lon, lat]]]}
    cases = [
        ("cameras", collection(feature({"code": "C1", "name": "a", "kind": "laser"}, point(lon, lat)),
                               feature({"code": "C2", "name": "b"}, point(lon, lat)),
                               feature({"code": "C2", "name": "c"}, point(lon, lat))),
         {"unknown_value", "duplicate_code"}),
        ("cameras", collection(feature({"code": "C3"}, point(lon, lat))), {"missing_field"}),
        ("cameras", collection(feature({"code": "C4", "name": "d"},
                                       {"type": "LineString", "coordinates": [[lon, lat], [lon + 0.001, lat]]})),
         {"geometry_type"}),
        ("cameras", collection(feature({"code": "C5", "name": "坏\x00名"}, point(lon, lat))), {"control_characters"}),
        ("waterlogging_points", collection(feature({"code": "W1", "name": "w", "warn_level_cm": 30,
                                                    "alarm_level_cm": 20}, point(lon, lat))), {"levels"}),
        ("waterlogging_points", collection(feature({"code": "W2", "name": "w", "sensor_id": "RADAR-00001"},
                                                   point(lon, lat))), {"duplicate_code"}),
        ("teams", collection(feature({"code": "T1", "name": "t", "type": "wizards", "area_code": STREET},
                                     point(lon, lat))), {"unknown_value"}),
        ("buildings", collection(feature({"code": "B1", "address": "x", "floors": 0}, bowtie)),
         {"invalid_geometry", "out_of_range"}),
    ]
    for layer, body, checks in cases:
        answer = client_rw.post(f"/admin/layers/{layer}", json=body, headers=headers)
        assert answer.status_code == 422, (layer, answer.text)
        error = answer.json()
        assert error["code"] == "data_refused" and "nothing written" in error["detail"]
        assert checks <= {e["check"] for e in error["errors"]}, (checks, error["errors"])
        assert all(isinstance(e["field"], str) and e["message"] for e in error["errors"])
        assert snapshot(db) == before


def test_other_area_is_403_and_writes_nothing(client_rw: TestClient, db: psycopg.Connection) -> None:
    here, there = inner_point(db, STREET), inner_point(db, OTHER_STREET)
    headers = auth(client_rw, "admin", STREET)
    foreign_camera = db.execute("SELECT c.code FROM cameras c JOIN streets s ON ST_Covers(s.geom, c.geom) "
                                "WHERE s.code = %s LIMIT 1", (OTHER_STREET,)).fetchone()
    foreign_team = db.execute("SELECT code FROM teams WHERE area_code = %s LIMIT 1", (OTHER_STREET,)).fetchone()
    assert foreign_camera is not None and foreign_team is not None
    before = snapshot(db)
    refused = [
        client_rw.post("/admin/layers/cameras", headers=headers, json=collection(
            feature({"code": "C-IN", "name": "in"}, point(*here)),
            feature({"code": "C-OUT", "name": "out"}, point(*there)))),
        # a stored camera of the other street cannot be pulled into this one
        client_rw.put(f"/admin/layers/cameras/{foreign_camera[0]}", headers=headers,
                      json=feature({"name": "mine now"}, point(*here))),
        client_rw.put("/admin/layers/teams/T-X", headers=headers, json=feature(
            {"name": "t", "type": "water_affairs", "area_code": OTHER_STREET}, point(*here))),
        client_rw.delete(f"/admin/layers/cameras/{foreign_camera[0]}", headers=headers),
        client_rw.delete(f"/admin/layers/teams/{foreign_team[0]}", headers=headers),
        # a point outside the whole district
        client_rw.post("/admin/layers/cameras", headers=auth(client_rw, "admin", DISTRICT),
                       json=collection(feature({"code": "C-FAR", "name": "far"}, point(116.0, 30.0)))),
        # an admin role is needed at all
        client_rw.post("/admin/layers/cameras", headers=auth(client_rw, "dispatcher", DISTRICT),
                       json=collection(feature({"code": "C-IN", "name": "in"}, point(*here)))),
    ]
    for answer in refused:
        assert answer.status_code == 403, answer.text
        assert answer.json()["code"] == "forbidden"
    assert "C-OUT" in refused[0].json()["errors"][0]["codes"]
    assert snapshot(db) == before


def _raw(client: TestClient, path: str, text: str, headers: dict[str, str]) -> Any:
    return client.post(path, content=text.encode(), headers={**headers, "Content-Type": "application/json"})


def test_bad_input_is_4xx_and_writes_nothing(client_rw: TestClient, db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    headers = auth(client_rw, "admin", DISTRICT)
    good = feature({"code": "C-OK", "name": "ok"}, point(lon, lat))
    before = snapshot(db)
    answers = {
        "a list": (client_rw.post("/admin/layers/cameras", json=[good], headers=headers), 422),
        "a feature to POST": (client_rw.post("/admin/layers/cameras", json=good, headers=headers), 422),
        "no features": (client_rw.post("/admin/layers/cameras", json=collection(), headers=headers), 422),
        "not a feature": (client_rw.post("/admin/layers/cameras", json=collection({"type": "Point"}),
                                         headers=headers), 422),
        "string coordinates": (client_rw.post("/admin/layers/cameras", headers=headers, json=collection(
            feature({"code": "C", "name": "n"}, {"type": "Point", "coordinates": ["117", "31"]}))), 422),
        "NaN": (_raw(client_rw, "/admin/layers/cameras", json.dumps(collection(good)).replace(
            f"[{lon}, {lat}]", f"[NaN, {lat}]"), headers), 422),
        "Infinity": (_raw(client_rw, "/admin/layers/cameras", json.dumps(collection(good)).replace(
            f"[{lon}, {lat}]", f"[{lon}, Infinity]"), headers), 422),
        "not JSON": (_raw(client_rw, "/admin/layers/cameras", "{\"type\": ", headers), 422),
        "a number too large for a float": (_raw(client_rw, "/admin/layers/cameras", json.dumps(collection(
            feature({"code": "C", "name": "n", "extra": 1}, point(lon, lat)))).replace('"extra": 1', '"extra": 1e400'),
            headers), 422),
        "a lone surrogate": (_raw(client_rw, "/admin/layers/cameras", json.dumps(collection(
            feature({"code": "C", "name": "\ud800"}, point(lon, lat)))), headers), 422),
        "four numbers in a position": (client_rw.post("/admin/layers/cameras", headers=headers, json=collection(
            feature({"code": "C", "name": "n"}, {"type": "Point", "coordinates": [lon, lat, 1, 2]}))), 422),
        "a count beyond the store's integers": (client_rw.post(
            "/admin/layers/buildings", headers=headers,
            json=collection(feature({"code": "B", "address": "a", "households": 10**12}, square(lon, lat)))), 422),
        "an unclosed ring": (client_rw.post("/admin/layers/stall_zones", headers=headers, json=collection(
            feature({"code": "S", "name": "n"}, {"type": "Polygon", "coordinates": [
                [[lon, lat], [lon + 0.001, lat], [lon, lat + 0.001]]]}))), 422),
        "a polygon nested too shallow": (client_rw.post("/admin/layers/stall_zones", headers=headers, json=collection(
            feature({"code": "S", "name": "n"}, {"type": "Polygon", "coordinates": [[lon, lat], [lon, lat]]}))), 422),
        "unknown crs": (client_rw.post("/admin/layers/cameras", params={"crs": "EPSG:999999"}, json=collection(good),
                                       headers=headers), 422),
        "unknown crs in the body": (client_rw.post("/admin/layers/cameras", headers=headers,
                                                   json={**collection(good), "crs": "mars2000"}), 422),
        "unknown layer": (client_rw.post("/admin/layers/dragons", json=collection(good), headers=headers), 404),
        "grids are not admin-writable": (client_rw.post("/admin/layers/grids", json=collection(good),
                                                        headers=headers), 404),
        "too large": (client_rw.post("/admin/layers/cameras", headers=headers, json=collection(
            *[feature({"code": f"C{i}", "name": "x" * 200}, point(lon, lat)) for i in range(5000)])), 413),
        "code of another feature": (client_rw.put("/admin/layers/cameras/C-OK", headers=headers, json=feature(
            {"code": "C-OTHER", "name": "n"}, point(lon, lat))), 422),
        "control character in the path": (client_rw.put("/admin/layers/cameras/C%01", headers=headers,
                                                        json=good), 422),
        "no token": (client_rw.post("/admin/layers/cameras", json=collection(good)), 401),
    }
    for what, (answer, status) in answers.items():
        assert answer.status_code == status, (what, answer.status_code, answer.text)
        body = answer.json()
        assert set(body) >= {"detail", "code"}, what
        assert "Traceback" not in answer.text and "psycopg" not in answer.text, what
    assert snapshot(db) == before


def test_dry_run_reports_and_writes_nothing(client_rw: TestClient, db: psycopg.Connection) -> None:
    lon, lat = inner_point(db, STREET)
    before = snapshot(db)
    answer = client_rw.post("/admin/layers/cameras", params={"dry_run": "true"}, headers=auth(client_rw, "admin"),
                            json=collection(feature({"code": "C-DRY", "name": "dry"}, point(lon, lat))))
    assert answer.status_code == 200, answer.text
    assert answer.json()["ok"] is True and answer.json()["written"] is False
    # the example the OpenAPI document shows passes every check too
    operation = client_rw.get("/openapi.json").json()["paths"]["/admin/layers/{layer}"]["post"]
    example = operation["requestBody"]["content"]["application/json"]["examples"]["camera"]["value"]
    shown = client_rw.post("/admin/layers/cameras", params={"dry_run": "true"}, json=example,
                           headers=auth(client_rw, "admin"))
    assert shown.status_code == 200 and shown.json()["ok"] is True, shown.text
    assert snapshot(db) == before


def test_an_unclosed_ring_in_a_file_is_refused_not_a_crash(tmp_path: Any) -> None:
    """GDAL hands an unclosed ring to GEOS, which raised through the reader (found by the admin API's tests)."""
    from layers.io.problems import ImportRefused
    from layers.io.read import Options, read_table
    from layers.io.spec import layer_spec

    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(collection(feature({"code": "S", "name": "n"}, {"type": "Polygon", "coordinates": [
        [[117.3, 31.8], [117.31, 31.8], [117.3, 31.81]]]}))), encoding="utf-8")
    with pytest.raises(ImportRefused, match="closed"):
        read_table(path, layer_spec("stall_zones"), Options())


def test_the_writable_layers_are_described(client_ro: TestClient) -> None:
    layers = {layer["name"]: layer for layer in client_ro.get("/admin/layers").json()["layers"]}
    assert set(layers) == {"teams", "cameras", "waterlogging_points", "sensors", "stall_zones", "buildings"}
    assert layers["cameras"]["geometry"] == "point" and layers["buildings"]["geometry"] == "polygon"
    kind = next(f for f in layers["cameras"]["fields"] if f["name"] == "kind")
    assert kind["choices"] == ["fixed", "dome", "high_point"] and kind["default"] == "fixed"
    assert [f["name"] for f in layers["teams"]["fields"] if f["required"]] == ["code", "name", "type", "area_code"]


def test_features_read_from_the_collections_post_back_unchanged(client_rw: TestClient, db: psycopg.Connection,
                                                                 ) -> None:
    """7-decimal GeoJSON from /collections (rings re-oriented) is the same data: nothing is rewritten."""
    headers = auth(client_rw, "admin", DISTRICT)
    for layer in ("cameras", "stall_zones", "buildings"):
        served = client_rw.get(f"/collections/{layer}/items", params={"limit": 5}, headers=headers).json()
        features = [{"type": "Feature", "geometry": f["geometry"],
                     "properties": {k: v for k, v in f["properties"].items() if v is not None}}
                    for f in served["features"]]
        before = snapshot(db)
        answer = client_rw.post(f"/admin/layers/{layer}", json=collection(*features), headers=headers)
        assert answer.status_code == 200, answer.text
        assert answer.json()["counts"]["unchanged"] == len(features), (layer, answer.json()["counts"])
        assert {t: v for t, v in snapshot(db).items() if t != "data_imports"} == \
            {t: v for t, v in before.items() if t != "data_imports"}
