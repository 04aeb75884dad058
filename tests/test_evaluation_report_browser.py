"""The monthly evaluation report in headless Chromium: draws offline at wall, desk and phone sizes, prints to A4.

Screenshots land in ``test-artifacts/`` (gitignored) for a human to look at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from tests.live_server import serving

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
# the demo's cases span the last 90 days: last month is a full month of them
LAST_MONTH = (datetime.now(timezone(timedelta(hours=8))).replace(day=1) - timedelta(days=1)).strftime("%Y-%m")


@pytest.fixture(scope="module")
def report_server(demo_ro: str) -> Iterator[tuple[str, str]]:
    app = create_app(Settings(database_url=demo_ro, escalate_every_s=0))  # type: ignore[call-arg]
    with serving(app) as base:  # uvicorn runs the lifespan: the pool lives on the server's loop
        yield base, issue_token(app.state.token_secret, "operator", "340111")


@pytest.mark.parametrize(("width", "height", "scale"), [(1920, 1080, 1), (3840, 2160, 1), (390, 844, 2)])
def test_report_draws_offline_at_every_size(report_server: tuple[str, str], browser: Browser,
                                            width: int, height: int, scale: int) -> None:
    base, token = report_server
    page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=scale)
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.set_default_timeout(180_000)  # a loaded machine; this is a wait, nothing asserts on time
    page.goto(f"{base}/reports/evaluation/340111?month={LAST_MONTH}&token={token}")
    page.evaluate("document.fonts.ready.then(() => true)")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"evaluation_report_{width}x{height}.png"), full_page=True)
    assert errors == []
    assert [u for u in requests if urlsplit(u).hostname not in LOOPBACK] == []
    # ten streets ranked, five charts of ten bars each, every bar inside its track
    assert page.locator("table.children tbody tr").count() == 10
    assert page.locator("figure.chart").count() == 5
    bars = page.eval_on_selector_all("figure.chart rect.bar", "els => els.map(e => e.getBBox().width)")
    assert len(bars) >= 40 and max(bars) <= 420 and sum(bars) > 0
    # nothing runs off the side of the page; wide tables scroll inside their own box
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    # the page's font is the vendored CJK one, so the Chinese labels have glyphs everywhere
    assert "Noto Sans SC" in page.evaluate("getComputedStyle(document.body).fontFamily")
    page.close()


def test_report_prints_to_clean_a4_pages(report_server: tuple[str, str], browser: Browser) -> None:
    base, token = report_server
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    page.set_default_timeout(180_000)
    page.goto(f"{base}/reports/evaluation/340111?month={LAST_MONTH}&token={token}")
    page.evaluate("document.fonts.ready.then(() => true)")
    page.emulate_media(media="print")
    assert page.locator("nav.controls").is_hidden()  # no buttons on paper
    ARTIFACTS.mkdir(exist_ok=True)
    pdf = page.pdf(prefer_css_page_size=True, print_background=True)
    (ARTIFACTS / "evaluation_report.pdf").write_bytes(pdf)
    sizes = re.findall(rb"/MediaBox\s*\[\s*0 0 ([0-9.]+) ([0-9.]+)\s*\]", pdf)
    assert sizes, "no pages in the PDF"
    # A4 is 595 x 842 points; the teams and the definitions each start a page of their own
    assert all(abs(float(w) - 595.3) < 2 and abs(float(h) - 841.9) < 2 for w, h in sizes)
    assert len(sizes) >= 3
    page.close()
