"""The wall's sensing part in headless Chromium: camera sectors, offline cameras, alarms, the 24 h chart.

A fresh demo copy is served on loopback; a storm's readings go in through
``POST /sensors/readings`` so the first waterlogging point's sensor is in
alarm by its own rule, one of the two cameras watching it reports offline by
heartbeat, and a case is filed at the point. Every wait is for a condition on
the page. Screenshots (1920x1080, 3840x2160, 390x844) go to test-artifacts/.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from playwright.sync_api import Page, sync_playwright
from pyproj import Geod

from geo.sector import Sector, sector_ring
from layers.cluster import EmbeddedCluster
from tests.browser_pages import SIZES, PageLog, screenshot, token, writable_server
from tests.chromium import launch

pytestmark = pytest.mark.browser
GEOD = Geod(ellps="WGS84")
SENSING_JS = Path(__file__).resolve().parent.parent / "maps" / "static" / "wangge" / "wall_sensing.js"


@pytest.fixture(scope="module")
def storm(pg_cluster: EmbeddedCluster, demo_template: str) -> Iterator[dict[str, Any]]:
    """A served demo copy with WL0001's sensor in alarm, CAM00502 offline and a case at the point."""
    for base, url, _ in writable_server(pg_cluster, demo_template):
        with psycopg.connect(url) as conn:
            point = conn.execute("""
                SELECT w.code, s.code, ST_X(w.geom), ST_Y(w.geom), w.warn_level_cm, w.alarm_level_cm, st.code
                FROM waterlogging_points AS w JOIN sensors AS s ON s.watches = w.code
                JOIN streets AS st ON ST_Covers(st.geom, w.geom) ORDER BY w.code LIMIT 1""").fetchone()
        assert point is not None
        code, sensor, lon, lat, warn, alarm, street = point
        operator = {"Authorization": f"Bearer {token('operator')}"}
        now = datetime.now(UTC).replace(microsecond=0)
        # a day of readings every 10 minutes: dry, then a storm rising past the alarm level for the last hour
        series = [(now - timedelta(minutes=10 * i), 2.0 + (i % 5)) for i in range(144, 6, -1)]
        series += [(now - timedelta(minutes=10 * i), alarm + 12.0 - i) for i in range(6, -1, -1)]
        body = {"readings": [{"sensor": sensor, "time": t.isoformat(), "value": v} for t, v in series]}
        stored = httpx.post(f"{base}/sensors/readings", json=body, headers=operator, timeout=60)
        assert stored.status_code == 200, stored.text
        beat = httpx.post(f"{base}/cameras/heartbeat", headers=operator,
                          json={"cameras": ["CAM00501", {"code": "CAM00502", "status": "offline"}]})
        assert beat.json()["updated"] == 2, beat.text
        case = httpx.post(f"{base}/incidents", headers={"Authorization": f"Bearer {token('dispatcher')}"}, json={
            "category": "10.04", "channel": "hotline", "description": "路面积水", "location": {"lon": lon, "lat": lat}})
        assert case.status_code in (200, 201), case.text
        with psycopg.connect(url) as conn:
            level = conn.execute("SELECT st.level FROM sensor_states AS st JOIN sensors AS s ON s.id = st.sensor_id "
                                 "WHERE s.code = %s", (sensor,)).fetchone()
            cameras = {row[0]: row[1:] for row in conn.execute(
                "SELECT code, ST_X(geom), ST_Y(geom), heading_deg, fov_deg, range_m FROM cameras "
                "WHERE code IN ('CAM00501', 'CAM00502')")}
        assert level == ("alarm",)  # the sensor's own rule raised it
        yield {"base": base, "url": url, "point": code, "sensor": sensor, "lon": lon, "lat": lat, "warn": warn,
               "alarm": alarm, "street": street, "district": street[:6], "case": case.json()["id"],
               "cameras": cameras}


