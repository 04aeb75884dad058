"""The planner page in headless Chromium: it loads the grids, posts an edit and draws the report.

On the community of issue 8 (340111003002): checked with no edit, and after a
split with the page's line tool, the report must be ok; a dragged vertex must
not be. Screenshots at three screen sizes go to pytest's temporary folder.
"""

from __future__ import annotations

import struct
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import psycopg
import pytest
import uvicorn
from playwright.sync_api import Page, sync_playwright

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


COMMUNITY = "340111003002"  # where issue 8 saw 19 invalid edges, 18 gaps and 24 parts outside, unedited
SCREENS = [(1920, 1080), (3840, 2160), (390, 844)]

# A line across the largest grid, through its middle, ending well outside it:
# what the planner draws with the line tool; Geoman announces it with pm:create.
SPLIT_THE_LARGEST = """() => {
    const map = wanggePlanner.map, group = wanggePlanner.group;
    const largest = group.getLayers().map(l => [l, l.getBounds()])
        .sort((a, b) => (b[1].getEast() - b[1].getWest()) * (b[1].getNorth() - b[1].getSouth())
                      - (a[1].getEast() - a[1].getWest()) * (a[1].getNorth() - a[1].getSouth()))[0];
    const [layer, box] = largest;
    const c = box.getCenter(), h = box.getNorth() - box.getSouth();
    const line = L.polyline([[c.lat - 0.6 * h, c.lng - 0.0001], [c.lat + 0.6 * h, c.lng + 0.0001]]);
    group.addLayer(line);
    map.fire('pm:create', {shape: 'Line', layer: line});
    return layer.wanggeProps.code;
}"""


# Drag a vertex where three grids meet (so inside the community) by about 2.5 m,
# as Geoman does: the dragged grid's own vertex moves and Geoman fires
# pm:markerdragstart/-end; the page must move it in the other grids too.
DRAG_A_SHARED_VERTEX = """() => {
    const group = wanggePlanner.group, key = ll => ll.lat + "," + ll.lng, counts = new Map();
    group.eachLayer(l => new Set(l.getLatLngs().flat(3).map(key))
        .forEach(k => counts.set(k, (counts.get(k) || 0) + 1)));
    const [lat, lng] = [...counts].find(([, n]) => n >= 3)[0].split(",").map(Number);
    const from = L.latLng(lat, lng), to = L.latLng(lat + 1.5e-5, lng + 2e-5);
    const layer = group.getLayers().find(l => l.getLatLngs().flat(3).some(p => p.equals(from, 0)));
    const move = list => list.forEach((p, i) => Array.isArray(p) ? move(p) : (p.equals(from, 0) && (list[i] = to)));
    layer.pm.enable();
    layer.fire('pm:markerdragstart', {markerEvent: {target: {getLatLng: () => from}}});
    const latlngs = layer.getLatLngs();
    move(latlngs);
    layer.setLatLngs(latlngs);
    layer.fire('pm:markerdragend', {markerEvent: {target: {getLatLng: () => to}}});
    layer.pm.disable();
    const has = p => group.getLayers().filter(l => l.getLatLngs().flat(3).some(q => q.equals(p, 0))).length;
    return [counts.get(key(from)), has(from), has(to)];
}"""


@pytest.fixture
def planner_server(demo_rw: str) -> Iterator[tuple[str, str, str]]:
    """A server on loopback over a fresh demo database; yields base URL, community code, planner token."""
    with psycopg.connect(demo_rw) as conn:
        assert conn.execute("SELECT 1 FROM communities WHERE code = %s", (COMMUNITY,)).fetchone()
    community = COMMUNITY
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
        red_paths = page.locator("path[stroke='#d55e00']").count()
        browser.close()
    assert errors == []
    assert verdict == "Problems found"
    assert table_rows == grid_count + 1  # a header, then one row per grid (the edit stays a valid polygon)
    assert red_paths > 0  # invalid edges / overlaps drawn in red
    assert any(u.endswith(f"/planning/communities/{community}/proposals") for u in requests)
    assert {urlsplit(u).hostname for u in requests} == {"127.0.0.1"}  # nothing leaves the machine


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from a PNG's header."""
    width, height = struct.unpack(">II", path.read_bytes()[16:24])
    return width, height


def check_and_shoot(page: Page, folder: Path, name: str) -> dict[str, str]:
    """Click check, wait for the report, screenshot it at every screen size; the verdict and counts."""
    page.click("#planner-submit")
    page.wait_for_selector("body[data-planner-state='reported']", state="attached")
    found = {"proposal": page.inner_text("#planner-status"), "verdict": page.inner_text("#planner-verdict"),
             "report": page.inner_text("#planner-report")}
    for width, height in SCREENS:
        page.set_viewport_size({"width": width, "height": height})
        shot = folder / f"planner-{name}-{width}x{height}.png"
        page.screenshot(path=str(shot))
        assert png_size(shot) == (width, height)
    page.set_viewport_size({"width": 1280, "height": 800})
    return found


def test_unedited_split_and_dragged_grids_check_ok(planner_server: tuple[str, str, str],
                                          tmp_path_factory: pytest.TempPathFactory) -> None:
    base, community, token = planner_server
    folder = tmp_path_factory.mktemp("screenshots")
    errors: list[str] = []
    with sync_playwright() as p:
        browser = launch(p)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.goto(f"{base}/maps/planner/{community}?token={token}")
        page.wait_for_selector("body[data-planner-state='ready']", state="attached")
        count = page.evaluate("() => wanggePlanner.group.getLayers().length")
        unedited = check_and_shoot(page, folder, "unedited")
        split_code = page.evaluate(SPLIT_THE_LARGEST)
        after = page.evaluate("() => wanggePlanner.group.getLayers().map(l => (l.wanggeProps || {}).code)")
        status = page.inner_text("#planner-status")
        split = check_and_shoot(page, folder, "split")
        rows = page.locator("#planner-workload tr").count()
        red = page.locator("path[stroke='#d55e00']").count()
        shared, left_at_old, at_new = page.evaluate(DRAG_A_SHARED_VERTEX)
        dragged = check_and_shoot(page, folder, "dragged")
        browser.close()
    print(f"screenshots in {folder}")
    assert errors == []
    # three checks, three proposals: no verdict read is a stale one
    assert [unedited["proposal"], split["proposal"], dragged["proposal"]] == [
        f"report for proposal #{n}" for n in (1, 2, 3)]
    assert unedited["verdict"] == "OK: the grids tile the community", unedited["report"]
    assert "invalid edges: 0" in unedited["report"] and "gaps: 0" in unedited["report"]
    assert split_code and split_code.startswith(community) and split_code in status
    halves = after.count(None)  # the line may also cross a neighbour edge to edge: that one is split too
    assert split_code not in after and halves >= 2 and len(after) == count + halves // 2
    assert split["verdict"] == "OK: the grids tile the community", split["report"]
    assert rows == len(after) + 1  # a header and one row per grid, the halves included
    assert red == 0
    assert shared >= 3 and left_at_old == 0 and at_new == shared  # the vertex moved in every grid that had it
    assert dragged["verdict"] == "OK: the grids tile the community", dragged["report"]
