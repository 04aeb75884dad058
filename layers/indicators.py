"""Case indicators per child area, and the overdue cases of an area.

Three figures drive a command view's shading and side panel:

* ``open_cases``: cases not closed, rejected or marked duplicate;
* ``overdue_cases``: open cases past their deadline, right now;
* ``on_time_rate``: of the cases closed in the last 30 China days (today
  and the 29 before), the share closed by their deadline; None when none
  was closed (no data is not 0 %).

They come from the counters the database keeps as cases change
(:mod:`layers.walls.aggregates`), so a view costs the same after a million
cases as after a thousand.

A case counts for the child its row names at filing time (``street_code``,
``community_code``, ``grid_code``), the same attribution the closed loop uses.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg import AsyncConnection, sql

from layers.areas import LEVELS, Area, level_of
from layers.loop import ENDED_SQL, OPEN_STATES
from layers.rows import all_rows
from layers.walls.aggregates import DAY_ZONE

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
    # counters per child (wall_case_counts, wall_case_days: a few rows each, by primary key);
    # overdue = open - open not yet due, and the cases not yet due are the recent ones
    # (incidents_open_due), so nothing here reads the years of closed cases
    return sql.SQL("""
        SELECT c.code, c.name,
               coalesce(o.open_cases, 0) AS open_cases,
               coalesce(o.open_cases, 0) - coalesce(f.not_due, 0) AS overdue_cases,
               coalesce(d.closed, 0) AS closed_30d, coalesce(d.on_time, 0) AS on_time_30d
        FROM {children} AS c
        LEFT JOIN LATERAL (
            SELECT sum(w.cases) FILTER (WHERE w.status = ANY(%(open)s))::integer AS open_cases
            FROM wall_case_counts AS w WHERE w.area_code = c.code::text) AS o ON true
        LEFT JOIN LATERAL (
            SELECT sum(w.closed)::integer AS closed, sum(w.closed_on_time)::integer AS on_time
            FROM wall_case_days AS w
            WHERE w.area_code = c.code::text
              AND w.day > (now() AT TIME ZONE {zone})::date - %(days)s) AS d ON true
        LEFT JOIN (
            SELECT i.{child_col} AS code, count(*)::integer AS not_due
            FROM incidents AS i
            WHERE i.district_code = %(district)s AND i.{area_col} = %(code)s
              AND i.status NOT IN {ended} AND i.deadline >= now()
            GROUP BY 1) AS f ON f.code = c.code
        WHERE c.{parent} = %(code)s {current}
        ORDER BY c.code""").format(
        children=sql.Identifier(level.child_table),
        child_col=sql.Identifier(_CHILD_COLUMN[level_name]),
        area_col=sql.Identifier(_AREA_COLUMN[level_name]),
        parent=sql.Identifier(level.child_parent_column),
        current=current,
        zone=sql.Literal(DAY_ZONE),
        ended=sql.SQL(ENDED_SQL),
    )


def _overdue_query(level_name: str) -> sql.Composed:
    return sql.SQL("""
        SELECT i.id, k.minor_name AS category, i.status, i.deadline, i.address,
               i.{child_col} AS child_code
        FROM incidents AS i JOIN catalogue AS k ON k.code = i.category_code
        WHERE i.district_code = %(district)s AND i.{area_col} = %(code)s
          AND i.status NOT IN {ended} AND i.deadline < now()
        ORDER BY i.deadline LIMIT %(limit)s""").format(
        child_col=sql.Identifier(_CHILD_COLUMN[level_name]),
        area_col=sql.Identifier(_AREA_COLUMN[level_name]),
        # spelled as the open-case indexes' predicate, so the planner can use them
        ended=sql.SQL(ENDED_SQL),
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
