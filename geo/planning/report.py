"""The report on a proposal: validity, coverage, workload with balance, impact.

This is the whole answer a planner sees before publishing. ``ok`` is true
only when every polygon is valid and the grids tile the community exactly;
slivers and grids in several parts are warnings that do not block. The
grids are judged (and stored, and published) as conformed to the community
and today's grids within the snapping tolerance (:mod:`geo.planning.snapping`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

from geo.planning.coverage import (
    DEFAULT_GAP_WIDTH_M,
    DEFAULT_SLIVER_M2,
    DEFAULT_SNAP_M,
    PRECISION_DEG,
    Coverage,
    area_m2,
    check_coverage,
)
from geo.planning.geojson import feature, feature_collection
from geo.planning.grids import CurrentGrid, PlannedGrid
from geo.planning.impact import impact
from geo.planning.metric import MetricFrame
from geo.planning.snapping import conform
from geo.planning.validity import validity_issues
from geo.planning.workload import Assets, balance, workload
from layers.planning import same_grid


@dataclass(frozen=True)
class ReportOptions:
    """Thresholds of the coverage check, in metres and square metres, and the snapping tolerance."""

    gap_width_m: float = DEFAULT_GAP_WIDTH_M
    sliver_m2: float = DEFAULT_SLIVER_M2
    snap_m: float = DEFAULT_SNAP_M


def _areas(frame: MetricFrame, shapes: list[BaseGeometry]) -> list[float]:
    return [round(a, 2) for a in area_m2(frame, shapes)]


def _coverage_json(cov: Coverage, frame: MetricFrame, sliver_m2: float) -> dict[str, Any]:
    edge_lengths = [float(shapely.length(e)) for e in frame.to_metric(
        np.asarray([e for _, e in cov.invalid_edges], dtype=object))]
    overlap_areas = _areas(frame, [g for _, g in cov.overlaps])
    gap_areas = _areas(frame, cov.gaps)
    return {
        "tiles_community": cov.tiles,
        "edges_match": cov.valid_edges,
        "invalid_edges": feature_collection(
            [feature(e, {"grid": k, "length_m": round(n, 2)})
             for (k, e), n in zip(cov.invalid_edges, edge_lengths, strict=True)]),
        "overlaps": feature_collection(
            [feature(g, {"grids": list(pair), "area_m2": a, "sliver": a < sliver_m2})
             for (pair, g), a in zip(cov.overlaps, overlap_areas, strict=True)]),
        "gaps": feature_collection(
            [feature(g, {"area_m2": a, "sliver": a < sliver_m2}) for g, a in zip(cov.gaps, gap_areas, strict=True)]),
        "outside": feature_collection(
            [feature(g, {"grid": k, "area_m2": a})
             for (k, g), a in zip(cov.outside, _areas(frame, [g for _, g in cov.outside]), strict=True)]),
        "slivers": feature_collection(
            [feature(g, {"grid": k, "area_m2": a})
             for (k, g), a in zip(cov.slivers, _areas(frame, [g for _, g in cov.slivers]), strict=True)]),
    }


def _warnings(planned: list[PlannedGrid], cov: Coverage, frame: MetricFrame) -> list[str]:
    sliver_areas = _areas(frame, [g for _, g in cov.slivers])
    notes = [f"grid {k} has a part of {a} m², below the sliver area"
             for (k, _), a in zip(cov.slivers, sliver_areas, strict=True)]
    for grid in planned:
        parts = shapely.get_num_geometries(grid.geom)
        if parts > 1:
            notes.append(f"grid {grid.key} is in {parts} separate parts")
    return notes


def conformed_grids(community: BaseGeometry, current: list[CurrentGrid], planned: list[PlannedGrid],
                    snap_m: float) -> list[PlannedGrid]:
    """``planned`` with each geometry conformed to ``community`` and ``current`` within ``snap_m`` metres.

    A grid that keeps its code and is the one in force within the tolerance
    (:func:`layers.planning.same_grid`) is taken as stored, whole: even 6
    decimals, which can merge two stored vertices a few centimetres apart,
    then come back exactly.
    """
    by_code = {g.code: g.geom for g in current}
    # first, so that conforming can still give a kept grid the vertex of a neighbour's new edge
    kept = [by_code[g.code] if g.code in by_code and same_grid(g.geom, by_code[g.code], snap_m) else g.geom
            for g in planned]
    geoms = conform(kept, community, snap_m, list(by_code.values()))
    return [replace(g, geom=geom) for g, geom in zip(planned, geoms, strict=True)]


def check_proposal(community: BaseGeometry, current: list[CurrentGrid], planned: list[PlannedGrid],
                   assets: Assets, frame: MetricFrame, options: ReportOptions | None = None,
                   ) -> tuple[list[PlannedGrid], dict[str, Any]]:
    """The grids as conformed (what would be stored and published) and the report on them.

    Invalid polygons are left out of coverage, workload and impact (their
    area counts as a gap) and listed under ``validity``.
    """
    options = options or ReportOptions()
    planned = conformed_grids(community, current, planned, options.snap_m)
    issues = validity_issues(planned)
    invalid = {issue.grid for issue in issues}
    checked = [g for g in planned if g.key not in invalid]
    keys = [g.key for g in checked]
    after = np.array([g.geom for g in checked], dtype=object)
    before = np.array([g.geom for g in current], dtype=object)
    # already conformed, with today's grids as anchors: check them as they are
    cov = check_coverage(keys, after, community, frame, options.gap_width_m, options.sliver_m2, snap_m=0.0)
    rows_before = workload(assets, before)
    rows_after = workload(assets, after)
    return planned, {
        "ok": not issues and cov.tiles,
        "grids": len(planned),
        "metric_crs": f"EPSG:{frame.epsg}",
        "precision_deg": PRECISION_DEG,
        "snap_tolerance_m": options.snap_m,
        "validity": {"valid": not issues, "issues": [i.as_json() for i in issues]},
        "coverage": _coverage_json(cov, frame, options.sliver_m2),
        "warnings": _warnings(checked, cov, frame),
        "workload": {
            "grids": [{"grid": k, "area_m2": a, **row}
                      for k, a, row in zip(keys, _areas(frame, list(after)), rows_after, strict=True)],
            "balance_before": balance(rows_before),
            "balance_after": balance(rows_after),
        },
        "impact": impact(assets, before, [g.code for g in current], after, keys),
    }


def build_report(community: BaseGeometry, current: list[CurrentGrid], planned: list[PlannedGrid],
                 assets: Assets, frame: MetricFrame, options: ReportOptions | None = None,
                 ) -> dict[str, Any]:
    """Report on ``planned`` as the new grids of ``community`` (all WGS84, ``assets`` too)."""
    return check_proposal(community, current, planned, assets, frame, options)[1]
