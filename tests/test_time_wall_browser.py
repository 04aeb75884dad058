"""The wall's case popup shows the stage, the lead and whom it waits for (headless Chromium)."""

from __future__ import annotations

import httpx
import pytest
from playwright.sync_api import Browser

from tests import test_browser_wall as walls

pytestmark = pytest.mark.browser


def test_the_popup_shows_whom_the_lead_waits_for(browser: Browser, demo_rw: str) -> None:
    _, lon, lat = walls.a_point_in(demo_rw)
    with walls.serving(demo_rw) as wall:
        case = wall.post("/incidents", wall.operator, {"category": "01.03", "channel": "hotline",
                                                       "location": {"lon": lon, "lat": lat}})
        support = httpx.get(f"{wall.base}/teams/nearest",
                            params={"lon": lon, "lat": lat, "type": "traffic_police"}).json()["teams"][0]
        wall.post(f"/incidents/{case['id']}/dispatch", wall.dispatcher, {"support_teams": [support["id"]]})
        page, errors = walls.open_wall(browser, f"{wall.base}/maps/district/340111?token={wall.operator}")
        walls.popup_of(page, case["id"])
        page.wait_for_selector(".leaflet-popup .wg-case-time b")
        shown = page.inner_text(".leaflet-popup .wg-case-time")
        assert "阶段 stage" in shown and "handle" in shown
        assert "主办 lead" in shown and "等待协办 waiting on" in shown and support["name"] in shown
        wall.post(f"/incidents/{case['id']}/release", wall.dispatcher, {"team_id": support["id"], "reason": "无需"})
        page.evaluate("() => wangge.map.closePopup()")
        walls.popup_of(page, case["id"])
        page.wait_for_selector(".leaflet-popup .wg-case-time b")
        assert "等待协办" not in page.inner_text(".leaflet-popup .wg-case-time")
        page.close()
    assert errors == []
