"""The store keeps what it answered: PostgreSQL crashes under concurrent intake and no answered case is lost.

A durable embedded cluster of its own (the settings the service runs with,
not the test suite's relaxed ones) holds a small demo city; the real app is
served by uvicorn in a child process with two workers; clients file cases,
each with its own ``Idempotency-Key``, and retry a failed request with the
same key until it is answered. Mid-run PostgreSQL is killed
(``pg_ctl stop -m immediate``: no checkpoint), the service is seen answering
503 while it is away, and it is started again (crash recovery from the WAL).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg
import pytest

from api.auth import issue_token
from api.settings import Settings
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.demo.build import DemoSpec, District, build_demo
from layers.secrets import token_secret
from layers.watch import APPLICATION_NAME
from tests.conftest import eventually
from tests.test_store import _fingerprint, _wangge_db

ROOT = Path(__file__).resolve().parent.parent
SMALL = DemoSpec(streets=2, communities=6, grids=60, buildings=600, cameras=20, waterlogging_points=5,
                 stall_zones=5, incidents=200)
CLIENTS = 8
BEFORE_CRASH = 150  # answered cases before PostgreSQL is killed
AFTER_CRASH = 150  # answered cases wanted after it is back
WORKERS = 2


@pytest.fixture(scope="module")
def durable_cluster() -> Iterator[EmbeddedCluster]:
    """A cluster with the service's own settings: durable, password required."""
    parent = Path(tempfile.mkdtemp(prefix="wangge-durable-"))
    parent.chmod(0o755)  # traversable by the postgres OS user when we are root
    cluster = EmbeddedCluster(parent / "pg", free_port())
    cluster.start()
    yield cluster
    cluster.remove()
    shutil.rmtree(parent, ignore_errors=True)


@pytest.fixture(scope="module")
def small_city(durable_cluster: EmbeddedCluster, district: District) -> str:
    """A migrated database with a small demo city in the durable cluster."""
    url = durable_cluster.create_database("wangge")
    migrate.upgrade(url)
    build_demo(url, district, SMALL)
    return url


@contextlib.contextmanager
def served(url: str) -> Iterator[str]:
    """The app under uvicorn in a child process, as ``wangge serve`` runs it; yields its base URL."""
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "WANGGE_ESCALATE_EVERY_S": "0"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", str(port),
         "--workers", str(WORKERS), "--log-level", "critical", "--no-access-log"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/ready", timeout=2).status_code == 200:
                    break
            time.sleep(0.1)
        yield base
    finally:
        proc.terminate()
        proc.wait(20)


def postmaster_pid(cluster: EmbeddedCluster) -> int:
    """The server's process id, from its pid file."""
    return int((cluster.datadir / "postmaster.pid").read_text().splitlines()[0])


@dataclass
class Run:
    """What the clients saw."""

    answered: dict[str, tuple[int, int]] = field(default_factory=dict)  # key -> (status, case id)
    refusals: list[tuple[int, str, dict]] = field(default_factory=list)  # status, content type, body
    lost_connections: int = 0
    given_up: list[str] = field(default_factory=list)  # keys never answered within a minute
    answered_after_restart: int = 0
    restarted: bool = False


async def _client(http: httpx.AsyncClient, run: Run, stop: asyncio.Event, n: int,
                  points: list[tuple[float, float]]) -> None:
    i = 0
    while not stop.is_set():
        key = f"crash-{n}-{i}"
        lon, lat = points[(n * 7919 + i) % len(points)]
        body = {"category": "01.03", "channel": "hotline", "description": key,
                "location": {"lon": lon, "lat": lat}}
        give_up = time.monotonic() + 60
        while time.monotonic() < give_up:  # the same key until it is answered
            try:
                response = await http.post("/incidents", json=body, headers={"Idempotency-Key": key})
            except httpx.HTTPError:
                run.lost_connections += 1
                await asyncio.sleep(0.05)
                continue
            if response.status_code in (200, 201):
                run.answered[key] = (response.status_code, int(response.json()["id"]))
                run.answered_after_restart += run.restarted
                break
            try:
                detail = response.json()
            except ValueError:
                detail = {"not json": response.text[:200]}
            run.refusals.append((response.status_code, response.headers.get("content-type", ""), detail))
            await asyncio.sleep(0.05)
        else:
            run.given_up.append(key)
            return
        i += 1


