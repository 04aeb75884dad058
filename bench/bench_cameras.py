"""Who sees a point: GET /cameras/around over HTTP vs /teams/nearest in the same run (8 clients).

Both answer a point with a short list ranked by true ground distance (one
indexed geography query each); the cameras' answer also judges every
camera's view sector within 2 km. Budget: the same as nearest team, p99 <
10 ms over HTTP. Runs on a demo city in a cluster of its own (durable).
"""

from __future__ import annotations

from api.auth import issue_token
from api.settings import get_settings
from bench.bench_locate import inside_points
from bench.common import lua_cycle_paths, served, throwaway_demo, wrk
from layers.secrets import token_secret


def main() -> None:
    with throwaway_demo(durable=True) as url:
        headers = {"Authorization": f"Bearer {issue_token(token_secret(url), 'dispatcher', '340111')}"}
        points = inside_points(url)
        teams = lua_cycle_paths([f"/teams/nearest?lon={x:.6f}&lat={y:.6f}&type=city_management&k=5"
                                 for x, y in points], headers)
        cameras = lua_cycle_paths([f"/cameras/around?lon={x:.6f}&lat={y:.6f}&k=5" for x, y in points], headers)
        with served(url) as base:
            wrk(base, 8, 3, teams)  # warm-up
            wrk(base, 8, 3, cameras)
            nearest = wrk(base, 8, 10, teams)
            around = wrk(base, 8, 10, cameras)
    print(f"cameras around a point over HTTP, 8 concurrent clients, {get_settings().workers} uvicorn workers")
    print(nearest.line("/teams/nearest (baseline)"))
    print(around.line("/cameras/around"))
    print(f"throughput ratio around/nearest: {around.rps / nearest.rps:.2f}")
    print(f"around p99: {around.p99_ms:.2f} ms (budget < 10 ms)")


if __name__ == "__main__":
    main()
