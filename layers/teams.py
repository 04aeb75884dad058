"""Enforcement teams: the nearest free ones by true ground distance, and live positions.

Nearest is exact on the WGS84 spheroid. The GiST index on
``position::geography`` orders candidates by distance on a sphere, which can
differ from the spheroid by a few tenths of a percent, enough to swap two
teams at similar range. So a few more candidates than asked are read in
index order, re-ranked by spheroid distance, and the answer is accepted only
when the farthest candidate read is surely farther (with margin) than the
last one kept; otherwise more are read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows

# the sphere and the spheroid disagree by under 0.6% on any distance
SPHERE_MARGIN = 1.006

NEAREST = """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326)::geography AS g)
    SELECT t.id, t.code, t.name, t.type, t.home_station, t.area_code, t.status,
           ST_X(t.position) AS lon, ST_Y(t.position) AS lat, t.position_at,
           ST_Distance(t.position::geography, pt.g, true) AS distance_m,
           ST_Distance(t.position::geography, pt.g, false) AS sphere_m
    FROM teams AS t, pt
    WHERE t.type = %(type)s AND t.status = 'free'
    ORDER BY t.position::geography <-> pt.g
    LIMIT %(limit)s
"""


@dataclass(frozen=True)
class Team:
    """A team with its live position and, from a nearest query, its distance in metres."""

    id: int
    code: str
    name: str
    type: str
    home_station: str
    area_code: str
    status: str
    lon: float
    lat: float
    position_at: datetime
    distance_m: float = 0.0


def _exact_top(rows: list[dict], k: int, limit: int) -> list[dict] | None:
    ranked = sorted(rows, key=lambda r: (r["distance_m"], r["id"]))[:k]
    if len(rows) < limit:
        return ranked  # every team of that type was read: nothing is missing
    if ranked and rows[-1]["sphere_m"] > ranked[-1]["distance_m"] * SPHERE_MARGIN:
        return ranked
    return None


async def nearest_teams(conn: AsyncConnection, lon: float, lat: float, team_type: str, k: int) -> list[Team]:
    """The ``k`` free teams of ``team_type`` nearest to the point, by spheroid distance."""
    limit = k + 8
    while True:
        rows = await all_rows(conn, NEAREST, {
            "lon": lon, "lat": lat, "type": team_type, "limit": limit})
        top = _exact_top(rows, k, limit)
        if top is not None:
            return [Team(**{key: v for key, v in r.items() if key != "sphere_m"}) for r in top]
        limit *= 4


async def claim_nearest(conn: AsyncConnection, lon: float, lat: float, team_type: str,
                        only: int | None = None) -> Team | None:
    """Lock the nearest free team of the type (or team ``only``) for this transaction.

    Candidates are ranked without locks, then locked ``FOR UPDATE SKIP
    LOCKED`` with their status checked again: a team another dispatcher is
    claiming right now is passed over, not waited for, and a team that turned
    busy meanwhile is not taken. None when no candidate could be had.
    """
    for k in (5, 25, 300):
        ranked = await nearest_teams(conn, lon, lat, team_type, k)
        wanted = [t for t in ranked if only is None or t.id == only]
        rows = await all_rows(conn, """
            SELECT id FROM teams WHERE id = ANY(%s) AND status = 'free' AND type = %s
            FOR UPDATE SKIP LOCKED""", ([t.id for t in wanted], team_type))
        locked = {row["id"] for row in rows}
        chosen = next((t for t in wanted if t.id in locked), None)
        if chosen is not None or len(ranked) < k or (only is not None and wanted):
            return chosen
    return None


# How far outside its own area (its street, usually) a team may be reported:
# a team crosses its boundary to reach cases near the edge and GPS drifts, but
# a position farther out is a wrong coordinate (or a wrong system), not a move.
TEAM_AREA_MARGIN_M = 2000.0

# the geometry of a team's area, whichever level its code names
_AREA_GEOM = """
    (SELECT geom FROM communities WHERE code = t.area_code
     UNION ALL SELECT geom FROM streets WHERE code = t.area_code
     UNION ALL SELECT geom FROM districts WHERE code = t.area_code LIMIT 1)"""


@dataclass(frozen=True)
class Position:
    """A team's new WGS84 position and when it was measured."""

    team_id: int
    lon: float
    lat: float
    at: datetime | None = None


async def update_positions(conn: AsyncConnection, positions: list[Position], area: str) -> int:
    """Move many teams in one statement; only teams in ``area`` (a code prefix) move.

    Returns how many teams moved. Raises :class:`NotFound` naming the ids that
    do not exist or lie outside the area, and :class:`InvalidInput` naming
    the teams whose new position lies more than :data:`TEAM_AREA_MARGIN_M`
    outside the team's own area; then moves none.
    """
    ids = [p.team_id for p in positions]
    if len(set(ids)) != len(ids):
        raise InvalidInput("each team may appear once per batch")
    async with conn.transaction():
        # lock in id order first: concurrent batches over the same teams then
        # queue instead of deadlocking (the UPDATE's own order follows the
        # table's physical order, which every update changes)
        await conn.execute("SELECT 1 FROM teams WHERE id = ANY(%s) ORDER BY id FOR UPDATE", (sorted(ids),))
        rows = await all_rows(conn, """
            UPDATE teams AS t
            SET position = ST_SetSRID(ST_MakePoint(u.lon, u.lat), 4326),
                position_at = coalesce(u.at, now())
            FROM unnest(%(ids)s::int[], %(lons)s::float8[], %(lats)s::float8[], %(ats)s::timestamptz[])
                 AS u(id, lon, lat, at)
            WHERE t.id = u.id AND starts_with(t.area_code, %(area)s)
            RETURNING t.id, t.area_code, coalesce((
                SELECT ST_Intersects(a.geom, t.position)
                       OR ST_DWithin(a.geom::geography, t.position::geography, %(margin)s)
                FROM """ + _AREA_GEOM + """ AS a(geom)), false) AS inside""",
            {"ids": ids, "lons": [p.lon for p in positions], "lats": [p.lat for p in positions],
             "ats": [p.at for p in positions], "area": area, "margin": TEAM_AREA_MARGIN_M})
        moved = {row["id"] for row in rows}
        missing = sorted(set(ids) - moved)
        if missing:
            # raising inside the transaction block rolls the whole batch back
            raise NotFound(f"no team with id {', '.join(map(str, missing[:20]))} in your area",
                           team_ids=missing[:100])
        astray = sorted(row["id"] for row in rows if not row["inside"])
        if astray:
            raise InvalidInput(f"team {', '.join(map(str, astray[:20]))} would be more than "
                               f"{TEAM_AREA_MARGIN_M / 1000:g} km outside its own area", team_ids=astray[:100])
    return len(moved)
