"""What a reader without the right area may see of a case: a point rounded to about 100 m.

A case's exact point, description, address and reporter are personal (they
lead to a door); the public view keeps category, status, dates and a point
snapped to a 0.001° lattice: 111 m north-south and, at Hefei's latitude
(31.8°), 95 m east-west, so a rounded point lies at most about 73 m from the
real one and cannot single out a building. Every public view of cases (the
incidents collection, tiles, Open311) rounds the same way, so comparing two
of them reveals nothing more than one does.
"""

from __future__ import annotations

from psycopg import sql

# the lattice step in degrees; rounding to 3 decimals is the same snap
ROUND_DEG = 0.001
ROUND_DECIMALS = 3


def rounded_point(lon: float, lat: float) -> tuple[float, float]:
    """``(lon, lat)`` snapped to the nearest node of the 0.001° lattice (about 100 m)."""
    return round(lon, ROUND_DECIMALS), round(lat, ROUND_DECIMALS)


def rounded_geom_sql(*column: str) -> sql.Composable:
    """The same snap in SQL over a geometry column (``ST_SnapToGrid``), e.g. ``rounded_geom_sql("i", "geom")``."""
    return sql.SQL("ST_SnapToGrid({}, {})").format(sql.Identifier(*column), sql.Literal(ROUND_DEG))
