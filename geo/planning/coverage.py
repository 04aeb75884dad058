"""Do the proposed grids tile their community: overlaps, gaps, parts outside, slivers.

The topology is checked in WGS84, the frame the store keeps, because that
is where an edge is a straight line: a node that lies on a community edge
in degrees is a few millimetres off it in Gauss-Krüger metres over a few
hundred metres, which a metric check would call a gap. Every vertex is first
snapped to a fixed grid (:data:`PRECISION_DEG`, about 1 mm) so floating-point
dust is not reported while a real gap of a centimetre still is; the
overlay operations use the same grid. Areas and widths are measured in
metres (:class:`~geo.planning.metric.MetricFrame`). Only valid polygons are
checked here: GEOS's coverage functions assume validity, and invalid ones
are reported by :mod:`geo.planning.validity`.

Before any of that, the grids are conformed to the area's outline within a
tolerance in metres (:data:`DEFAULT_SNAP_M`, :mod:`geo.planning.snapping`),
so grids that went out as rounded GeoJSON and came back are judged as what
they were, while a real gap, overlap or piece outside (a metre, not
millimetres) is still found.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import shapely
from shapely.geometry import MultiPolygon, Polygon
from shapely.geometry.base import BaseGeometry

from geo.planning.metric import MetricFrame
from geo.planning.snapping import conform
from geo.planning.tolerance import DEFAULT_SNAP_M

PRECISION_DEG = 1e-8
"""Snapping grid: 1e-8 degree, about 1 mm; finer than any grid boundary is surveyed."""
NODE_TOLERANCE_DEG = PRECISION_DEG / 10
"""A grid node this close to the community's outline is taken to lie on it."""
METRES_PER_DEGREE = 111_320.0
"""Of latitude; a degree of longitude is shorter, so widths in degrees err on the wide side."""
DEFAULT_GAP_WIDTH_M = 1.0
"""Gaps narrower than this also mark the edges around them as invalid."""
DEFAULT_SLIVER_M2 = 100.0
"""A grid part (or gap, or overlap) smaller than this is a sliver."""


@dataclass
class Coverage:
    """What is wrong with a set of grids as a tiling of their community (WGS84 shapes)."""

    valid_edges: bool
    grids: list[BaseGeometry] = field(default_factory=list)
    """The grids as checked: conformed within the snapping tolerance, in the order given."""
    invalid_edges: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    overlaps: list[tuple[tuple[str, str], BaseGeometry]] = field(default_factory=list)
    gaps: list[BaseGeometry] = field(default_factory=list)
    outside: list[tuple[str, BaseGeometry]] = field(default_factory=list)
    slivers: list[tuple[str, BaseGeometry]] = field(default_factory=list)

    @property
    def tiles(self) -> bool:
        """True when the grids cover the community exactly, with matching edges."""
        problems = self.invalid_edges or self.overlaps or self.gaps or self.outside
        return self.valid_edges and not problems


def snap(geoms: np.ndarray) -> np.ndarray:
    """Snap WGS84 geometries to :data:`PRECISION_DEG` (valid input stays valid)."""
    return shapely.set_precision(geoms, PRECISION_DEG)


def _polygons(geom: BaseGeometry) -> list[Polygon]:
    return [p for p in shapely.get_parts(geom) if isinstance(p, Polygon) and not p.is_empty]


def _with_grid_nodes(community: BaseGeometry, grids: np.ndarray) -> BaseGeometry:
    # Where a grid edge meets the community's outline, the grids have a node
    # the outline lacks. Snapping both to the 1 cm grid would move that node
    # off the straight outline edge and open a centimetre-thin "gap" hundreds
    # of metres long. So the outline first takes, as vertices, the grid
    # nodes lying on it (within a tenth of the precision), which moves it by
    # no more than that.
    points = shapely.points(shapely.get_coordinates(grids))
    outline = shapely.boundary(community)
    shapely.prepare(outline)
    near = points[shapely.dwithin(outline, points, NODE_TOLERANCE_DEG)]
    if len(near) == 0:
        return community
    return shapely.snap(community, shapely.multipoints(near), NODE_TOLERANCE_DEG)


