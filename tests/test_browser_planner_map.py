"""The planner's map as a planner uses it, in headless Chromium: labels, workload, context, publish.

Grid names and codes stay on the map without hovering, each with its
residents, buildings and 90-day cases (checked against the workload API,
which the report's own tests check against the stored buildings and cases);
buildings and cameras are drawn for context; the report is drawn on the map;
publishing asks for confirmation and a 412 (someone published first)
reloads the grids. Screenshots at three sizes go to ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page

from api.auth import issue_token
from tests.test_browser_planner import COMMUNITY, DRAG_A_VERTEX, SCREENS, SPLIT_THE_LARGEST, png_size
from tests.test_browser_wall import serving

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


@pytest.fixture
def planner(demo_rw: str) -> Iterator[tuple[str, str]]:
    """Base URL and a planner token of the issue-8 community, over a fresh demo database."""
    with serving(demo_rw) as wall:
        secret = wall.secret
        yield wall.base, issue_token(secret, "planner", COMMUNITY)


def open_planner(browser: Browser, base: str, token: str,
                 size: tuple[int, int] = (1920, 1080)) -> tuple[Page, list[str]]:
    page = browser.new_page(viewport={"width": size[0], "height": size[1]})
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{base}/maps/planner/{COMMUNITY}?token={token}")
    page.wait_for_selector("body[data-planner-state='ready']", state="attached")
    return page, errors


def api(base: str, token: str, method: str, path: str, body: Any = None) -> httpx.Response:
    return httpx.request(method, base + path, json=body, headers={"Authorization": f"Bearer {token}"}, timeout=120)


def test_grids_are_labelled_with_their_workload_and_context(planner: tuple[str, str], browser: Browser) -> None:
    base, token = planner
    workload = api(base, token, "GET", f"/planning/communities/{COMMUNITY}/workload").json()["grids"]
    page, errors = open_planner(browser, base, token)
    labels = page.evaluate("""() => wanggePlanner.group.getLayers().map(l => {
        const t = l.getTooltip();
        return {code: l.wanggeProps.code, permanent: !!(t && t.options.permanent),
                shown: !!(t && t._container && document.body.contains(t._container)),
                text: t && t._container ? t._container.textContent : '', fill: l.options.fillColor};
    })""")
    assert len(labels) == len(workload) > 1
    by_code = {row["code"]: row for row in workload}
    for label in labels:  # visible without hovering: name, code and the grid's own workload
        row = by_code[label["code"]]
        assert label["permanent"] and label["shown"], label
        assert row["name"] in label["text"] and label["code"] in label["text"]
        assert f"居民 {row['residents']}" in label["text"] and f"楼 {row['buildings']}" in label["text"]
        assert f"案 {row['cases_90d']}" in label["text"]
    # shaded by residents: the grid with the most residents has the ramp's dark end
    most = max(workload, key=lambda r: r["residents"])["code"]
    assert next(lab["fill"] for lab in labels if lab["code"] == most) == "#00224e"
    cameras = page.evaluate("() => wanggePlanner.cameras.getLayers().length")
    assert cameras == sum(r["cameras"] for r in workload) or cameras > 0
    page.wait_for_function("performance.getEntriesByType('resource').some(e => e.name.includes('/tiles/buildings/'))")
    legend = page.inner_text("#planner-legend")
    assert "居民 Residents" in legend and "重叠 overlap" in legend and "空隙 gap" in legend and "摄像头" in legend
    assert errors == []
    ARTIFACTS.mkdir(exist_ok=True)
    page.close()
    for size in SCREENS:
        shot_page, shot_errors = open_planner(browser, base, token, size)
        shot_page.wait_for_load_state("networkidle")
        shot = ARTIFACTS / f"planner-{size[0]}x{size[1]}.png"
        shot_page.screenshot(path=str(shot))
        assert png_size(shot) == size and shot_errors == []
        if size == (390, 844):  # the panel is a drawer: the map has the screen until it is opened
            box = shot_page.locator("#planner-panel").bounding_box()
            assert box is not None and box["x"] >= 389
            shot_page.click("#planner-toggle")
            shot_page.wait_for_function(
                "document.querySelector('#planner-panel').getBoundingClientRect().left < 390")
        shot_page.close()
    stranger = browser.new_page()  # a fresh context: no token, no cookie
    reply = stranger.goto(f"{base}/maps/planner/{COMMUNITY}")
    assert reply is not None and reply.status == 401 and stranger.is_visible("[data-testid=sign-in]")
    stranger.close()


def check(page: Page) -> str:
    page.click("#planner-submit")
    page.wait_for_selector("body[data-planner-state='reported'], body[data-planner-state='refused']",
                           state="attached")
    return page.inner_text("#planner-verdict")


def test_the_report_is_drawn_on_the_map_and_publish_needs_an_ok_report(
        planner: tuple[str, str], browser: Browser) -> None:
    base, token = planner
    page, errors = open_planner(browser, base, token)
    page.evaluate(DRAG_A_VERTEX)
    assert check(page) == "Problems found"
    assert page.locator("path[stroke='#d55e00']").count() > 0  # invalid edges / outside in vermillion
    assert page.locator("path[fill='#cc79a7'], path[fill='#e69f00']").count() > 0  # overlaps, gaps
    assert page.is_disabled("#planner-publish")  # a report with problems is not publishable
    assert page.inner_text("#planner-status").startswith("report for proposal #")
    page.screenshot(path=str(ARTIFACTS / "planner-report-problems-1920x1080.png"))
    assert errors == []
    page.close()


def test_publish_shows_the_report_then_publishes(planner: tuple[str, str], browser: Browser) -> None:
    base, token = planner
    page, errors = open_planner(browser, base, token)
    count = page.evaluate("() => wanggePlanner.group.getLayers().length")
    page.evaluate(SPLIT_THE_LARGEST)
    split = page.evaluate("() => wanggePlanner.group.getLayers().length")
    assert check(page) == "OK: the grids tile the community"
    page.click("#planner-publish")
    assert page.is_visible("#planner-confirm")
    assert "Publish proposal #" in page.inner_text("#planner-confirm-text")
    page.click("#planner-confirm-publish")
    page.wait_for_selector("body[data-planner-state='published']", state="attached")
    assert "published as version" in page.inner_text("#planner-status")
    after = page.evaluate("() => wanggePlanner.group.getLayers().map(l => l.wanggeProps.code)")
    assert len(after) == split > count and None not in after  # reloaded: the new grids have codes
    grids = api(base, token, "GET", f"/communities/{COMMUNITY}/grids").json()["features"]
    assert sorted(f["properties"]["code"] for f in grids) == sorted(after)
    assert errors == []
    page.close()


def test_a_412_reloads_the_grids(planner: tuple[str, str], browser: Browser) -> None:
    base, token = planner
    page, errors = open_planner(browser, base, token)
    page.evaluate(SPLIT_THE_LARGEST)
    assert check(page) == "OK: the grids tile the community"
    # meanwhile another planner publishes three suggested grids
    other = api(base, token, "POST", f"/planning/communities/{COMMUNITY}/suggestions", {"grids": 3})
    assert other.status_code == 201, other.text
    published = api(base, token, "POST", f"/planning/proposals/{other.json()['id']}/publish")
    assert published.status_code == 200 and published.json()["changed"], published.text
    page.click("#planner-publish")
    page.click("#planner-confirm-publish")
    page.wait_for_selector("body[data-planner-state='stale-reloaded']", state="attached")
    assert "someone published first" in page.inner_text("#planner-status")
    assert page.evaluate("() => wanggePlanner.group.getLayers().length") == 3  # the grids in force now
    assert page.inner_text("#planner-report") == "" and page.is_disabled("#planner-publish")
    assert errors == []
    page.close()
