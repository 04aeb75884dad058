"""The MapLibre GL sample page in headless Chromium: it loads wangge's TileJSON and tiles and draws them.

The page is opened from another origin (``localhost`` against wangge on
``127.0.0.1``), so every TileJSON and tile request is cross-origin and works
only through wangge's CORS headers. Screenshots land in ``test-artifacts/``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, sync_playwright

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from layers.cluster import free_port
from tests.chromium import ARGS, CHROMIUM
from tests.live_server import serving

pytestmark = pytest.mark.browser
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
SIZES = [(1920, 1080), (3840, 2160), (390, 844)]
# WebGL without a GPU: Chromium's software renderer, which it no longer enables on its own
WEBGL_ARGS = ["--enable-unsafe-swiftshader", "--use-angle=swiftshader"]


@pytest.fixture(scope="module")
def page_url(demo_ro: str) -> Iterator[str]:
    """The sample page on http://localhost:P, reading wangge at http://127.0.0.1:P (another origin)."""
    port = free_port()
    settings = Settings(database_url=demo_ro, escalate_every_s=0,  # type: ignore[call-arg]
                        cors_origins=f"http://localhost:{port}")
    app = create_app(settings)
    with serving(app, port) as api:
        token = issue_token(app.state.token_secret, "operator", "340111")
        yield f"http://localhost:{port}/static/maplibre.html?api={api}&token={token}"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():
        raise RuntimeError(f"{CHROMIUM} is missing: apt-get install -y chromium (make test does this)")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=[*ARGS, *WEBGL_ARGS])
        yield chromium
        chromium.close()


RENDERED = """() => new Promise((resolve) => {
  const count = () => Object.fromEntries(["grids-line", "buildings", "incidents"].map(
    (id) => [id, window.wanggeMap.queryRenderedFeatures({layers: [id]}).length]));
  const ids = () => window.wanggeMap.queryRenderedFeatures({layers: ["buildings"]}).slice(0, 20).map((f) => f.id);
  if (window.wanggeMap.loaded() && window.wanggeMap.areTilesLoaded()) resolve({count: count(), ids: ids()});
  else window.wanggeMap.once("idle", () => resolve({count: count(), ids: ids()}));
})"""


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_maplibre_draws_wangge_tiles_cross_origin(browser: Browser, page_url: str, size: tuple[int, int]) -> None:
    width, height = size
    page = browser.new_page(viewport={"width": width, "height": height})
    errors: list[str] = []
    requests: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.goto(page_url)
    page.wait_for_function("() => window.wanggeMap !== undefined")
    rendered = page.evaluate(RENDERED)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"maplibre-{width}x{height}.png"))
    page.close()
    assert errors == []
    assert all(n > 0 for n in rendered["count"].values()), rendered
    # MVT feature ids reach the client as feature ids
    assert rendered["ids"] and all(isinstance(i, int) and i > 0 for i in rendered["ids"])
    hosts = {urlsplit(u).hostname for u in requests if urlsplit(u).scheme in ("http", "https")}
    assert hosts == {"localhost", "127.0.0.1"}
    assert any("/tiles/buildings/" in u and "127.0.0.1" in u for u in requests)
