"""Every error a client can cause is the JSON ``{"detail", "code"}`` with its documented status, never a 500.

These are the holes found from outside (issue 9): NUL characters reaching the
driver, the framework's own body parser and size limit answering in their own
shapes, unknown routes and methods.
"""

from __future__ import annotations

from collections.abc import Iterator

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth

POINT = {"lon": 117.30, "lat": 31.80}


def _case(**extra: object) -> dict:
    return {"category": "01.03", "channel": "hotline", "description": "占道经营", "location": POINT, **extra}


def _is_error(response, status: int, code: str | None = None) -> dict:  # type: ignore[no-untyped-def]
    assert response.status_code == status, (response.status_code, response.text[:300])
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"] and isinstance(body["code"], str)
    assert "Traceback" not in response.text and "psycopg" not in response.text
    if code is not None:
        assert body["code"] == code
    return body


def _count(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM incidents").fetchone()[0]


@pytest.mark.parametrize("params", [
    {"q": "宁国路\x001号"}, {"q": "a\x00b"}, {"q": "宁国路\t1号"}, {"q": "\x7f\x7f"},
])
def test_control_characters_in_geocode_are_422_without_a_token(client_ro: TestClient, params: dict) -> None:
    body = _is_error(client_ro.get("/geocode", params=params), 422, "invalid_request")
    assert body["errors"][0]["field"] == "q" and "control characters" in body["errors"][0]["message"]


@pytest.mark.parametrize("path, params", [
    ("/locate", {"lon": 117.3, "lat": 31.8, "crs": "wgs\x0084"}),
    ("/locate", {"lon": 117.3, "lat": 31.8, "at": "2024-05-01\x00"}),
    ("/teams/nearest", {"lon": 117.3, "lat": 31.8, "type": "city\x00management"}),
    ("/collections/grids/items", {"bbox": "117.2,31.7,117.3,31.8\x00"}),
])
def test_control_characters_in_query_parameters_are_422(client_ro: TestClient, path: str, params: dict) -> None:
    response = client_ro.get(path, params=params)
    assert 400 <= response.status_code < 500
    _is_error(response, response.status_code)


def test_free_text_keeps_tabs_and_line_breaks(client_rw: TestClient) -> None:
    text = "摊位占道\n第二行\t备注\r\n"
    response = client_rw.post("/incidents", json=_case(description=text), headers=auth(client_rw, "operator"))
    assert response.status_code == 201 and response.json()["description"] == text


def test_nul_in_a_reason_is_422_and_changes_nothing(client_rw: TestClient, demo_rw: str) -> None:
    headers = auth(client_rw, "operator")
    case = client_rw.post("/incidents", json=_case(), headers=headers).json()
    response = client_rw.post(f"/incidents/{case['id']}/reject", json={"reason": "no\x00pe"}, headers=headers)
    _is_error(response, 422, "invalid_request")
    assert client_rw.get(f"/incidents/{case['id']}", headers=headers).json()["status"] == "accepted"


def test_nul_in_intake_stores_nothing(client_rw: TestClient, demo_rw: str) -> None:
    before = _count(demo_rw)
    for body in (_case(description="a\x00b"), {**_case(), "location": None, "address": "宁国路\x001号"}):
        _is_error(client_rw.post("/incidents", json=body, headers=auth(client_rw, "operator")), 422)
    assert _count(demo_rw) == before


@pytest.mark.parametrize("raw", [
    b"\xff\xfe\xfa",                              # not UTF-8
    b'{"category": "\xc3\x28"}',                  # broken UTF-8 inside a string
    b"[" * 50_000 + b"]" * 50_000,               # deeper than any decoder's stack
    b'{"a":' * 50_000 + b"1" + b"}" * 50_000,
    b'{"category": ',                              # malformed JSON
    b"{'single': 'quotes'}",
])
def test_unreadable_bodies_are_422_json(client_rw: TestClient, demo_rw: str, raw: bytes) -> None:
    before = _count(demo_rw)
    headers = {**auth(client_rw, "operator"), "content-type": "application/json"}
    response = client_rw.post("/incidents", content=raw, headers=headers)
    assert response.json()["code"] in ("invalid_body", "invalid_request")
    _is_error(response, 422)
    assert _count(demo_rw) == before


def test_body_over_the_limit_is_json_413_declared_or_streamed(client_rw: TestClient) -> None:
    headers = {**auth(client_rw, "operator"), "content-type": "application/json"}
    big = b'{"description": "' + b"x" * 1_100_000 + b'"}'
    body = _is_error(client_rw.post("/incidents", content=big, headers=headers), 413, "body_too_large")
    assert "1000000" in body["detail"]

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        yield b'{"description": "'
        for _ in range(30):
            yield b"x" * 50_000
        yield b'"}'

    _is_error(client_rw.post("/incidents", content=chunks(), headers=headers), 413, "body_too_large")
    # a route that never reads its body still answers in the same shape
    _is_error(client_rw.request("GET", "/catalogue", content=big), 413, "body_too_large")


def test_unknown_routes_and_methods_are_json(client_ro: TestClient) -> None:
    _is_error(client_ro.get("/no/such/thing"), 404, "not_found")
    response = client_ro.delete("/catalogue")
    _is_error(response, 405, "method_not_allowed")
    assert "GET" in response.headers["allow"]
