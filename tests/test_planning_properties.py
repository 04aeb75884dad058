"""Property tests: suggested partitions and operations on them always tile the community."""

from __future__ import annotations

import math

import numpy as np
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import Polygon

from geo.crs import WGS84
from geo.planning.coverage import check_coverage
from geo.planning.grids import CurrentGrid
from geo.planning.metric import MetricFrame
from geo.planning.operations import apply_operations
from geo.planning.partition import suggest_partition
from tests.planning_cases import X0, Y0, lonlat, wgs84

FRAME = MetricFrame(4548)


@st.composite
def communities(draw: st.DrawFn) -> Polygon:
    """A star-shaped polygon of 5 to 16 vertices, 300 m to 1.5 km across, in the zone."""
    count = draw(st.integers(5, 16))
    radii = draw(st.lists(st.floats(300, 800), min_size=count, max_size=count))
    jitter = draw(st.lists(st.floats(-0.2, 0.2), min_size=count, max_size=count))
    ring = [(X0 + r * math.cos(2 * math.pi * (i + j) / count), Y0 + r * math.sin(2 * math.pi * (i + j) / count))
            for i, (r, j) in enumerate(zip(radii, jitter, strict=True))]
    polygon = Polygon(ring)
    return polygon if polygon.is_valid else polygon.convex_hull


def tiles(area: Polygon, grids: list[shapely.Geometry]) -> bool:
    """Whether WGS84 ``grids`` tile WGS84 ``area``."""
    result = check_coverage([str(i) for i in range(len(grids))], np.asarray(grids, dtype=object), area, FRAME)
    return result.tiles


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(area=communities(), count=st.integers(2, 25), buildings=st.integers(0, 400), seed=st.integers(0, 2**16))
def test_a_suggestion_tiles_its_community(area: Polygon, count: int, buildings: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    minx, miny, maxx, maxy = area.bounds
    xy = rng.uniform((minx, miny), (maxx, maxy), size=(buildings, 2))
    xy = xy[shapely.contains_xy(area, xy[:, 0], xy[:, 1])]
    weight = rng.integers(0, 80, len(xy)).astype(float) + 1
    community = wgs84(area)
    partition = suggest_partition(community, lonlat(list(map(tuple, xy))) if len(xy) else xy, weight, count,
                                  FRAME, seed)
    assert 1 <= len(partition.grids) <= count
    assert all(g.is_valid and not g.is_empty for g in partition.grids)
    # one piece each: a grid in two parts is not something a worker can patrol
    assert all(g.geom_type == "Polygon" for g in partition.grids)
    assert tiles(community, partition.grids)
    assert math.isclose(sum(g.area for g in partition.grids), community.area, rel_tol=1e-9)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(area=communities(), count=st.integers(3, 12), pick=st.integers(0, 100), angle=st.floats(0, math.pi),
       seed=st.integers(0, 2**16))
def test_splitting_a_tiling_still_tiles(area: Polygon, count: int, pick: int, angle: float, seed: int) -> None:
    grids = suggest_partition(wgs84(area), np.empty((0, 2)), np.empty(0), count, FRAME, seed).grids
    current = [CurrentGrid(i + 1, f"340111001901{i + 1:03d}", str(i), g) for i, g in enumerate(grids)]
    target = current[pick % len(current)]
    centre = FRAME.to_metric(target.geom).representative_point()
    dx, dy = 3000 * math.cos(angle), 3000 * math.sin(angle)
    line = shapely.LineString([(centre.x - dx, centre.y - dy), (centre.x + dx, centre.y + dy)])
    line_wgs = [list(p) for p in shapely.get_coordinates(wgs84(line))]
    planned = apply_operations(current, [{"op": "split", "grid": target.code, "line": line_wgs}], WGS84)
    community = shapely.coverage_union_all([g.geom for g in current])
    assert len(planned) >= len(current) + 1
    assert tiles(community, [p.geom for p in planned])
