"""Case indicators per child area, and the overdue cases of an area.

Three figures drive a command view's shading and side panel:

* ``open_cases``: cases not closed, rejected or marked duplicate;
* ``overdue_cases``: open cases past their deadline, right now;
* ``on_time_rate``: of the cases closed in the last 30 days, the share closed
  by their deadline; None when none was closed (no data is not 0 %).

A case counts for the child its row names at filing time (``street_code``,
``community_code``, ``grid_code``), the same attribution the closed loop uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection, sql

from layers.areas import LEVELS, Area, level_of
from layers.loop import OPEN_STATES
from layers.rows import all_rows

CLOSURE_WINDOW_DAYS = 30
INDICATORS = ("open_cases", "overdue_cases", "on_time_rate")

# The incidents column naming each level's area, and the one naming its children.
_AREA_COLUMN = {"district": "district_code", "street": "street_code", "community": "community_code"}
_CHILD_COLUMN = {"district": "street_code", "street": "community_code", "community": "grid_code"}


@dataclass(frozen=True)
class ChildIndicators:
    """The indicators of one child area."""

    code: str
    name: str
    open_cases: int
    overdue_cases: int
    closed_30d: int
    on_time_30d: int

    @property
    def on_time_rate(self) -> float | None:
        """Share of the last 30 days' closures made in time, None without closures."""
        return self.on_time_30d / self.closed_30d if self.closed_30d else None

    def value(self, indicator: str) -> float | None:
        """Return the named indicator (one of :data:`INDICATORS`)."""
        value: float | None = getattr(self, indicator)
        return value


@dataclass(frozen=True)
class OverdueCase:
    """An open case past its deadline, for the side panel."""

    id: int
    category: str
    status: str
    deadline: datetime
    address: str | None
    child_code: str | None


def _indicators_query(level_name: str) -> sql.Composed:
    level = LEVELS[level_name]
    current = sql.SQL("AND c.valid_to IS NULL") if level.child_table == "grids" else sql.SQL("")
    # the district code bounds the join to one district's rows (and to its shard, later)
    return sql.SQL("""
        SELECT c.code, c.name,
               count(i.id) FILTER (WHERE i.status = ANY(%(open)s)) AS open_cases,
               count(i.id) FILTER (WHERE i.status = ANY(%(open)s) AND i.deadline < now())
                   AS overdue_cases,
               count(i.id) FILTER (WHERE i.status = 'closed') AS closed_30d,
               count(i.id) FILTER (WHERE i.status = 'closed' AND i.closed_at <= i.deadline)
                   AS on_time_30d
        FROM {children} AS c
        LEFT JOIN incidents AS i
          ON i.district_code = %(district)s AND i.{child_col} = c.code
         AND (i.status = ANY(%(open)s)
              OR (i.status = 'closed' AND i.closed_at >= now() - make_interval(days => %(days)s)))
        WHERE c.{parent} = %(code)s {current}
        GROUP BY c.code, c.name ORDER BY c.code""").format(
        children=sql.Identifier(level.child_table),
        child_col=sql.Identifier(_CHILD_COLUMN[level_name]),
        parent=sql.Identifier(level.child_parent_column),
        current=current,
    )


def _overdue_query(level_name: str) -> sql.Composed:
    return sql.SQL("""
        SELECT i.id, k.minor_name AS category, i.status, i.deadline, i.address,
               i.{child_col} AS child_code
        FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
        WHERE i.district_code = %(district)s AND i.{area_col} = %(code)s
          AND i.status = ANY(%(open)s) AND i.deadline < now()
        ORDER BY i.deadline LIMIT %(limit)s""").format(
        child_col=sql.Identifier(_CHILD_COLUMN[level_name]),
        area_col=sql.Identifier(_AREA_COLUMN[level_name]),
    )


def _params(area: Area) -> dict[str, object]:
    return {
        "code": area.code,
        "district": area.code[:6],
        "open": list(OPEN_STATES),
        "days": CLOSURE_WINDOW_DAYS,
    }


async def child_indicators(conn: AsyncConnection, area: Area) -> list[ChildIndicators]:
    """Return the indicators of every child of ``area``, by child code."""
    level_of(area.code, area.level)
    rows = await all_rows(conn, _indicators_query(area.level), _params(area))
    return [
        ChildIndicators(
            r["code"].strip(),
            r["name"],
            r["open_cases"],
            r["overdue_cases"],
            r["closed_30d"],
            r["on_time_30d"],
        )
        for r in rows
    ]


async def overdue_cases(conn: AsyncConnection, area: Area, limit: int = 30) -> list[OverdueCase]:
    """Return up to ``limit`` overdue open cases of ``area``, the longest overdue first."""
    rows = await all_rows(conn, _overdue_query(area.level), {**_params(area), "limit": limit})
    return [
        OverdueCase(
            r["id"],
            r["category"],
            r["status"],
            r["deadline"],
            r["address"],
            r["child_code"].strip() if r["child_code"] else None,
        )
        for r in rows
    ]
