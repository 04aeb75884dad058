"""The map wall as an operator uses it, in headless Chromium: readable at 4K, live, acting on cases.

Each test serves a fresh copy of the demo city on loopback (cases are
posted and moved along the loop) and drives Debian's Chromium. Pages poll
fast through the ``refresh=`` page parameter; every wait is for a condition
on the page, never a time. Screenshots go to ``test-artifacts/`` (gitignored).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest
import uvicorn
from playwright.sync_api import Browser, Page

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from layers.cluster import free_port
from maps import style

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SCREENS = [(1920, 1080), (3840, 2160), (390, 844)]


class Wall:
    """A server on loopback over one database, with tokens for its roles."""

    def __init__(self, base: str, secret: str) -> None:
        self.base = base
        self.secret = secret
        self.operator = issue_token(secret, "operator", "340111")
        self.dispatcher = issue_token(secret, "dispatcher", "340111")

    def post(self, path: str, token: str, body: dict[str, Any] | None = None, **headers: str) -> dict[str, Any]:
        r = httpx.post(self.base + path, json=body or {}, headers={"Authorization": f"Bearer {token}", **headers})
        assert r.status_code in (200, 201), r.text
        answer: dict[str, Any] = r.json()
        return answer


@contextmanager
def serving(url: str) -> Iterator[Wall]:
    app = create_app(Settings(database_url=url, escalate_every_s=0))
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:  # a start-up wait, not a time limit on anything tested
        time.sleep(0.05)
    try:
        yield Wall(f"http://127.0.0.1:{server.config.port}", app.state.token_secret)
    finally:
        server.should_exit = True
        thread.join()


@pytest.fixture
def wall(demo_rw: str) -> Iterator[Wall]:
    with serving(demo_rw) as w:
        yield w


def a_point_in(db: str) -> tuple[str, float, float]:
    """A community's code and a point well inside it."""
    with psycopg.connect(db) as conn:
        row = conn.execute(
            "SELECT code, ST_X(p), ST_Y(p) FROM (SELECT code, ST_PointOnSurface(geom) p FROM communities "
            "ORDER BY code LIMIT 1 OFFSET 3) s"
        ).fetchone()
    assert row is not None
    return row[0].strip(), row[1], row[2]


def open_wall(browser: Browser, url: str, size: tuple[int, int] = (1920, 1080)) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(url)
    # the first panel poll has answered: KPIs, shading and legend are the live ones
    page.wait_for_function("document.body && document.body.dataset.panelAt !== undefined")
    return page, errors


def shoot(browser: Browser, url: str, name: str) -> None:
    """Open the page afresh at each screen size (a wall is not resized) and take its picture."""
    ARTIFACTS.mkdir(exist_ok=True)
    for size in SCREENS:
        page, errors = open_wall(browser, url, size)
        page.wait_for_load_state("networkidle")
        page.screenshot(path=str(ARTIFACTS / f"{name}-{size[0]}x{size[1]}.png"))
        assert errors == []
        page.close()


FIGURES = """() => {
    const px = el => parseFloat(getComputedStyle(el).fontSize);
    const labels = [...document.querySelectorAll(
        '.wg-kpi-label, .wg-table td, .wg-legend div, .wg-overdue li, .wg-title, .leaflet-tooltip.wg-label')];
    return {kpi: Math.min(...[...document.querySelectorAll('.wg-kpi-value')].map(px)),
            label: Math.min(...labels.map(px)), labels: labels.length,
            family: getComputedStyle(document.querySelector('.wg-kpi-value')).fontFamily};
}"""


def test_the_wall_is_readable_at_4k_with_its_own_cjk_font(wall: Wall, browser: Browser) -> None:
    page, errors = open_wall(browser, f"{wall.base}/maps/district/340111?token={wall.operator}", (3840, 2160))
    page.evaluate("() => document.fonts.load('48px \"Noto Sans SC\"', '网格案件')")
    assert page.evaluate("() => document.fonts.check('48px \"Noto Sans SC\"', '网格')")
    fetched = page.evaluate(
        "() => performance.getEntriesByType('resource').map(e => e.name).filter(n => n.endsWith('.woff2'))")
    assert fetched and all("/static/vendor/@fontsource/noto-sans-sc@" in u for u in fetched)
    assert len(fetched) < 40  # unicode-range: only the slices holding the page's characters
    figures = page.evaluate(FIGURES)
    assert figures["family"].startswith('"Noto Sans SC"')
    assert figures["kpi"] >= 48 and figures["label"] >= 24 and figures["labels"] > 20, figures
    page.set_viewport_size({"width": 1920, "height": 1080})
    small = page.evaluate(FIGURES)
    assert small["kpi"] < figures["kpi"] and small["label"] >= 12  # sizes follow the screen
    shoot(browser, f"{wall.base}/maps/district/340111?token={wall.operator}", "wall-district")
    assert errors == []
    page.close()