async def _crash_under_load(base: str, token: str, cluster: EmbeddedCluster,
                            points: list[tuple[float, float]]) -> Run:
    run, stop = Run(), asyncio.Event()
    async with httpx.AsyncClient(base_url=base, timeout=60,
                                 headers={"Authorization": f"Bearer {token}"}) as http:
        clients = [asyncio.create_task(_client(http, run, stop, n, points)) for n in range(CLIENTS)]
        while len(run.answered) < BEFORE_CRASH:
            await asyncio.sleep(0.01)
        await asyncio.to_thread(cluster.crash)
        # the service keeps answering while the store is away: wait for its 503
        deadline = time.monotonic() + 60
        while not run.refusals and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        await asyncio.to_thread(cluster.start)
        run.restarted = True
        deadline = time.monotonic() + 120
        while run.answered_after_restart < AFTER_CRASH and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        stop.set()  # each client finishes the key it holds, however long the service takes
        await asyncio.gather(*clients)
    return run


def test_no_answered_case_is_lost_or_doubled_when_postgres_crashes(
        durable_cluster: EmbeddedCluster, small_city: str) -> None:
    with psycopg.connect(small_city) as conn:
        settings = {name: conn.execute(f"SHOW {name}").fetchone()[0]  # type: ignore[index]
                    for name in ("fsync", "synchronous_commit", "full_page_writes")}
        points = conn.execute("SELECT ST_X(p), ST_Y(p) FROM (SELECT ST_PointOnSurface(geom) AS p "
                              "FROM grids WHERE valid_to IS NULL ORDER BY code) g").fetchall()
    assert settings == {"fsync": "on", "synchronous_commit": "on", "full_page_writes": "on"}
    token = issue_token(token_secret(small_city), "operator", "340111")
    pid_before = postmaster_pid(durable_cluster)
    with served(small_city) as base:
        run = asyncio.run(_crash_under_load(base, token, durable_cluster, points))
        # the service outlived the crash: its pool and its change listeners are back
        assert httpx.get(f"{base}/ready", timeout=10).status_code == 200
        with psycopg.connect(small_city, autocommit=True) as conn:
            listening = eventually(lambda: conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                (APPLICATION_NAME,)).fetchone()[0], lambda n: n == WORKERS)  # type: ignore[index]
        assert listening == WORKERS

    assert postmaster_pid(durable_cluster) != pid_before  # it really went down
    # the crash was felt mid-run, and answered as the API promises: 503 in the one error shape,
    # never a dropped connection or a 500
    assert run.refusals and run.lost_connections == 0
    assert run.given_up == []
    assert run.answered_after_restart >= AFTER_CRASH
    for status, content_type, body in run.refusals:
        assert status == 503, (status, body)
        assert content_type.startswith("application/json") and set(body) >= {"detail", "code"}, body

    with psycopg.connect(small_city) as conn:
        # each request's description is its key; the stored key may carry the caller's scope before it
        rows = conn.execute("SELECT description, id, idempotency_key FROM incidents "
                            "WHERE description LIKE 'crash-%'").fetchall()
        by_text = conn.execute(
            "SELECT description, count(*) FROM incidents WHERE description LIKE 'crash-%' GROUP BY 1").fetchall()
        first_entries = conn.execute(
            "SELECT count(*) FROM incident_events e JOIN incidents i ON i.id = e.incident_id "
            "WHERE i.description LIKE 'crash-%' AND e.action = 'accept'").fetchone()
    stored = {text: case_id for text, case_id, _ in rows}
    assert all(str(key).endswith(text) for text, _, key in rows)
    lost = [key for key, (_, case_id) in run.answered.items() if stored.get(key) != case_id]
    doubled = [text for text, count in by_text if count != 1]
    assert lost == [], [(key, run.answered[key], stored.get(key)) for key in lost[:5]]
    assert doubled == []
    assert set(stored) == set(run.answered)  # nothing stored that no one was told about
    assert first_entries == (len(run.answered),)  # each case with its first log entry


def test_backup_and_restore_on_the_embedded_cluster(durable_cluster: EmbeddedCluster, small_city: str,
                                                    tmp_path: Path) -> None:
    # the settings of a user without DATABASE_URL: the cluster is found by its folder and adopted
    settings = Settings(database_url=None, data_dir=durable_cluster.datadir.parent,  # type: ignore[call-arg]
                        pg_port=durable_cluster.port)
    before = _fingerprint(small_city)
    _wangge_db(settings, "backup", str(tmp_path / "city.dump"))
    with psycopg.connect(small_city) as conn:
        conn.execute("DELETE FROM buildings")
    _wangge_db(settings, "restore", str(tmp_path / "city.dump"))
    assert _fingerprint(small_city) == before
    assert durable_cluster.is_running()  # adopted, not stopped by the command
