"""Hand-made proposals with their exact reports (pure geometry, no database)."""

from __future__ import annotations

from typing import Any

import pytest
import shapely
from shapely.geometry import LineString, Polygon

from geo.crs import parse_crs
from geo.planning.metric import MetricFrame
from geo.planning.operations import apply_operations
from geo.planning.parse import planned_grids
from geo.planning.report import build_report
from layers.errors import InvalidInput
from tests.planning_cases import (
    COMMUNITY,
    assets,
    collection,
    community_geom,
    current_grids,
    feature,
    grid_code,
    local,
    rect,
)

ZONE_CRS = parse_crs("EPSG:4548")


def report_for(*features: dict[str, Any]) -> dict[str, Any]:
    planned = planned_grids(collection(*features), ZONE_CRS, COMMUNITY)
    community = community_geom()
    return build_report(community, current_grids(), planned, assets(), MetricFrame.around(community))


def areas(fc: dict[str, Any]) -> list[float]:
    """Areas of report shapes; they are cut on the 1 mm snapping grid, so exact to a few dm²."""
    return [f["properties"]["area_m2"] for f in fc["features"]]


def zone_xy(point: dict[str, Any]) -> tuple[float, float]:
    frame = MetricFrame(4548)
    moved = frame.to_metric(shapely.geometry.shape(point))
    return round(moved.x - 450_000, 3), round(moved.y - 3_430_000, 3)


def test_the_zone_is_the_one_the_report_picks() -> None:
    assert MetricFrame.around(community_geom()).epsg == 4548


def test_an_unchanged_proposal_is_clean_and_moves_nothing() -> None:
    report = report_for(feature(rect(0, 0, 200, 200), grid_code(1)), feature(rect(200, 0, 400, 200), grid_code(2)))
    assert report["ok"] is True
    assert report["validity"] == {"valid": True, "issues": []}
    cov = report["coverage"]
    assert cov["tiles_community"] and cov["edges_match"]
    for part in ("invalid_edges", "overlaps", "gaps", "outside", "slivers"):
        assert cov[part]["features"] == []
    rows = {r["grid"]: r for r in report["workload"]["grids"]}
    assert rows[grid_code(1)] | {} == {"grid": grid_code(1), "area_m2": 40000.0, "residents": 60, "households": 24,
                                       "buildings": 3, "stall_zones": 0, "cameras": 1, "cases_90d": 0}
    assert rows[grid_code(2)]["residents"] == 40 and rows[grid_code(2)]["cameras"] == 1
    assert report["workload"]["balance_before"] == report["workload"]["balance_after"]
    assert report["workload"]["balance_after"]["residents"]["max_min_ratio"] == 1.5
    assert report["workload"]["balance_after"]["residents"]["cv"] == 0.2
    assert report["impact"] == {"buildings": [], "cameras": [], "stall_zones": [], "open_cases": []}


def test_an_overlap() -> None:
    report = report_for(feature(rect(0, 0, 200, 200), grid_code(1)), feature(rect(190, 0, 400, 200), grid_code(2)))
    cov = report["coverage"]
    assert report["ok"] is False and report["validity"]["valid"] is True
    assert [f["properties"]["grids"] for f in cov["overlaps"]["features"]] == [[grid_code(1), grid_code(2)]]
    assert areas(cov["overlaps"]) == pytest.approx([2000.0], abs=0.5)
    assert cov["gaps"]["features"] == [] and cov["outside"]["features"] == []
    assert not cov["edges_match"] and {f["properties"]["grid"] for f in cov["invalid_edges"]["features"]} == {
        grid_code(1), grid_code(2)}
    # the building at x=195 is now in both; on the shared ground the first grid keeps it
    assert report["impact"]["buildings"] == []


def test_a_gap() -> None:
    report = report_for(feature(rect(0, 0, 200, 200), grid_code(1)), feature(rect(210, 0, 400, 200), grid_code(2)))
    cov = report["coverage"]
    assert report["ok"] is False
    assert areas(cov["gaps"]) == pytest.approx([2000.0], abs=0.5)
    assert cov["overlaps"]["features"] == [] and cov["outside"]["features"] == []
    assert cov["gaps"]["features"][0]["geometry"]["type"] == "Polygon"