def test_on_a_phone_the_panel_is_a_drawer_beside_the_map(wall: Wall, browser: Browser) -> None:
    page, errors = open_wall(browser, f"{wall.base}/maps/district/340111?token={wall.operator}", (390, 844))
    box = page.locator("#wg-panel").bounding_box()
    map_box = page.locator(".folium-map").bounding_box()
    assert box is not None and map_box is not None
    assert box["x"] >= 390 - 1  # closed: off the screen to the right
    assert map_box["width"] >= 389 and map_box["height"] > 700  # the map has the screen
    page.click("#wg-toggle")
    page.wait_for_function("document.querySelector('#wg-panel').getBoundingClientRect().right <= 391"
                           " && document.querySelector('#wg-panel').getBoundingClientRect().left < 390")
    assert page.locator("#kpi-open").is_visible()
    page.screenshot(path=str(ARTIFACTS / "wall-district-390x844-drawer-open.png"))
    page.click("#wg-toggle")
    page.wait_for_function("document.querySelector('#wg-panel').getBoundingClientRect().left >= 389")
    assert errors == []
    page.close()


def test_a_new_case_changes_the_kpis_within_a_poll(wall: Wall, browser: Browser, demo_rw: str) -> None:
    _, lon, lat = a_point_in(demo_rw)
    page, errors = open_wall(browser, f"{wall.base}/maps/district/340111?refresh=400&token={wall.operator}")
    before = int(page.inner_text("#kpi-open"))
    overdue_items = page.locator("#wg-overdue li").count()
    case = wall.post("/incidents", wall.operator, {
        "category": "01.03", "channel": "hotline", "description": "占道经营 wall test",
        "location": {"lon": lon, "lat": lat}}, **{"Idempotency-Key": "wall-kpi-1"})
    page.wait_for_function(f"document.querySelector('#kpi-open').textContent === '{before + 1}'")
    page.wait_for_function("document.querySelector('#wg-news').textContent.startsWith('新案件')")
    assert page.locator("#kpi-open.wg-changed").count() == 1  # the changed figure is highlighted
    assert page.locator("#wg-overdue li").count() == overdue_items  # a new case is not overdue
    # the table row of the case's street counts it too, and the shading answers the same poll
    street = case["street_code"] if "street_code" in case else case["grid_code"][:9]
    row = page.inner_text(f'tr[data-code="{street}"] td:nth-child(2)')
    assert int(row) >= 1
    assert errors == []
    page.close()


def legend_and_fills(page: Page) -> dict[str, Any]:
    result: dict[str, Any] = page.evaluate("""() => {
        const config = JSON.parse(document.getElementById('wangge-config').textContent);
        const fills = [];
        window[config.children].eachLayer(l => fills.push([l.feature.properties.value, l.options.fillColor]));
        const entries = [...document.querySelectorAll('#wg-legend-shading div')].map(d =>
            [d.textContent, getComputedStyle(d.querySelector('i')).backgroundColor]);
        return {fills, entries};
    }""")
    return result


def rgb(hex_colour: str) -> str:
    h = hex_colour.lstrip("#")
    return "rgb({}, {}, {})".format(*(int(h[i:i + 2], 16) for i in (0, 2, 4)))


