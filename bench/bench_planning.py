"""Time the planning report and a suggestion on a community of ~30 grids and ~2,000 buildings.

Prints each figure with a same-run baseline and the ratio:
- report (validity, coverage, workload, impact) vs shapely's bare
  ``coverage_is_valid`` on the same 30 polygons;
- suggestion (balanced power diagram, noded and polygonized) vs a bare
  ``voronoi_polygons`` of 30 seeds clipped to the community;
- the report on today's grids as they come back from GeoJSON (7 decimals,
  conformed to the stored vertices first) vs the same baseline.
Pure computation, no database: the store adds a few queries to both.
Run: .venv/bin/python bench/bench_planning.py
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import numpy as np
import pyproj
import shapely

from geo.planning.coverage import DEFAULT_SNAP_M
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.metric import MetricFrame
from geo.planning.partition import suggest_partition
from geo.planning.report import build_report, conformed_grids
from geo.planning.workload import AssetPoints, Assets

ZONE = 4548
FRAME = MetricFrame(ZONE)
TO_WGS84 = pyproj.Transformer.from_crs(ZONE, 4326, always_xy=True)


def lonlat(xy: np.ndarray) -> np.ndarray:
    return np.column_stack(TO_WGS84.transform(xy[:, 0], xy[:, 1]))


def community() -> shapely.Polygon:
    angles = np.linspace(0, 2 * np.pi, 40, endpoint=False)
    radii = 1000 + 250 * np.sin(3 * angles)
    ring = np.column_stack((450_000 + radii * np.cos(angles), 3_430_000 + radii * np.sin(angles)))
    return shapely.transform(shapely.Polygon(ring), lonlat)


def points(area: shapely.Polygon, count: int, rng: np.random.Generator) -> np.ndarray:
    metric = FRAME.to_metric(area)
    minx, miny, maxx, maxy = metric.bounds
    found = rng.uniform((minx, miny), (maxx, maxy), size=(count * 3, 2))
    found = found[shapely.contains_xy(metric, found[:, 0], found[:, 1])][:count]
    return lonlat(found)


def assets(area: shapely.Polygon, rng: np.random.Generator) -> Assets:
    def kind(count: int, weights: bool = False) -> AssetPoints:
        where = points(area, count, rng)
        extra = {"residents": rng.integers(0, 120, count).astype(float),
                 "households": rng.integers(0, 40, count).astype(float)} if weights else {}
        return AssetPoints(np.arange(count), [str(i) for i in range(count)], where, extra)

    return Assets(kind(2000, weights=True), kind(60), kind(10), kind(900), kind(60))


def timed(run: Callable[[], object], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    rng = np.random.default_rng(7)
    area = community()
    stock = assets(area, rng)
    weights = stock.buildings.weights["residents"] + 1
    today = suggest_partition(area, stock.buildings.lonlat, weights, 30, FRAME, seed=1).grids
    current = [CurrentGrid(i, f"340111001901{i:03d}", str(i), g) for i, g in enumerate(today, start=1)]
    proposal = suggest_partition(area, stock.buildings.lonlat, weights, 30, FRAME, seed=2).grids
    planned = [PlannedGrid(f"new-{i}", None, str(i), g) for i, g in enumerate(proposal, start=1)]
    polygons = np.asarray(proposal, dtype=object)

    report_s = timed(lambda: build_report(area, current, planned, stock, FRAME), 5)
    bare_s = timed(lambda: shapely.coverage_is_valid(polygons), 5)
    print(f"community: {len(planned)} grids, {len(stock.buildings)} buildings, "
          f"{len(stock.recent_cases)} recent cases")
    print(f"report      {report_s * 1000:8.1f} ms   baseline coverage_is_valid {bare_s * 1000:7.2f} ms"
          f"   ratio {report_s / bare_s:6.1f}x   budget 1000 ms")

    served = [PlannedGrid(g.code, g.code, g.name, shapely.transform(g.geom, lambda xy: np.round(xy, 7)))
              for g in current]
    if not build_report(area, current, served, stock, FRAME)["ok"]:
        raise SystemExit("today's grids rounded to 7 decimals did not come back ok")
    round_trip_s = timed(lambda: build_report(area, current, served, stock, FRAME), 5)
    snapping_s = timed(lambda: conformed_grids(area, current, served, DEFAULT_SNAP_M), 5)
    print(f"round trip  {round_trip_s * 1000:8.1f} ms   baseline coverage_is_valid {bare_s * 1000:7.2f} ms"
          f"   ratio {round_trip_s / bare_s:6.1f}x   budget 1000 ms   (snapping alone {snapping_s * 1000:.1f} ms)")

    seeds = stock.buildings.lonlat[rng.choice(len(stock.buildings), 30, replace=False)]
    suggest_s = timed(lambda: suggest_partition(area, stock.buildings.lonlat, weights, 30, FRAME), 3)
    voronoi_s = timed(lambda: shapely.intersection(
        shapely.voronoi_polygons(shapely.multipoints(seeds), extend_to=area).geoms, area), 3)
    print(f"suggestion  {suggest_s * 1000:8.1f} ms   baseline voronoi+clip      {voronoi_s * 1000:7.2f} ms"
          f"   ratio {suggest_s / voronoi_s:6.1f}x   budget 5000 ms")


if __name__ == "__main__":
    main()
