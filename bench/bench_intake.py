"""Intake and batch position updates over HTTP, each beside a same-run baseline.

Budgets (issue 3): intake (locate + catalogue + nearest team + duplicates +
write + log) at least 300 cases/s with p99 < 50 ms at 16 concurrent clients;
batch position updates at least 2,000 positions/s.
"""

from __future__ import annotations

import asyncio
import json
import time

import httpx
import numpy as np
import psycopg

from api.auth import issue_token
from api.settings import get_settings
from bench.bench_locate import inside_points
from bench.common import Load, fresh_demo_url, lua_post_json, served, throwaway_demo, wrk
from layers.secrets import token_secret


def intake_bodies(url: str, count: int = 3000) -> list[str]:
    rng = np.random.default_rng(4)
    with psycopg.connect(url) as conn:
        codes = [r[0] for r in conn.execute("SELECT code FROM catalogue WHERE team_type IS NOT NULL")]
    channels = ["hotline", "grid_worker", "wechat", "police_110", "camera", "sensor"]
    return [json.dumps({"category": codes[int(rng.integers(len(codes)))], "channel": channels[i % 6],
                        "description": "bench", "location": {"lon": lon, "lat": lat}})
            for i, (lon, lat) in enumerate(inside_points(url, count))]


def position_batch(url: str, count: int = 300) -> list[dict]:
    """New positions for teams 1..count, each within about 300 m of where it is (inside its area's margin)."""
    rng = np.random.default_rng(9)
    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT id, ST_X(position), ST_Y(position) FROM teams WHERE id <= %s ORDER BY id",
                            (count,)).fetchall()
    return [{"id": i, "lon": float(lon + rng.uniform(-0.003, 0.003)), "lat": float(lat + rng.uniform(-0.003, 0.003))}
            for i, lon, lat in rows]


def raw_position_updates(url: str, batch: list[dict], rounds: int) -> float:
    """Baseline: the same UPDATE ... FROM unnest straight from psycopg, positions/s."""

    async def run() -> float:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            started = time.perf_counter()
            for _ in range(rounds):
                await conn.execute("""
                    UPDATE teams AS t SET position = ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326),
                           position_at = now()
                    FROM unnest(%s::int[], %s::float8[], %s::float8[]) AS u(id, lon, lat) WHERE t.id = u.id""",
                    ([p["id"] for p in batch], [p["lon"] for p in batch], [p["lat"] for p in batch]))
            return rounds * len(batch) / (time.perf_counter() - started)

    return asyncio.run(run())


def api_position_updates(base: str, token: str, batch: list[dict], rounds: int, clients: int = 4) -> float:
    """Batches of positions through PUT /teams/positions from ``clients`` concurrent clients."""

    async def run() -> float:
        async with httpx.AsyncClient(base_url=base, headers={"Authorization": f"Bearer {token}"},
                                     timeout=30) as client:
            async def worker() -> None:
                for _ in range(rounds // clients):
                    response = await client.put("/teams/positions", json={"positions": batch})
                    response.raise_for_status()

            started = time.perf_counter()
            await asyncio.gather(*(worker() for _ in range(clients)))
            return (rounds // clients) * clients * len(batch) / (time.perf_counter() - started)

    return asyncio.run(run())


DURABILITY = ("fsync", "synchronous_commit", "full_page_writes", "commit_delay")


def store_settings(url: str) -> dict[str, str]:
    """The server's durability settings: the figures only count with what users run."""
    with psycopg.connect(url) as conn:
        return {name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                for name in DURABILITY}


def intake_load(base: str, url: str, token: str) -> Load:
    """POST /incidents from 16 wrk connections for 10 s."""
    return wrk(f"{base}/incidents", 16, 10, lua_post_json("/incidents", intake_bodies(url), {
        "Authorization": f"Bearer {token}"}))


def commit_rate(url: str, connections: int = 4, seconds: float = 5.0) -> float:
    """One-row INSERT commits per second from ``connections`` sessions (as many as the service's pools hold).

    What a commit costs the store, without the service: with durability on,
    each waits for its WAL to reach the disk (commits in flight together
    share one flush).
    """

    async def run() -> float:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await conn.execute("CREATE TABLE IF NOT EXISTS bench_commits (id bigserial PRIMARY KEY, "
                               "at timestamptz NOT NULL DEFAULT now())")
        done = 0

        async def session() -> None:
            nonlocal done
            async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
                while time.perf_counter() < stop:
                    await conn.execute("INSERT INTO bench_commits DEFAULT VALUES")
                    done += 1

        stop = time.perf_counter() + seconds
        await asyncio.gather(*(session() for _ in range(connections)))
        return done / seconds

    return asyncio.run(run())


def relaxed_intake() -> tuple[Load, float]:
    """Baseline: the same intake (and commits) on a store without durability (the test suite's settings)."""
    with throwaway_demo(durable=False) as url:
        with served(url) as base:
            wrk(f"{base}/health", 16, 3)
            load = intake_load(base, url, issue_token(token_secret(url), "dispatcher", "340111"))
        return load, commit_rate(url)


def main() -> None:
    url = fresh_demo_url("bench_intake")
    durability = store_settings(url)
    if any(durability[name] != "on" for name in DURABILITY[:3]):
        raise SystemExit(f"the store is not durable ({durability}); restart it: wangge db stop")
    token = issue_token(token_secret(url), "dispatcher", "340111")
    batch = position_batch(url)
    with served(url) as base:
        wrk(f"{base}/health", 16, 3)
        health = wrk(f"{base}/health", 16, 10)
        intake = intake_load(base, url, token)
        api_rate = api_position_updates(base, token, batch, rounds=40)
    raw_rate = raw_position_updates(url, batch, rounds=40)
    commits, grouped = commit_rate(url), commit_rate(url, connections=16)
    relaxed, relaxed_commits = relaxed_intake()
    print(f"intake over HTTP, 16 concurrent clients, {get_settings().workers} uvicorn workers, store: "
          + ", ".join(f"{k}={v}" for k, v in durability.items()))
    print(health.line("/health (baseline)"))
    print(intake.line("POST /incidents"))
    print(relaxed.line("  same, store not durable"))
    print(f"intake: {intake.rps:.0f} cases/s (budget >= 300), p99 {intake.p99_ms:.1f} ms (budget < 50 ms); "
          f"durable/not durable throughput {intake.rps / relaxed.rps:.2f}")
    print(f"bare commits, 4 sessions: {commits:.0f}/s durable, {relaxed_commits:.0f}/s not durable "
          f"({commits / relaxed_commits:.2f}); 16 sessions durable {grouped:.0f}/s (commits share flushes)")
    print(f"batch positions: {api_rate:.0f} positions/s over HTTP (budget >= 2000); "
          f"raw SQL baseline {raw_rate:.0f}/s, ratio {api_rate / raw_rate:.2f}")


if __name__ == "__main__":
    main()
