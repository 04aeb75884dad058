"""Open311 as other people's clients use it: FixMyStreet's post-and-parse, retries, bad input in every field."""

from __future__ import annotations

from urllib.parse import urlencode
from xml.etree import ElementTree

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth

BASE = "/open311/v2"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _cases(url: str) -> int:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT count(*) FROM incidents").fetchone()[0]  # type: ignore[index]


def _fms_post(client: TestClient, api_key: str, **extra: str) -> tuple[int, str | None]:
    """What FixMyStreet's client does: post the form to requests.xml, read request/service_request_id."""
    form = {"jurisdiction_id": "340111", "api_key": api_key, "service_code": "01.03",
            "lat": "31.8012", "long": "117.3021", "email": "resident@example.cn", "first_name": "Zhang",
            "last_name": "San", "description": "title: 占道经营\n\ndetail: 早市摊位占道\n\nurl: http://fms.example/report/77",
            "attribute[fixmystreet_id]": "77", "attribute[title]": "占道经营", **extra}
    response = client.post(f"{BASE}/requests.xml", content=urlencode(form), headers=FORM)
    if not 200 <= response.status_code < 300:
        return response.status_code, None
    root = ElementTree.fromstring(response.content)
    assert root.tag == "service_requests"
    return response.status_code, root.findtext("request/service_request_id")


def test_fixmystreet_gets_the_id_first_time_and_a_retry_files_nothing(client_rw: TestClient, demo_rw: str) -> None:
    key = auth(client_rw, "operator")["Authorization"].split()[1]
    before = _cases(demo_rw)
    status, first = _fms_post(client_rw, key)
    assert status == 201 and first is not None and first.isdigit()
    with psycopg.connect(demo_rw) as conn:
        stored = conn.execute("SELECT id, attributes->>'fixmystreet_id', reporter->>'email' FROM incidents "
                              "WHERE id = %s", (int(first),)).fetchone()
    assert stored == (int(first), "77", "resident@example.cn")
    # a retry (say the first reply was lost) answers the same id, 200, and files no second case
    assert _fms_post(client_rw, key) == (200, first)
    # FixMyStreet's id names the report, even if its text changed between tries
    assert _fms_post(client_rw, key, description="edited") == (200, first)
    assert _cases(demo_rw) == before + 1
    # another report of FixMyStreet is a new case
    status, second = _fms_post(client_rw, key, **{"attribute[fixmystreet_id]": "78"})
    assert status == 201 and second not in (None, first)
    # and it reads status back without a key, as FixMyStreet does
    listed = client_rw.get(f"{BASE}/requests.xml", params={"jurisdiction_id": "340111",
                                                           "service_request_id": f"{first},{second}"})
    assert listed.status_code == 200
    root = ElementTree.fromstring(listed.content)
    assert {r.findtext("service_request_id"): r.findtext("status") for r in root.findall("request")} == {
        first: "open", second: "open"}
    assert _cases(demo_rw) == before + 2


def test_retries_without_a_client_id(client_rw: TestClient, demo_rw: str) -> None:
    key = auth(client_rw, "operator")["Authorization"].split()[1]
    form = {"service_code": "01.03", "lat": "31.8", "long": "117.3", "description": "同一帖", "api_key": key}
    before = _cases(demo_rw)
    first = client_rw.post(f"{BASE}/requests.json", content=urlencode(form), headers=FORM)
    again = client_rw.post(f"{BASE}/requests.json", content=urlencode(form), headers=FORM)
    assert (first.status_code, again.status_code) == (201, 200)
    assert first.json()[0]["service_request_id"] == again.json()[0]["service_request_id"]
    # a renewed key is the same caller's same report
    renewed = auth(client_rw, "operator")["Authorization"].split()[1]
    same = client_rw.post(f"{BASE}/requests.json", content=urlencode({**form, "api_key": renewed}), headers=FORM)
    assert same.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
    other = client_rw.post(f"{BASE}/requests.json", content=urlencode({**form, "description": "另一帖"}),
                           headers=FORM)
    assert other.status_code == 201
    # an explicit Idempotency-Key wins over the post's own identity
    keyed = [client_rw.post(f"{BASE}/requests.json", content=urlencode(form),
                            headers={**FORM, "Idempotency-Key": "platform-42"}) for _ in range(2)]
    assert [r.status_code for r in keyed] == [201, 200]
    assert _cases(demo_rw) == before + 3


