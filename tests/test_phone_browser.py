"""The grid worker's phone (/m) in headless Chromium at 390x844, with a faked geolocation.

A report at the phone's position with a photo, the team's case handled and
reported back with a photo, verification refused from 300 m and accepted on
site; the page shell's transferred size; screenshots at the three sizes.
"""

from __future__ import annotations

import json
import re
import urllib.request
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Response, expect
from pyproj import Geod

from api.settings import Settings
from tests.browser_pages import SIZES, PageLog, screenshot, token
from tests.test_photos import jpeg_with_gps

pytestmark = pytest.mark.browser
GEOD = Geod(ellps="WGS84")
SHELL_BUDGET = 150_000
HERE = (117.30, 31.80)


def call(base: str, method: str, path: str, role: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(f"{base}{path}", data=data, method=method, headers={
        "Authorization": f"Bearer {token(role)}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request) as response:
        answer: dict = json.load(response)
    return answer


def phone(browser: Browser, lon: float, lat: float, size: str = "390x844") -> BrowserContext:
    width, height = SIZES[size]
    return browser.new_context(viewport={"width": width, "height": height}, is_mobile=size == "390x844",
                               has_touch=True, geolocation={"longitude": lon, "latitude": lat},
                               permissions=["geolocation"])


def team_code(url: str, team_id: int) -> str:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT code FROM teams WHERE id = %s", (team_id,)).fetchone()
    assert row is not None
    return str(row[0])


def open_phone(context: BrowserContext, base: str, worker_token: str) -> tuple[Page, PageLog, list[Response]]:
    page = context.new_page()
    log = PageLog(page)
    responses: list[Response] = []
    page.on("response", lambda response: responses.append(response))
    page.goto(f"{base}/m?token={worker_token}")
    expect(page.locator("#category option")).not_to_have_count(1)  # the catalogue arrived
    return page, log, responses


def shell_bytes(responses: list[Response]) -> int:
    """Bytes on the wire (compressed bodies and headers) of the HTML, scripts and stylesheets loaded."""
    total = 0
    for response in responses:
        if response.request.resource_type in ("document", "script", "stylesheet"):
            sizes = response.request.sizes()
            total += sizes["responseBodySize"] + sizes["responseHeadersSize"]
    return total


def test_phone_report_at_my_position_with_a_photo(page_server: tuple[str, str, Settings], browser: Browser,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    base, url, settings = page_server
    community = call(base, "GET", f"/locate?lon={HERE[0]}&lat={HERE[1]}", "operator")["community"]["code"]
    context = phone(browser, *HERE)
    page, log, responses = open_phone(context, base, token("grid_worker", community))
    page.get_by_test_id("use-position").click()
    expect(page.get_by_test_id("report-point")).to_contain_text(f"{HERE[0]:.6f}")
    page.get_by_test_id("report-category").select_option("01.03")
    page.get_by_test_id("report-description").fill("人行道占道经营，约5个摊位")
    page.get_by_test_id("report-photos").set_input_files(
        files=[{"name": "IMG_0001.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps(800, 600)}])
    expect(page.locator("#thumbs img")).to_have_count(1)
    # the grid outlines around the point, beside the point's own marker
    page.wait_for_function("document.querySelectorAll('#map .leaflet-overlay-pane path').length > 3")
    screenshot(page, "phone_report_390x844")
    page.get_by_test_id("report-submit").click()
    result = page.get_by_test_id("report-result")
    expect(result).to_contain_text("#")
    case_id = int(result.inner_text().split("#")[1].split()[0])
    with psycopg.connect(url) as conn:
        row = conn.execute("""SELECT channel, ST_X(geom), ST_Y(geom), description FROM incidents WHERE id = %s""",
                           (case_id,)).fetchone()
        photos = conn.execute("SELECT path, content_type, width, height FROM case_photos WHERE incident_id = %s",
                              (case_id,)).fetchall()
    assert row is not None and row[0] == "grid_worker" and row[3].startswith("人行道")
    assert GEOD.inv(row[1], row[2], *HERE)[2] < 0.01  # the phone's WGS84 position, untouched
    assert len(photos) == 1 and photos[0][1:] == ("image/jpeg", 800, 600)
    stored = (Path(settings.data_dir) / "photos" / photos[0][0]).read_bytes()
    assert b"Exif" not in stored
    shell = shell_bytes(responses)
    with capsys.disabled():
        print(f"\n/m page shell (HTML+JS+CSS on the wire, font files and API answers excluded): {shell:,} bytes")
    assert shell < SHELL_BUDGET
    assert log.errors == [] and log.external() == []
    context.close()


def test_phone_handles_reports_back_and_verifies_only_on_site(page_server: tuple[str, str, Settings],
                                                               browser: Browser) -> None:
    base, url, _ = page_server
    case = call(base, "POST", "/incidents", "dispatcher", {
        "category": "01.03", "channel": "hotline", "location": {"lon": 117.305, "lat": 31.805}})
    case = call(base, "POST", f"/incidents/{case['id']}/dispatch", "dispatcher")
    worker = token("grid_worker", case["community_code"], team_code(url, case["team_id"]))
    far_lon, far_lat, _ = GEOD.fwd(case["lon"], case["lat"], 90, 300)
    context = phone(browser, far_lon, far_lat)
    page, log, _ = open_phone(context, base, worker)
    page.locator("#tab-cases").click()
    card = page.get_by_test_id("case-card").filter(has_text=f"#{case['id']}")
    expect(card).to_be_visible()
    card.click()
    status = page.get_by_test_id("phone-case-status")
    expect(status).to_contain_text("dispatched")
    page.get_by_test_id("step-handle").click()
    expect(status).to_contain_text("handling")
    page.get_by_test_id("step-photos").set_input_files(
        files=[{"name": "after.jpg", "mimeType": "image/jpeg", "buffer": jpeg_with_gps()}])
    page.locator("#d-reason").fill("摊位已清理")
    page.get_by_test_id("step-feedback").click()
    expect(status).to_contain_text("feedback")
    expect(page.locator("#d-photos img")).to_have_count(1)  # the photo, served back to its area

    page.get_by_test_id("step-verify").click()  # 300 m away
    result = page.get_by_test_id("step-result")
    expect(result).to_contain_text("within 100 m")
    expect(result).to_contain_text("300 m")
    expect(status).to_contain_text("feedback")
    screenshot(page, "phone_verify_refused_390x844")

    near_lon, near_lat, _ = GEOD.fwd(case["lon"], case["lat"], 200, 25)
    context.set_geolocation({"longitude": near_lon, "latitude": near_lat})
    page.get_by_test_id("step-verify").click()
    expect(status).to_contain_text("verified")
    expect(result).to_contain_text("25 m")
    events = call(base, "GET", f"/incidents/{case['id']}", "operator")["events"]
    assert [e["action"] for e in events][-3:] == ["handle", "feedback", "verify"]
    assert abs(events[-1]["details"]["site"]["distance_m"] - 25) < 0.2
    for size in ("390x844", "1920x1080", "3840x2160"):
        page.set_viewport_size(dict(zip(("width", "height"), SIZES[size], strict=True)))
        screenshot(page, f"phone_case_{size}")
    assert log.errors == [] and log.external() == []
    context.close()


def test_phone_screens_and_role(page_server: tuple[str, str, Settings], browser: Browser) -> None:
    base, _, _ = page_server
    for size in ("390x844", "1920x1080", "3840x2160"):
        context = phone(browser, *HERE, size=size)
        page, log, _ = open_phone(context, base, token("grid_worker", "340111"))
        # nothing wider than the screen: no sideways scrolling on a phone
        assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        assert page.evaluate("document.fonts.check('16px \"Noto Sans SC\"', '网格员上报')")
        screenshot(page, f"phone_{size}")
        assert log.errors == []
        context.close()
    page = browser.new_page()
    assert page.goto(f"{base}/m?token={token('dispatcher')}").status == 403
    assert page.goto(f"{base}/m").status == 401
    page.close()


def test_a_tapped_point_is_the_report_place(page_server: tuple[str, str, Settings], browser: Browser) -> None:
    base, url, _ = page_server
    context = phone(browser, *HERE)
    page, log, _ = open_phone(context, base, token("grid_worker", "340111"))
    box = page.locator("#map").bounding_box()
    assert box is not None
    page.touchscreen.tap(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    point = page.get_by_test_id("report-point")
    expect(point).to_contain_text("tapped")
    lon, lat = (float(v) for v in re.findall(r"\d+\.\d+", point.inner_text()))
    page.get_by_test_id("report-category").select_option("01.03")
    page.get_by_test_id("report-submit").click()
    expect(page.get_by_test_id("report-result")).to_contain_text("#")
    case_id = int(page.get_by_test_id("report-result").inner_text().split("#")[1].split()[0])
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_X(geom), ST_Y(geom) FROM incidents WHERE id = %s", (case_id,)).fetchone()
    assert row is not None and GEOD.inv(row[0], row[1], lon, lat)[2] < 0.2  # the point shown is the point filed
    assert log.errors == []
    context.close()
