"""Each district's working-time calendar, as stored: settings, imported years, the official schedule.

A district uses its own ``calendars`` row when it has one, else the
national ``CN`` row (08:30–12:00 and 13:30–18:00, Monday to Friday). The
special days of a year come from the first of: the district's imported
year, ``CN``'s imported year, the official schedule of the
``chinese-calendar`` package. Built calendars are cached by their content,
so the arithmetic's day index is made once per distinct calendar.
"""

from __future__ import annotations

import functools
from datetime import date
from typing import Any

from psycopg import AsyncConnection

from layers.errors import InvalidInput, NotFound
from layers.rows import all_rows, one_row
from layers.time.calendar import Calendar, format_periods, parse_periods
from layers.time.holidays import OFFICIAL_HOLIDAYS, OFFICIAL_WORKDAYS, Day

NATIONAL = "CN"

_READ = """
    SELECT c.code, c.name, c.periods, c.weekdays,
           coalesce((SELECT array_agg(y.year ORDER BY y.year) FROM calendar_years AS y
                     WHERE y.calendar_code = c.code), '{}') AS years,
           coalesce((SELECT array_agg(d.day::text || ' ' || d.kind ORDER BY d.day) FROM calendar_days AS d
                     WHERE d.calendar_code = c.code), '{}') AS days
    FROM calendars AS c WHERE c.code = ANY(%s)
"""


async def calendar_for(conn: AsyncConnection, district_code: str) -> Calendar:
    """The calendar a district's deadlines are counted on."""
    rows = {row["code"]: row for row in await all_rows(conn, _READ, ([district_code, NATIONAL],))}
    own = rows.get(district_code) or rows.get(NATIONAL)
    if own is None:  # a database migrated without its seed row: the defaults
        return _built(NATIONAL, "08:30-12:00,13:30-18:00", "12345", ())
    # later sources first: a year is taken from the first source that has it
    imported = tuple((int(year), tuple(row["days"])) for code in (district_code, NATIONAL) if code in rows
                     for row in [rows[code]] for year in row["years"])
    return _built(own["code"], own["periods"], own["weekdays"], imported)


@functools.lru_cache(maxsize=128)
def _built(code: str, periods: str, weekdays: str, imported: tuple[tuple[int, tuple[str, ...]], ...]) -> Calendar:
    holidays = {d for d in OFFICIAL_HOLIDAYS}
    workdays = {d for d in OFFICIAL_WORKDAYS}
    replaced: set[int] = set()
    for year, days in imported:
        if year in replaced:
            continue
        replaced.add(year)
        holidays = {d for d in holidays if d.year != year}
        workdays = {d for d in workdays if d.year != year}
        for entry in days:
            text, kind = entry.split(" ")
            day = date.fromisoformat(text)
            if day.year == year:
                (holidays if kind == "holiday" else workdays).add(day)
    return Calendar(periods=parse_periods(periods), weekdays=frozenset(int(d) - 1 for d in weekdays),
                    holidays=frozenset(holidays), workdays=frozenset(workdays), code=code)


async def _require_calendar(conn: AsyncConnection, code: str) -> None:
    if code == NATIONAL:
        await conn.execute("INSERT INTO calendars (code, name) VALUES ('CN', '中国大陆法定节假日') "
                           "ON CONFLICT DO NOTHING")
        return
    district = await one_row(conn, "SELECT name FROM districts WHERE code = %s", (code,))
    if district is None:
        raise NotFound(f"no district {code[:12]}: a calendar is the national one (CN) or a district's")
    # a district's own calendar starts as a copy of the national settings
    await conn.execute("""
        INSERT INTO calendars (code, name, periods, weekdays)
        SELECT %s, %s, periods, weekdays FROM calendars WHERE code = 'CN'
        ON CONFLICT DO NOTHING""", (code, f"{district['name']}工作日历"))


async def import_days(conn: AsyncConnection, code: str, days: list[Day], source: str) -> dict[str, Any]:
    """Store the years ``days`` cover for calendar ``code``, replacing those years entirely; all or nothing."""
    years = sorted({d.day.year for d in days})
    async with conn.transaction():
        await _require_calendar(conn, code)
        await conn.execute("DELETE FROM calendar_years WHERE calendar_code = %s AND year = ANY(%s)", (code, years))
        await conn.execute("INSERT INTO calendar_years (calendar_code, year, source) SELECT %s, y, %s "
                           "FROM unnest(%s::integer[]) AS y", (code, source[:200], years))
        await conn.execute("""
            INSERT INTO calendar_days (calendar_code, day, kind, name)
            SELECT %s, d, k, n FROM unnest(%s::date[], %s::text[], %s::text[]) AS t(d, k, n)""",
                           (code, [d.day for d in days], [d.kind for d in days], [d.name for d in days]))
        await conn.execute("UPDATE calendars SET updated_at = now() WHERE code = %s", (code,))
    return {"calendar": code, "years": years, "holidays": sum(d.kind == "holiday" for d in days),
            "workdays": sum(d.kind == "workday" for d in days)}


async def set_hours(conn: AsyncConnection, code: str, periods: str, weekdays: str) -> dict[str, Any]:
    """Set a calendar's working periods (``08:30-12:00,13:30-18:00``) and ISO weekdays (``12345``)."""
    try:
        parsed = parse_periods(periods)
        if not weekdays or not weekdays.isdigit() or not set(weekdays) <= set("1234567"):
            raise ValueError("weekdays are ISO weekday digits, 1 (Monday) to 7, e.g. 12345")
        Calendar(periods=parsed, weekdays=frozenset(int(d) - 1 for d in weekdays))
    except ValueError as exc:
        raise InvalidInput(str(exc)) from None
    canonical = "".join(sorted(set(weekdays)))
    async with conn.transaction():
        await _require_calendar(conn, code)
        await conn.execute("UPDATE calendars SET periods = %s, weekdays = %s, updated_at = now() WHERE code = %s",
                           (format_periods(parsed), canonical, code))
    return {"calendar": code, "periods": format_periods(parsed), "weekdays": canonical}


async def describe(conn: AsyncConnection, code: str, year: int) -> dict[str, Any]:
    """A calendar's settings and the special days of ``year`` as its deadlines count them."""
    calendar = await calendar_for(conn, code)
    special = sorted([(d, "holiday") for d in calendar.holidays if d.year == year]
                     + [(d, "workday") for d in calendar.workdays if d.year == year])
    imported = await all_rows(conn, "SELECT calendar_code, year, source, imported_at FROM calendar_years "
                              "WHERE calendar_code = ANY(%s) AND year = %s", ([code, NATIONAL], year))
    return {"calendar": calendar.code, "periods": format_periods(calendar.periods),
            "weekdays": "".join(str(d + 1) for d in sorted(calendar.weekdays)), "year": year,
            "source": imported[0] if imported else ("chinese-calendar" if year in {d.year for d in OFFICIAL_HOLIDAYS}
                                                    else "weekdays only"),
            "days": [{"date": d.isoformat(), "kind": kind} for d, kind in special]}
