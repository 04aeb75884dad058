"""Snapping rounded grids back onto the stored ones, on every community of the demo (pure geometry).

The stored rows are read once; rounding is done here with numpy, as any
GeoJSON writer does. Truth is checked independently with shapely: exact
equality with the stored vertices, or union and overlaps in metres.
"""

from __future__ import annotations

import math

import numpy as np
import psycopg
import pytest
import shapely
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from shapely.geometry import LineString, Polygon
from shapely.geometry.base import BaseGeometry

from geo.planning.coverage import DEFAULT_SNAP_M, check_coverage
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.metric import MetricFrame
from geo.planning.report import check_proposal, conformed_grids
from geo.planning.snapping import conform
from geo.planning.workload import AssetPoints, Assets
from tests.planning_cases import tiles_exactly

Places = dict[str, tuple[BaseGeometry, dict[str, BaseGeometry]]]


@pytest.fixture(scope="module")
def places(demo_ro: str) -> Places:
    """Every community of the demo: outline and current grids by code."""
    with psycopg.connect(demo_ro) as conn:
        outlines = {c: shapely.from_wkb(w) for c, w in conn.execute("SELECT code, ST_AsBinary(geom) FROM communities")}
        found: Places = {c: (g, {}) for c, g in outlines.items()}
        for code, community, wkb in conn.execute(
                "SELECT code, community_code, ST_AsBinary(geom) FROM grids WHERE valid_to IS NULL"):
            found[community][1][code] = shapely.from_wkb(wkb)
    return found


@pytest.fixture(scope="module")
def hierarchy(demo_ro: str) -> dict[str, list[tuple[str, str, BaseGeometry]]]:
    """Districts, streets and communities: (code, parent code, outline)."""
    with psycopg.connect(demo_ro) as conn:
        return {
            "districts": [(c, "", shapely.from_wkb(w)) for c, w in conn.execute(
                "SELECT code, ST_AsBinary(geom) FROM districts")],
            "streets": [(c, p, shapely.from_wkb(w)) for c, p, w in conn.execute(
                "SELECT code, district_code, ST_AsBinary(geom) FROM streets")],
            "communities": [(c, p, shapely.from_wkb(w)) for c, p, w in conn.execute(
                "SELECT code, street_code, ST_AsBinary(geom) FROM communities")],
        }


def rounded(geom: BaseGeometry, decimals: int) -> BaseGeometry:
    return shapely.transform(geom, lambda xy: np.round(xy, decimals))


def same_vertices(a: BaseGeometry, b: BaseGeometry) -> bool:
    return bool(shapely.equals_exact(shapely.normalize(a), shapely.normalize(b), 0))


NO_ASSETS = Assets(*(AssetPoints.empty() for _ in range(5)))


@pytest.mark.parametrize("decimals", [7, 6])
def test_every_community_comes_back_as_stored(places: Places, decimals: int) -> None:
    for code, (outline, grids) in places.items():
        current = [CurrentGrid(i, k, k, g) for i, (k, g) in enumerate(grids.items())]
        planned = [PlannedGrid(k, k, k, rounded(g, decimals)) for k, g in grids.items()]
        back = conformed_grids(outline, current, planned, DEFAULT_SNAP_M)
        assert all(same_vertices(a.geom, b) for a, b in zip(back, grids.values(), strict=True)), code


def test_every_community_tiles_after_rounding_without_anchors(places: Places) -> None:
    # what an importer sees: no grids in force to lean on, only the parent's outline
    for code, (outline, grids) in places.items():
        seven = [rounded(g, 7) for g in grids.values()]
        assert all(same_vertices(a, b) for a, b in zip(conform(seven, outline, DEFAULT_SNAP_M, list(grids.values())),
                                                       grids.values(), strict=True)), code
        alone = check_coverage(list(grids), np.asarray(seven), outline, MetricFrame.around(outline))
        assert alone.tiles, code
        assert tiles_exactly(outline, alone.grids), code


@pytest.mark.parametrize(("children", "parents"), [("streets", "districts"), ("communities", "streets")])
def test_rounded_areas_tile_their_parent_as_the_importer_checks(
        hierarchy: dict[str, list[tuple[str, str, BaseGeometry]]], children: str, parents: str) -> None:
    for parent, _, outline in hierarchy[parents]:
        mine = [(c, g) for c, p, g in hierarchy[children] if p == parent]
        keys, geoms = [c for c, _ in mine], np.asarray([rounded(g, 7) for _, g in mine], dtype=object)
        frame = MetricFrame.around(outline)
        assert check_coverage(keys, geoms, outline, frame, snap_m=DEFAULT_SNAP_M).tiles, parent
        assert not check_coverage(keys, geoms, outline, frame, snap_m=0.0).tiles, parent  # the tolerance is needed


