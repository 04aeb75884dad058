"""Coordinates for display: stored WGS84 geometry shifted to a GCJ-02 basemap, and live GeoJSON.

A basemap drawn in GCJ-02 (AMap- or Tencent-style tiles) puts every WGS84
overlay several hundred metres off. The stored data stays WGS84; what is sent
to such a map is shifted here, at render time, with :mod:`geo.chinacrs`.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import numpy as np
from psycopg import AsyncConnection

from geo.chinacrs import wgs84_to_gcj02_array
from geo.shifted_tiles import BUFFER, EXTENT, encode_gcj02_tile, wgs84_box_for_gcj_tile
from layers.live import LivePoint, LiveShape
from layers.tiles import TileAddress, tile_features


def _shift_positions(coords: Any) -> Any:
    """Shift a GeoJSON coordinate array of any depth (a position is a list of numbers)."""
    array = np.asarray(coords, dtype=float)
    lons, lats = wgs84_to_gcj02_array(array[..., 0], array[..., 1])
    shifted = array.copy()
    shifted[..., 0], shifted[..., 1] = lons, lats
    return shifted.tolist()


def _shift_ragged(coords: Any, depth: int) -> Any:
    # polygons' rings differ in length, so only a ring (depth 1) is a regular array
    if depth <= 1:
        return _shift_positions(coords)
    return [_shift_ragged(part, depth - 1) for part in coords]


_DEPTH = {
    "Point": 0,
    "MultiPoint": 1,
    "LineString": 1,
    "MultiLineString": 2,
    "Polygon": 2,
    "MultiPolygon": 3,
}


def display_geometry(geometry: dict[str, Any], display: str) -> dict[str, Any]:
    """Return the GeoJSON geometry as drawn on a ``display`` basemap (unchanged for WGS84)."""
    if display == "wgs84":
        return geometry
    depth = _DEPTH[geometry["type"]]
    return {"type": geometry["type"], "coordinates": _shift_ragged(geometry["coordinates"], depth)}


def display_bounds(
    bounds: tuple[float, float, float, float], display: str
) -> tuple[float, float, float, float]:
    """West, south, east, north as drawn on a ``display`` basemap."""
    if display == "wgs84":
        return bounds
    lons, lats = wgs84_to_gcj02_array([bounds[0], bounds[2]], [bounds[1], bounds[3]])
    return float(lons[0]), float(lats[0]), float(lons[1]), float(lats[1])


def points_geojson(points: Sequence[LivePoint], display: str) -> str:
    """Return a FeatureCollection of the points, in the ``display`` system."""
    lons = np.fromiter((p.lon for p in points), float, len(points))
    lats = np.fromiter((p.lat for p in points), float, len(points))
    if display == "gcj02" and len(points):
        lons, lats = wgs84_to_gcj02_array(lons, lats)
    features = [
        {
            "type": "Feature",
            "id": p.id,
            "properties": p.properties,
            "geometry": {"type": "Point", "coordinates": [round(x, 7), round(y, 7)]},
        }
        for p, x, y in zip(points, lons.tolist(), lats.tolist(), strict=True)
    ]
    return json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def shapes_geojson(shapes: Sequence[LiveShape], display: str) -> str:
    """Return a FeatureCollection of the shapes, in the ``display`` system."""
    features = [
        {
            "type": "Feature",
            "id": s.id,
            "properties": s.properties,
            "geometry": display_geometry(s.geometry, display),
        }
        for s in shapes
    ]
    return json.dumps(
        {"type": "FeatureCollection", "features": features},
        ensure_ascii=False,
        separators=(",", ":"),
    )


def heat_json(cells: Sequence[tuple[float, float, int]], display: str) -> str:
    """Heat cells as ``{"points": [[lat, lon, cases], ...]}``, what Leaflet.heat takes."""
    lons = np.fromiter((c[0] for c in cells), float, len(cells))
    lats = np.fromiter((c[1] for c in cells), float, len(cells))
    if display == "gcj02" and len(cells):
        lons, lats = wgs84_to_gcj02_array(lons, lats)
    points = [
        [round(y, 6), round(x, 6), c[2]]
        for c, x, y in zip(cells, lons.tolist(), lats.tolist(), strict=True)
    ]
    return json.dumps({"points": points}, separators=(",", ":"))


async def render_gcj02_tile(conn: AsyncConnection, tile: TileAddress, area: str) -> bytes:
    """The tile z/x/y of a GCJ-02 basemap: WGS84 rows around it, shifted and encoded off the event loop."""
    box = wgs84_box_for_gcj_tile(tile.z, tile.x, tile.y, BUFFER / EXTENT)
    rows = await tile_features(conn, tile, area, box)
    return await asyncio.to_thread(encode_gcj02_tile, tile.source.name, rows, tile.z, tile.x, tile.y)
