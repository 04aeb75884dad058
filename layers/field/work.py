"""A grid worker's day: its team, the cases dispatched to the team, and how far it stands from a case."""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection, sql

from layers import loop
from layers.actors import Actor
from layers.errors import Forbidden, NotFound
from layers.rows import all_rows, one_row


async def my_team(conn: AsyncConnection, actor: Actor) -> dict[str, Any] | None:
    """The team the actor's token names, with its live state; None when it names none (or a gone one)."""
    if actor.team is None:
        return None
    return await one_row(conn, """
        SELECT id, code, name, type, status, ST_X(position) AS lon, ST_Y(position) AS lat
        FROM teams WHERE code = %s""", (actor.team,))


async def team_cases(conn: AsyncConnection, actor: Actor, team_id: int) -> list[dict[str, Any]]:
    """Open cases in the actor's area that are the team's, most urgent deadline first."""
    return await all_rows(conn, """
        SELECT i.id, i.category_code, c.minor_name AS category_name, i.status, i.description, i.address,
               ST_X(i.geom) AS lon, ST_Y(i.geom) AS lat, i.grid_code, i.deadline, i.reported_at,
               i.deadline < now() AS overdue
        FROM incidents AS i JOIN catalogue AS c ON c.code = i.category_code
        WHERE i.team_id = %(team)s AND i.status = ANY(%(open)s) AND starts_with(i.grid_code, %(area)s)
        ORDER BY i.deadline, i.id
        LIMIT 200""", {"team": team_id, "open": list(loop.OPEN_STATES), "area": actor.area})


async def distance_to_case(conn: AsyncConnection, incident_id: int, lon: float, lat: float) -> float:
    """True ground distance in metres (WGS84 spheroid) from ``(lon, lat)`` to the case's point."""
    row = await one_row(conn, """
        SELECT ST_Distance(geom::geography, ST_SetSRID(ST_MakePoint(%s, %s), 4326)::geography, true) AS d
        FROM incidents WHERE id = %s""", (lon, lat, incident_id))
    return float(row["d"]) if row is not None else float("inf")


def require_on_site(distance_m: float, limit_m: float, incident_id: int) -> None:
    """Refuse (403) a verification from farther than ``limit_m``, saying how far and how close to come."""
    if distance_m > limit_m:
        raise Forbidden(f"you are {distance_m:,.0f} m from case {incident_id}; verification must be made on "
                       f"site, within {limit_m:g} m (现场核查: 请到达现场 {limit_m:g} 米内)",
                       distance_m=round(distance_m, 1), limit_m=limit_m)


_TABLE_BY_DIGITS = {6: "districts", 9: "streets", 12: "communities", 15: "grids"}


async def area_outline(conn: AsyncConnection, code: str) -> dict[str, Any]:
    """An area of any level (a grid too: a worker's area may be one): name, WGS84 bounds, GeoJSON outline."""
    table = _TABLE_BY_DIGITS.get(len(code))
    if table is None:
        raise NotFound(f"no area {code}")
    current = sql.SQL(" AND valid_to IS NULL" if table == "grids" else "")
    row = await one_row(conn, sql.SQL("""
        SELECT name, ST_XMin(geom) AS w, ST_YMin(geom) AS s, ST_XMax(geom) AS e, ST_YMax(geom) AS n,
               ST_AsGeoJSON(geom, 6)::json AS geometry
        FROM {} WHERE code = %s{}""").format(sql.Identifier(table), current), (code,))
    if row is None:
        raise NotFound(f"no area {code}")
    return {"code": code, "name": row["name"], "bounds": [row["w"], row["s"], row["e"], row["n"]],
            "geometry": row["geometry"]}
