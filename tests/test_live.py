"""Live endpoints a map wall polls: bbox-limited GeoJSON, 304 when unchanged."""

from __future__ import annotations

import psycopg
import pytest
from fastapi.testclient import TestClient

from tests.conftest import auth as operator_headers
from tests.conftest import eventually

BAOHE = "117.0,31.5,117.6,32.0"


def auth(client: TestClient, area: str = "340111") -> dict[str, str]:
    return operator_headers(client, "operator", area)


def test_open_cases_are_geojson_in_the_bbox(client_ro: TestClient) -> None:
    r = client_ro.get("/live/340111/cases", params={"bbox": BAOHE}, headers=auth(client_ro))
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/geo+json")
    features = r.json()["features"]
    assert features
    assert {f["properties"]["status"] for f in features} <= {
        "accepted",
        "dispatched",
        "handling",
        "feedback",
        "verified",
    }
    lon, lat = features[0]["geometry"]["coordinates"]
    small = f"{lon - 0.001},{lat - 0.001},{lon + 0.001},{lat + 0.001}"
    near = client_ro.get(
        "/live/340111/cases", params={"bbox": small}, headers=auth(client_ro)
    ).json()
    assert 0 < len(near["features"]) < len(features)


def test_unchanged_layer_answers_304(client_ro: TestClient) -> None:
    first = client_ro.get("/live/340111/teams", params={"bbox": BAOHE}, headers=auth(client_ro))
    again = client_ro.get(
        "/live/340111/teams",
        params={"bbox": BAOHE},
        headers={**auth(client_ro), "If-None-Match": first.headers["etag"]},
    )
    assert again.status_code == 304
    other_box = client_ro.get(
        "/live/340111/teams",
        params={"bbox": "117.2,31.7,117.3,31.8"},
        headers={**auth(client_ro), "If-None-Match": first.headers["etag"]},
    )
    assert other_box.status_code == 200


def test_a_closed_case_leaves_the_live_layer(client_rw: TestClient, demo_rw: str) -> None:
    first = client_rw.get("/live/340111/cases", params={"bbox": BAOHE}, headers=auth(client_rw))
    case_id = first.json()["features"][0]["id"]
    with psycopg.connect(demo_rw, autocommit=True) as conn:
        conn.execute(
            "UPDATE incidents SET status = 'closed', closed_at = now() WHERE id = %s", (case_id,)
        )
    after = eventually(
        lambda: client_rw.get(
            "/live/340111/cases",
            params={"bbox": BAOHE},
            headers={**auth(client_rw), "If-None-Match": first.headers["etag"]},
        ),
        lambda r: r.status_code != 304,
    )
    assert after.status_code == 200
    assert case_id not in {f["id"] for f in after.json()["features"]}


def test_street_token_sees_only_its_street(
    client_ro: TestClient, sync_ro: psycopg.Connection
) -> None:
    street = sync_ro.execute(
        "SELECT street_code FROM incidents WHERE status = 'accepted' LIMIT 1"
    ).fetchone()
    assert street is not None
    code = street[0]
    r = client_ro.get(f"/live/{code}/cases", params={"bbox": BAOHE}, headers=auth(client_ro, code))
    assert r.status_code == 200
    assert all(f["properties"]["grid_code"].startswith(code) for f in r.json()["features"])
    assert client_ro.get("/live/340111/cases", headers=auth(client_ro, code)).status_code == 403


@pytest.mark.parametrize("layer", ["teams", "waterlogging", "cameras", "stall_zones"])
def test_other_live_layers(client_ro: TestClient, layer: str) -> None:
    r = client_ro.get(f"/live/340111/{layer}", params={"bbox": BAOHE}, headers=auth(client_ro))
    assert r.status_code == 200 and r.json()["features"]


def test_waterlogging_states(client_ro: TestClient) -> None:
    r = client_ro.get("/live/340111/waterlogging", headers=auth(client_ro))
    assert {f["properties"]["state"] for f in r.json()["features"]} <= {"normal", "warn", "alarm"}


def test_heat_is_summed_cells(client_ro: TestClient) -> None:
    points = client_ro.get("/live/340111/heat", headers=auth(client_ro)).json()["points"]
    assert points and all(len(p) == 3 and p[2] >= 1 for p in points)


def test_gcj02_display_shifts_points(client_ro: TestClient) -> None:
    plain = client_ro.get(
        "/live/340111/cameras", params={"bbox": BAOHE}, headers=auth(client_ro)
    ).json()
    shifted = client_ro.get(
        "/live/340111/cameras", params={"bbox": BAOHE, "display": "gcj02"}, headers=auth(client_ro)
    ).json()
    a, b = (
        plain["features"][0]["geometry"]["coordinates"],
        shifted["features"][0]["geometry"]["coordinates"],
    )
    assert 0.001 < abs(b[0] - a[0]) < 0.01  # hundreds of metres east, as GCJ-02 does near Hefei


@pytest.mark.parametrize(
    ("path", "status"),
    [
        ("/live/340111/cases?bbox=1,2,3", 422),
        ("/live/340111/cases?bbox=a,b,c,d", 422),
        ("/live/34011/cases", 422),
        ("/live/340111/secrets", 422),
        ("/live/340111/cases?display=bd09", 422),
    ],
)
def test_bad_live_requests(client_ro: TestClient, path: str, status: int) -> None:
    assert client_ro.get(path, headers=auth(client_ro)).status_code == status
