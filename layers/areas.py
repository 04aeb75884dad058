"""The three command levels (district → street → community) and their areas' outlines.

A command view shows one area and its children: a district's streets, a
street's communities, a community's current grids. The level is known from
the code's length (GB/T 30428: 6, 9, 12 digits), so a code alone names a view.
Outlines are simplified in the database for display only; stored geometry is
never touched.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

from psycopg import AsyncConnection, sql

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows, one_row


@dataclass(frozen=True)
class Level:
    """One command level: where its areas live and what lies below them."""

    name: str
    code_digits: int
    table: str
    child_table: str
    child_parent_column: str
    child_level: str | None  # None: the children (grids) have no view of their own
    # display simplification of the children, in degrees (~10 m per 1e-4)
    simplify_deg: float


LEVELS: dict[str, Level] = {
    level.name: level
    for level in (
        Level("district", 6, "districts", "streets", "district_code", "street", 1e-4),
        Level("street", 9, "streets", "communities", "street_code", "community", 5e-5),
        Level("community", 12, "communities", "grids", "community_code", None, 1e-5),
    )
}
_LEVEL_BY_DIGITS = {level.code_digits: level for level in LEVELS.values()}
_CODE = re.compile(r"^[0-9]{6}(?:[0-9]{3}){0,2}$")


@dataclass(frozen=True)
class Area:
    """A district, street or community: outline (GeoJSON geometry) and WGS84 bounds."""

    level: str
    code: str
    name: str
    geometry: dict[str, Any]
    bounds: tuple[float, float, float, float]  # west, south, east, north
    parent_code: str | None


@dataclass(frozen=True)
class ChildOutline:
    """A child area's code, name and simplified outline."""

    code: str
    name: str
    geometry: dict[str, Any]


def level_of(code: str, expected: str | None = None) -> Level:
    """Return the level a code belongs to; 422 for a malformed code or one of another level."""
    if not _CODE.match(code):
        raise InvalidInput("an area code has 6 (district), 9 (street) or 12 (community) digits")
    level = _LEVEL_BY_DIGITS[len(code)]
    if expected is not None and level.name != expected:
        raise InvalidInput(f"{code} is a {level.name} code, not a {expected} code")
    return level


def _area_query(level: Level) -> sql.Composed:
    return sql.SQL("""
        SELECT a.code, a.name,
               ST_AsGeoJSON(ST_ForcePolygonCCW(
                   ST_SimplifyPreserveTopology(a.geom, %(tol)s)), 6) AS geometry,
               ST_XMin(a.geom) AS w, ST_YMin(a.geom) AS s,
               ST_XMax(a.geom) AS e, ST_YMax(a.geom) AS n
        FROM {table} AS a WHERE a.code = %(code)s""").format(table=sql.Identifier(level.table))


def _children_query(level: Level) -> sql.Composed:
    current = sql.SQL("AND c.valid_to IS NULL") if level.child_table == "grids" else sql.SQL("")
    return sql.SQL("""
        SELECT c.code, c.name,
               ST_AsGeoJSON(ST_ForcePolygonCCW(
                   ST_SimplifyPreserveTopology(c.geom, %(tol)s)), 6) AS geometry
        FROM {table} AS c WHERE c.{parent} = %(code)s {current}
        ORDER BY c.code""").format(
        table=sql.Identifier(level.child_table),
        parent=sql.Identifier(level.child_parent_column),
        current=current,
    )


async def read_area(conn: AsyncConnection, code: str, expected_level: str | None = None) -> Area:
    """Return the area with ``code``; 404 when there is none."""
    level = level_of(code, expected_level)
    row = await one_row(conn, _area_query(level), {"code": code, "tol": level.simplify_deg / 2})
    if row is None:
        raise NotFound(f"no {level.name} with code {code}")
    parent = code[: level.code_digits - 3] if level.code_digits > 6 else None
    return Area(
        level.name,
        row["code"].strip(),
        row["name"],
        json.loads(row["geometry"]),
        (row["w"], row["s"], row["e"], row["n"]),
        parent,
    )


async def read_children(conn: AsyncConnection, area: Area) -> list[ChildOutline]:
    """Return the area's children (streets, communities or current grids), by code."""
    level = LEVELS[area.level]
    rows = await all_rows(
        conn, _children_query(level), {"code": area.code, "tol": level.simplify_deg}
    )
    return [ChildOutline(r["code"].strip(), r["name"], json.loads(r["geometry"])) for r in rows]