def test_a_grid_poking_out_of_its_community() -> None:
    report = report_for(feature(rect(0, 0, 200, 200), grid_code(1)), feature(rect(200, 0, 420, 200), grid_code(2)))
    cov = report["coverage"]
    assert report["ok"] is False
    assert [f["properties"]["grid"] for f in cov["outside"]["features"]] == [grid_code(2)]
    assert areas(cov["outside"]) == pytest.approx([4000.0], abs=0.5)
    assert cov["gaps"]["features"] == [] and cov["overlaps"]["features"] == []


def test_a_bow_tie_is_reported_where_it_crosses_and_never_repaired() -> None:
    bow_tie = local(Polygon([(200, 0), (400, 200), (400, 0), (200, 200), (200, 0)]))
    report = report_for(feature(rect(0, 0, 200, 200), grid_code(1)), feature(bow_tie, grid_code(2)))
    issues = report["validity"]["issues"]
    assert report["ok"] is False and report["validity"]["valid"] is False
    assert [(i["grid"], i["reason"]) for i in issues] == [(grid_code(2), "Self-intersection")]
    assert zone_xy(issues[0]["location"]) == pytest.approx((300.0, 100.0), abs=0.02)  # crossing found in degrees
    # left out of coverage: its whole ground is a gap, and its work is nobody's
    assert areas(report["coverage"]["gaps"]) == pytest.approx([40000.0], abs=0.5)
    assert [r["grid"] for r in report["workload"]["grids"]] == [grid_code(1)]
    assert [(m["label"], m["from"], m["to"]) for m in report["impact"]["buildings"]] == [("b4", grid_code(2), None)]


def test_a_grid_with_a_hole() -> None:
    holed = local(Polygon([(0, 0), (200, 0), (200, 200), (0, 200)], [[(50, 50), (150, 50), (150, 150), (50, 150)]]))
    report = report_for(feature(holed, grid_code(1)), feature(rect(200, 0, 400, 200), grid_code(2)))
    cov = report["coverage"]
    assert report["validity"]["valid"] is True and report["ok"] is False
    assert areas(cov["gaps"]) == pytest.approx([10000.0], abs=0.5)
    # the buildings at (150,150) on the hole's rim stays; the camera at (100,100) falls in the gap
    assert [(m["label"], m["to"]) for m in report["impact"]["cameras"]] == [("c1", None)]
    filled = report_for(feature(holed, grid_code(1)), feature(rect(200, 0, 400, 200), grid_code(2)),
                        feature(rect(50, 50, 150, 150), None, "island"))
    assert filled["ok"] is True
    assert [(m["label"], m["from"], m["to"]) for m in filled["impact"]["cameras"]] == [("c1", grid_code(1), "new-3")]


def test_a_split_along_a_line() -> None:
    line = [[450_100.0, 3_429_990.0], [450_100.0, 3_430_210.0]]
    planned = apply_operations(current_grids(), [{"op": "split", "grid": grid_code(1), "line": line}], ZONE_CRS)
    assert [p.key for p in planned] == [grid_code(2), "new-1", "new-2"]
    community = community_geom()
    report = build_report(community, current_grids(), planned, assets(), MetricFrame.around(community))
    assert report["ok"] is True
    rows = sorted((r["area_m2"], r["residents"], r["buildings"]) for r in report["workload"]["grids"])
    assert rows == [(20000.0, 10, 1), (20000.0, 50, 2), (40000.0, 40, 1)]
    moved = sorted((m["label"], m["from"]) for m in report["impact"]["buildings"])
    assert moved == [("b1", grid_code(1)), ("b2", grid_code(1)), ("b3", grid_code(1))]
    # B does not touch the cut: it keeps its geometry bit for bit
    assert planned[0].geom.equals_exact(current_grids()[1].geom, 0)


