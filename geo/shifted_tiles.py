"""Vector tiles for a GCJ-02 basemap: WGS84 features shifted vertex by vertex, then encoded.

AMap and Tencent basemaps are drawn in GCJ-02, so a tile address z/x/y on
such a map names a square of GCJ-02 space. PostGIS cannot shift geometries
to GCJ-02 (PROJ does not know it), and the shift varies too much across a
tile to be a translation, so these tiles are made here: the caller reads the
features around the tile in WGS84, every vertex is shifted with
:func:`geo.chinacrs.wgs84_to_gcj02_array`, projected to Web Mercator, clipped
to the tile plus a buffer and encoded. The stored data never changes.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from functools import lru_cache
from typing import Any

import mapbox_vector_tile
import numpy as np
import shapely
from pyproj import Transformer
from shapely import wkb

from geo.chinacrs import gcj02_to_wgs84_array, wgs84_to_gcj02_array

EXTENT = 4096
BUFFER = 64
HALF_WORLD_M = 20037508.342789244


def tile_bounds_mercator(z: int, x: int, y: int) -> tuple[float, float, float, float]:
    """The tile's square in Web Mercator metres (minx, miny, maxx, maxy)."""
    size = 2 * HALF_WORLD_M / (1 << z)
    minx = -HALF_WORLD_M + x * size
    maxy = HALF_WORLD_M - y * size
    return minx, maxy - size, minx + size, maxy


def _lonlat(mx: float, my: float) -> tuple[float, float]:
    lon = mx / HALF_WORLD_M * 180.0
    lat = math.degrees(2 * math.atan(math.exp(my / HALF_WORLD_M * math.pi)) - math.pi / 2)
    return lon, lat


def wgs84_box_for_gcj_tile(z: int, x: int, y: int, margin: float) -> tuple[float, float, float, float]:
    """A WGS84 box surely holding every feature that lands in the GCJ-02 tile.

    The tile's corners (with ``margin``, a fraction of the tile) are taken
    back to WGS84; the shift changes by at most a few percent of the distance
    across the box, so a further 5% of the box and 10 m make it safe.
    """
    minx, miny, maxx, maxy = tile_bounds_mercator(z, x, y)
    pad = (maxx - minx) * margin
    corners = [_lonlat(mx, my) for mx in (minx - pad, maxx + pad) for my in (miny - pad, maxy + pad)]
    lons, lats = gcj02_to_wgs84_array(np.array([c[0] for c in corners]), np.array([c[1] for c in corners]))
    w, e, s, n = float(lons.min()), float(lons.max()), float(lats.min()), float(lats.max())
    grow = max(e - w, n - s) * 0.05 + 1e-4
    return w - grow, s - grow, e + grow, n + grow


@lru_cache(maxsize=1)
def _to_mercator() -> Transformer:
    return Transformer.from_crs(4326, 3857, always_xy=True)


def _shift_and_project(xy: np.ndarray) -> np.ndarray:
    lons, lats = wgs84_to_gcj02_array(xy[:, 0], xy[:, 1])
    mx, my = _to_mercator().transform(lons, lats)
    return np.column_stack([mx, my])


def encode_gcj02_tile(layer: str, rows: Iterable[dict[str, Any]], z: int, x: int, y: int) -> bytes:
    """Encode ``rows`` (``wkb`` WGS84 geometry plus properties) as the GCJ-02 tile z/x/y.

    Returns empty bytes when nothing falls inside the tile.
    """
    minx, miny, maxx, maxy = tile_bounds_mercator(z, x, y)
    pad = (maxx - minx) * BUFFER / EXTENT
    features = []
    for row in rows:
        geom = shapely.transform(wkb.loads(bytes(row["wkb"])), _shift_and_project)
        clipped = shapely.clip_by_rect(geom, minx - pad, miny - pad, maxx + pad, maxy + pad)
        if clipped.is_empty:
            continue
        properties = {k: v for k, v in row.items() if k != "wkb" and v is not None}
        features.append({"geometry": clipped, "properties": properties, "id": row.get("id")})
    if not features:
        return b""
    return bytes(mapbox_vector_tile.encode(
        [{"name": layer, "features": features}],
        default_options={"quantize_bounds": (minx, miny, maxx, maxy), "extents": EXTENT}))
