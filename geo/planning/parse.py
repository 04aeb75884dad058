"""Read a proposal's FeatureCollection (any CRS wangge accepts) into :class:`PlannedGrid` s.

Input is checked, not repaired: a bow-tie stays a bow-tie so the report can
say where it crosses. What cannot even be built (a ring of three points,
non-numbers, NaN, a Point where a grid belongs) is refused as invalid input.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from shapely.geometry import MultiPolygon, Polygon

from geo.crs import Crs, CrsError, to_wgs84
from geo.planning.grids import MAX_FEATURES, MAX_VERTICES, PlannedGrid
from layers.errors import InvalidInput

_CODE_LENGTH = 15


class _VertexBudget:
    """Counts vertices as they are read so a huge body fails early."""

    def __init__(self, limit: int) -> None:
        self.left = limit

    def spend(self, count: int) -> None:
        self.left -= count
        if self.left < 0:
            raise InvalidInput(f"too many vertices: at most {MAX_VERTICES} in one proposal")


def position(value: Any, crs: Crs, where: str) -> tuple[float, float]:
    """One GeoJSON position in ``crs`` → WGS84 (lon, lat); InvalidInput when unusable."""
    if not isinstance(value, list | tuple) or len(value) not in (2, 3):
        raise InvalidInput(f"{where}: a position must be [x, y]")
    x, y = value[0], value[1]
    if isinstance(x, bool) or isinstance(y, bool) or not isinstance(x, int | float) \
            or not isinstance(y, int | float):
        raise InvalidInput(f"{where}: coordinates must be numbers")
    if not (math.isfinite(x) and math.isfinite(y)):
        raise InvalidInput(f"{where}: coordinates must be finite numbers")
    try:
        return to_wgs84(float(x), float(y), crs)
    except CrsError as exc:
        raise InvalidInput(f"{where}: {exc}") from None


def line_positions(value: Any, crs: Crs, where: str, budget: _VertexBudget | None = None,
                   ) -> np.ndarray:
    """A list of positions → an ``(n, 2)`` WGS84 array (at least two positions)."""
    if not isinstance(value, list) or len(value) < 2:
        raise InvalidInput(f"{where}: needs a list of at least two positions")
    (budget or _VertexBudget(MAX_VERTICES)).spend(len(value))
    return np.array([position(p, crs, f"{where}[{i}]") for i, p in enumerate(value)])


def _polygon(rings: Any, crs: Crs, where: str, budget: _VertexBudget) -> Polygon:
    if not isinstance(rings, list) or not rings:
        raise InvalidInput(f"{where}: a polygon needs at least an exterior ring")
    parsed = []
    for r, ring in enumerate(rings):
        coords = line_positions(ring, crs, f"{where}[{r}]", budget)
        if len(coords) < 4 or not np.array_equal(coords[0], coords[-1]):
            raise InvalidInput(f"{where}[{r}]: a ring needs four or more positions, first equal to last")
        parsed.append(coords)
    return Polygon(parsed[0], parsed[1:])


def grid_geometry(geometry: Any, crs: Crs, where: str, budget: _VertexBudget) -> Polygon | MultiPolygon:
    """A GeoJSON Polygon or MultiPolygon → shapely, in WGS84, unrepaired."""
    if not isinstance(geometry, dict):
        raise InvalidInput(f"{where}: a grid needs a Polygon or MultiPolygon geometry")
    kind, coords = geometry.get("type"), geometry.get("coordinates")
    if kind == "Polygon":
        return _polygon(coords, crs, where, budget)
    if kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise InvalidInput(f"{where}: a MultiPolygon needs at least one polygon")
        return MultiPolygon([_polygon(p, crs, f"{where}[{i}]", budget) for i, p in enumerate(coords)])
    raise InvalidInput(f"{where}: grids must be Polygon or MultiPolygon, not {str(kind)[:30]!r}")


def _text(properties: dict[str, Any], name: str, limit: int = 200) -> str:
    value = properties.get(name)
    if value is None:
        return ""
    if not isinstance(value, str | int):
        raise InvalidInput(f"property {name!r} must be text")
    return str(value)[:limit]


def planned_grids(document: Any, crs: Crs, community_code: str) -> list[PlannedGrid]:
    """Parse a FeatureCollection of a community's new grids.

    A feature may carry ``properties.code``: the 15-digit code of a grid of
    this community that it reshapes. Codes must be unique in the proposal.
    Raises :class:`InvalidInput` for anything that is not such a collection.
    """
    if not isinstance(document, dict) or document.get("type") != "FeatureCollection":
        raise InvalidInput("expected a GeoJSON FeatureCollection (or {'operations': [...]})")
    features = document.get("features")
    if not isinstance(features, list) or not features:
        raise InvalidInput("the FeatureCollection has no features")
    if len(features) > MAX_FEATURES:
        raise InvalidInput(f"too many features: at most {MAX_FEATURES} grids in one proposal")
    budget = _VertexBudget(MAX_VERTICES)
    grids: list[PlannedGrid] = []
    seen: set[str] = set()
    for i, item in enumerate(features):
        where = f"features[{i}]"
        if not isinstance(item, dict) or item.get("type") != "Feature":
            raise InvalidInput(f"{where}: not a GeoJSON Feature")
        properties = item.get("properties") or {}
        if not isinstance(properties, dict):
            raise InvalidInput(f"{where}: properties must be an object")
        code = _text(properties, "code") or None
        if code is not None:
            if len(code) != _CODE_LENGTH or not code.isdigit() or not code.startswith(community_code):
                raise InvalidInput(f"{where}: code must be a 15-digit grid code of community {community_code}")
            if code in seen:
                raise InvalidInput(f"{where}: code {code} is used by two features")
            seen.add(code)
        geom = grid_geometry(item.get("geometry"), crs, f"{where}.geometry", budget)
        key = code or f"new-{i + 1}"
        grids.append(PlannedGrid(key, code, _text(properties, "name") or key, geom,
                                 _text(properties, "worker_name"), _text(properties, "worker_phone")))
    return grids
