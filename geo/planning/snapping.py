"""Bring grids that left wangge and came back onto the vertices the store holds.

Grids go out as GeoJSON rounded to 7 decimals (``/collections/grids/items``,
``/communities/{code}/grids``, ``wangge export``) and come back from QGIS, a
script or the planner map. Rounding moves each vertex by up to half a unit
of the 7th decimal: 0.5e-7° is 5.6 mm of latitude (less of longitude), so a
vertex is at most about 7 mm from where it was. Neighbours still share their
rounded vertices, but the outline of the community, compared at full
precision, no longer matches, and an external split adds a vertex on a
neighbour's edge that the neighbour lacks.

:func:`conform` undoes that within one tolerance in metres (the
``WANGGE_SNAP_TOLERANCE_M`` setting):

1. a vertex within the tolerance of a reference vertex (the outline's, or
   one of today's grids') becomes that vertex, the nearest one;
2. else, within the tolerance of a reference edge, it moves onto the edge
   (so an edge split in an external tool stays straight where it was);
3. else, vertices within the tolerance of each other become one;
4. finally every vertex lying on another grid's edge (or the outline's) is
   inserted into that edge, so neighbours share the very same vertices.

Distances are measured in a local equirectangular frame (metres per degree
at the outline's latitude): within one community its scale errs by far less
than a tolerance of centimetres matters, and being affine it keeps a point
moved onto an edge on that edge in degrees too, where the store draws its
straight lines. A grid that conforming would make invalid keeps its own
vertices (the report then shows what is wrong with it); a grid that only
rounding made invalid comes back valid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import shapely
from shapely.geometry.base import BaseGeometry

METRES_PER_DEGREE_LAT = 110_574.0
METRES_PER_DEGREE_LON_EQUATOR = 111_320.0
NODE_TOLERANCE_DEG = 1e-9
"""About 0.1 mm: how close a vertex must lie to an edge to be inserted into it (after step 2 it is on it)."""


def metres_scale(around: BaseGeometry) -> np.ndarray:
    """Metres per degree of longitude and latitude at the centre of ``around`` (WGS84)."""
    lat = around.envelope.centroid.y
    return np.array([METRES_PER_DEGREE_LON_EQUATOR * math.cos(math.radians(lat)), METRES_PER_DEGREE_LAT])


def conform(geoms: Sequence[BaseGeometry] | np.ndarray, outline: BaseGeometry, snap_m: float,
            anchors: Sequence[BaseGeometry] | np.ndarray = ()) -> np.ndarray:
    """``geoms`` (WGS84 polygons) snapped to ``outline`` and ``anchors`` within ``snap_m`` metres.

    ``outline`` is the area the grids should tile; ``anchors`` are shapes
    whose vertices and edges count as well (today's grids of a community).
    With ``snap_m`` 0 or less the grids come back unchanged. Returns a new
    object array in the order of ``geoms``.
    """
    original = np.asarray(geoms, dtype=object)
    if snap_m <= 0 or len(original) == 0:
        return original.copy()
    scale = metres_scale(outline)
    references = np.asarray([outline, *anchors], dtype=object)
    coords = shapely.get_coordinates(original)
    unique, inverse = np.unique(coords, axis=0, return_inverse=True)
    moved = _snapped_points(unique, references, scale, snap_m)
    out = shapely.set_coordinates(original.copy(), moved[inverse.reshape(-1)])
    out = _noded(np.asarray(shapely.remove_repeated_points(out, 0.0), dtype=object),
                 shapely.get_coordinates(outline))
    keep = ~shapely.is_valid(out) & shapely.is_valid(original)
    out[keep] = original[keep]
    return out


def _snapped_points(points: np.ndarray, references: np.ndarray, scale: np.ndarray, snap_m: float,
                    ) -> np.ndarray:
    out = points.copy()
    scaled = shapely.points(points * scale)
    free = np.ones(len(points), dtype=bool)
    # 1. onto the nearest reference vertex
    ref_xy = np.unique(shapely.get_coordinates(references), axis=0)
    tree = shapely.STRtree(shapely.points(ref_xy * scale))
    hit, ref = tree.query_nearest(scaled, max_distance=snap_m, all_matches=False)
    out[hit] = ref_xy[ref]
    free[hit] = False
    # 2. onto the nearest reference edge
    lines = shapely.get_parts(shapely.boundary(references))
    lines = shapely.transform(lines, lambda xy: xy * scale)
    loose = np.flatnonzero(free)
    hit, line = shapely.STRtree(lines).query_nearest(scaled[loose], max_distance=snap_m, all_matches=False)
    if len(hit):
        on = shapely.line_interpolate_point(lines[line], shapely.line_locate_point(lines[line], scaled[loose[hit]]))
        out[loose[hit]] = shapely.get_coordinates(on) / scale
        free[loose[hit]] = False
    # 3. the rest onto each other (first of a cluster wins)
    loose = np.flatnonzero(free)
    if len(loose) > 1:
        rest = scaled[loose]
        left, right = shapely.STRtree(rest).query(rest, predicate="dwithin", distance=snap_m)
        leader = np.arange(len(loose))
        for a, b in sorted(zip(left.tolist(), right.tolist(), strict=True)):
            if a < b and leader[b] == b:
                leader[b] = leader[a]
        out[loose] = out[loose[leader]]
    return out


def _noded(geoms: np.ndarray, outline_xy: np.ndarray) -> np.ndarray:
    vertices = np.unique(np.concatenate([shapely.get_coordinates(geoms), outline_xy]), axis=0)
    tree = shapely.STRtree(shapely.points(vertices))
    out = geoms.copy()
    for i, geom in enumerate(geoms):
        near = tree.query(geom, predicate="dwithin", distance=NODE_TOLERANCE_DEG)
        own = {tuple(xy) for xy in shapely.get_coordinates(geom).tolist()}
        extra = [vertices[n] for n in near.tolist() if tuple(vertices[n].tolist()) not in own]
        if extra:
            try:
                out[i] = shapely.snap(geom, shapely.multipoints(extra), NODE_TOLERANCE_DEG)
            except shapely.errors.GEOSException:
                continue  # an invalid drawing GEOS cannot snap: it is reported as drawn
    return out