def test_legend_classes_never_repeat_and_zero_is_zero(wall: Wall, browser: Browser, demo_rw: str) -> None:
    community, _, _ = a_point_in(demo_rw)
    page, errors = open_wall(browser, f"{wall.base}/maps/community/{community}?token={wall.operator}")
    found = legend_and_fills(page)
    labels = [label for label, _ in found["entries"]]
    assert len(labels) == len(set(labels)), labels
    by_label = {label: colour for label, colour in found["entries"]}
    zero = [fill for value, fill in found["fills"] if value == "0"]
    if zero:  # grids with no open case are 0, shaded as the "0" class, not "no data"
        assert "0" in by_label and all(rgb(f) == by_label["0"] for f in zero)
    assert "无数据 no data" not in labels  # counts always have data
    for value, fill in found["fills"]:  # each grid's fill is its class's legend colour
        n = int(value)
        label = next(lab for lab in labels if lab == str(n) or (
            "–" in lab and int(lab.split("–")[0]) <= n <= int(lab.split("–")[1])))
        assert by_label[label] == rgb(fill), (value, label)
    marks = page.evaluate("""() => [...document.querySelectorAll('#wg-legend svg.wg-mark')]
        .map(s => [s.querySelector('*').tagName, s.getAttribute('fill')])""")
    filled = [fill for _, fill in marks if fill != "none"]
    assert len(filled) == len(set(filled)), marks  # no colour stands for two things
    assert {tag for tag, _ in marks} >= {"circle", "rect", "polygon"}
    assert page.locator("#wg-legend", has_text="聚合 Clusters").count() == 1
    shoot(browser, f"{wall.base}/maps/community/{community}?token={wall.operator}", "wall-community")
    assert errors == []
    page.close()


def test_marker_colours_are_distinct_across_meanings() -> None:
    meanings = {
        **{f"case:{c}": c for c in {*style.CASE_STATUS_COLOURS.values()}},
        "case:overdue": style.OVERDUE_COLOUR,
        **{f"team:{k}": c for k, c in style.TEAM_STATUS_COLOURS.items() if c != style.HOLLOW},
        **{f"water:{k}": c for k, c in style.WATER_STATE_COLOURS.items() if c != style.HOLLOW},
        "camera:online": style.CAMERA_COLOURS[True],
        "cluster": style.CLUSTER_COLOUR,
    }
    colours = list(meanings.values())
    assert len(colours) == len(set(colours)), meanings
    assert not set(colours) & set(style.RAMP)


def test_the_token_survives_the_redirect_and_a_browser_gets_a_sign_in_page(wall: Wall, browser: Browser) -> None:
    r = httpx.get(f"{wall.base}/maps", params={"token": wall.operator, "kiosk": "true"})
    assert r.status_code == 303
    assert urlsplit(r.headers["location"]).path == "/maps/district/340111"
    assert f"token={wall.operator}" in r.headers["location"] and "kiosk=true" in r.headers["location"]
    api = httpx.get(f"{wall.base}/maps/district/340111")
    assert api.status_code == 401 and api.json()["code"] == "unauthenticated"
    page = browser.new_page()
    reply = page.goto(f"{wall.base}/maps/district/340111?indicator=overdue_cases")
    assert reply is not None and reply.status == 401
    assert page.locator("[data-testid=sign-in]").is_visible()
    page.fill("#token", wall.operator)
    with page.expect_navigation():
        page.click("button[type=submit]")
    page.wait_for_function("document.body && document.body.dataset.panelAt !== undefined")
    assert "indicator=overdue_cases" in page.url  # the other parameters are kept
    page.goto(f"{wall.base}/maps?token={wall.operator}")
    page.wait_for_function("document.body && document.body.dataset.panelAt !== undefined")
    assert "/maps/district/340111" in page.url
    page.close()


FIND_CASE = """id => {
    const config = JSON.parse(document.getElementById('wangge-config').textContent);
    return window[config.layers.cases].getLayers().find(m => m.wanggeCase === id) || null;
}"""


def popup_of(page: Page, case_id: int) -> None:
    """Bring the case's marker out of its cluster and open its popup, as an operator's click does."""
    page.wait_for_function(f"({FIND_CASE})({case_id}) !== null")
    page.evaluate(f"() => wangge.map.setView(({FIND_CASE})({case_id}).getLatLng(), 19, {{animate: false}})")
    page.wait_for_function(f"""() => {{
        const m = ({FIND_CASE})({case_id});
        if (!m) return false;
        if (!wangge.map.hasLayer(m)) {{  // still inside a cluster: at the last zoom, spread it out
            const parent = m.__parent;
            if (parent && parent.spiderfy && wangge.map.getZoom() === wangge.map.getMaxZoom()) parent.spiderfy();
            return false;
        }}
        m.openPopup();
        return true;
    }}""")
    page.wait_for_selector(f".leaflet-popup .wg-case[data-case='{case_id}']")


