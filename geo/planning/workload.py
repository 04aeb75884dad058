"""What each grid holds: residents, households, buildings, stall zones, cameras, recent cases.

Assets are WGS84 points (a building by its centroid, a stall zone by a point
on its surface), tested against the grids in the frame the store uses. A
point on an edge shared by two grids counts for the first grid in the given
order only, as locate gives it to one grid too.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import shapely

METRICS = ("residents", "households", "buildings", "stall_zones", "cameras", "cases_90d")


@dataclass
class AssetPoints:
    """One kind of asset: ids, labels, WGS84 lon/lat positions and optional weights."""

    ids: np.ndarray
    labels: list[str]
    lonlat: np.ndarray
    weights: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> AssetPoints:
        """No assets of this kind."""
        return cls(np.empty(0, dtype=np.int64), [], np.empty((0, 2)))

    def __len__(self) -> int:
        return len(self.ids)


@dataclass
class Assets:
    """Everything the workload and impact sections count, in one community."""

    buildings: AssetPoints
    cameras: AssetPoints
    stall_zones: AssetPoints
    recent_cases: AssetPoints
    """Cases of the last 90 days (any status but duplicate)."""
    open_cases: AssetPoints
    """Cases not yet closed, rejected or marked duplicate: they move with their grid."""


def assign(points: np.ndarray, grids: np.ndarray) -> np.ndarray:
    """Index of the grid covering each point (the lowest on a shared edge), -1 when none."""
    result = np.full(len(points), len(grids), dtype=np.int64)
    if len(points) and len(grids):
        tree = shapely.STRtree(grids)
        hit_point, hit_grid = tree.query(shapely.points(points), predicate="intersects")
        np.minimum.at(result, hit_point, hit_grid)
    result[result == len(grids)] = -1
    return result


def workload(assets: Assets, grids: np.ndarray) -> list[dict[str, int]]:
    """Per grid (in order), the count or sum of each of :data:`METRICS`."""
    rows = [dict.fromkeys(METRICS, 0) for _ in range(len(grids))]
    b = assign(assets.buildings.lonlat, grids)
    for metric, values in (("residents", assets.buildings.weights.get("residents")),
                           ("households", assets.buildings.weights.get("households")),
                           ("buildings", None)):
        sums = _sum_by(b, len(grids), values)
        for row, total in zip(rows, sums, strict=True):
            row[metric] = int(total)
    for metric, kind in (("stall_zones", assets.stall_zones), ("cameras", assets.cameras),
                         ("cases_90d", assets.recent_cases)):
        sums = _sum_by(assign(kind.lonlat, grids), len(grids), None)
        for row, total in zip(rows, sums, strict=True):
            row[metric] = int(total)
    return rows


def _sum_by(owner: np.ndarray, groups: int, values: np.ndarray | None) -> np.ndarray:
    inside = owner >= 0
    weights = None if values is None else values[inside]
    return np.bincount(owner[inside], weights=weights, minlength=groups)[:groups]


def balance(rows: list[dict[str, int]]) -> dict[str, dict[str, Any]]:
    """Per metric: max/min ratio (null when some grid has none) and coefficient of variation.

    The coefficient of variation is the population standard deviation over
    the mean, null when the mean is zero. Both are null for no grids.
    """
    result: dict[str, dict[str, Any]] = {}
    for metric in METRICS:
        values = np.array([row[metric] for row in rows], dtype=float)
        if len(values) == 0:
            result[metric] = {"max_min_ratio": None, "cv": None}
            continue
        low, high, mean = values.min(), values.max(), values.mean()
        ratio = None if low <= 0 else round(float(high / low), 4)
        cv = None if mean == 0 else round(float(values.std() / mean), 4)
        result[metric] = {"max_min_ratio": ratio, "cv": cv,
                          "min": _number(low), "max": _number(high), "mean": round(float(mean), 2)}
    return result


def _number(value: float) -> int | float:
    return int(value) if math.isfinite(value) and value == int(value) else round(value, 2)
