"""The planner page in headless Chromium: it loads the grids, posts an edit and draws the report."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import psycopg
import pytest
import uvicorn
from playwright.sync_api import sync_playwright

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from layers.cluster import free_port
from tests.chromium import launch

pytestmark = pytest.mark.browser

# Move the first grid's first vertex well into its neighbours: an overlap and a
# gap appear, as if the planner had dragged it with Geoman.
DRAG_A_VERTEX = """() => {
    const layer = drawnItems.getLayers()[0];
    const rings = layer.getLatLngs();
    const ring = Array.isArray(rings[0][0]) ? rings[0][0] : rings[0];
    const centre = layer.getBounds().getCenter();
    ring[0] = L.latLng(ring[0].lat + 2 * (ring[0].lat - centre.lat), ring[0].lng + 2 * (ring[0].lng - centre.lng));
    layer.setLatLngs(rings);
    layer.fire('pm:edit');
}"""


@pytest.fixture
def planner_server(demo_rw: str) -> Iterator[tuple[str, str, str]]:
    """A server on loopback over a fresh demo database; yields base URL, community code, planner token."""
    with psycopg.connect(demo_rw) as conn:
        community = str(conn.execute("SELECT code FROM communities ORDER BY code LIMIT 1").fetchone()[0])  # type: ignore[index]
    app = create_app(Settings(database_url=demo_rw))  # type: ignore[call-arg]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a start-up wait, not a time limit on anything tested
        time.sleep(0.05)
    port = server.config.port
    yield f"http://127.0.0.1:{port}", community, issue_token(app.state.token_secret, "planner", community)
    server.should_exit = True
    thread.join()


def test_the_planner_posts_an_edit_and_draws_the_report(planner_server: tuple[str, str, str]) -> None:
    base, community, token = planner_server
    requests: list[str] = []
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/maps/planner/{community}?token={token}")
        page.wait_for_selector("body[data-planner-state='ready']", state="attached")
        grid_count = page.evaluate("() => drawnItems.getLayers().length")
        assert grid_count > 1
        assert page.evaluate("() => typeof map_pm_enabled === 'undefined' && !!L.PM")  # Geoman is loaded
        page.evaluate(DRAG_A_VERTEX)
        page.click("#planner-submit")
        page.wait_for_selector("body[data-planner-state='reported']", state="attached")
        verdict = page.inner_text("#planner-verdict")
        table_rows = page.locator("#planner-workload tr").count()
        red_paths = page.locator("path[stroke='#d7191c']").count()
        browser.close()
    assert errors == []
    assert verdict == "Problems found"
    assert table_rows == grid_count + 1  # a header, then one row per grid (the edit stays a valid polygon)
    assert red_paths > 0  # invalid edges / overlaps drawn in red
    assert any(u.endswith(f"/planning/communities/{community}/proposals") for u in requests)
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}  # nothing leaves the machine
