"""A camera's view sector as a polygon, for drawing.

The sector is the set of points whose geodesic bearing from the camera is
within ``heading ± fov/2`` and whose true ground distance is at most the
range (the rule ``layers.sensing.cameras`` applies in SQL). Its outline is
the camera, then the arc at exactly the range along geodesics on the WGS84
ellipsoid. Bearings are degrees clockwise from true north.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from pyproj import Geod

GEOD = Geod(ellps="WGS84")


@dataclass(frozen=True)
class Sector:
    """A camera's place and view: WGS84 degrees, heading and field of view in degrees, range in metres."""

    lon: float
    lat: float
    heading_deg: float
    fov_deg: float
    range_m: float


def sector_ring(sector: Sector, step_deg: float = 5.0) -> list[tuple[float, float]]:
    """The sector's outline as a closed lon/lat ring, counter-clockwise (an RFC 7946 exterior).

    Arc vertices lie every ``step_deg`` or closer, both edges included; a
    360° field of view gives a circle without the apex.
    """
    full = sector.fov_deg >= 360.0
    fov = 360.0 if full else sector.fov_deg
    n = max(2, int(np.ceil(fov / step_deg)) + 1)
    bearings = sector.heading_deg - fov / 2.0 + np.linspace(0.0, fov, n)
    if full:
        bearings = bearings[:-1]
    lons, lats, _ = GEOD.fwd(np.full(bearings.shape, sector.lon), np.full(bearings.shape, sector.lat),
                             bearings, np.full(bearings.shape, sector.range_m))
    arc = list(zip(np.asarray(lons, dtype=float).tolist(), np.asarray(lats, dtype=float).tolist(), strict=True))
    ring = arc if full else [(sector.lon, sector.lat), *arc]
    # bearings grow clockwise seen from above; an exterior ring runs counter-clockwise
    ring.reverse()
    return [*ring, ring[0]]


def sector_geojson(sector: Sector, step_deg: float = 5.0) -> dict[str, Any]:
    """The sector as a GeoJSON Polygon (7 decimals, about 1 cm)."""
    ring = [[round(x, 7), round(y, 7)] for x, y in sector_ring(sector, step_deg)]
    return {"type": "Polygon", "coordinates": [ring]}