def _overlaps(keys: list[str], grids: np.ndarray) -> list[tuple[tuple[str, str], BaseGeometry]]:
    tree = shapely.STRtree(grids)
    left, right = tree.query(grids, predicate="intersects")
    found = []
    for a, b in zip(left.tolist(), right.tolist(), strict=True):
        if a >= b:
            continue
        parts = _polygons(shapely.intersection(grids[a], grids[b], grid_size=PRECISION_DEG))
        if parts:
            found.append(((keys[a], keys[b]), parts[0] if len(parts) == 1 else MultiPolygon(parts)))
    return found


def check_coverage(keys: list[str], grids: np.ndarray, community: BaseGeometry, frame: MetricFrame,
                   gap_width_m: float = DEFAULT_GAP_WIDTH_M,
                   sliver_m2: float = DEFAULT_SLIVER_M2, *, snap_m: float = DEFAULT_SNAP_M,
                   anchors: Sequence[BaseGeometry] | np.ndarray = ()) -> Coverage:
    """Check WGS84 ``grids`` (valid polygons, one per key) against the WGS84 ``community``.

    ``community`` is any parent area (a district for its streets, a street
    for its communities). The grids are first conformed to its outline, and
    to the vertices and edges of ``anchors`` (today's grids, when there are
    any), within ``snap_m`` metres; 0 checks them as given. The conformed
    shapes are in ``Coverage.grids``: store those, and the parent's outline
    stays exactly tiled.

    Gaps are the parts of the community no grid covers (a hole no other grid
    fills is one); ``outside`` lists, per grid, its parts beyond the
    community. Edges are compared by ``coverage_invalid_edges``: neighbours
    must share the very same vertices, and gaps narrower than
    ``gap_width_m`` mark their edges. ``slivers`` are grid parts whose area
    in ``frame`` is below ``sliver_m2``.
    """
    conformed = conform(grids, community, snap_m, anchors)
    snapped = snap(conformed)
    area = shapely.set_precision(_with_grid_nodes(community, conformed), PRECISION_DEG)
    gap_width = gap_width_m / METRES_PER_DEGREE
    # GEOS takes two outer edges closer than gap_width for a narrow gap, even
    # when what lies between them is a notch of the community's own outline.
    # With the world around the community added as one more polygon, outer
    # edges become shared ones and only gaps inside the community count.
    surround = shapely.difference(shapely.box(*shapely.buffer(shapely.envelope(area), 1e-3).bounds), area)
    with_surround = np.append(snapped, [shapely.set_precision(surround, PRECISION_DEG)])
    result = Coverage(valid_edges=bool(shapely.coverage_is_valid(with_surround, gap_width=gap_width)),
                      grids=list(conformed))
    edges = shapely.coverage_invalid_edges(with_surround, gap_width=gap_width)[:-1]
    result.invalid_edges = [(k, e) for k, e in zip(keys, edges, strict=True) if not e.is_empty]
    result.overlaps = _overlaps(keys, snapped)
    covered = shapely.union_all(snapped, grid_size=PRECISION_DEG)
    result.gaps = _polygons(shapely.difference(area, covered, grid_size=PRECISION_DEG))
    for key, grid in zip(keys, snapped, strict=True):
        beyond = _polygons(shapely.difference(grid, area, grid_size=PRECISION_DEG))
        result.outside.extend((key, part) for part in beyond)
        parts = _polygons(grid)
        small = [p for p, a in zip(parts, area_m2(frame, parts), strict=True) if a < sliver_m2]
        result.slivers.extend((key, part) for part in small)
    return result


def area_m2(frame: MetricFrame, geoms: list[BaseGeometry] | np.ndarray) -> list[float]:
    """Areas in square metres of WGS84 geometries, measured in ``frame``."""
    if len(geoms) == 0:
        return []
    metric = frame.to_metric(np.asarray(geoms, dtype=object))
    return [float(a) for a in shapely.area(metric)]
