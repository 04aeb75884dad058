"""The case catalogue: categories with their responsible team type, time limit and standards."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from layers.errors import InvalidInput
from layers.rows import all_rows, one_row

_COLUMNS = """code, major_code, major_name, minor_name, team_type, time_limit_hours,
              handling_steps, closing_standard, level, duplicate_radius_m, duplicate_window_hours"""


@dataclass(frozen=True)
class Category:
    """One minor category; ``team_type`` None means the territory's community owns it."""

    code: str
    major_code: str
    major_name: str
    minor_name: str
    team_type: str | None
    time_limit_hours: int
    handling_steps: str
    closing_standard: str
    level: str
    duplicate_radius_m: float
    duplicate_window_hours: int


async def all_categories(conn: AsyncConnection) -> list[Category]:
    """Every category, in code order."""
    rows = await all_rows(conn, f"SELECT {_COLUMNS} FROM catalogue ORDER BY code")
    return [Category(**row) for row in rows]


async def category(conn: AsyncConnection, code: str) -> Category:
    """The category ``code``, or :class:`InvalidInput` naming the unknown code."""
    row = await one_row(conn, f"SELECT {_COLUMNS} FROM catalogue WHERE code = %s", (code,))
    if row is None:
        raise InvalidInput(f"unknown category '{code[:20]}'; see GET /catalogue")
    return Category(**row)


async def team_types(conn: AsyncConnection) -> set[str]:
    """The codes of the known team types."""
    return {row["code"] for row in await all_rows(conn, "SELECT code FROM team_types")}
