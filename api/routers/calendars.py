"""Working-time calendars: read one, import a year's holidays and adjusted workdays, set working hours."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from api.auth import CurrentPrincipal
from api.deps import ConnDep
from api.params import Line
from api.schemas import Strict
from layers.time.district_calendars import NATIONAL, describe, import_days, set_hours
from layers.time.holidays import parse_days

router = APIRouter(tags=["calendars"])
CalendarCode = Annotated[str, Path(pattern=r"^(CN|[0-9]{6})$", description="CN (national) or a district code")]


class Hours(Strict):
    """A calendar's working periods and working weekdays."""

    periods: Line = "08:30-12:00,13:30-18:00"
    weekdays: Line = "12345"


def _may_change(principal: CurrentPrincipal, code: str) -> None:
    principal.require_role("admin")
    if code != NATIONAL:
        principal.require_area(code)


@router.get("/calendars/{code}", summary="A working-time calendar and the special days of a year")
async def read_calendar(code: CalendarCode, conn: ConnDep,
                        year: Annotated[int, Query(ge=2000, le=2100)] = 2026) -> dict[str, Any]:
    """Working periods, weekdays and the year's holidays and adjusted workdays as deadlines count them."""
    return await describe(conn, code, year)


@router.post("/admin/calendars/{code}/days", summary="Import holidays and adjusted workdays from a file")
async def import_calendar_days(code: CalendarCode, request: Request, conn: ConnDep,
                               principal: CurrentPrincipal) -> dict[str, Any]:
    """The body is the file: CSV (``date,kind,name``) or JSON (``{"holidays": ..., "workdays": ...}``).

    Every year the file covers replaces that year of the calendar; all or
    nothing (422 listing the problems). Admins only; a district's calendar
    by an admin of that district.
    """
    _may_change(principal, code)
    kind = request.headers.get("content-type", "")
    days = parse_days(await request.body(), "upload.json" if "json" in kind else "upload.csv")
    return await import_days(conn, code, days, f"upload by {principal.name}"[:200])


@router.put("/admin/calendars/{code}/hours", summary="Set a calendar's working periods and weekdays")
async def set_calendar_hours(code: CalendarCode, body: Hours, conn: ConnDep,
                             principal: CurrentPrincipal) -> dict[str, Any]:
    """``periods`` like ``08:30-12:00,13:30-18:00``; ``weekdays`` ISO digits, ``12345`` for Monday to Friday."""
    _may_change(principal, code)
    return await set_hours(conn, code, body.periods, body.weekdays)
