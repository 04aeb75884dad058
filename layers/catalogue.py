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


def unknown_category(code: str) -> InvalidInput:
    """The error for a category code the catalogue does not have."""
    return InvalidInput(f"unknown category '{code[:20]}'; see GET /catalogue")


async def all_categories(conn: AsyncConnection) -> list[Category]:
    """Every category, in code order."""
    rows = await all_rows(conn, f"SELECT {_COLUMNS} FROM catalogue ORDER BY code")
    return [Category(**row) for row in rows]


async def category(conn: AsyncConnection, code: str) -> Category:
    """The category ``code``, or :class:`InvalidInput` naming the unknown code."""
    row = await one_row(conn, f"SELECT {_COLUMNS} FROM catalogue WHERE code = %s", (code,))
    if row is None:
        raise unknown_category(code)
    return Category(**row)


class CatalogueCache:
    """The catalogue in memory, re-read whenever its announced version changes.

    ``version`` comes from the layer watcher; None (not listening) means
    the cache cannot be trusted and every call reads the database.
    """

    def __init__(self) -> None:
        self._version: int | None = None
        self._by_code: dict[str, Category] = {}

    async def category(self, conn: AsyncConnection, code: str, version: int | None) -> Category:
        """The category ``code``, or :class:`InvalidInput` naming the unknown code."""
        if version is None:
            return await category(conn, code)
        if version != self._version:
            self._by_code = {c.code: c for c in await all_categories(conn)}
            self._version = version
        found = self._by_code.get(code)
        if found is None:
            raise unknown_category(code)
        return found


async def team_types(conn: AsyncConnection) -> set[str]:
    """The codes of the known team types."""
    return {row["code"] for row in await all_rows(conn, "SELECT code FROM team_types")}
