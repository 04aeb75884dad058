"""Locate in memory: the current grids in a shapely STRtree, same answers as the SQL.

The SQL locate (``layers.territory``) is one indexed query, but on a small
machine the round trip and the driver cost more than the lookup; this index
answers from memory and is rebuilt whenever the grids change (the API
reloads it on the grid layer's change notice). It follows the SQL's rules
exactly: a point covered by several grids (on an edge or vertex) goes to the
lowest code; the neighbour is the nearest other grid within ``near_m``,
ties by code.

Distances to neighbours are measured in a local tangent plane at the point,
scaled by the WGS84 radii of curvature there: for the few metres that
matter here this agrees with the geodesic to well under a millimetre.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import shapely
from shapely import wkb

from layers.territory import Place, box_degrees

_A = 6_378_137.0  # WGS84 semi-major axis
_E2 = 6.694_379_990_14e-3  # WGS84 first eccentricity squared


def metres_per_degree(lat: float) -> tuple[float, float]:
    """Metres per degree of longitude and of latitude at ``lat`` on the WGS84 ellipsoid."""
    phi = math.radians(lat)
    w = math.sqrt(1 - _E2 * math.sin(phi) ** 2)
    prime_vertical = _A / w
    meridional = _A * (1 - _E2) / w**3
    return math.radians(1) * prime_vertical * math.cos(phi), math.radians(1) * meridional


class GridIndex:
    """The current grids, indexed; built from :func:`layers.territory.current_grids` rows."""

    def __init__(self, rows: Sequence[dict[str, Any]]) -> None:
        ordered = sorted(rows, key=lambda r: r["grid_code"])
        self._places = [{k: v for k, v in r.items() if k != "wkb"} for r in ordered]
        self._geoms = np.array([wkb.loads(bytes(r["wkb"])) for r in ordered], dtype=object)
        shapely.prepare(self._geoms)
        self._boundaries = shapely.boundary(self._geoms)
        shapely.prepare(self._boundaries)
        self._tree = shapely.STRtree(self._geoms)

    def __len__(self) -> int:
        return len(self._places)

    def locate(self, lon: float, lat: float, near_m: float) -> Place | None:
        """The place of the WGS84 point, or None outside every grid."""
        point = shapely.Point(lon, lat)
        hits = self._tree.query(point)  # grids whose box holds the point
        if len(hits) == 0:
            return None
        hits.sort()  # rows are in code order: the first covering one has the lowest code
        covering = hits[shapely.covers(self._geoms[hits], point)]
        if len(covering) == 0:
            return None
        own = int(covering[0])
        box = box_degrees(lat, near_m)
        extra: dict[str, Any] = {"neighbour_code": None, "neighbour_name": None, "distance_m": None}
        # another grid can be near only if the point is near its own grid's
        # edge; most points are not, and skip the neighbour search
        if len(covering) > 1 or shapely.dwithin(self._boundaries[own], point, box):
            near = self._tree.query(point, predicate="dwithin", distance=box)
            neighbour, distance = self._nearest_other(point, [int(i) for i in near if i != own], near_m)
            if neighbour is not None:
                extra = {"neighbour_code": self._places[neighbour]["grid_code"],
                         "neighbour_name": self._places[neighbour]["grid_name"], "distance_m": distance}
        return Place(**self._places[own], **extra)

    def _nearest_other(self, point: shapely.Point, others: list[int], near_m: float) -> tuple[int | None, float]:
        if not others:
            return None, 0.0
        kx, ky = metres_per_degree(point.y)
        x0, y0 = point.x, point.y

        def local(xy: np.ndarray) -> np.ndarray:
            return np.column_stack(((xy[:, 0] - x0) * kx, (xy[:, 1] - y0) * ky))

        origin = shapely.Point(0, 0)
        best: tuple[float, str, int] | None = None
        for i in others:
            metres = shapely.distance(origin, shapely.transform(self._geoms[i], local))
            key = (float(metres), self._places[i]["grid_code"], i)
            if metres <= near_m and (best is None or key < best):
                best = key
        return (best[2], best[0]) if best else (None, 0.0)
