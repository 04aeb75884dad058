"""What a map wall polls: teams, waterlogging levels, cameras, stalls and the week's case heat.

Open cases have a feed of their own, by level and with deltas
(:mod:`layers.walls.feed`).

Each reader takes the caller's area (a GB/T 30428 code prefix) and a WGS84
bbox, so a wall only ever receives what its viewport shows of its own area.
Points come back as plain rows (lon, lat, properties); the API writes the
GeoJSON, shifted for a GCJ-02 basemap when asked.

The API folds the layers' change counters (``layers.watch``) into ETags,
so an unchanged layer is answered 304 without reading it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any

from psycopg import AsyncConnection, sql

from layers.features import BBox
from layers.rows import all_rows, one_row
from layers.walls.aggregates import Cluster

MAX_POINTS = 20_000
HEAT_DAYS = 7
# cases are summed into cells of about 100 m before they reach the browser
HEAT_CELL_DEG = 0.001


@dataclass(frozen=True)
class LivePoint:
    """One point feature: WGS84 position, stable id and properties."""

    id: int
    lon: float
    lat: float
    properties: dict[str, Any] = field(default_factory=dict)


def _properties(row: dict[str, Any], *, skip: tuple[str, ...] = ("lon", "lat", "geometry")) -> dict[str, Any]:
    # JSON-ready properties: every column but the geometry ones, times as ISO text
    return {k: (v.isoformat(timespec="minutes") if isinstance(v, time) else
                v.isoformat() if isinstance(v, datetime) else v)
            for k, v in row.items() if k not in skip}


def points_of(rows: list[dict[str, Any]]) -> list[LivePoint]:
    """Point features from rows holding ``id``, ``lon``, ``lat`` and properties."""
    return [LivePoint(r["id"], r["lon"], r["lat"], _properties(r)) for r in rows]


POINT_LAYER_MAX = 600
"""More points than this in view come as clusters: 600 waterlogging points with their sensors are ~210 KB."""
CLUSTERS_ACROSS = 24


@dataclass(frozen=True)
class PointsInView:
    """A point layer in view: each point, or when crowded, counts per cell (``clusters``)."""

    points: list[LivePoint]
    clusters: list[Cluster] = field(default_factory=list)
    total: int = 0


# cells of 1/24 of the points' own extent (the bbox may be the whole world), each at its points' mean
_CLUSTERED = """
    WITH q AS ({query}),
    cell AS (SELECT greatest(max(lon) - min(lon), max(lat) - min(lat), 1e-9) / {across} AS deg FROM q)
    SELECT floor(q.lon / cell.deg)::bigint AS gx, floor(q.lat / cell.deg)::bigint AS gy, count(*)::integer AS n,
           avg(q.lon) AS lon, avg(q.lat) AS lat
    FROM q, cell GROUP BY 1, 2 ORDER BY 1, 2"""


async def points_in_view(conn: AsyncConnection, query: sql.Composed, params: dict[str, Any],
                         table: str, geom: str) -> PointsInView:
    """Run a point layer's query (``lon``, ``lat``, ``id`` and properties; ``%(limit)s`` rows at most).

    Up to :data:`POINT_LAYER_MAX` points in view: the points; more: the same
    rows counted per cell in the database, so a crowded layer never builds
    thousands of features. The rows of ``table`` whose ``geom`` meets the
    bbox (an index count, without the area test) decide which to run first.
    """
    near = await one_row(conn, sql.SQL("SELECT count(*) AS n FROM {} WHERE {} && ST_MakeEnvelope("
                                       "%(w)s, %(s)s, %(e)s, %(n)s, 4326)").format(
        sql.Identifier(table), sql.Identifier(geom)), params)
    if near and near["n"] > POINT_LAYER_MAX:
        clustered = sql.SQL(_CLUSTERED).format(query=query, across=sql.Literal(CLUSTERS_ACROSS))
        cells = await all_rows(conn, clustered, {**params, "limit": MAX_POINTS})
        clusters = [Cluster(f"c{r['gx']}_{r['gy']}_{CLUSTERS_ACROSS}", r["lon"], r["lat"], r["n"]) for r in cells]
        total = sum(c.count for c in clusters)
        if total > POINT_LAYER_MAX:
            return PointsInView([], clusters, total)
    rows = await all_rows(conn, query, {**params, "limit": POINT_LAYER_MAX})
    return PointsInView(points_of(rows), total=len(rows))


def _area_column(area: str) -> sql.Identifier:
    return sql.Identifier({6: "district_code", 9: "street_code", 12: "community_code"}[len(area)])


def _envelope(bbox: BBox) -> dict[str, float]:
    return {"w": bbox.west, "s": bbox.south, "e": bbox.east, "n": bbox.north}


# a team serves its area: a district team shows on its streets' walls, a
# street team on its district's wall
_TEAMS = """
    SELECT t.id, ST_X(t.position) AS lon, ST_Y(t.position) AS lat, t.code, t.name, t.type,
           y.name AS type_name, t.status, t.position_at
    FROM teams AS t JOIN team_types AS y ON y.code = t.type
    WHERE (starts_with(t.area_code, %(area)s) OR starts_with(%(area)s, t.area_code))
      AND t.position && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
    ORDER BY t.id LIMIT %(limit)s"""


async def teams(conn: AsyncConnection, area: str, bbox: BBox) -> PointsInView:
    """Teams serving ``area`` with their live position inside ``bbox``."""
    return await points_in_view(conn, sql.SQL(_TEAMS).format(), {"area": area, **_envelope(bbox)}, "teams",
                                 "position")


# waterlogging points carry no area code: the area's outline decides
_WATERLOGGING = """
    SELECT w.id, ST_X(w.geom) AS lon, ST_Y(w.geom) AS lat, w.code, w.name,
           w.current_level_cm AS level_cm, w.warn_level_cm, w.alarm_level_cm, w.level_at,
           -- a watching sensor's alarm rule (duration, hysteresis) decides; else the level alone
           coalesce(s.level, CASE WHEN w.current_level_cm >= w.alarm_level_cm THEN 'alarm'
                WHEN w.current_level_cm >= w.warn_level_cm THEN 'warn'
                ELSE 'normal' END) AS state,
           s.sensor, s.sensor_offline, s.case_id
    FROM waterlogging_points AS w
    LEFT JOIN LATERAL (
        SELECT z.code AS sensor, st.level, coalesce(st.offline, false) AS sensor_offline, st.case_id
        FROM sensors AS z LEFT JOIN sensor_states AS st ON st.sensor_id = z.id
        WHERE z.watches = w.code ORDER BY z.id LIMIT 1) AS s ON true
    JOIN {areas} AS a ON a.code = %(area)s AND ST_Covers(a.geom, w.geom)
    WHERE w.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
    ORDER BY w.id LIMIT %(limit)s"""


def _area_table(area: str) -> sql.Identifier:
    return sql.Identifier({6: "districts", 9: "streets", 12: "communities"}[len(area)])


async def waterlogging(conn: AsyncConnection, area: str, bbox: BBox) -> PointsInView:
    """Waterlogging points in ``area`` and ``bbox`` with their level: normal, warn or alarm."""
    query = sql.SQL(_WATERLOGGING).format(areas=_area_table(area))
    return await points_in_view(conn, query, {"area": area, **_envelope(bbox)}, "waterlogging_points", "geom")


_CAMERAS = """
    SELECT c.id, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat, c.code, c.name, c.kind, c.online,
           c.heading_deg::numeric::float8 AS heading_deg, c.fov_deg::numeric::float8 AS fov_deg,
           c.range_m::numeric::float8 AS range_m, c.stream_url
    FROM cameras AS c JOIN {areas} AS a ON a.code = %(area)s AND ST_Covers(a.geom, c.geom)
    WHERE c.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
    ORDER BY c.id LIMIT %(limit)s"""


async def cameras(conn: AsyncConnection, area: str, bbox: BBox) -> PointsInView:
    """Cameras in ``area`` and ``bbox``, with their online state, view sector and stream."""
    query = sql.SQL(_CAMERAS).format(areas=_area_table(area))
    return await points_in_view(conn, query, {"area": area, **_envelope(bbox)}, "cameras", "geom")


@dataclass(frozen=True)
class LiveShape:
    """A polygon feature: GeoJSON geometry in WGS84 and properties."""

    id: int
    geometry: dict[str, Any]
    properties: dict[str, Any]


_STALL_ZONES = """
    SELECT z.id, ST_AsGeoJSON(ST_ForcePolygonCCW(z.geom), 6) AS geometry, z.code, z.name, z.kind,
           z.opens, z.closes, z.daily_visitors
    FROM stall_zones AS z
    WHERE z.geom && ST_MakeEnvelope(%(w)s, %(s)s, %(e)s, %(n)s, 4326)
      AND EXISTS (SELECT 1 FROM {areas} AS a
                  WHERE a.code = %(area)s AND ST_Intersects(a.geom, z.geom))
    ORDER BY z.id LIMIT %(limit)s"""


async def stall_zones(
    conn: AsyncConnection, area: str, bbox: BBox, limit: int = 2_000
) -> list[LiveShape]:
    """Street-stall zones meeting ``area`` and ``bbox``, with their opening hours."""
    rows = await all_rows(
        conn,
        sql.SQL(_STALL_ZONES).format(areas=_area_table(area)),
        {"area": area, "limit": limit, **_envelope(bbox)},
    )
    return [LiveShape(r["id"], json.loads(r["geometry"]), _properties(r)) for r in rows]


# the recent window only: incidents_reported (reported_at, district, …) reads these days' cases, not the years
_HEAT = """
    SELECT gx * %(cell)s AS lon, gy * %(cell)s AS lat, count(*) AS cases
    FROM (SELECT round(ST_X(i.geom) / %(cell)s) AS gx, round(ST_Y(i.geom) / %(cell)s) AS gy
          FROM incidents AS i
          WHERE i.district_code = %(district)s
            AND i.reported_at >= now() - make_interval(days => %(days)s)
            AND i.{area_col} = %(area)s) AS c
    GROUP BY gx, gy"""


async def case_heat(
    conn: AsyncConnection, area: str, days: int = HEAT_DAYS
) -> list[tuple[float, float, int]]:
    """Return the last ``days`` days' cases of ``area`` per ~100 m cell: (lon, lat, count)."""
    rows = await all_rows(
        conn,
        sql.SQL(_HEAT).format(area_col=_area_column(area)),
        {"district": area[:6], "area": area, "days": days, "cell": HEAT_CELL_DEG},
    )
    return [(r["lon"], r["lat"], int(r["cases"])) for r in rows]
