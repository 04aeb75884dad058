"""Stage deadlines of a case as the loop moves it: what each step changes and logs.

The contract of what is logged is in :mod:`layers.time`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import AsyncConnection
from psycopg.types.json import Jsonb

from layers.rows import all_rows, one_row
from layers.time import STAGE_OF_STATUS
from layers.time.calendar import Calendar, clock_calendar
from layers.time.clock import Pause, handling_due, net_minutes, paused_minutes
from layers.time.deadlines import Limit, due, stage_limit, stage_limits
from layers.time.district_calendars import calendar_for


def iso(at: datetime | None) -> str | None:
    """A time as the log writes it (ISO 8601 with its offset)."""
    return None if at is None else at.isoformat()


def start_details(calendar: Calendar, limit: Limit, due_at: datetime, team_id: int | None,
                  rework: int) -> dict[str, Any]:
    """``stage_start`` of the contract."""
    return {"stage": limit.stage, "due_at": iso(due_at), "limit_minutes": limit.minutes, "working": limit.working,
            "team_id": team_id, "rework": rework, "calendar": calendar.code}


async def intake_times(conn: AsyncConnection, district_code: str, category_code: str,
                       reported_at: datetime) -> dict[str, Any]:
    """The due times of a case reported now, and the ``stage_start`` of its dispatch stage."""
    calendar = await calendar_for(conn, district_code)
    limits = await stage_limits(conn, category_code)
    dispatch, handle = limits["dispatch"], limits["handle"]
    dispatch_due = due(calendar, reported_at, dispatch)
    return {"deadline": due(calendar, reported_at, handle), "stage_due_at": dispatch_due,
            "handle_from": reported_at, "handle_minutes": handle.minutes,
            "stage_start": start_details(calendar, dispatch, dispatch_due, None, 0)}


async def pauses(conn: AsyncConnection, incident_id: int, since: datetime | None) -> list[Pause]:
    """The approved pauses of a case since ``since`` (planned or cut short by a resume)."""
    rows = await all_rows(conn, """
        SELECT paused_from, paused_until FROM time_requests
        WHERE incident_id = %s AND kind = 'suspension' AND status = 'approved'
          AND (%s::timestamptz IS NULL OR paused_from >= %s) ORDER BY paused_from""",
                          (incident_id, since, since))
    return [Pause(r["paused_from"], r["paused_until"]) for r in rows]


async def handle_clock(conn: AsyncConnection, case: dict[str, Any]) -> tuple[Calendar, Limit]:
    """The calendar the case's handling clock counts on (its district's, or every minute) and its limit."""
    limit = await stage_limit(conn, case["category_code"], "handle")
    return clock_calendar(await calendar_for(conn, case["district_code"]), limit.working), limit


async def handling_deadline(conn: AsyncConnection, case: dict[str, Any]) -> datetime:
    """The case's handling due time from its clock (origin, allowance, pauses)."""
    calendar, limit = await handle_clock(conn, case)
    origin = case["handle_from"] or case["reported_at"]
    # a case filed before working-time deadlines: its category's limit
    allowance = case["handle_minutes"] or limit.minutes
    return handling_due(calendar, origin, allowance, await pauses(conn, case["id"], origin))


async def _stage_started(conn: AsyncConnection, case: dict[str, Any]) -> datetime:
    row = await one_row(conn, """
        SELECT at FROM incident_events WHERE incident_id = %s AND details ? 'stage_start'
        ORDER BY id DESC LIMIT 1""", (case["id"],))
    if row is None:  # a case logged before stages were: its last change of state
        row = await one_row(conn, """
            SELECT at FROM incident_events WHERE incident_id = %s AND from_status IS DISTINCT FROM to_status
            ORDER BY id DESC LIMIT 1""", (case["id"],))
    return row["at"] if row is not None else case["reported_at"]


async def end_details(conn: AsyncConnection, calendar: Calendar, case: dict[str, Any],
                      now: datetime) -> dict[str, Any]:
    """``stage_end`` of the contract for the case's current stage, ending at ``now``."""
    started = await _stage_started(conn, case)
    stage = STAGE_OF_STATUS[case["status"]]
    due_at = case["deadline"] if stage == "handle" else case.get("stage_due_at")
    stopped = await pauses(conn, case["id"], started) if stage == "handle" else []
    return {"stage": stage, "started_at": iso(started), "due_at": iso(due_at),
            "on_time": None if due_at is None else now <= due_at,
            "working_minutes": round(net_minutes(calendar, stopped, started, now), 3),
            "elapsed_minutes": round((now - started).total_seconds() / 60, 3),
            "paused_minutes": round(paused_minutes(calendar, stopped, started, now), 3)}


async def step(conn: AsyncConnection, case: dict[str, Any], action: str, target: str, now: datetime,
               team_id: int | None) -> tuple[dict[str, Any], dict[str, Any]]:
    """The case-row updates and log details of a loop step's clock: stages ended and started, due times."""
    old, new = STAGE_OF_STATUS.get(case["status"]), STAGE_OF_STATUS.get(target)
    calendar = await calendar_for(conn, case["district_code"])
    updates: dict[str, Any] = {}
    details: dict[str, Any] = {}
    if action == "escalate":
        handle = await stage_limit(conn, case["category_code"], "handle")
        updates |= {"handle_from": now, "handle_minutes": handle.minutes,
                    "deadline": due(calendar, now, handle)}
        details["due_change"] = {"stage": old, "due_at": iso(updates["deadline"]),
                                 "previous_due_at": iso(case["deadline"]), "cause": "escalation"}
        if old == "handle":
            updates["stage_due_at"] = updates["deadline"]
        return updates, details
    if old == new and action != "return":
        return updates, details
    if old is not None:
        details["stage_end"] = await end_details(conn, calendar, case, now)
    updates |= {"paused_at": None, "paused_until": None, "stage_due_at": None}
    if new is None:
        return updates, details
    limit = await stage_limit(conn, case["category_code"], new)
    rework = case["rework_count"]
    if new == "handle" and action == "return":
        rework += 1
        updates |= {"rework_count": rework, "handle_from": now, "handle_minutes": limit.minutes,
                    "deadline": due(calendar, now, limit)}
        due_at = updates["deadline"]
    elif new == "handle":
        due_at = case["deadline"]
    else:
        due_at = due(calendar, now, limit)
    updates["stage_due_at"] = due_at
    details["stage_start"] = start_details(calendar, limit, due_at, team_id, rework)
    return updates, details


async def escalation_dues(conn: AsyncConnection, cases: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """New handling due times for cases escalated now: each category's handle limit from now."""
    row = await one_row(conn, "SELECT now() AS now")
    assert row is not None
    at = row["now"]
    calendars: dict[str, Calendar] = {}
    limits: dict[str, Limit] = {}
    out: dict[str, list[Any]] = {"due": [], "minutes": [], "due_change": []}
    for case in cases:
        district, code = case["district_code"], case["category_code"]
        if district not in calendars:
            calendars[district] = await calendar_for(conn, district)
        if code not in limits:
            limits[code] = await stage_limit(conn, code, "handle")
        new_due = due(calendars[district], at, limits[code])
        out["due"].append(new_due)
        out["minutes"].append(limits[code].minutes)
        out["due_change"].append(Jsonb({"stage": case["stage"], "due_at": iso(new_due),
                                        "previous_due_at": iso(case["deadline"]), "cause": "escalation"}))
    return out
