"""The dispatcher's desk in headless Chromium: a call from the address to a dispatched case, by hooks and by keyboard.

The page is driven through its ``data-testid`` hooks only; what it shows is
checked against the database and against independent computations (the
grid covering the building, pyproj's geodesic distances, the GCJ-02
converter). Screenshots go to ``test-artifacts/``.
"""

from __future__ import annotations

import json
import re
import urllib.request

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, expect
from pyproj import Geod, Transformer

from api.settings import Settings
from geo.chinacrs import wgs84_to_gcj02
from tests.browser_pages import SIZES, PageLog, screenshot, token
from tests.test_photos import jpeg_with_gps

pytestmark = pytest.mark.browser
GEOD = Geod(ellps="WGS84")
CATEGORY = "01.03"


def open_desk(browser: Browser, base: str, size: str = "1920x1080", role: str = "dispatcher") -> tuple[Page, PageLog]:
    width, height = SIZES[size]
    page = browser.new_page(viewport={"width": width, "height": height})
    log = PageLog(page)
    page.goto(f"{base}/desk?token={token(role)}")
    expect(page.locator("#queue-time")).not_to_have_text("")
    return page, log


def building(url: str) -> dict:
    """A building with a door on a road, and the grid that covers its point (lowest code on an edge)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("""
            SELECT b.road, b.door_number, count(*) OVER (PARTITION BY b.road, b.door_number) AS n
            FROM buildings AS b WHERE b.road IS NOT NULL AND b.door_number IS NOT NULL
            ORDER BY b.id LIMIT 1""").fetchone()
    assert row is not None
    return {"road": row[0], "door": row[1]}


def grid_of_address(url: str, address: str) -> tuple[str, str]:
    with psycopg.connect(url) as conn:
        row = conn.execute("""
            SELECT g.code, g.community_code FROM buildings AS b, grids AS g
            WHERE b.address = %s AND g.valid_to IS NULL AND ST_Covers(g.geom, ST_PointOnSurface(b.geom))
            ORDER BY g.code LIMIT 1""", (address,)).fetchone()
    assert row is not None
    return str(row[0]).strip(), str(row[1]).strip()


def case_row(url: str, case_id: int) -> dict:
    with psycopg.connect(url) as conn:
        row = conn.execute("""SELECT status, team_id, grid_code, category_code, channel, ST_X(geom), ST_Y(geom)
                              FROM incidents WHERE id = %s""", (case_id,)).fetchone()
    assert row is not None
    return dict(zip(("status", "team_id", "grid_code", "category", "channel", "lon", "lat"), row, strict=True))


def team_position(url: str, team_id: int) -> tuple[float, float]:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_X(position), ST_Y(position) FROM teams WHERE id = %s", (team_id,)).fetchone()
    assert row is not None
    return float(row[0]), float(row[1])


def minor_name(url: str, code: str) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT minor_name FROM catalogue WHERE code = %s", (code,)).fetchone()
    assert row is not None
    return str(row[0])


def case_id_of(page: Page) -> int:
    expect(page.get_by_test_id("case-id")).to_have_text(re.compile(r"#\d+"))
    return int(page.get_by_test_id("case-id").inner_text().lstrip("#"))


def test_a_call_from_address_to_dispatched_case_by_its_hooks(page_server: tuple[str, str, Settings],
                                                              browser: Browser) -> None:
    base, url, _ = page_server
    page, log = open_desk(browser, base)
    place = building(url)
    page.get_by_test_id("address-input").fill(f"{place['road']}{place['door']}号")
    suggestion = page.get_by_test_id("suggestion").first
    expect(suggestion).to_be_visible()
    picked = suggestion.inner_text().strip()
    suggestion.click()
    grid, community = grid_of_address(url, picked)
    expect(page.get_by_test_id("place-grid")).to_contain_text(grid)
    expect(page.get_by_test_id("place-community")).to_contain_text(community)

    page.get_by_test_id("category-input").fill(minor_name(url, CATEGORY))
    page.get_by_test_id("category-option").filter(has_text=CATEGORY).first.click()
    teams = page.get_by_test_id("team-option")
    expect(teams.first).to_be_visible()
    assert teams.count() >= 2
    chosen = teams.nth(1)  # not the default: the desk must send the team the dispatcher picked
    chosen.click()
    team_id = int((chosen.get_attribute("id") or "").removeprefix("team-"))
    shown_m = [float(teams.nth(i).get_attribute("data-distance") or "nan") for i in range(teams.count())]
    assert shown_m == sorted(shown_m)
    assert re.search(r"\d m$|\d km$", chosen.inner_text().strip())

    page.locator("#auto-dispatch").uncheck()
    page.get_by_test_id("submit-case").click()
    expect(page.get_by_test_id("case-status")).to_contain_text("accepted")
    case_id = case_id_of(page)
    page.get_by_test_id("dispatch").click()
    expect(page.get_by_test_id("case-status")).to_contain_text("dispatched")

    stored = case_row(url, case_id)
    assert stored["status"] == "dispatched" and stored["team_id"] == team_id
    assert stored["grid_code"].strip() == grid and stored["category"] == CATEGORY
    # the distance shown for the chosen team is the ground distance, to the metre
    team_lon, team_lat = team_position(url, team_id)
    true_m = GEOD.inv(stored["lon"], stored["lat"], team_lon, team_lat)[2]
    assert abs(shown_m[1] - true_m) <= 1.0
    # the log on the same screen, and the next steps that fit a dispatched case
    expect(page.locator("#case-log li")).to_have_count(2)
    assert page.locator('#steps [data-action="reassign"]').is_enabled()
    assert page.locator('#steps [data-action="close"]').is_disabled()
    for size in ("1920x1080", "3840x2160", "390x844"):
        page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
        page.wait_for_timeout(1500)  # let the grid outlines of the larger view arrive before the picture
        screenshot(page, f"desk_{size}")
    assert log.errors == [] and log.external() == []
    page.close()


def tab_to(page: Page, element_id: str, limit: int = 40) -> None:
    """Press Tab until the element has focus: it must be reachable in the tab order."""
    for _ in range(limit):
        page.keyboard.press("Tab")
        if page.evaluate("document.activeElement && document.activeElement.id") == element_id:
            return
    raise AssertionError(f"#{element_id} is not reachable with Tab")


def test_the_desk_works_from_the_keyboard_alone(page_server: tuple[str, str, Settings],
                                                browser: Browser) -> None:
    base, url, _ = page_server
    page, log = open_desk(browser, base)
    place = building(url)
    tab_to(page, "address")
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("", "none")  # focus is visible
    page.keyboard.type(f"{place['road']}{place['door']}号")
    expect(page.get_by_test_id("suggestion").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    picked = page.get_by_test_id("suggestion").first.inner_text().strip()
    page.keyboard.press("Enter")
    grid, _ = grid_of_address(url, picked)
    expect(page.get_by_test_id("place-grid")).to_contain_text(grid)

    tab_to(page, "category")
    page.keyboard.type("占道")
    expect(page.get_by_test_id("category-option").first).to_be_visible()
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("category-input")).to_have_value(re.compile(r"\(\d\d\.\d\d\)"))
    expect(page.get_by_test_id("team-option").first).to_be_visible()

    tab_to(page, "teams")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Enter")
    second = page.get_by_test_id("team-option").nth(1)
    expect(second).to_have_attribute("aria-selected", "true")
    team_id = int((second.get_attribute("id") or "").removeprefix("team-"))

    tab_to(page, "submit-case")
    page.keyboard.press("Enter")
    expect(page.get_by_test_id("case-status")).to_contain_text("dispatched")
    stored = case_row(url, case_id_of(page))
    assert stored["team_id"] == team_id and stored["status"] == "dispatched"
    assert log.errors == []
    page.close()


def test_pasted_coordinates_near_a_boundary_name_both_grids(page_server: tuple[str, str, Settings],
                                                             browser: Browser) -> None:
    base, url, _ = page_server
    with psycopg.connect(url) as conn:
        row = conn.execute("""
            SELECT a.code, b.code, ST_X(p), ST_Y(p)
            FROM grids AS a JOIN grids AS b ON a.code < b.code AND ST_Intersects(a.geom, b.geom),
                 LATERAL ST_LineInterpolatePoint(
                     ST_GeometryN(ST_LineMerge(ST_Intersection(ST_Boundary(a.geom), ST_Boundary(b.geom))), 1),
                     0.5) AS p
            WHERE a.valid_to IS NULL AND b.valid_to IS NULL AND a.code = (SELECT min(code) FROM grids)
              AND ST_Dimension(ST_Intersection(a.geom, b.geom)) = 1
            ORDER BY b.code LIMIT 1""").fetchone()
    assert row is not None
    low, high, lon, lat = str(row[0]).strip(), str(row[1]).strip(), row[2], row[3]
    page, log = open_desk(browser, base)
    # pasted as AMap gives it (GCJ-02), with the system named
    gx, gy = wgs84_to_gcj02(lon, lat)
    page.locator("#coords").fill(f"{gx:.9f}, {gy:.9f}")
    page.locator("#crs").select_option("gcj02")
    page.locator("#coords").press("Enter")
    # the converter's round trip is exact to about 0.1 mm: the point lies on the edge or a hair to one side
    expect(page.get_by_test_id("place-grid")).to_contain_text(re.compile(f"{low}|{high}"))
    warning = page.get_by_test_id("near-boundary")
    expect(warning).to_be_visible()
    expect(warning).to_contain_text(low)
    expect(warning).to_contain_text(high)
    page.wait_for_function("document.querySelectorAll('#map .leaflet-overlay-pane path').length > 3")
    screenshot(page, "desk_near_boundary")
    # the same point as a Gauss-Krüger easting/northing, its system named in the text (not the list's
    # GCJ-02, which would refuse these numbers and show an error)
    x, y = Transformer.from_crs(4326, 4548, always_xy=True).transform(lon, lat)
    page.locator("#coords").fill(f"{x:.3f} {y:.3f} EPSG:4548")
    page.locator("#coords").press("Enter")
    expect(page.get_by_test_id("place-grid")).to_contain_text(re.compile(f"{low}|{high}"))
    expect(page.locator("#place-error")).to_be_hidden()
    assert log.errors == []
    page.close()


def test_the_queue_is_live_and_a_new_case_is_dispatched_from_it(page_server: tuple[str, str, Settings],
                                                                 browser: Browser) -> None:
    base, url, _ = page_server
    page, log = open_desk(browser, base)
    body = json.dumps({"category": CATEGORY, "channel": "wechat", "location": {"lon": 117.30, "lat": 31.80}})
    request = urllib.request.Request(f"{base}/incidents", data=body.encode(), method="POST", headers={
        "Authorization": f"Bearer {token('operator')}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        case_id = json.load(response)["id"]
    item = page.get_by_test_id("queue-item").filter(has_text=f"#{case_id}")
    expect(item).to_be_visible()  # within a poll, no reload
    item.click()
    assert case_id_of(page) == case_id
    expect(page.get_by_test_id("case-status")).to_contain_text("accepted")
    page.get_by_test_id("dispatch").click()
    expect(page.get_by_test_id("case-status")).to_contain_text("dispatched")
    expect(item).to_have_count(0)  # no longer new, at the next poll
    assert case_row(url, case_id)["status"] == "dispatched"
    # a step that needs a reason says so and changes nothing
    page.locator('#steps [data-action="escalate"]').click()
    expect(page.locator("#case-error")).to_contain_text("原因")
    assert case_row(url, case_id)["status"] == "dispatched"
    assert log.errors == []
    page.close()


def test_the_desk_scales_its_type_with_the_screen_and_needs_a_desk_role(page_server: tuple[str, str, Settings],
                                                                         browser: Browser) -> None:
    base, _, _ = page_server
    sizes = {}
    for size in ("1920x1080", "3840x2160"):
        page, _ = open_desk(browser, base, size)
        sizes[size] = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
        assert page.evaluate("document.fonts.check('16px \"Noto Sans SC\"', '接警派遣台')")
        page.close()
    assert sizes["3840x2160"] >= 1.9 * sizes["1920x1080"] and sizes["3840x2160"] >= 24
    page = browser.new_page()
    assert page.goto(f"{base}/desk").status == 401
    assert "token" in page.content()
    assert page.goto(f"{base}/desk?token={token('planner')}").status == 403
    page.close()


def test_a_second_call_about_the_same_place_is_marked_a_duplicate(page_server: tuple[str, str, Settings],
                                                                   browser: Browser) -> None:
    base, url, _ = page_server
    first = json.dumps({"category": CATEGORY, "channel": "hotline", "location": {"lon": 117.2955, "lat": 31.8055}})
    request = urllib.request.Request(f"{base}/incidents", data=first.encode(), method="POST", headers={
        "Authorization": f"Bearer {token('dispatcher')}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        original = json.load(response)["id"]
    lon, lat, _ = GEOD.fwd(117.2955, 31.8055, 30, 20)  # 20 m away: within the category's duplicate radius
    page, log = open_desk(browser, base)
    page.locator("#coords").fill(f"{lon:.7f}, {lat:.7f}")
    page.locator("#coords").press("Enter")
    expect(page.get_by_test_id("place-grid")).not_to_have_text("–")
    page.get_by_test_id("category-input").fill(CATEGORY)
    page.get_by_test_id("category-option").first.click()
    duplicate = page.locator("#duplicates li").filter(has_text=f"#{original}")
    expect(duplicate).to_contain_text("20 m")
    duplicate.get_by_role("button").click()
    expect(page.get_by_test_id("case-status")).to_contain_text("duplicate")
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT status, duplicate_of FROM incidents WHERE id = %s",
                           (case_id_of(page),)).fetchone()
    assert row == ("duplicate", original)
    assert log.errors == []
    page.close()


def test_the_desk_shows_the_fields_photos_of_a_case(page_server: tuple[str, str, Settings],
                                                    browser: Browser) -> None:
    base, _, _ = page_server
    reported = httpx.post(f"{base}/field/reports", headers={"Authorization": f"Bearer {token('grid_worker')}"},
                          data={"category": CATEGORY, "lon": "117.301", "lat": "31.801", "description": "井盖"},
                          files=[("photos", ("a.jpg", jpeg_with_gps(64, 48), "image/jpeg"))])
    assert reported.status_code == 201, reported.text
    case_id = reported.json()["id"]
    page, log = open_desk(browser, base, role="operator")
    item = page.get_by_test_id("queue-item").filter(has_text=f"#{case_id}")
    expect(item).to_be_visible()
    item.click()
    photo = page.locator("#case-photos img")
    expect(photo).to_have_count(1)
    page.wait_for_function("document.querySelector('#case-photos img').naturalWidth === 64")
    assert log.errors == []
    page.close()