def _open_wall(page: Page, s: dict[str, Any], level: str, code: str) -> PageLog:
    log = PageLog(page)
    page.goto(f"{s['base']}/maps/{level}/{code}?token={token('operator')}&refresh=1000")
    page.wait_for_function("document.body.dataset.waterAt !== undefined")
    if level == "district":  # too many cameras for a district wall: the layer starts hidden there
        page.evaluate("""() => { const cfg = JSON.parse(document.getElementById('wangge-config').textContent);
            wangge.map.addLayer(window[cfg.layers.cameras]); }""")
    try:
        page.wait_for_function("document.body.dataset.camerasAt !== undefined")
    except Exception as exc:
        raise AssertionError(f"cameras never drawn; page errors: {log.errors}") from exc
    return log


def _zoom_to(page: Page, lon: float, lat: float, zoom: int = 17) -> None:
    page.evaluate(f"() => wangge.map.setView([{lat}, {lon}], {zoom}, {{animate: false}})")
    page.wait_for_function(f"() => wangge.map.getZoom() === {zoom}")


def test_street_wall_draws_sectors_alarms_chart_and_cameras(storm: dict[str, Any]) -> None:
    s = storm
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        log = _open_wall(page, s, "street", s["street"])
        _zoom_to(page, s["lon"], s["lat"])
        page.wait_for_function("document.querySelectorAll('path.wg-sector').length > 0")
        assert page.locator("path.wg-sector-offline").count() >= 1
        dash = page.eval_on_selector("path.wg-sector-offline", "e => e.getAttribute('stroke-dasharray')")
        assert dash and dash != "none"
        assert page.locator(".wg-camera-offline").count() >= 1

        # the sectors drawn are the geodesic sectors the API tests against (within 1% of the range)
        for code, (lon, lat, heading, fov, reach) in s["cameras"].items():
            drawn = page.evaluate(f"() => wanggeSensing.sectorLatLngs({lat}, {lon}, {heading}, {fov}, {reach})")
            ring = sector_ring(Sector(lon, lat, heading, fov, reach))[:-1]
            ring.reverse()  # drawn clockwise from the apex; the GeoJSON ring runs the other way
            assert len(drawn) == len(ring), code
            for (dlat, dlon), (rlon, rlat) in zip(drawn, ring, strict=True):
                assert GEOD.inv(dlon, dlat, rlon, rlat)[2] < 0.01 * reach

        # the alarm: a larger triangle with an "!" and rings in motion
        alarm = page.locator(".wg-water-alarm").first
        assert page.locator(".wg-water-alarm").count() >= 1
        moving = page.eval_on_selector(".wg-water-alarm .wg-alarm-ring", "e => getComputedStyle(e).animationName")
        assert moving == "wg-alarm-ring"
        assert page.eval_on_selector(".wg-water-alarm svg text", "e => e.textContent") == "!"
        normal = page.locator(".wg-water-normal, .wg-water-warn")
        if normal.count():
            assert alarm.bounding_box()["width"] > normal.first.bounding_box()["width"] * 1.4  # type: ignore[index]
        screenshot(page, "cameras-street-1920x1080")

        # the sensor's popup: 24 h chart with its lines, and the cameras watching with their streams
        alarm.click()
        page.wait_for_selector(".wg-chart-box[data-loaded] svg.wg-chart")
        page.wait_for_selector(".wg-alarm-cams[data-loaded]")
        for line in ("warn", "alarm"):
            assert page.locator(f"svg.wg-chart .wg-line-{line}").count() == 1
        alarm_y = float(page.eval_on_selector("svg.wg-chart .wg-line-alarm", "e => e.getAttribute('y1')"))
        points = page.eval_on_selector("svg.wg-chart polyline.wg-series", "e => e.getAttribute('points')")
        ys = [float(p.split(",")[1]) for p in points.split()]
        assert min(ys) < alarm_y < max(ys)  # the storm crosses the alarm line; the dry day lies below it
        links = page.eval_on_selector_all(".wg-alarm-cams li", """els => els.map(e => [e.dataset.camera,
            e.querySelector('.wg-sees') !== null, (e.querySelector('a.wg-stream') || {}).href || null,
            e.classList.contains('wg-cam-off')])""")
        by_code = {c[0]: c[1:] for c in links}
        assert by_code["CAM00501"][0] and by_code["CAM00502"][0]  # both look at the point
        assert by_code["CAM00501"][1] and by_code["CAM00502"][2] and not by_code["CAM00501"][2]
        screenshot(page, "cameras-sensor-popup-1920x1080")

        # a case's popup lists its cameras with a link to each stream: any popup whose content is a
        # case (its root carries data-case, as wall.js's case popups do) gets the list when it opens
        page.keyboard.press("Escape")
        page.evaluate(f"""() => {{ const root = document.createElement('div'); root.className = 'wg-case';
            root.dataset.case = '{s['case']}'; root.textContent = '#{s['case']}';
            L.popup().setLatLng([{s['lat']}, {s['lon']}]).setContent(root).openOn(wangge.map); }}""")
        page.wait_for_selector(".wg-case-cams[data-loaded]")
        listed = page.eval_on_selector_all(".wg-case-cams li a.wg-stream", "els => els.map(e => e.href)")
        assert listed and all(u.startswith(("rtsp://", "http://")) for u in listed)
        screenshot(page, "cameras-case-popup-1920x1080")
        assert log.errors == [] and log.external() == []
        browser.close()