BAD_POSTS = [
    ({"service_code": "01.03", "lat": "nan", "long": "117.3"}, 400),
    ({"service_code": "01.03", "lat": "31.8"}, 400),
    ({"service_code": "01.03"}, 400),
    ({"service_code": "01.03", "address_id": "B00000001"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "crs": "mars"}, 400),
    ({"service_code": "01.03", "lat": "39.9", "long": "116.4"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "channel": "pigeon"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "description": "a\x00b"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "description": "x" * 2001}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "first_name": "a\x00"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "phone": "1\n2"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "attribute[a]": "\x00"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "attribute[\x00]": "1"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "media_url": "javascript:alert(1)"}, 400),
    ({"service_code": "01.03\x00", "lat": "31.8", "long": "117.3"}, 400),
    ({"service_code": "01.03", "address_string": "宁国路\x001号"}, 400),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "jurisdiction_id": "\x00"}, 400),
    ({"service_code": "99.99", "lat": "31.8", "long": "117.3"}, 404),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "jurisdiction_id": "city.gov"}, 404),
    ({"service_code": "01.03", "lat": "31.8", "long": "117.3", "jurisdiction_id": "340112"}, 404),
]


@pytest.mark.parametrize(("form", "status"), BAD_POSTS)
def test_bad_posts_are_open311_errors_and_change_nothing(client_rw: TestClient, demo_rw: str, form: dict,
                                                         status: int) -> None:
    key = auth(client_rw, "operator")["Authorization"].split()[1]
    before = _cases(demo_rw)
    response = client_rw.post(f"{BASE}/requests.xml", content=urlencode({**form, "api_key": key}), headers=FORM)
    assert response.status_code == status, response.text
    root = ElementTree.fromstring(response.content)
    assert root.tag == "errors" and root.findtext("error/code") == str(status)
    assert root.findtext("error/description")
    as_json = client_rw.post(f"{BASE}/requests.json", json={**form, "api_key": key})
    assert as_json.status_code == status
    [error] = as_json.json()
    assert set(error) == {"code", "description"} and error["code"] == status
    assert _cases(demo_rw) == before


@pytest.mark.parametrize(("body", "content_type"), [
    (b"service_code=01.03&lat=31.8&long=117.3&description=%FF%FE", "application/x-www-form-urlencoded"),
    (b"service_code=01.03&lat=31.8&long=117.3&description=\xff", "application/x-www-form-urlencoded"),
    (b"[1, 2]", "application/json"),
    (b"{not json", "application/json"),
    (b"[" * 50_000 + b"]" * 50_000, "application/json"),
    (b'{"service_code": {"nested": 1}}', "application/json"),
    (b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb", "multipart/form-data; boundary=x"),
    (b"garbage", "multipart/form-data"),
    (b"a=" + b"b" * 70_000, "application/x-www-form-urlencoded"),
    ("&".join(f"f{i}=1" for i in range(400)).encode(), "application/x-www-form-urlencoded"),
])
def test_unreadable_bodies_are_400(client_ro: TestClient, body: bytes, content_type: str) -> None:
    response = client_ro.post(f"{BASE}/requests.xml", content=body,
                              headers={"content-type": content_type, **auth(client_ro, "operator")})
    assert response.status_code == 400, response.text
    assert ElementTree.fromstring(response.content).findtext("error/code") == "400"


def test_who_may_post(client_rw: TestClient, demo_rw: str) -> None:
    form = {"service_code": "01.03", "lat": "31.8", "long": "117.3"}
    before = _cases(demo_rw)
    for api_key, status in ((None, 403), ("forged", 403), ("a.b.c", 403), ("é.ü.ß", 403), ("x" * 4001, 400)):
        sent = {**form, "api_key": api_key} if api_key else form
        response = client_rw.post(f"{BASE}/requests.xml", content=urlencode(sent), headers=FORM)
        assert response.status_code == status and ElementTree.fromstring(response.content).tag == "errors"
    planner = auth(client_rw, "planner")["Authorization"].split()[1]
    assert client_rw.post(f"{BASE}/requests.json", content=urlencode({**form, "api_key": planner}),
                          headers=FORM).status_code == 403
    # a street's operator may not post a place in another street
    outside = auth(client_rw, "operator", "340111009")["Authorization"].split()[1]
    street = client_rw.get("/locate", params={"lon": 117.3, "lat": 31.8}).json()["street"]["code"]
    assert street != "340111009"
    assert client_rw.post(f"{BASE}/requests.json", content=urlencode({**form, "api_key": outside}),
                          headers=FORM).status_code == 403
    assert _cases(demo_rw) == before
