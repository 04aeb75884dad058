"""The grid worker's field routes: role and token, reports with photos, the team's cases, on-site verification."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from pyproj import Geod

from api.auth import issue_token, verify_token
from tests.conftest import auth, make_client
from tests.test_photos import GPS_IFD, jpeg_with_gps

GEOD = Geod(ellps="WGS84")
POINT = (117.30, 31.80)


@pytest.fixture
def field(demo_rw: str, tmp_path: Path) -> Iterator[TestClient]:
    """A client on a fresh demo database whose photos go to a temporary data folder."""
    with make_client(demo_rw, data_dir=tmp_path) as client:
        yield client


def place_of(client: TestClient, lon: float, lat: float) -> dict:
    answer = client.get("/locate", params={"lon": lon, "lat": lat})
    assert answer.status_code == 200
    return answer.json()


def worker(client: TestClient, area: str, team: str | None = None) -> dict[str, str]:
    token = issue_token(client.app.state.token_secret, "grid_worker", area, team=team)
    return {"Authorization": f"Bearer {token}"}


def dispatched_case(client: TestClient, lon: float = POINT[0], lat: float = POINT[1]) -> dict:
    """A case filed by a dispatcher and dispatched to the nearest free team."""
    body = {"category": "01.03", "channel": "hotline", "location": {"lon": lon, "lat": lat}}
    case = client.post("/incidents", json=body, headers=auth(client, "dispatcher")).json()
    done = client.post(f"/incidents/{case['id']}/dispatch", headers=auth(client, "dispatcher"))
    assert done.status_code == 200
    return done.json()


def team_code(url: str, team_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT code FROM teams WHERE id = %s", (team_id,)).fetchone()
    assert row is not None
    return str(row[0])


def jpeg_part(data: bytes | None = None, name: str = "p.jpg") -> tuple[str, tuple[str, bytes, str]]:
    return ("photos", (name, data if data is not None else jpeg_with_gps(), "image/jpeg"))


def count_cases(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM incidents").fetchone()
    assert row is not None
    return int(row[0])


def test_worker_token_binds_a_grid_and_a_team() -> None:
    secret = "s" * 40
    principal = verify_token(secret, issue_token(secret, "grid_worker", "340111001001001", team="T-01"))
    assert (principal.role, principal.area, principal.team) == ("grid_worker", "340111001001001", "T-01")
    with pytest.raises(ValueError, match=r"12-digit community code$"):
        issue_token(secret, "dispatcher", "340111001001001")  # only a worker is bound to one grid
    with pytest.raises(ValueError, match="only a grid_worker"):
        issue_token(secret, "operator", "340111", team="T-01")


def test_report_with_a_photo_strips_its_position_and_only_the_area_sees_it(field: TestClient, demo_rw: str,
                                                                             tmp_path: Path) -> None:
    place = place_of(field, *POINT)
    grid, community = place["grid"]["code"], place["community"]["code"]
    response = field.post("/field/reports", headers=worker(field, grid),
                          data={"category": "01.03", "lon": str(POINT[0]), "lat": str(POINT[1]),
                                "description": "占道经营"}, files=[jpeg_part()])
    assert response.status_code == 201, response.text
    case = response.json()
    assert case["channel"] == "grid_worker" and case["grid_code"] == grid and len(case["photos"]) == 1
    listed = field.get(f"/field/cases/{case['id']}/photos", headers=worker(field, grid)).json()["photos"]
    assert [p["stage"] for p in listed] == ["report"]
    url = listed[0]["url"]
    got = field.get(url, headers=worker(field, community))
    assert got.status_code == 200 and got.headers["content-type"] == "image/jpeg"
    served = Image.open(io.BytesIO(got.content))
    assert dict(served.getexif()) == {} and not served.getexif().get_ifd(GPS_IFD)
    # the file on disk is the stripped one too: nothing with the position is kept
    stored = list((tmp_path / "photos").rglob("*.jpg"))
    assert len(stored) == 1 and b"Exif" not in stored[0].read_bytes()
    # another community's worker, another street's dispatcher, and no token at all: refused
    other = field.get("/locate", params={"lon": 117.33, "lat": 31.77}).json()["community"]["code"]
    assert other != community
    assert field.get(url, headers=worker(field, other)).status_code == 403
    assert field.get(url, headers=auth(field, "dispatcher", other[:9] if other[:9] != community[:9]
                                       else other)).status_code == 403
    assert field.get(url).status_code == 401
    assert field.get(url, headers=auth(field, "operator")).status_code == 200


def test_bad_photos_are_refused_and_nothing_is_filed(field: TestClient, demo_rw: str) -> None:
    headers = worker(field, "340111")
    form = {"category": "01.03", "lon": str(POINT[0]), "lat": str(POINT[1])}
    before = count_cases(demo_rw)
    cases = [
        ([jpeg_part(b"GIF89a" + b"\0" * 64, "x.jpg")], 422, "not a JPEG, PNG or WebP"),
        ([jpeg_part(b"hello, I am text", "x.png")], 422, "not a JPEG, PNG or WebP"),
        ([jpeg_part()] * 4, 422, "at most 3"),
        ([jpeg_part(jpeg_with_gps() + b"\0" * (5 * 1024 * 1024))], 422, "at most 5242880"),
    ]
    for files, status, message in cases:
        response = field.post("/field/reports", headers=headers, data=form, files=files)
        assert response.status_code == status, response.text
        assert message in response.json()["detail"] and response.json()["code"] == "invalid_input"
    assert count_cases(demo_rw) == before


def test_only_the_field_routes_take_large_bodies(demo_rw: str, tmp_path: Path) -> None:
    with make_client(demo_rw, data_dir=tmp_path, max_photo_body_bytes=3_000_000) as client:
        big = b"x" * 2_000_000
        refused = client.post("/incidents", content=big, headers={**auth(client, "dispatcher"),
                                                                    "Content-Type": "application/json"})
        assert refused.status_code == 413 and refused.json()["code"] == "body_too_large"
        passed = client.post("/field/reports", headers=worker(client, "340111"),
                             data={"category": "01.03", "lon": "117.3", "lat": "31.8"},
                             files=[jpeg_part(big, "big.jpg")])
        assert passed.status_code == 422  # past the body limit, judged as a photo
        over = client.post("/field/reports", headers=worker(client, "340111"),
                           data={"category": "01.03", "lon": "117.3", "lat": "31.8"},
                           files=[jpeg_part(b"x" * 3_100_000, "big.jpg")])
        assert over.status_code == 413


def test_team_cases_handle_feedback_and_verify_on_site(field: TestClient, demo_rw: str) -> None:
    case = dispatched_case(field)
    team = team_code(demo_rw, case["team_id"])
    community = case["community_code"]
    mine = worker(field, community, team)
    listed = field.get("/field/cases", headers=mine).json()
    assert listed["team"]["code"] == team and case["id"] in [c["id"] for c in listed["cases"]]
    # another team's worker may not touch it
    assert field.post(f"/field/cases/{case['id']}/handle", headers=worker(field, community, "NOPE")).status_code == 403
    handled = field.post(f"/field/cases/{case['id']}/handle", headers=mine)
    assert handled.status_code == 200 and handled.json()["status"] == "handling"
    fed = field.post(f"/field/cases/{case['id']}/feedback", headers=mine, data={"reason": "已清理"},
                     files=[jpeg_part(), jpeg_part()])
    assert fed.status_code == 200 and fed.json()["status"] == "feedback" and len(fed.json()["photos"]) == 2

    # 300 m north of the case: refused, clearly, and nothing changes
    far_lon, far_lat, _ = GEOD.fwd(case["lon"], case["lat"], 0, 300)
    far = field.post(f"/field/cases/{case['id']}/verify", headers=mine,
                     data={"lon": str(far_lon), "lat": str(far_lat)}, files=[jpeg_part()])
    assert far.status_code == 403, far.text
    assert "within 100 m" in far.json()["detail"] and abs(far.json()["distance_m"] - 300) < 0.5
    assert field.get(f"/incidents/{case['id']}", headers=mine).json()["status"] == "feedback"
    # without a position, and through the general route (no position at all): refused too
    assert field.post(f"/field/cases/{case['id']}/verify", headers=mine).status_code == 422
    assert field.post(f"/incidents/{case['id']}/verify", headers=mine).status_code == 403

    near_lon, near_lat, _ = GEOD.fwd(case["lon"], case["lat"], 45, 60)
    near = field.post(f"/field/cases/{case['id']}/verify", headers=mine,
                      data={"lon": str(near_lon), "lat": str(near_lat)}, files=[jpeg_part()])
    assert near.status_code == 200 and near.json()["status"] == "verified"
    log = field.get(f"/incidents/{case['id']}", headers=mine).json()["events"]
    site = log[-1]["details"]["site"]
    expected = GEOD.inv(case["lon"], case["lat"], near_lon, near_lat)[2]
    assert log[-1]["action"] == "verify" and abs(site["distance_m"] - expected) < 0.2
    stages = [p["stage"] for p in field.get(f"/field/cases/{case['id']}/photos", headers=mine).json()["photos"]]
    assert stages == ["feedback", "feedback", "verify"]


def test_verify_distance_is_configurable(demo_rw: str, tmp_path: Path) -> None:
    with make_client(demo_rw, data_dir=tmp_path, verify_distance_m=500) as client:
        case = dispatched_case(client)
        for action in ("handle", "feedback"):
            client.post(f"/incidents/{case['id']}/{action}", headers=auth(client, "dispatcher"))
        lon, lat, _ = GEOD.fwd(case["lon"], case["lat"], 90, 300)
        done = client.post(f"/field/cases/{case['id']}/verify", headers=worker(client, case["community_code"]),
                           data={"lon": str(lon), "lat": str(lat)})
        assert done.status_code == 200 and done.json()["status"] == "verified"


def test_a_grid_worker_reports_only_inside_its_grid(field: TestClient) -> None:
    place = place_of(field, *POINT)
    grid = place["grid"]["code"]
    other = field.get("/locate", params={"lon": 117.33, "lat": 31.77}).json()["grid"]["code"]
    assert other != grid
    refused = field.post("/field/reports", headers=worker(field, other),
                         data={"category": "01.03", "lon": str(POINT[0]), "lat": str(POINT[1])})
    assert refused.status_code == 403
    # a worker may not dispatch or close
    case = dispatched_case(field)
    assert field.post(f"/incidents/{case['id']}/close", headers=worker(field, "340111")).status_code == 403


def test_demo_tour_prints_the_desk_and_a_phone_bound_to_a_team(demo_ro: str, sync_ro: psycopg.Connection,
                                                                capsys: pytest.CaptureFixture[str]) -> None:
    from api.cli import _print_tour

    secret = "x" * 40
    _print_tour("http://127.0.0.1:8000", "340111", secret, demo_ro)
    out = capsys.readouterr().out
    desk = next(line.split()[-1] for line in out.splitlines() if "dispatcher's desk" in line)
    assert verify_token(secret, desk.split("token=")[1]).role == "dispatcher"
    phone = next(line.split()[-1] for line in out.splitlines() if "grid worker phone" in line)
    assert phone.startswith("http://127.0.0.1:8000/m?token=")
    worker = verify_token(secret, phone.split("token=")[1])
    assert worker.role == "grid_worker" and len(worker.area) == 12 and worker.team is not None
    row = sync_ro.execute("SELECT area_code FROM teams WHERE code = %s", (worker.team,)).fetchone()
    assert row is not None and worker.area.startswith(row[0])  # a team working where the worker works