def test_a_cut_that_meets_the_neighbour_gives_it_the_same_vertex() -> None:
    line = [[449_990.0, 3_430_100.0], [450_200.0, 3_430_100.0]]
    planned = apply_operations(current_grids(), [{"op": "split", "grid": grid_code(1), "line": line}], ZONE_CRS)
    b = next(p for p in planned if p.key == grid_code(2))
    assert len(shapely.get_coordinates(b.geom)) == 6  # the rectangle plus the cut's end on its edge
    community = community_geom()
    report = build_report(community, current_grids(), planned, assets(), MetricFrame.around(community))
    assert report["ok"] is True and report["coverage"]["edges_match"] is True


def test_merge_and_move_boundary() -> None:
    merged = apply_operations(current_grids(), [{"op": "merge", "grids": [grid_code(1), grid_code(2)]}], ZONE_CRS)
    assert [p.key for p in merged] == ["new-1"]
    assert shapely.equals(merged[0].geom, community_geom())
    line = [[450_250.0, 3_429_990.0], [450_250.0, 3_430_210.0]]
    moved = apply_operations(current_grids(), [
        {"op": "move_boundary", "grids": [grid_code(1), grid_code(2)], "line": line}], ZONE_CRS)
    community = community_geom()
    report = build_report(community, current_grids(), moved, assets(), MetricFrame.around(community))
    assert report["ok"] is True
    assert sorted((r["grid"], r["area_m2"]) for r in report["workload"]["grids"]) == [
        (grid_code(1), 50000.0), (grid_code(2), 30000.0)]


@pytest.mark.parametrize(("operations", "message"), [
    ([{"op": "split", "grid": grid_code(1), "line": [[450_050.0, 3_430_050.0], [450_060.0, 3_430_060.0]]}],
     "does not cut"),
    ([{"op": "split", "grid": grid_code(9), "line": [[0, 0], [1, 1]]}], "no grid"),
    ([{"op": "merge", "grids": [grid_code(1)]}], "two or more"),
    ([{"op": "explode"}], "op must be one of"),
    ([], "non-empty"),
    ([{"op": "split", "grid": grid_code(1), "line": [[float("nan"), 0], [1, 1]]}], "finite"),
])
def test_operations_that_cannot_apply(operations: list[Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        apply_operations(current_grids(), operations, ZONE_CRS)


@pytest.mark.parametrize(("document", "message"), [
    ({"type": "Feature"}, "FeatureCollection"),
    ({"type": "FeatureCollection", "features": []}, "no features"),
    (collection({"type": "Feature", "properties": {}, "geometry": {"type": "Point", "coordinates": [0, 0]}}),
     "Polygon or MultiPolygon"),
    (collection({"type": "Feature", "properties": {},
                 "geometry": {"type": "Polygon", "coordinates": [[[450000, 3430000], [450001, 3430000],
                                                                  [450000, 3430000]]]}}), "four or more"),
    (collection({"type": "Feature", "properties": {},
                 "geometry": {"type": "Polygon", "coordinates": [[["a", 1], [2, 2], [3, 3], ["a", 1]]]}}),
     "numbers"),
    (collection(feature(rect(0, 0, 1, 1), "123")), "15-digit"),
    (collection(feature(rect(0, 0, 1, 1), grid_code(1)), feature(rect(1, 1, 2, 2), grid_code(1))), "used by two"),
    (collection(*[feature(rect(0, 0, 1, 1))] * 501), "too many features"),
    (collection(feature(LineString([(0, 0), (1, 1)]))), "Polygon or MultiPolygon"),
])
def test_documents_that_are_refused(document: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        planned_grids(document, ZONE_CRS, COMMUNITY)


def test_too_many_vertices_are_refused() -> None:
    ring = [[450_000.0 + i * 0.01, 3_430_000.0] for i in range(100_001)] + [[450_000.0, 3_430_000.0]]
    doc = {"type": "FeatureCollection", "features": [
        {"type": "Feature", "properties": {}, "geometry": {"type": "Polygon", "coordinates": [ring]}}]}
    with pytest.raises(InvalidInput, match="too many vertices"):
        planned_grids(doc, ZONE_CRS, COMMUNITY)