def test_district_wall_shows_cameras_without_sectors(storm: dict[str, Any]) -> None:
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        log = _open_wall(page, storm, "district", storm["district"])
        # the district's 700 cameras come as points or, above the feed's size cap, as counts
        page.wait_for_function("""() => { const cfg = JSON.parse(document.getElementById('wangge-config').textContent);
            return window[cfg.layers.cameras].getLayers().length > 0; }""")
        assert page.locator("path.wg-sector").count() == 0
        assert page.locator(".wg-water-alarm").count() >= 1
        screenshot(page, "cameras-district-1920x1080")
        assert log.errors == []
        browser.close()


@pytest.mark.parametrize("size", ["3840x2160", "390x844"])
def test_sectors_at_wall_and_phone_sizes(storm: dict[str, Any], size: str) -> None:
    width, height = SIZES[size]
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page(viewport={"width": width, "height": height})
        log = _open_wall(page, storm, "street", storm["street"])
        _zoom_to(page, storm["lon"], storm["lat"], 17)
        page.wait_for_function("document.querySelectorAll('path.wg-sector').length > 0")
        box = page.locator(".wg-water-alarm").first.bounding_box()
        assert box is not None and box["width"] >= 16  # big enough to see on either screen
        screenshot(page, f"cameras-street-{size}")
        assert log.errors == []
        browser.close()


def test_chart_draws_lines_and_breaks_gaps() -> None:
    """The chart alone: lines at their levels, one polyline per run of readings, a gap splits them."""
    readings = [{"time": f"2026-12-01T{h:02d}:00:00Z", "max": float(h)} for h in range(0, 6)]
    readings += [{"time": f"2026-12-01T{h:02d}:00:00Z", "max": 30.0} for h in range(12, 14)]
    with sync_playwright() as pw:
        browser = launch(pw)
        page = browser.new_page()
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=SENSING_JS.read_text(encoding="utf-8"))
        svg = page.evaluate("""([r]) => wanggeSensing.chartSvg(r, {warn: 20, alarm: 40, clear: 15},
            '2026-12-01T00:00:00Z', '2026-12-02T00:00:00Z', 3600)""", [readings])
        page.set_content(f"<html><body>{svg}</body></html>")
        runs = page.eval_on_selector_all("polyline.wg-series", "els => els.length")
        ys = {k: float(page.eval_on_selector(f".wg-line-{k}", "e => e.getAttribute('y1')"))
              for k in ("warn", "alarm", "clear")}
        assert runs == 2  # 06:00-12:00 has no reading
        assert ys["alarm"] < ys["warn"] < ys["clear"]  # higher levels are higher on the chart
        assert page.evaluate("() => wanggeSensing.safeUrl('javascript:alert(1)')") is None
        assert page.evaluate("() => wanggeSensing.safeUrl('rtsp://10.0.0.1/live')") == "rtsp://10.0.0.1/live"
        browser.close()
