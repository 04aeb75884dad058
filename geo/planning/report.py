"""The report on a proposal: validity, coverage, workload with balance, impact.

This is the whole answer a planner sees before publishing. ``ok`` is true
only when every polygon is valid and the grids tile the community exactly;
slivers and grids in several parts are warnings that do not block.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.planning.coverage import DEFAULT_GAP_WIDTH_M, DEFAULT_SLIVER_M2, Coverage, check_coverage
from geo.planning.geojson import feature, feature_collection
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.impact import impact
from geo.planning.metric import MetricFrame
from geo.planning.validity import validity_issues
from geo.planning.workload import Assets, balance, workload


@dataclass(frozen=True)
class ReportOptions:
    """Thresholds of the coverage check, in metres and square metres."""

    gap_width_m: float = DEFAULT_GAP_WIDTH_M
    sliver_m2: float = DEFAULT_SLIVER_M2


def _area(geom: BaseGeometry) -> float:
    return round(float(geom.area), 2)


def _coverage_json(cov: Coverage, frame: MetricFrame, sliver_m2: float) -> dict[str, Any]:
    def out(geom: BaseGeometry) -> BaseGeometry:
        return frame.to_wgs84(geom)  # type: ignore[return-value]

    return {
        "tiles_community": cov.tiles,
        "edges_match": cov.valid_edges,
        "invalid_edges": feature_collection(
            [feature(out(e), {"grid": k, "length_m": round(float(e.length), 2)}) for k, e in cov.invalid_edges]),
        "overlaps": feature_collection(
            [feature(out(g), {"grids": list(pair), "area_m2": _area(g), "sliver": g.area < sliver_m2})
             for pair, g in cov.overlaps]),
        "gaps": feature_collection(
            [feature(out(g), {"area_m2": _area(g), "sliver": g.area < sliver_m2}) for g in cov.gaps]),
        "outside": feature_collection(
            [feature(out(g), {"grid": k, "area_m2": _area(g)}) for k, g in cov.outside]),
        "slivers": feature_collection(
            [feature(out(g), {"grid": k, "area_m2": _area(g)}) for k, g in cov.slivers]),
    }


def _warnings(planned: list[PlannedGrid], cov: Coverage) -> list[str]:
    notes = [f"grid {k} has a part of {_area(g)} m², below the sliver area" for k, g in cov.slivers]
    for grid in planned:
        parts = shapely.get_num_geometries(grid.geom)
        if parts > 1:
            notes.append(f"grid {grid.key} is in {parts} separate parts")
    return notes


def build_report(community: BaseGeometry, current: list[CurrentGrid], planned: list[PlannedGrid],
                 assets: Assets, frame: MetricFrame, options: ReportOptions | None = None,
                 ) -> dict[str, Any]:
    """Report on ``planned`` as the new grids of ``community`` (all WGS84; ``assets`` metric).

    Invalid polygons are left out of coverage, workload and impact (their
    area counts as a gap) and listed under ``validity``.
    """
    options = options or ReportOptions()
    issues = validity_issues(planned)
    invalid = {issue.grid for issue in issues}
    checked = [g for g in planned if g.key not in invalid]
    keys = [g.key for g in checked]
    after = np.asarray(frame.to_metric(np.array([g.geom for g in checked], dtype=object)), dtype=object)
    before = np.asarray(frame.to_metric(np.array([g.geom for g in current], dtype=object)), dtype=object)
    area = frame.to_metric(community)
    cov = check_coverage(keys, after, area, options.gap_width_m, options.sliver_m2)
    rows_before = workload(assets, before)
    rows_after = workload(assets, after)
    return {
        "ok": not issues and cov.tiles,
        "grids": len(planned),
        "metric_crs": f"EPSG:{frame.epsg}",
        "precision_m": 0.01,
        "validity": {"valid": not issues, "issues": [i.as_json() for i in issues]},
        "coverage": _coverage_json(cov, frame, options.sliver_m2),
        "warnings": _warnings(checked, cov),
        "workload": {
            "grids": [{"grid": k, "area_m2": _area(g), **row}
                      for k, g, row in zip(keys, after, rows_after, strict=True)],
            "balance_before": balance(rows_before),
            "balance_after": balance(rows_after),
        },
        "impact": impact(assets, before, [g.code for g in current], after, keys),
    }
