"""Do the proposed grids tile their community: overlaps, gaps, parts outside, slivers.

Everything runs in metres after snapping every vertex to a fixed grid
(:data:`PRECISION_M`), so floating-point dust from reprojection is not
reported as a gap, while a real gap of a few centimetres still is. The
overlay operations use the same grid size, so their results lie on it too.
Only valid polygons are checked here: GEOS's coverage functions assume
validity, and invalid ones are reported by :mod:`geo.planning.validity`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
import numpy as np
import shapely
from shapely.geometry import Polygon
from shapely.geometry.base import BaseGeometry

PRECISION_M = 0.01
"""Snapping grid: 1 cm, finer than any grid boundary is surveyed."""
NODE_TOLERANCE_M = PRECISION_M / 10
"""A grid node this close to the community's outline is taken to lie on it."""
DEFAULT_GAP_WIDTH_M = 1.0
"""Gaps narrower than this also mark the edges around them as invalid."""
DEFAULT_SLIVER_M2 = 100.0
"""A grid part (or gap, or overlap) smaller than this is a sliver."""


@dataclass
class Coverage:
    """What is wrong with a set of grids as a tiling of their community (metric shapes)."""

    valid_edges: bool
    invalid_edges: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    overlaps: list[tuple[tuple[str, str], BaseGeometry]] = field(default_factory=list)
    gaps: list[BaseGeometry] = field(default_factory=list)
    outside: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    slivers: list[tuple[str, BaseGeometry]] = field(default_factory=list)

    @property
    def tiles(self) -> bool:
        """True when the grids cover the community exactly, with matching edges."""
        return self.valid_edges and not (self.invalid_edges or self.overlaps or self.gaps or self.outside)


def snap(geoms: np.ndarray) -> np.ndarray:
    """Snap metric geometries to :data:`PRECISION_M` (valid input stays valid)."""
    return shapely.set_precision(geoms, PRECISION_M)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _with_grid_nodes(community: BaseGeometry, grids: np.ndarray) -> BaseGeometry:
    # Where a grid edge meets the community's outline, the grids have a node
    # that the outline lacks. Snapping both to the 1 cm grid would move that
    # node off the straight outline edge and open a centimetre-thin "gap"
    # hundreds of metres long. So the outline first takes, as vertices, the
    # grid nodes lying on it (within a tenth of the precision), which does
    # not move it by more than that.
    points = shapely.points(shapely.get_coordinates(grids))
    outline = shapely.boundary(community)
    shapely.prepare(outline)
    near = points[shapely.dwithin(outline, points, NODE_TOLERANCE_M)]
    if len(near) == 0:
        return community
    return shapely.snap(community, shapely.multipoints(near), NODE_TOLERANCE_M)


def _overlaps(keys: list[str], grids: np.ndarray) -> list[tuple[tuple[str, str], BaseGeometry]]:
    tree = shapely.STRtree(grids)
    left, right = tree.query(grids, predicate="intersects")
    found = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        shared = shapely.intersection(grids[a], grids[b], grid_size=PRECISION_M)
        parts = _polygons(shared)
        if parts:
            found.append(((keys[a], keys[b]), shapely.MultiPolygon(parts) if len(parts) > 1 else parts[0]))
    return found


def check_coverage(keys: list[str], grids: np.ndarray, community: BaseGeometry,
                   gap_width_m: float = DEFAULT_GAP_WIDTH_M,
                   sliver_m2: float = DEFAULT_SLIVER_M2) -> Coverage:
    """Check metric ``grids`` (valid polygons, one per key) against the metric ``community``.

    Gaps are the parts of the community no grid covers (a hole no other grid
    fills is one); ``outside`` lists, per grid, its parts beyond the
    community. Edges are compared by ``coverage_invalid_edges``: neighbours
    must share the very same vertices, and gaps narrower than
    ``gap_width_m`` mark their edges.
    """
    snapped = snap(np.asarray(grids, dtype=object))
    area = shapely.set_precision(_with_grid_nodes(community, grids), PRECISION_M)
    result = Coverage(valid_edges=bool(shapely.coverage_is_valid(snapped, gap_width=gap_width_m)))
    edges = shapely.coverage_invalid_edges(snapped, gap_width=gap_width_m)
    result.invalid_edges = [(k, e) for k, e in zip(keys, edges, strict=True) if not e.is_empty]
    result.overlaps = _overlaps(keys, snapped)
    covered = shapely.union_all(snapped, grid_size=PRECISION_M)
    result.gaps = _polygons(shapely.difference(area, covered, grid_size=PRECISION_M))
    for key, grid in zip(keys, snapped, strict=True):
        beyond = _polygons(shapely.difference(grid, area, grid_size=PRECISION_M))
        result.outside.extend((key, part) for part in beyond)
        result.slivers.extend((key, part) for part in _polygons(grid) if part.area < sliver_m2)
    return result
