"""Shared parts of the browser tests of the desk and the phone: a writable demo server, page logs, screenshots."""

from __future__ import annotations

import itertools
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import ConsoleMessage, Page

from api.app import create_app
from api.auth import issue_token
from api.settings import Settings
from layers.cluster import EmbeddedCluster
from tests.live_server import serving

ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
SIZES = {"1920x1080": (1920, 1080), "3840x2160": (3840, 2160), "390x844": (390, 844)}
_serial = itertools.count()
SECRET = "browser-pages-test-secret-0123456789"


def token(role: str, area: str = "340111", team: str | None = None) -> str:
    """A token of the test servers."""
    return issue_token(SECRET, role, area, team=team)


def writable_server(cluster: EmbeddedCluster, template: str) -> Iterator[tuple[str, str, Settings]]:
    """Serve a fresh copy of the demo city (polling every 2 s); yield base URL, database URL and settings."""
    name = f"pages{os.getpid()}_{next(_serial)}"
    url = cluster.create_database(name, template=template)
    with tempfile.TemporaryDirectory(prefix="wangge-photos-") as data_dir:
        settings = Settings(database_url=url, map_refresh_s=2, escalate_every_s=0,  # type: ignore[call-arg]
                            data_dir=Path(data_dir), secret=SECRET)
        app = create_app(settings)
        with serving(app) as base:
            yield base, url, settings
    cluster.drop_database(name)


class PageLog:
    """Console errors, uncaught exceptions and every request of a page."""

    def __init__(self, page: Page) -> None:
        self.errors: list[str] = []
        self.requests: list[str] = []
        page.on("console", self._console)
        page.on("pageerror", lambda exc: self.errors.append(f"pageerror: {exc}"))
        page.on("request", lambda request: self.requests.append(request.url))

    def _console(self, message: ConsoleMessage) -> None:
        # a refused step is shown on the page; the browser also logs the HTTP status of the fetch
        if message.type == "error" and "Failed to load resource" not in message.text:
            self.errors.append(f"console: {message.text}")

    def external(self) -> list[str]:
        return [u for u in self.requests
                if urlsplit(u).scheme not in ("data", "blob") and urlsplit(u).hostname not in LOOPBACK]


def screenshot(page: Page, name: str) -> Path:
    """Write a PNG of the page into test-artifacts/ for a person to look at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path))
    return path
