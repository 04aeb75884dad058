"""The case catalogue: categories with their responsible team type, time limit and standards."""

from __future__ import annotations

from dataclasses import dataclass

from psycopg import AsyncConnection

from layers.errors import InvalidInput

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
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM catalogue ORDER BY code")
    return [Category(**row) for row in await cur.fetchall()]


async def category(conn: AsyncConnection, code: str) -> Category:
    """The category ``code``, or :class:`InvalidInput` naming the unknown code."""
    cur = await conn.execute(f"SELECT {_COLUMNS} FROM catalogue WHERE code = %s", (code,))
    row = await cur.fetchone()
    if row is None:
        raise InvalidInput(f"unknown category '{code[:20]}'; see GET /catalogue")
    return Category(**row)


async def team_types(conn: AsyncConnection) -> set[str]:
    """The codes of the known team types."""
    cur = await conn.execute("SELECT code FROM team_types")
    return {row["code"] for row in await cur.fetchall()}
