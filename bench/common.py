"""Shared benchmark plumbing: the demo database, a served app, and wrk as the load generator.

wrk (Debian's package) runs in its own process in C, so the load generator
takes little CPU from the service on a 2-core machine; every figure is
printed next to a baseline measured in the same run.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from api.settings import get_settings
from api.store import demo_district, ensure_demo_city, open_store
from layers import migrate
from layers.cluster import EmbeddedCluster, free_port
from layers.demo.build import DemoSpec, build_demo

ROOT = Path(__file__).resolve().parent.parent


def demo_url() -> str:
    """Start (or reuse) the store of `make demo` and make sure the demo city is there."""
    store = open_store(get_settings())
    ensure_demo_city(store.url, 2024)
    return store.url


def fresh_demo_url(name: str) -> str:
    """A new database ``name`` holding the demo city, for benchmarks that write.

    Needs the embedded cluster (no ``DATABASE_URL``): benchmarks never
    create or drop databases on a server they were only pointed at.
    """
    store = open_store(get_settings())
    if store.cluster is None:
        raise SystemExit("write benchmarks run on the embedded cluster; unset DATABASE_URL")
    store.cluster.drop_database(name)
    url = store.cluster.create_database(name)
    migrate.upgrade(url)
    build_demo(url, demo_district(), DemoSpec())
    return url


@contextlib.contextmanager
def throwaway_demo(durable: bool) -> Iterator[str]:
    """A demo city in a cluster of its own, removed afterwards; ``durable=False`` is the test suite's store."""
    folder = Path(tempfile.mkdtemp(prefix="wangge-bench-"))
    folder.chmod(0o755)  # traversable by the postgres OS user when we are root
    cluster = EmbeddedCluster(folder / "pg", free_port(), durable=durable)
    try:
        cluster.start()
        url = cluster.create_database("bench")
        migrate.upgrade(url)
        build_demo(url, demo_district(), DemoSpec())
        yield url
    finally:
        cluster.remove()
        shutil.rmtree(folder, ignore_errors=True)


@contextlib.contextmanager
def served(url: str, port: int = 8765, workers: int | None = None) -> Iterator[str]:
    """Run the app under uvicorn in a child process, as ``wangge serve`` does; yield its base URL."""
    with served_process(url, port, workers) as (base, _):
        yield base


def worker_rss_mb(proc: subprocess.Popen[bytes]) -> tuple[float, float]:
    """The largest current and peak resident memory (MB) among a served app's worker processes."""
    children = Path(f"/proc/{proc.pid}/task/{proc.pid}/children").read_text().split()
    now, peak = 0.0, 0.0
    for pid in children or [str(proc.pid)]:
        with contextlib.suppress(OSError):
            status = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines()
                          if ":" in line)
            now = max(now, int(status["VmRSS"].split()[0]) / 1024)
            peak = max(peak, int(status["VmHWM"].split()[0]) / 1024)
    return now, peak


@contextlib.contextmanager
def served_process(url: str, port: int = 8765, workers: int | None = None
                   ) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """As :func:`served`, also yielding the uvicorn process (its children are the workers)."""
    workers = workers or get_settings().workers
    env = {**os.environ, "DATABASE_URL": url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "--factory", "api.app:create_app", "--port", str(port),
         "--workers", str(workers), "--log-level", "warning", "--no-access-log"],
        env=env, cwd=ROOT)
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(200):
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            time.sleep(0.1)
        yield base, proc
    finally:
        proc.terminate()
        proc.wait(10)


@dataclass
class Load:
    """What wrk measured: requests per second and latency percentiles in ms."""

    rps: float
    p50_ms: float
    p99_ms: float
    errors: int

    def line(self, name: str) -> str:
        """One printable row."""
        return (f"{name:<28} {self.rps:>9.0f} req/s  p50 {self.p50_ms:6.2f} ms  "
                f"p99 {self.p99_ms:6.2f} ms  non-2xx {self.errors}")


def _ms(value: str, unit: str) -> float:
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def wrk(url: str, connections: int, seconds: int = 10, lua: str | None = None, threads: int = 2) -> Load:
    """Run wrk against ``url`` (optionally with a Lua script's text) and parse its report."""
    args = ["wrk", f"-t{min(threads, connections)}", f"-c{connections}", f"-d{seconds}s", "--latency"]
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as script:
        if lua:
            script.write(lua)
            args += ["-s", script.name]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    latency = dict(re.findall(r"^\s+(50|99)%\s+([\d.]+\w+)", out, re.M))
    p50 = _ms(*re.match(r"([\d.]+)(\w+)", latency["50"]).groups())  # type: ignore[union-attr]
    p99 = _ms(*re.match(r"([\d.]+)(\w+)", latency["99"]).groups())  # type: ignore[union-attr]
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))  # type: ignore[union-attr]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Load(rps, p50, p99, int(errors.group(1)) if errors else 0)


def lua_post_json(path: str, bodies: list[str], headers: dict[str, str]) -> str:
    """A wrk script that POSTs ``bodies`` in turn to ``path`` with ``headers``."""
    items = ",".join("[==[" + b + "]==]" for b in bodies)
    head = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in headers.items())
    return f"""
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
{head}
local bodies = {{{items}}}
local i = 0
request = function()
  i = i % #bodies + 1
  return wrk.format(nil, "{path}", nil, bodies[i])
end
"""


def lua_cycle_paths(paths: list[str], headers: dict[str, str] | None = None) -> str:
    """A wrk script that requests ``paths`` in turn (GET), with ``headers``."""
    items = ",".join(f'"{p}"' for p in paths)
    head = "".join(f'wrk.headers["{k}"] = "{v}"\n' for k, v in (headers or {}).items())
    return f"""
{head}
local paths = {{{items}}}
local i = 0
request = function()
  i = i % #paths + 1
  return wrk.format("GET", paths[i])
end
"""
