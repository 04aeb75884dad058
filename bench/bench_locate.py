"""Locate over HTTP vs the bare /health endpoint in the same run (8 concurrent clients).

Budget (ARCHITECTURE.md): locate p99 < 10 ms and at least half the
throughput of /health.
"""

from __future__ import annotations

import numpy as np
import psycopg
import shapely
from shapely import wkb

from api.settings import get_settings
from bench.common import demo_url, lua_cycle_paths, served, wrk


def inside_points(url: str, count: int = 2000) -> list[tuple[float, float]]:
    """Random points inside the district (so every request is a hit)."""
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT ST_AsBinary(geom) FROM districts").fetchone()
    assert row is not None
    area = wkb.loads(bytes(row[0]))
    w, s, e, n = area.bounds
    rng = np.random.default_rng(1)
    pts = rng.uniform((w, s), (e, n), size=(count * 3, 2))
    keep = shapely.contains_xy(area, pts[:, 0], pts[:, 1])
    return [tuple(p) for p in pts[keep][:count]]


def main() -> None:
    url = demo_url()
    query = [f"lon={lon:.6f}&lat={lat:.6f}" for lon, lat in inside_points(url)]
    # the baseline gets the very same requests but for the path (/health
    # ignores the query), so wrk spends as much on each side
    health_script = lua_cycle_paths([f"/health?{q}" for q in query])
    locate_script = lua_cycle_paths([f"/locate?{q}" for q in query])
    with served(url) as base:
        wrk(base, 8, 3, health_script)  # warm-up
        wrk(base, 8, 3, locate_script)
        health = wrk(base, 8, 10, health_script)
        locate = wrk(base, 8, 10, locate_script)
    print(f"locate over HTTP, 8 concurrent clients, {get_settings().workers} uvicorn workers")
    print(health.line("/health (baseline)"))
    print(locate.line("/locate"))
    print(f"throughput ratio locate/health: {locate.rps / health.rps:.2f} (budget >= 0.5)")
    print(f"locate p99: {locate.p99_ms:.2f} ms (budget < 10 ms)")


if __name__ == "__main__":
    main()
