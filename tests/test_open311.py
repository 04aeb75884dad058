"""Open311 GeoReport v2: services, form-encoded requests, status, area rules, bad input."""

from __future__ import annotations

from urllib.parse import urlencode

import psycopg
import pytest
from fastapi.testclient import TestClient

from geo.chinacrs import wgs84_to_gcj02
from tests.conftest import auth

BASE = "/open311/v2"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _token(client: TestClient, role: str = "operator", area: str = "340111") -> str:
    return auth(client, role, area)["Authorization"].split()[1]


def test_services_are_the_catalogue(client_ro: TestClient, sync_ro: psycopg.Connection) -> None:
    services = client_ro.get(f"{BASE}/services.json").json()
    codes = [r[0] for r in sync_ro.execute("SELECT code FROM catalogue ORDER BY code")]
    assert [s["service_code"] for s in services] == codes
    assert all(s["type"] == "realtime" and s["metadata"] is False for s in services)
    assert client_ro.get(f"{BASE}/services/01.03.json").json() == {"service_code": "01.03", "attributes": []}
    assert client_ro.get(f"{BASE}/services/99.99.json").status_code == 404


def test_form_encoded_request_becomes_a_case(client_rw: TestClient, demo_rw: str) -> None:
    form = {"service_code": "01.03", "lat": "31.80", "long": "117.30", "description": "占道经营",
            "api_key": _token(client_rw)}
    response = client_rw.post(f"{BASE}/requests.json", content=urlencode(form), headers=FORM)
    assert response.status_code == 201
    [receipt] = response.json()
    case_id = int(receipt["service_request_id"])
    assert "due by" in receipt["service_notice"]
    with psycopg.connect(demo_rw) as conn:
        row = conn.execute("SELECT category_code, channel, raw_crs FROM incidents WHERE id = %s", (case_id,)).fetchone()
    assert row == ("01.03", "wechat", "wgs84")
    [status] = client_rw.get(f"{BASE}/requests/{case_id}.json", params={"api_key": _token(client_rw)}).json()
    assert status["status"] == "open" and status["service_code"] == "01.03"
    assert (status["lat"], status["long"]) == pytest.approx((31.80, 117.30))


def test_gcj02_coordinates_from_a_map_sdk(client_rw: TestClient) -> None:
    glon, glat = wgs84_to_gcj02(117.30, 31.80)
    body = {"service_code": "10.02", "lat": glat, "long": glon, "crs": "gcj02", "channel": "hotline"}
    response = client_rw.post(f"{BASE}/requests.json", json=body, headers=auth(client_rw, "operator"))
    assert response.status_code == 201
    case_id = response.json()[0]["service_request_id"]
    [status] = client_rw.get(f"{BASE}/requests/{case_id}.json", headers=auth(client_rw, "operator")).json()
    assert (status["lat"], status["long"]) == pytest.approx((31.80, 117.30), abs=1e-6)


def test_listing_filters_by_status_code_and_area(client_rw: TestClient) -> None:
    token = _token(client_rw)
    made = client_rw.post(f"{BASE}/requests.json", json={"service_code": "01.01", "lat": 31.8, "long": 117.3},
                          headers=auth(client_rw, "operator")).json()[0]["service_request_id"]
    listed = client_rw.get(f"{BASE}/requests.json", params={"service_code": "01.01", "status": "open",
                                                            "api_key": token}).json()
    assert made in {r["service_request_id"] for r in listed}
    assert all(r["service_code"] == "01.01" and r["status"] == "open" for r in listed)
    closed = client_rw.get(f"{BASE}/requests.json", params={"status": "closed", "api_key": token}).json()
    assert closed and all(r["status"] == "closed" for r in closed)
    by_id = client_rw.get(f"{BASE}/requests.json", params={"service_request_id": made, "api_key": token}).json()
    assert [r["service_request_id"] for r in by_id] == [made]
    # another street's token neither lists nor reads it
    [case] = by_id
    street = client_rw.get("/locate", params={"lon": case["long"], "lat": case["lat"]}).json()["street"]["code"]
    other = "340111001" if street != "340111001" else "340111002"
    mine = client_rw.get(f"{BASE}/requests.json", params={"api_key": _token(client_rw, area=other)}).json()
    assert made not in {r["service_request_id"] for r in mine}
    assert client_rw.get(f"{BASE}/requests/{made}.json",
                         params={"api_key": _token(client_rw, area=other)}).status_code == 403


@pytest.mark.parametrize("form", [
    {"service_code": "99.99", "lat": "31.8", "long": "117.3"},
    {"service_code": "01.03", "lat": "nan", "long": "117.3"},
    {"service_code": "01.03", "lat": "31.8"},
    {"service_code": "01.03"},
    {"service_code": "01.03", "lat": "31.8", "long": "117.3", "crs": "mars"},
    {"service_code": "01.03", "lat": "39.9", "long": "116.4"},
    {"service_code": "01.03", "lat": "31.8", "long": "117.3", "channel": "pigeon"},
])
def test_bad_requests_are_422(client_rw: TestClient, form: dict) -> None:
    form = {**form, "api_key": _token(client_rw)}
    response = client_rw.post(f"{BASE}/requests.json", content=urlencode(form), headers=FORM)
    assert response.status_code == 422, response.text


def test_requests_need_a_key(client_rw: TestClient) -> None:
    form = {"service_code": "01.03", "lat": "31.8", "long": "117.3"}
    assert client_rw.post(f"{BASE}/requests.json", content=urlencode(form), headers=FORM).status_code == 401
    assert client_rw.post(f"{BASE}/requests.json", content=urlencode({**form, "api_key": "forged"}),
                          headers=FORM).status_code == 401
    assert client_rw.get(f"{BASE}/requests.json").status_code == 401
    assert client_rw.get(f"{BASE}/requests.json", params={"status": "pending", "api_key": "x"}).status_code == 422
