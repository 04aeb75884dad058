"""The wall's case poll in headless Chromium: it asks for deltas and draws what they change.

A street wall (few open cases: points) polls every 500 ms; once it holds a
version it sends ``since=``; a case filed meanwhile appears on the map and a
case rejected leaves it, without a full reload of the layer.
"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
from playwright.sync_api import sync_playwright

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from tests.chromium import launch
from tests.live_server import serving

pytestmark = pytest.mark.browser
STREET = "340111002"

HELD = """() => { const ids = []; const g = window[JSON.parse(document.getElementById('wangge-config')
    .textContent).layers.cases]; g.eachLayer(m => { if (m.wanggeCase) ids.push(m.wanggeCase); }); return ids; }"""


@pytest.fixture
def server(demo_rw: str) -> Iterator[tuple[str, str]]:
    app = create_app(Settings(database_url=demo_rw, map_refresh_s=5, escalate_every_s=0))
    with serving(app) as base:
        yield base, issue_token(app.state.token_secret, "operator", STREET)


def test_the_wall_applies_case_deltas(server: tuple[str, str], demo_rw: str) -> None:
    base, token = server
    with psycopg.connect(demo_rw) as conn:
        lon, lat = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE street_code = %s "
                                "AND status = 'accepted' ORDER BY id LIMIT 1", (STREET,)).fetchone()  # type: ignore[misc]
        gone = conn.execute("SELECT id FROM incidents WHERE street_code = %s AND status = 'accepted' "
                            "ORDER BY id DESC LIMIT 1", (STREET,)).fetchone()[0]  # type: ignore[index]
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1600, "height": 900})
        urls: list[str] = []
        page.on("request", lambda r: urls.append(r.url))
        page.goto(f"{base}/maps/street/{STREET}?token={token}&refresh=500")
        page.wait_for_function(f"({HELD})().includes({gone})")
        with page.expect_request(lambda r: "/cases" in r.url and "since=" in r.url):
            pass  # the wall holds a version and polls for deltas
        since = len(urls)
        headers = {"Authorization": f"Bearer {token}"}
        filed = httpx.post(f"{base}/incidents", headers=headers, json={
            "category": "01.03", "channel": "hotline", "location": {"lon": lon, "lat": lat}}).json()["id"]
        assert httpx.post(f"{base}/incidents/{gone}/reject", headers=headers,
                          json={"reason": "不属实"}).status_code == 200
        page.wait_for_function(f"(() => {{ const ids = ({HELD})(); return ids.includes({filed}) && "
                               f"!ids.includes({gone}); }})()")
        browser.close()
    # the changes came as deltas: every poll after the first delta request asked for one
    assert all("since=" in u for u in urls[since:] if "/live/" + STREET + "/cases" in u)
