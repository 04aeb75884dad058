"""Locate: which grid, community, street and district own a point (MapIt-like).

One indexed query finds the grid covering the point, climbs the hierarchy
and looks for another grid within the near-boundary distance. A point on an
edge shared by two grids is covered by both; it belongs to the one with the
lowest code, so the answer is always the same.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection, sql

from layers.errors import OutsideTerritory
from layers.rows import all_rows, one_row

_CURRENT = sql.SQL("{g}.valid_to IS NULL")
_AS_OF = sql.SQL("{g}.valid_from <= %(at)s AND ({g}.valid_to IS NULL OR {g}.valid_to > %(at)s)")

_LOCATE = """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
    hit AS (
        SELECT g.id, g.code, g.name, g.community_code
        FROM grids AS g, pt
        WHERE {grid_live} AND ST_Covers(g.geom, pt.g)
        ORDER BY g.code LIMIT 1)
    SELECT hit.id AS grid_id, hit.code AS grid_code, hit.name AS grid_name,
           c.code AS community_code, c.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name,
           nb.code AS neighbour_code, nb.name AS neighbour_name, nb.distance_m
    FROM hit
    JOIN communities AS c ON c.code = hit.community_code
    JOIN streets AS s ON s.code = c.street_code
    JOIN districts AS d ON d.code = s.district_code
    LEFT JOIN LATERAL (
        -- the box lets the GiST index work and the planar test in degrees
        -- (a safe over-estimate) drops far grids cheaply; only near ones pay
        -- for the geography test, which measures true ground distance
        SELECT n.code, n.name, ST_Distance(n.geom::geography, pt.g::geography) AS distance_m
        FROM grids AS n, pt
        WHERE {neighbour_live} AND n.id <> hit.id
          AND n.geom && ST_Expand(pt.g, %(box_deg)s)
          AND ST_DWithin(n.geom, pt.g, %(box_deg)s)
          AND ST_DWithin(n.geom::geography, pt.g::geography, %(near_m)s)
        ORDER BY distance_m, n.code LIMIT 1) AS nb ON true
"""


def _query(as_of: bool) -> str:
    live = _AS_OF if as_of else _CURRENT
    composed = sql.SQL(_LOCATE).format(grid_live=live.format(g=sql.Identifier("g")),
                                       neighbour_live=live.format(g=sql.Identifier("n")))
    # rendered once: composing per call costs more than the query itself
    return composed.as_string(None)


LOCATE_CURRENT = _query(as_of=False)
LOCATE_AS_OF = _query(as_of=True)


@dataclass(frozen=True)
class Place:
    """Where a point lies: each level's code and name, and a close neighbour grid if any."""

    grid_id: int
    grid_code: str
    grid_name: str
    community_code: str
    community_name: str
    street_code: str
    street_name: str
    district_code: str
    district_name: str
    neighbour_code: str | None
    neighbour_name: str | None
    distance_m: float | None

    @property
    def near_boundary(self) -> bool:
        """True when another grid lies within the near-boundary distance."""
        return self.neighbour_code is not None


def box_degrees(lat: float, metres: float) -> float:
    """Degrees that surely span ``metres`` in any direction at latitude ``lat``.

    A degree of longitude shrinks with cos(lat), so the longitude span is the
    larger one; 10% is added for the ellipsoid and rounding.
    """
    return 1.1 * metres / (111_320.0 * max(math.cos(math.radians(lat)), 0.01))


def outside(lon: float, lat: float) -> OutsideTerritory:
    """The error for a point that no current grid covers."""
    return OutsideTerritory(f"the point ({lon:.6f}, {lat:.6f}) is outside every grid of the territory")


async def locate(conn: AsyncConnection, lon: float, lat: float, near_m: float,
                 at: datetime | None = None) -> Place:
    """Return the place of the WGS84 point, as of ``at`` (now when None).

    Raises :class:`OutsideTerritory` when no grid covers the point.
    """
    params = {"lon": lon, "lat": lat, "near_m": near_m, "box_deg": box_degrees(lat, near_m), "at": at}
    row = await one_row(conn, LOCATE_AS_OF if at else LOCATE_CURRENT, params, prepare=True)
    if row is None:
        raise outside(lon, lat)
    return Place(**row)


_CURRENT_GRIDS = """
    SELECT g.id AS grid_id, g.code AS grid_code, g.name AS grid_name,
           c.code AS community_code, c.name AS community_name,
           s.code AS street_code, s.name AS street_name,
           d.code AS district_code, d.name AS district_name,
           ST_AsBinary(g.geom) AS wkb
    FROM grids AS g
    JOIN communities AS c ON c.code = g.community_code
    JOIN streets AS s ON s.code = c.street_code
    JOIN districts AS d ON d.code = s.district_code
    WHERE g.valid_to IS NULL
    ORDER BY g.code
"""


async def current_grids(conn: AsyncConnection) -> list[dict]:
    """Every current grid with its hierarchy and WKB geometry, in code order."""
    return await all_rows(conn, _CURRENT_GRIDS)
