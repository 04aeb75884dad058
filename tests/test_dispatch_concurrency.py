"""Many dispatchers at once never assign one team twice (row locks plus a unique index)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.conftest import token_headers


@pytest.fixture
def live_server(demo_rw: str):
    """The app under a real uvicorn in a thread, so requests truly run concurrently."""
    import threading
    import time

    import uvicorn

    from api.app import create_app
    from api.settings import Settings
    from layers.cluster import free_port

    port = free_port()
    app = create_app(Settings(database_url=demo_rw, pool_max=30))
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.05)
    yield app, f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


def _file_cases(base: str, headers: dict[str, str], count: int) -> list[int]:
    """File ``count`` illegal-parking cases at one spot; all want a traffic police team."""
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        return [client.post("/incidents", json={"category": "04.02", "channel": "hotline",
                                                "location": {"lon": 117.30, "lat": 31.80}}).json()["id"]
                for _ in range(count)]


def test_concurrent_dispatches_never_share_a_team(live_server, demo_rw: str) -> None:
    app, base = live_server

    headers = token_headers(app.state.token_secret, "dispatcher")
    ids = _file_cases(base, headers, 24)

    def dispatch(case_id: int) -> int:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return client.post(f"/incidents/{case_id}/dispatch").status_code

    with ThreadPoolExecutor(max_workers=12) as pool:
        statuses = list(pool.map(dispatch, ids))
    assert set(statuses) <= {200, 409}
    with psycopg.connect(demo_rw) as conn:
        rows = conn.execute("SELECT team_id FROM incidents WHERE id = ANY(%s) AND status = 'dispatched'",
                            (ids,)).fetchall()
    teams = [r[0] for r in rows]
    assert len(teams) == statuses.count(200) > 0
    assert len(set(teams)) == len(teams), "a team was assigned twice"


def test_racing_for_one_named_team_gives_one_winner(live_server, demo_rw: str) -> None:
    app, base = live_server

    headers = token_headers(app.state.token_secret, "dispatcher")
    ids = _file_cases(base, headers, 8)
    team = httpx.get(f"{base}/teams/nearest", params={"lon": 117.3, "lat": 31.8, "type": "traffic_police"}).json()
    target = team["teams"][0]["id"]

    def dispatch(case_id: int) -> httpx.Response:
        with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
            return client.post(f"/incidents/{case_id}/dispatch", json={"team_id": target})

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(pool.map(dispatch, ids))
    codes = [r.status_code for r in responses]
    assert codes.count(200) == 1 and codes.count(409) == 7
    assert all(r.json()["next_candidate"]["id"] != target for r in responses if r.status_code == 409)
