"""Cameras that can be called up: who sees a point, status by heartbeat.

**Who sees a point.** A camera sees a point when the true ground distance
(geodesic on the WGS84 spheroid, PostGIS ``geography``) is at most its
``range_m`` and the geodesic bearing from the camera to the point
(``ST_Azimuth`` on geography) lies within ``heading_deg ± fov_deg/2``,
both edges included, the difference taken on the circle (a camera heading
350° with 40° sees bearings 330°-360° and 0°-10°). A point within 1 cm of
the camera, where a bearing means nothing, counts as seen. No terrain and no
buildings in the way: a 2-D sector test. ``geo.sector`` draws the same sector.

**Status.** ``online`` is the one flag every reader shows. A heartbeat sets
it (and ``heartbeat_at``); :func:`sweep_silent` clears it for monitored
cameras (those that ever sent a heartbeat) silent longer than the timeout.
Cameras that never sent one keep the state an import or admin gave them.
A stored flag rather than one computed at read time, so every reader (the
collections, the live feed and its ETag, the case answers) agrees.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from layers.actors import Actor
from layers.rows import all_rows, one_row
from layers.territory import box_degrees

MAX_RANGE_M = 2000.0
"""The largest range a camera may have (the table's CHECK): bounds the index search."""
SEEN_AT_CAMERA_M = 0.01

CAMERA_COLUMNS = """
    c.id, c.code, c.name, c.kind, c.online,
    CASE WHEN c.online THEN 'online' ELSE 'offline' END AS status,
    c.heading_deg::float8 AS heading_deg, c.fov_deg::float8 AS fov_deg, c.range_m::float8 AS range_m,
    c.stream_url, c.snapshot_url, c.heartbeat_at, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat"""

# the sector test, on values already computed per camera: distance_m and bearing_deg
# (degrees, NULL at the camera itself); the bearing's offset from the heading is
# folded onto 0-180 with floor(), since PostgreSQL has no mod() for float8
_SEES = """
    distance_m <= range_m AND (distance_m < %(same_place)s OR fov_deg >= 360
        OR abs((bearing_deg - heading_deg + 540) - 360 * floor((bearing_deg - heading_deg + 540) / 360) - 180)
           <= fov_deg / 2)"""

# A camera's reach box: its point expanded by its own range, in degrees as
# ``layers.territory.box_degrees`` counts them (10 % margin, longitude
# degrees shrinking with the camera's latitude), so it holds every point the
# camera can see. ``REACH_INDEX`` indexes exactly this expression (the
# planner uses an expression index only for the very same expression).
# Migration 0010 runs ``REACH_INDEX`` as it reads here: a change to either
# text needs a new migration that replaces the index.
REACH_BOX = "ST_Expand(c.geom, c.range_m * 1.1 / (111320.0 * greatest(cos(radians(ST_Y(c.geom))), 0.01)))"
REACH_INDEX = ("CREATE INDEX cameras_reach_gist ON cameras USING gist "
               "(ST_Expand(geom, range_m * 1.1 / (111320.0 * greatest(cos(radians(ST_Y(geom))), 0.01))))")

# Candidates: cameras whose reach box holds the point (every one that may see
# it) and cameras in the box of ``r`` (the nearest others). One box of the
# largest range allowed (2 km) held ~700 cameras of a 10x city (7,000),
# each then paying a geodesic test; these hold ~15. The first branch also
# stays in that 2 km box: without the reach index the point index serves
# it (as before, never a scan of every camera); with it, the reach index.
_AROUND = """
    WITH pt AS (SELECT ST_SetSRID(ST_MakePoint(%(lon)s, %(lat)s), 4326) AS g),
    near AS MATERIALIZED (  -- each distance and bearing computed once per camera, not in every use below
        SELECT """ + CAMERA_COLUMNS + """,
               ST_Distance(c.geom::geography, pt.g::geography) AS distance_m,
               degrees(ST_Azimuth(c.geom::geography, pt.g::geography)) AS bearing_deg
        FROM cameras AS c, pt
        WHERE (""" + REACH_BOX + """ && pt.g AND c.geom && ST_Expand(pt.g, %(box_deg)s)
               OR c.geom && ST_Expand(pt.g, %(box_r)s))
          AND ST_DWithin(c.geom::geography, pt.g::geography, greatest(%(r)s, c.range_m))),
    judged AS (SELECT near.*, """ + _SEES + """ AS sees FROM near)
    SELECT * FROM judged
    WHERE sees OR distance_m <= %(r)s
    ORDER BY sees DESC, distance_m, id
    LIMIT %(k)s"""


@dataclass(frozen=True)
class Around:
    """How far to look and how many to list."""

    r: float = 300.0
    k: int = 10


def _shown(row: dict[str, Any]) -> dict[str, Any]:
    bearing = row["bearing_deg"]
    return {**row, "distance_m": round(row["distance_m"], 1),
            "bearing_deg": None if bearing is None else round(bearing, 1)}


async def around(conn: AsyncConnection, lon: float, lat: float, within: Around = Around()) -> list[dict[str, Any]]:
    """Cameras that see the point (nearest first), then the nearest others within ``r`` metres.

    A camera that sees the point is listed however far it is (up to its
    range); offline cameras are listed and marked, never left out. Each
    carries ``distance_m``, ``bearing_deg`` (from the camera to the point)
    and ``sees``.
    """
    rows = await all_rows(conn, _AROUND, {
        "lon": lon, "lat": lat, "r": within.r, "k": within.k, "same_place": SEEN_AT_CAMERA_M,
        "box_deg": box_degrees(lat, max(within.r, MAX_RANGE_M)), "box_r": box_degrees(lat, within.r)})
    return [_shown(row) for row in rows]


LINKED = Around(r=300.0, k=5)
"""The cameras a case or alarm answer lists: those that see its point, then the nearest, five at most."""


async def linked_cameras(conn: AsyncConnection, lon: float, lat: float) -> list[dict[str, Any]]:
    """The cameras to call up for a case or alarm at ``lon``/``lat`` (see :data:`LINKED`)."""
    return [{k: v for k, v in row.items() if k != "heartbeat_at"} for row in await around(conn, lon, lat, LINKED)]


async def camera_by_code(conn: AsyncConnection, code: str) -> dict[str, Any] | None:
    """One camera by its code, or None."""
    return await one_row(conn, "SELECT " + CAMERA_COLUMNS + " FROM cameras AS c WHERE c.code = %s", (code,))


_AREA_TABLES = {6: "districts", 9: "streets", 12: "communities"}

_BEAT = """
    WITH beat AS (SELECT * FROM unnest(%(codes)s::text[], %(online)s::boolean[]) AS b(code, online))
    UPDATE cameras AS c SET online = b.online, heartbeat_at = now()
    FROM beat AS b, {areas} AS a
    WHERE c.code = b.code AND a.code = %(area)s AND ST_Covers(a.geom, c.geom)
    RETURNING c.code, c.online"""


async def heartbeat(conn: AsyncConnection, beats: dict[str, bool], actor: Actor) -> dict[str, Any]:
    """Mark cameras online (or offline, when the platform says so) as of now; one statement.

    ``beats`` maps camera codes to their state. Codes of no camera in the
    actor's area are answered as ``unknown`` and change nothing; the others
    are stored.
    """
    actor.require_role("operator", "dispatcher")
    table = _AREA_TABLES.get(len(actor.area))
    if table is None or not beats:
        return {"updated": 0, "online": 0, "offline": 0, "unknown": sorted(beats)}
    rows = await all_rows(conn, sql.SQL(_BEAT).format(areas=sql.Identifier(table)), {
        "codes": list(beats), "online": list(beats.values()), "area": actor.area})
    stored = {row["code"] for row in rows}
    online = sum(1 for row in rows if row["online"])
    return {"updated": len(rows), "online": online, "offline": len(rows) - online,
            "unknown": sorted(code for code in beats if code not in stored)}


_SILENT = "online AND heartbeat_at < now() - make_interval(secs => %(after)s)"


async def sweep_silent(conn: AsyncConnection, after_s: float) -> list[str]:
    """Mark offline every monitored camera with no heartbeat for ``after_s`` seconds; their codes.

    Looks before it writes: an UPDATE of no rows would still bump the
    cameras' layer version and make every map wall reload its cameras.
    """
    params = {"after": after_s}
    if await one_row(conn, "SELECT 1 FROM cameras WHERE " + _SILENT + " LIMIT 1", params) is None:
        return []
    rows = await all_rows(conn, "UPDATE cameras SET online = false WHERE " + _SILENT + " RETURNING code", params)
    return sorted(row["code"] for row in rows)