def test_a_vertex_goes_to_the_nearest_of_two_close_stored_vertices() -> None:
    outline = Polygon([(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001)])
    # two stored vertices 5 cm apart on the bottom edge of the outline: (0.0005, 0) and 4.7e-7° further east
    anchors = [Polygon([(0, 0), (0.0005, 0), (0.00050047, 0), (0.0005, 0.001), (0, 0.001)])]
    near_second = Polygon([(0, 0), (0.00050045, 0.0000001), (0.0005, 0.001), (0, 0.001)])
    (back,) = conform([near_second], outline, 0.1, anchors)
    assert (0.00050047, 0.0) in {tuple(p) for p in shapely.get_coordinates(back).tolist()}
    assert conform([near_second], outline, 0.0, anchors)[0] is near_second


def test_what_conforming_would_break_stays_as_drawn() -> None:
    outline = Polygon([(0, 0), (0.001, 0), (0.001, 0.001), (0, 0.001)])
    # a 2 cm wide spike whose two sides would snap onto one vertex: a collapse, so the grid keeps its own
    spike = Polygon([(0, 0), (0.001, 0), (0.001, 0.001), (0.0005, 0.0005), (0.0005001, 0.00050017),
                     (0.0000001, 0.001), (0, 0.001)])
    assert spike.is_valid
    (back,) = conform([spike], outline, 0.1)
    assert back.is_valid


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10_000), angle=st.floats(0, math.pi), offset=st.floats(-0.3, 0.3),
       decimals=st.sampled_from([6, 7]))
def test_a_split_made_outside_wangge_conforms_and_tiles(places: Places, pick: int, angle: float, offset: float,
                                                        decimals: int) -> None:
    codes = sorted(places)
    outline, grids = places[codes[pick % len(codes)]]
    keys = sorted(grids)
    target = keys[pick // len(codes) % len(keys)]
    frame = MetricFrame.around(outline)
    shape_m = frame.to_metric(rounded(grids[target], decimals))
    centre, size = shape_m.centroid, math.sqrt(shape_m.area)
    cx, cy = centre.x + offset * size * math.sin(angle), centre.y - offset * size * math.cos(angle)
    dx, dy = 3 * size * math.cos(angle), 3 * size * math.sin(angle)
    line = frame.to_wgs84(LineString([(cx - dx, cy - dy), (cx + dx, cy + dy)]))
    pieces = [p for p in shapely.ops.split(rounded(grids[target], decimals), line).geoms if p.area > 0]
    planned = [PlannedGrid(k, k, k, rounded(grids[k], decimals)) for k in keys if k != target]
    planned += [PlannedGrid(f"new-{i}", None, "", rounded(p, decimals)) for i, p in enumerate(pieces)]
    current = [CurrentGrid(i, k, k, grids[k]) for i, k in enumerate(keys)]
    conformed, report = check_proposal(outline, current, planned, NO_ASSETS, frame)
    if any(p.area * 1e10 < 1 for p in pieces):  # a crumb under ~1 m²: the report may rightly flag it
        return
    counts = {k: len(v["features"]) for k, v in report["coverage"].items() if isinstance(v, dict)}
    assert report["ok"] is True, (target, angle, offset, decimals, counts, report["validity"])
    assert tiles_exactly(outline, [g.geom for g in conformed])
    untouched = [g for g in conformed if g.code is not None and not g.geom.intersects(line)]
    assert all(same_vertices(g.geom, grids[g.key]) for g in untouched)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(pick=st.integers(0, 10_000), width=st.floats(0.5, 5.0))
def test_a_real_gap_is_found_whatever_its_width(places: Places, pick: int, width: float) -> None:
    codes = sorted(places)
    outline, grids = places[codes[pick % len(codes)]]
    keys = sorted(grids)
    target = keys[pick // len(codes) % len(keys)]
    frame = MetricFrame.around(outline)
    shrunk = frame.to_wgs84(frame.to_metric(grids[target]).buffer(-width, join_style="mitre"))
    planned = [PlannedGrid(k, k, k, rounded(shrunk if k == target else grids[k], 7)) for k in keys]
    current = [CurrentGrid(i, k, k, grids[k]) for i, k in enumerate(keys)]
    _, report = check_proposal(outline, current, planned, NO_ASSETS, frame)
    expected = frame.to_metric(grids[target]).area - frame.to_metric(shrunk).area
    found = sum(f["properties"]["area_m2"] for f in report["coverage"]["gaps"]["features"])
    assert report["ok"] is False
    assert found == pytest.approx(expected, rel=0.02)
