"""Open311 GeoReport v2: both formats, services, discovery, posts in every encoding, listing rules, visibility."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import urlencode
from xml.etree import ElementTree

import httpx
import psycopg
import pytest
from fastapi.testclient import TestClient
from psycopg import sql

from geo.chinacrs import wgs84_to_gcj02
from layers.visibility import rounded_geom_sql, rounded_point
from tests.conftest import auth

BASE = "/open311/v2"
FORM = {"content-type": "application/x-www-form-urlencoded; charset=utf-8"}


def _token(client: TestClient, role: str = "operator", area: str = "340111") -> str:
    return auth(client, role, area)["Authorization"].split()[1]


def _xml(response: httpx.Response) -> ElementTree.Element:
    assert response.headers["content-type"].startswith("text/xml")
    assert response.content.startswith(b'<?xml version="1.0" encoding="utf-8"?>\n')
    return ElementTree.fromstring(response.content)


def _post(client: TestClient, form: dict, fmt: str = "json", **headers: str) -> httpx.Response:
    return client.post(f"{BASE}/requests.{fmt}", content=urlencode(form), headers={**FORM, **headers})


def test_services_are_the_catalogue_in_both_formats(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    codes = [r[0] for r in sync_ro.execute("SELECT code FROM catalogue ORDER BY code")]
    services = client_ro.get(f"{BASE}/services.json").json()
    assert [s["service_code"] for s in services] == codes
    assert all(s["type"] == "realtime" and s["metadata"] is False for s in services)
    root = _xml(client_ro.get(f"{BASE}/services.xml"))
    assert root.tag == "services"
    assert [s.findtext("service_code") for s in root.findall("service")] == codes
    assert {s.findtext("metadata") for s in root.findall("service")} == {"false"}
    assert root.find("service/service_name").text == services[0]["service_name"]  # type: ignore[union-attr]
    assert client_ro.get(f"{BASE}/services.json", params={"jurisdiction_id": "340111"}).status_code == 200


def test_service_definitions(client_ro: TestClient) -> None:
    assert client_ro.get(f"{BASE}/services/01.03.json").json() == {"service_code": "01.03", "attributes": []}
    root = _xml(client_ro.get(f"{BASE}/services/01.03.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "01.03"
    assert root.find("attributes") is not None and list(root.find("attributes")) == []  # type: ignore[arg-type]
    missing = client_ro.get(f"{BASE}/services/99.99.xml")
    assert missing.status_code == 404
    error = _xml(missing)
    assert error.tag == "errors" and error.findtext("error/code") == "404"
    assert "99.99" in (error.findtext("error/description") or "")
    assert client_ro.get(f"{BASE}/services/99.99.json").json()[0]["code"] == 404


def test_discovery_names_the_endpoint_and_formats(client_ro: TestClient) -> None:
    root = _xml(client_ro.get(f"{BASE}/discovery.xml"))
    assert root.tag == "discovery"
    endpoint = root.find("endpoints/endpoint")
    assert endpoint is not None and endpoint.findtext("specification") == "http://wiki.open311.org/GeoReport_v2"
    assert (endpoint.findtext("url") or "").endswith("/open311/v2")
    assert [f.text for f in endpoint.findall("formats/format")] == ["text/xml", "application/json"]
    assert client_ro.get(f"{BASE}/discovery.json").json()["endpoints"][0]["type"] == "production"


def test_unknown_formats_and_jurisdictions_are_404(client_ro: TestClient) -> None:
    assert client_ro.get(f"{BASE}/services.yaml").status_code == 404
    wrong = client_ro.get(f"{BASE}/services.xml", params={"jurisdiction_id": "999999"})
    assert wrong.status_code == 404 and _xml(wrong).findtext("error/code") == "404"
    assert client_ro.get(f"{BASE}/requests.json", params={"jurisdiction_id": "sfgov.org"}).status_code == 404


def test_form_post_keeps_reporter_attributes_and_media(client_rw: TestClient, demo_rw: str) -> None:
    form = {"service_code": "01.03", "lat": "31.80", "long": "117.30", "description": "占道经营\n早市",
            "api_key": _token(client_rw), "jurisdiction_id": "340111", "first_name": "小明", "last_name": "王",
            "email": "wang@example.cn", "phone": "13800000000", "device_id": "dev-1", "account_id": "acc-9",
            "media_url": "https://img.example.cn/1.jpg", "attribute[stall_count]": "3", "unknown_field": "x"}
    response = _post(client_rw, form)
    assert response.status_code == 201, response.text
    [receipt] = response.json()
    case_id = int(receipt["service_request_id"])
    assert "due by" in receipt["service_notice"] and receipt["account_id"] == "acc-9"
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT category_code, channel, raw_crs, description, reporter, attributes, media_url "
                           "FROM incidents WHERE id = %s", (case_id,)).fetchone()
    assert row == ("01.03", "wechat", "wgs84", "占道经营\n早市",
                   {"first_name": "小明", "last_name": "王", "email": "wang@example.cn", "phone": "13800000000",
                    "device_id": "dev-1", "account_id": "acc-9"},
                   {"stall_count": "3"}, "https://img.example.cn/1.jpg")
    [mine] = client_rw.get(f"{BASE}/requests/{case_id}.json", params={"api_key": _token(client_rw)}).json()
    assert mine["status"] == "open" and mine["service_code"] == "01.03"
    assert (mine["lat"], mine["long"]) == pytest.approx((31.80, 117.30))
    assert mine["first_name"] == "小明" and mine["email"] == "wang@example.cn"
    assert mine["attributes"] == [{"code": "stall_count", "value": "3"}]
    assert mine["media_url"] == "https://img.example.cn/1.jpg"
    # the same in XML, element by element
    request = _xml(client_rw.get(f"{BASE}/requests/{case_id}.xml", headers=auth(client_rw, "dispatcher")))
    assert request.tag == "service_requests"
    assert request.findtext("request/service_request_id") == str(case_id)
    assert request.findtext("request/description") == "占道经营\n早市"
    assert request.findtext("request/phone") == "13800000000"
    assert request.findtext("request/attributes/attribute/code") == "stall_count"


def test_who_sees_what(client_rw: TestClient, demo_rw: str) -> None:
    form = {"service_code": "01.03", "lat": "31.80037", "long": "117.30061", "description": "门口占道",
            "first_name": "李", "phone": "13900000000", "api_key": _token(client_rw)}
    case_id = _post(client_rw, form).json()[0]["service_request_id"]
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT ST_X(geom), ST_Y(geom), street_code FROM incidents WHERE id = %s",
                           (int(case_id),)).fetchone()
    assert row is not None
    lon, lat, street = row
    anonymous = client_rw.get(f"{BASE}/requests/{case_id}.json").json()[0]
    assert anonymous["description"] is None and anonymous["address"] is None and "phone" not in anonymous
    assert anonymous["status"] == "open" and anonymous["service_code"] == "01.03"
    assert anonymous["requested_datetime"] and anonymous["expected_datetime"]
    # rounded to the 0.001° lattice: within half a step of the stored point, and not the point itself
    assert abs(anonymous["lat"] - lat) <= 0.0005 and abs(anonymous["long"] - lon) <= 0.0005
    assert (anonymous["lat"], anonymous["long"]) == (round(lat, 3), round(lon, 3)) != (lat, lon)
    other = "340111001" if street != "340111001" else "340111002"
    elsewhere = client_rw.get(f"{BASE}/requests/{case_id}.json", params={"api_key": _token(client_rw, area=other)})
    assert elsewhere.status_code == 200 and elsewhere.json() == [anonymous]
    planner = client_rw.get(f"{BASE}/requests/{case_id}.json", headers=auth(client_rw, "planner")).json()[0]
    assert planner["description"] == "门口占道" and planner["lat"] == pytest.approx(lat, abs=1e-9)
    assert "phone" not in planner and "attributes" not in planner
    listed = client_rw.get(f"{BASE}/requests.json", params={"service_request_id": case_id}).json()
    assert listed == [anonymous]


def test_gcj02_coordinates_from_a_map_sdk(client_rw: TestClient) -> None:
    glon, glat = wgs84_to_gcj02(117.30, 31.80)
    body = {"service_code": "10.02", "lat": glat, "long": glon, "crs": "gcj02", "channel": "hotline",
            "attribute": {"floors": ["1", "2"]}}
    response = client_rw.post(f"{BASE}/requests.json", json=body, headers=auth(client_rw, "operator"))
    assert response.status_code == 201, response.text
    case_id = response.json()[0]["service_request_id"]
    [status] = client_rw.get(f"{BASE}/requests/{case_id}.json", headers=auth(client_rw, "operator")).json()
    assert (status["lat"], status["long"]) == pytest.approx((31.80, 117.30), abs=1e-6)
    assert status["attributes"] == [{"code": "floors", "value": "1"}, {"code": "floors", "value": "2"}]


def test_multipart_post_with_a_photo_part(client_rw: TestClient, demo_rw: str) -> None:
    data = {"service_code": "01.03", "lat": "31.8", "long": "117.3", "description": "多部分表单",
            "api_key": _token(client_rw), "attribute[colour][]": ["red", "blue"],
            "media_url": ["http://a.example/1.jpg", "http://a.example/2.jpg"]}
    response = client_rw.post(f"{BASE}/requests.xml", data=data,
                              files={"media": ("p.jpg", b"\xff\xd8\xff not really a jpeg", "image/jpeg")})
    assert response.status_code == 201, response.text
    case_id = int(_xml(response).findtext("request/service_request_id") or 0)
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT description, attributes, media_url FROM incidents WHERE id = %s",
                           (case_id,)).fetchone()
    assert row == ("多部分表单", {"colour": ["red", "blue"]}, "http://a.example/1.jpg\nhttp://a.example/2.jpg")


def test_listing_filters(client_rw: TestClient) -> None:
    token = _token(client_rw)
    made = _post(client_rw, {"service_code": "01.01", "lat": "31.8", "long": "117.3", "api_key": token}).json()
    made_id = made[0]["service_request_id"]
    listed = client_rw.get(f"{BASE}/requests.json", params={"service_code": "01.01", "status": "open"}).json()
    assert made_id in {r["service_request_id"] for r in listed}
    assert all(r["service_code"] == "01.01" and r["status"] == "open" for r in listed)
    closed = client_rw.get(f"{BASE}/requests.json", params={"status": "closed"}).json()
    assert closed and all(r["status"] == "closed" for r in closed)
    both = client_rw.get(f"{BASE}/requests.json", params={"status": "open,closed"}).json()
    assert {r["status"] for r in both} == {"open", "closed"} and len(both) <= 1000
    codes = client_rw.get(f"{BASE}/requests.json", params={"service_code": "01.01,01.03"}).json()
    assert {r["service_code"] for r in codes} == {"01.01", "01.03"}
    # service_request_id overrides every other filter, as the specification says
    by_id = client_rw.get(f"{BASE}/requests.json", params={
        "service_request_id": f"{made_id},{closed[0]['service_request_id']}", "status": "closed",
        "service_code": "99.99", "start_date": "2001-01-01", "end_date": "2001-01-02"}).json()
    assert {r["service_request_id"] for r in by_id} == {made_id, closed[0]["service_request_id"]}
    root = _xml(client_rw.get(f"{BASE}/requests.xml", params={"service_request_id": made_id}))
    assert [r.findtext("service_request_id") for r in root.findall("request")] == [made_id]
    old = client_rw.get(f"{BASE}/requests.json", params={"start_date": "2001-01-01", "end_date": "2001-02-01"})
    assert old.status_code == 200 and old.json() == []


def test_listing_defaults_to_90_days(client_rw: TestClient, demo_rw: str) -> None:
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("""UPDATE incidents SET reported_at = now() - interval '120 days'
            WHERE id = (SELECT min(id) FROM incidents WHERE status = 'closed')
            RETURNING id, category_code, (now() - interval '130 days')::date""").fetchone()
    assert row is not None
    old_id, code, before = str(row[0]), row[1], row[2]
    recent = client_rw.get(f"{BASE}/requests.json", params={"status": "closed", "service_code": code}).json()
    assert recent and old_id not in {r["service_request_id"] for r in recent}
    window = {"status": "closed", "service_code": code, "start_date": before.isoformat(),
              "end_date": (before + timedelta(days=20)).isoformat()}
    older = client_rw.get(f"{BASE}/requests.json", params=window).json()
    assert [r["service_request_id"] for r in older] == [old_id]


@pytest.mark.parametrize(("params", "status"), [
    ({"status": "pending"}, 400), ({"status": "open,"}, 200), ({"service_request_id": "1,x"}, 400),
    ({"service_request_id": "0"}, 400), ({"start_date": "yesterday"}, 400),
    ({"start_date": "2024-01-01", "end_date": "2024-06-01"}, 400), ({"service_code": "01.03\x00"}, 400),
    ({"jurisdiction_id": "3401\x0011"}, 400), ({"api_key": "forged"}, 403), ({"api_key": "a\x00b"}, 400),
    ({"api_key": "é.ü.ß"}, 403),
    ({"end_date": "2024-01-01", "start_date": "2024-02-01"}, 400),
])
def test_bad_list_parameters(client_ro: TestClient, params: dict, status: int) -> None:
    for fmt in ("json", "xml"):
        response = client_ro.get(f"{BASE}/requests.{fmt}", params=params)
        assert response.status_code == status, response.text
        if status != 200:
            errors = response.json() if fmt == "json" else None
            if errors is not None:
                assert [set(e) for e in errors] == [{"code", "description"}] and errors[0]["code"] == status
            else:
                assert _xml(response).findtext("error/code") == str(status)


def test_one_request_errors(client_ro: TestClient) -> None:
    assert client_ro.get(f"{BASE}/requests/999999999.xml").status_code == 404
    assert client_ro.get(f"{BASE}/requests/abc.json").json()[0]["code"] == 400
    assert client_ro.get(f"{BASE}/requests/1.json", params={"api_key": "x.y.z"}).status_code == 403


def test_rounding_agrees_with_postgis_snap(sync_ro: psycopg.Connection) -> None:
    rows = sync_ro.execute(sql.SQL("""
        SELECT ST_X(geom), ST_Y(geom), ST_X(s), ST_Y(s)
        FROM (SELECT geom, {} AS s FROM incidents LIMIT 2000) AS t""").format(rounded_geom_sql("geom"))).fetchall()
    assert len(rows) == 2000
    for lon, lat, snapped_lon, snapped_lat in rows:
        assert rounded_point(lon, lat) == pytest.approx((snapped_lon, snapped_lat), abs=1e-9)


def test_other_open311_paths_are_open311_404s(client_ro: TestClient) -> None:
    response = client_ro.get(f"{BASE}/servicerequestupdates.xml")
    assert response.status_code == 404 and _xml(response).findtext("error/code") == "404"
    assert client_ro.post(f"{BASE}/tokens/1.json").json()[0]["code"] == 404
    assert client_ro.put(f"{BASE}/requests.json").status_code == 405