def case_at_feedback(wall: Wall, lon: float, lat: float, key: str) -> int:
    case = wall.post("/incidents", wall.operator, {
        "category": "01.03", "channel": "hotline", "description": "popup test",
        "location": {"lon": lon, "lat": lat}}, **{"Idempotency-Key": key})
    case_id = int(case["id"])
    wall.post(f"/incidents/{case_id}/dispatch", wall.dispatcher)
    wall.post(f"/incidents/{case_id}/handle", wall.operator)
    wall.post(f"/incidents/{case_id}/feedback", wall.operator)
    return case_id


def status_of(wall: Wall, case_id: int) -> str:
    r = httpx.get(f"{wall.base}/incidents/{case_id}", headers={"Authorization": f"Bearer {wall.operator}"})
    status: str = r.json()["status"]
    return status


def test_operators_verify_close_and_return_from_the_popup(wall: Wall, browser: Browser, demo_rw: str) -> None:
    community, lon, lat = a_point_in(demo_rw)
    first = case_at_feedback(wall, lon, lat, "popup-1")
    second = case_at_feedback(wall, lon + 0.001, lat, "popup-2")
    page, errors = open_wall(browser, f"{wall.base}/maps/community/{community}?refresh=500&token={wall.operator}")
    popup_of(page, first)
    page.click(".leaflet-popup button[data-action=verify]")
    page.wait_for_selector(".leaflet-popup .wg-action-result[data-status=verified]")
    assert status_of(wall, first) == "verified"
    page.evaluate("() => wangge.map.closePopup()")  # the wall redraws the cases once the popup is closed
    page.wait_for_function(
        f"({FIND_CASE})({first}).options.fillColor === '{style.CASE_STATUS_COLOURS['verified']}'")
    popup_of(page, first)
    page.click(".leaflet-popup button[data-action=close]")
    page.wait_for_selector(".leaflet-popup .wg-action-result[data-status=closed]")
    assert status_of(wall, first) == "closed"
    popup_of(page, second)
    page.click(".leaflet-popup button[data-action=return]")  # no reason yet: refused on the page
    assert "原因" in page.inner_text(".leaflet-popup .wg-action-result")
    assert status_of(wall, second) == "feedback"
    page.fill(".leaflet-popup textarea", "现场仍有占道 still blocked")
    page.click(".leaflet-popup button[data-action=return]")
    page.wait_for_selector(".leaflet-popup .wg-action-result[data-status=handling]")
    assert status_of(wall, second) == "handling"
    assert errors == []
    page.close()
    # a dispatcher's wall shows no such buttons: those steps are the operator's
    page, _ = open_wall(browser, f"{wall.base}/maps/community/{community}?token={wall.dispatcher}")
    third = case_at_feedback(wall, lon - 0.001, lat, "popup-3")
    page.evaluate("() => wangge.refresh()")
    popup_of(page, third)
    assert page.locator(".leaflet-popup button[data-action]").count() == 0
    page.close()


# Points of a 9x9 lattice over the map that no loaded grid tile covers (vector tiles take no
# pointer events, so coverage is read from the tiles' boxes, not from elementFromPoint).
UNDRAWN = """() => {
    const box = document.querySelector('.folium-map').getBoundingClientRect();
    const tiles = [...document.querySelectorAll('.leaflet-tile.leaflet-tile-loaded')]
        .map(t => t.getBoundingClientRect());
    const blank = [];
    for (let i = 1; i < 10; i++) for (let j = 1; j < 10; j++) {
        const x = box.left + box.width * i / 10, y = box.top + box.height * j / 10;
        if (!tiles.some(r => r.left <= x && x <= r.right && r.top <= y && y <= r.bottom)) blank.push([i, j]);
    }
    return blank;
}"""


def test_kiosk_flights_leave_nothing_undrawn_at_4k(wall: Wall, browser: Browser) -> None:
    page, errors = open_wall(
        browser, f"{wall.base}/maps/district/340111?kiosk=true&cycle=4000&token={wall.operator}", (3840, 2160))
    page.wait_for_function("Number(document.body.dataset.kioskStop) >= 2")
    page.evaluate("() => wangge.pauseKiosk()")  # hold the view the second flight went to
    page.wait_for_function("Number(document.body.dataset.redrawnAt) > 0 && !wangge.map._animatingZoom")
    # after the flight every part of the 4K map gets its tiles (a condition, not a time)
    page.wait_for_function(f"({UNDRAWN})().length === 0", timeout=120_000)
    page.screenshot(path=str(ARTIFACTS / "wall-kiosk-3840x2160.png"), timeout=120_000)
    assert errors == []
    page.close()
