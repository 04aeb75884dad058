"""Test fixtures: a throwaway PostGIS cluster, the demo city as a template, fresh copies per test.

The cluster is started by the same code the service uses
(``layers.cluster.EmbeddedCluster``) in a temporary folder on a free port, and
removed at the end. No PostGIS means the fixtures raise and the tests fail:
nothing here skips.
"""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TypeVar

import psycopg
import pytest
from fastapi.testclient import TestClient
from hypothesis import settings
from playwright.sync_api import Browser, sync_playwright

from api.app import create_app
from api.settings import Settings
from api.store import demo_district
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.demo.build import DemoSpec, District, build_demo
from tests.browser_pages import writable_server
from tests.chromium import launch

# the same examples on every run, so CI never fails on a case no one saw;
# HYPOTHESIS_PROFILE=explore searches afresh
settings.register_profile("wangge", derandomize=True, deadline=None)
settings.register_profile("explore", deadline=None, max_examples=500)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "wangge"))

TEMPLATE = "demo_template"
T = TypeVar("T")
_serial = itertools.count()


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[EmbeddedCluster]:
    """A private PostgreSQL/PostGIS cluster for the whole test session."""
    # the parent must be traversable by the postgres OS user when we are root
    parent = Path(tempfile.mkdtemp(prefix="wangge-test-"))
    parent.chmod(0o755)
    # a throwaway cluster may trade durability for speed; the service's may not
    cluster = EmbeddedCluster(parent / "pg", free_port(), durable=False)
    cluster.start()
    yield cluster
    cluster.remove()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="session")
def district() -> District:
    """The demo district (Baohe) in WGS84, with its metric zone."""
    return demo_district()


@pytest.fixture(scope="session")
def demo_template(pg_cluster: EmbeddedCluster, district: District) -> str:
    """A migrated database holding the default demo city; tests use copies of it."""
    url = pg_cluster.create_database(TEMPLATE)
    migrate.upgrade(url)
    build_demo(url, district, DemoSpec())
    return TEMPLATE


def _clone(cluster: EmbeddedCluster, template: str) -> tuple[str, str]:
    name = f"t{os.getpid()}_{next(_serial)}"
    return name, cluster.create_database(name, template=template)


@pytest.fixture(scope="session")
def demo_ro(pg_cluster: EmbeddedCluster, demo_template: str) -> str:
    """URL of a demo database shared by tests that only read."""
    return _clone(pg_cluster, demo_template)[1]


@pytest.fixture
def demo_rw(pg_cluster: EmbeddedCluster, demo_template: str) -> Iterator[str]:
    """URL of a fresh demo database for one test that writes; dropped afterwards."""
    name, url = _clone(pg_cluster, demo_template)
    yield url
    pg_cluster.drop_database(name)


@pytest.fixture
def empty_db(pg_cluster: EmbeddedCluster) -> Iterator[str]:
    """URL of an empty database (no schema) for migration tests."""
    name = f"empty{os.getpid()}_{next(_serial)}"
    url = pg_cluster.create_database(name)
    yield url
    pg_cluster.drop_database(name)


def make_client(url: str, **overrides: object) -> TestClient:
    """A TestClient over an app bound to ``url`` (lifespan runs on enter).

    The overdue timer is off unless asked for: tests that only read must not
    find their database changed under them.
    """
    settings = {"escalate_every_s": 0, **overrides}
    return TestClient(create_app(Settings(database_url=url, **settings)))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def client_ro(demo_ro: str) -> Iterator[TestClient]:
    """An API client on the shared read-only demo database."""
    with make_client(demo_ro) as client:
        yield client


@pytest.fixture
def client_rw(demo_rw: str) -> Iterator[TestClient]:
    """An API client on a fresh demo database of its own."""
    with make_client(demo_rw) as client:
        yield client


@pytest.fixture(scope="session")
def sync_ro(demo_ro: str) -> Iterator[psycopg.Connection]:
    """A plain connection to the read-only demo database, for independent checks."""
    with psycopg.connect(demo_ro, autocommit=True) as conn:
        yield conn


def token_headers(secret: str, role: str, area: str = "340111") -> dict[str, str]:
    """Headers with a bearer token for ``role`` in ``area`` signed with ``secret``."""
    from api.auth import issue_token

    return {"Authorization": f"Bearer {issue_token(secret, role, area)}"}


def auth(client: TestClient, role: str, area: str = "340111") -> dict[str, str]:
    """Headers with a bearer token for ``role`` in ``area`` (signed by the app's secret)."""
    return token_headers(client.app.state.token_secret, role, area)


@pytest.fixture(autouse=True)
def _forget_cookies(request: pytest.FixtureRequest) -> Iterator[None]:
    """The shared client must not carry a map page's token cookie into the next test."""
    yield
    if "client_ro" in request.fixturenames:
        request.getfixturevalue("client_ro").cookies.clear()


def eventually(read: Callable[[], T], done: Callable[[T], bool], within_s: float = 10.0) -> T:
    """Call ``read`` until ``done`` holds for its result (or ``within_s`` passes); return the last result.

    For changes the app learns of by notice, a moment after the commit.
    """
    deadline = time.monotonic() + within_s
    result = read()
    while not done(result) and time.monotonic() < deadline:
        time.sleep(0.02)
        result = read()
    return result


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """Debian's headless Chromium, one per test module (tests/chromium.py).

    Not one per session: Playwright's sync API keeps an event loop running
    while it is open, and every later test that calls ``asyncio.run`` (the
    CLI, the locator, the crash test) would then fail.
    """
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def page_server(pg_cluster: EmbeddedCluster, demo_template: str) -> Iterator[tuple[str, str, Settings]]:
    """A server on a writable copy of the demo city for page tests: base URL, database URL, settings."""
    yield from writable_server(pg_cluster, demo_template)
