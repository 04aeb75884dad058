"""The map wall in headless Chromium (Debian's /usr/bin/chromium): it really draws, offline.

A real uvicorn server on loopback serves the demo city; every request the
page makes is logged and must stay on loopback. Screenshots land in
``test-artifacts/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, ConsoleMessage, Page, Request

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from layers.cluster import free_port

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@pytest.fixture(scope="module")
def server(demo_ro: str) -> Iterator[tuple[str, str]]:
    """A wangge server on a loopback port; yields its base URL and a district operator's token."""
    app = create_app(Settings(database_url=demo_ro, map_refresh_s=5, escalate_every_s=0))  # type: ignore[call-arg]
    port = free_port()
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:  # a start-up wait, not a time limit on anything tested
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}", issue_token(app.state.token_secret, "operator", "340111")
    uv.should_exit = True
    thread.join()


class PageLog:
    """Every request and every console error or uncaught exception of a page."""

    def __init__(self, page: Page) -> None:
        self.requests: list[str] = []
        self.errors: list[str] = []
        page.on("request", self._request)
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))

    def _request(self, request: Request) -> None:
        self.requests.append(request.url)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text}")

    def external(self) -> list[str]:
        return [
            u
            for u in self.requests
            if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOOPBACK
        ]


def open_district(browser: Browser, base: str, token: str) -> tuple[Page, PageLog]:
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    log = PageLog(page)
    page.goto(f"{base}/maps/district/340111?token={token}")
    try:
        # grid lines from the vector tiles, and case markers (clusters) from the live layer
        page.wait_for_function("document.querySelectorAll('svg.leaflet-tile path').length > 50")
        page.wait_for_function("document.querySelectorAll('.marker-cluster').length > 0")
    except Exception:
        ARTIFACTS.mkdir(exist_ok=True)
        page.screenshot(path=str(ARTIFACTS / "district_view_failed.png"))
        raise AssertionError(f"not drawn; errors: {log.errors}; requests: {log.requests}") from None
    return page, log


def test_district_view_draws_offline(server: tuple[str, str], browser: Browser) -> None:
    base, token = server
    page, log = open_district(browser, base, token)
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_load_state("networkidle")
    page.screenshot(path=str(ARTIFACTS / "district_view.png"))
    assert log.external() == []
    assert log.errors == []
    assert any("/tiles/grids/" in u for u in log.requests)
    assert any("/live/340111/cases" in u for u in log.requests)
    drawn = page.evaluate("""() => {
        let cases = 0;
        const config = JSON.parse(document.getElementById('wangge-config').textContent);
        const group = window[config.layers.cases];
        group.eachLayer(() => { cases += 1; });
        return {cases, grids: document.querySelectorAll('svg.leaflet-tile path').length,
                clock: document.getElementById('wg-clock').textContent,
                refreshed: document.getElementById('wg-refreshed').textContent};
    }""")
    assert drawn["cases"] > 100 and drawn["grids"] > 50
    assert drawn["clock"] != "--:--:--" and drawn["refreshed"] != "–"
    page.close()


def test_click_on_a_street_opens_its_view(
    server: tuple[str, str], browser: Browser, sync_ro: psycopg.Connection
) -> None:
    base, token = server
    row = sync_ro.execute(
        "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p "
        "FROM streets ORDER BY ST_Area(geom) DESC LIMIT 1) s"
    ).fetchone()
    assert row is not None
    code, lon, lat = row
    page, log = open_district(browser, base, token)
    # markers sit above the street polygons; hide them so the click lands on the street itself
    page.add_style_tag(content=".leaflet-marker-pane, .leaflet-shadow-pane { display: none; }")
    point = page.evaluate(f"() => wangge.map.latLngToContainerPoint([{lat}, {lon}])")
    box = page.locator(".folium-map").bounding_box()
    assert box is not None
    with page.expect_navigation():
        page.mouse.click(box["x"] + point["x"], box["y"] + point["y"])
    assert f"/maps/street/{code.strip()}" in page.url
    page.wait_for_function("document.querySelectorAll('svg.leaflet-tile path').length > 10")
    page.screenshot(path=str(ARTIFACTS / "street_view.png"))
    assert "/maps/district/340111" in page.locator(".wg-up").get_attribute(
        "href"
    )  # the way back up
    assert log.external() == [] and log.errors == []
    page.close()


def test_kiosk_hides_controls(server: tuple[str, str], browser: Browser) -> None:
    base, token = server
    page = browser.new_page(viewport={"width": 1600, "height": 900})
    log = PageLog(page)
    page.goto(f"{base}/maps/district/340111?kiosk=true&token={token}")
    page.wait_for_function("document.body.classList.contains('wg-kiosk')")
    assert page.locator(".leaflet-control-zoom").count() == 0
    assert not page.locator(".leaflet-control-layers").is_visible()
    page.screenshot(path=str(ARTIFACTS / "district_kiosk.png"))
    assert log.external() == [] and log.errors == []
    page.close()
